#pragma once
// Whether a client token id (iss + jti) is used for the first time. The verifier awaits a guard;
// there are two: this process's own cache (one instance, the default) and a Redis shared by every
// instance behind a balancer (redis_replay_guard.hpp), so a token used on one is a replay on all.

#include <crd/auth/replay_cache.hpp>
#include <crd/core/async.hpp>
#include <crd/core/decision.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace crd::auth {

enum class replay_verdict : std::uint8_t
{
    first_use,    // claimed now: the token may be accepted
    replayed,     // claimed before (or the local cache is full of live entries): 401
    unavailable,  // the shared cache could not say, and the policy is to refuse: 503, retry
};

class replay_guard
{
public:
    virtual ~replay_guard() = default;

    // Claims (issuer, jti) until `until` (Unix seconds). The views must stay valid until the claim
    // completes (the caller awaits it). Never throws; resumes on the caller's executor. Thread
    // safety: any thread.
    virtual net::awaitable<replay_verdict> claim(std::string_view issuer, std::string_view jti, std::int64_t until) = 0;

    // For /ready: not ready while every claim would be answered `unavailable`.
    virtual core::readiness ready() const { return {}; }
};

// The in-process cache behind the guard interface: answers at once, never unavailable.
class local_replay_guard final : public replay_guard
{
public:
    explicit local_replay_guard(std::size_t capacity = 200'000) : cache_(capacity) {}

    net::awaitable<replay_verdict> claim(std::string_view issuer, std::string_view jti, std::int64_t until) override;
    replay_verdict claim_now(std::string_view issuer, std::string_view jti, std::int64_t until);

    std::size_t size() const { return cache_.size(); }

private:
    replay_cache cache_;
};

}  // namespace crd::auth
