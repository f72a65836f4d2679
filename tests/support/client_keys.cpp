#include "client_keys.hpp"

#include <chrono>
#include <map>
#include <mutex>

namespace crd::test {

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

}  // namespace crd::test
