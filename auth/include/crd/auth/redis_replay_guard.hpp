#pragma once
// The replay cache shared by every instance: each (iss, jti) is claimed in Redis with one atomic
// `SET prefix+iss\njti 1 NX PX <ms until exp + leeway>` (OK: first use; nil: a replay).
//
// hiredis's async API does the protocol; a small adapter drives it from Asio: hiredis's event
// hooks (addRead/delRead/addWrite/delWrite/cleanup) arm `async_wait` on the connection's socket.
// The connection lives on a thread and io_context of this guard's own, so no serving thread ever
// blocks on Redis (nor on the name lookup of its host): a claim hops there and back, bounded by
// auth.replay_cache.timeout_ms.
//
// When Redis is down or slow: auth.replay_cache.on_unavailable. fail_closed answers `unavailable`
// (the caller gets 503 with Retry-After, /ready is 503 while down); local claims in this process's
// own cache instead (logged once per outage, counted). A token claimed locally during an outage is
// not in Redis: another instance may accept it again until it expires. The connection is made
// again with back-off (0.1 s doubling to 5 s) by the loop start() begins and stop() ends.

#include <crd/auth/replay_guard.hpp>
#include <crd/core/config.hpp>

#include <memory>

namespace crd::auth {

class redis_replay_guard final : public replay_guard
{
public:
    // Does not connect yet: start() does.
    explicit redis_replay_guard(core::replay_cache_config cfg);
    ~redis_replay_guard() override;  // stop()
    redis_replay_guard(const redis_replay_guard&) = delete;
    redis_replay_guard& operator=(const redis_replay_guard&) = delete;

    // Starts the guard's thread and its connection loop. Claims before the first connection are
    // answered by the policy, as during an outage.
    void start();
    // Ends the loop, frees the connection (claims waiting on it get `unavailable` or the local
    // answer), joins the thread. Idempotent. Call it after the servers that claim have stopped.
    void stop();

    net::awaitable<replay_verdict> claim(std::string_view issuer, std::string_view jti, std::int64_t until) override;
    core::readiness ready() const override;

    bool connected() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace crd::auth
