#include "fixtures.hpp"

#include <boost/json/parse.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
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

namespace {

std::optional<std::string> no_environment(const char*)
{
    return std::nullopt;
}

std::string shipped_rules()
{
    return std::string(CRD_SOURCE_DIR) + "/etc/rules.json";
}

}  // namespace

core::config config_from(const json::value& doc)
{
    return core::parse_config(doc, "", no_environment, shipped_rules());
}

core::config config_from_file(const std::string& path)
{
    return core::load_config_file(path, no_environment, shipped_rules());
}

core::config test_config()
{
    return config_from(json::parse(R"({
        "listen": {"address": "127.0.0.1", "port": 0, "threads": 2},
        "auth": {"required": false},
        "limits": {"shutdown_grace_ms": 2000}
    })"));
}

temp_dir::temp_dir(const std::string& prefix)
{
    static std::atomic<int> n{0};
    path_ = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(path_);
}

temp_dir::~temp_dir()
{
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

stderr_capture::stderr_capture() : path_(std::filesystem::temp_directory_path() / ("crd-stderr-" + std::to_string(::getpid())))
{
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("cannot create " + path_.string());
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
}

stderr_capture::~stderr_capture()
{
    restore();
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
}

std::string stderr_capture::text()
{
    restore();
    std::ifstream in(path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void stderr_capture::restore()
{
    if (saved_ < 0)
        return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
}

}  // namespace crd::test
