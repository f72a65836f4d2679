#include <crd/auth/replay_cache.hpp>
#include <crd/auth/replay_guard.hpp>

#include "expiring_cache.hpp"

namespace crd::auth {

bool replay_cache::first_use(std::string_view issuer, std::string_view jti, std::int64_t until, std::int64_t now)
{
    std::string key;
    key.reserve(issuer.size() + 1 + jti.size());
    key.append(issuer).append(1, '\n').append(jti);
    std::lock_guard lock(mutex_);
    if (until_.size() >= capacity_)
        std::erase_if(until_, [&](const auto& e) { return e.second < now; });
    if (until_.size() >= capacity_)
        return false;
    return until_.emplace(std::move(key), until).second;
}

std::size_t replay_cache::size() const
{
    std::lock_guard lock(mutex_);
    return until_.size();
}

replay_verdict local_replay_guard::claim_now(std::string_view issuer, std::string_view jti, std::int64_t until)
{
    return cache_.first_use(issuer, jti, until, unix_now()) ? replay_verdict::first_use : replay_verdict::replayed;
}

net::awaitable<replay_verdict> local_replay_guard::claim(std::string_view issuer, std::string_view jti, std::int64_t until)
{
    co_return claim_now(issuer, jti, until);
}

}  // namespace crd::auth
