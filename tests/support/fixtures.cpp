#include "fixtures.hpp"

#include <chrono>
#include <map>
#include <mutex>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace json = boost::json;

namespace crd::test {

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string fixture_path(const std::string& name)
{
    return std::string(CRD_FIXTURES_DIR) + "/" + name;
}

json::value load_fixture(const std::string& name)
{
    return json::parse(read_file(fixture_path(name)));
}

std::vector<std::string> request_fixture_names()
{
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(CRD_FIXTURES_DIR))
    {
        const auto name = e.path().filename().string();
        if (name.rfind("crd-", 0) == 0 && e.path().extension() == ".json")
            out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    if (out.size() < 20)
        throw std::runtime_error("expected the CRD example requests in " + std::string(CRD_FIXTURES_DIR));
    return out;
}

std::string service_id_for(const json::value& request)
{
    return std::string(request.at("hook").as_string()) + "-crd";
}

void edit(json::value& doc, const std::string& pointer, std::optional<json::value> value)
{
    const auto slash = pointer.rfind('/');
    const std::string parent_ptr = pointer.substr(0, slash);
    const std::string key = pointer.substr(slash + 1);
    json::value& parent = parent_ptr.empty() ? doc : doc.at_pointer(parent_ptr);
    if (parent.is_object())
    {
        if (value)
            parent.as_object()[key] = std::move(*value);
        else
            parent.as_object().erase(key);
        return;
    }
    auto& arr = parent.as_array();
    const auto index = std::stoul(key);
    if (value)
        arr.at(index) = std::move(*value);
    else
        arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(index));
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const auth::signing_key& client_key(const std::string& kid)
{
    static std::mutex mutex;
    static std::map<std::string, auth::signing_key> keys;
    std::lock_guard lock(mutex);
    auto it = keys.find(kid);
    if (it == keys.end())
    {
        auto key = auth::generate_signing_key(auth::key_family::ec_p384);
        key.kid = kid;
        it = keys.emplace(kid, std::move(key)).first;
    }
    return it->second;
}

core::config test_config()
{
    auto no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
    json::value doc = json::parse(R"({
        "listen": {"address": "127.0.0.1", "port": 0, "threads": 2},
        "auth": {"required": false},
        "limits": {"shutdown_grace_ms": 2000}
    })");
    return core::parse_config(doc, "", no_env, std::string(CRD_SOURCE_DIR) + "/etc/rules.json");
}

}  // namespace crd::test
