#include <crd/auth/auth_metrics.hpp>

namespace crd::auth {
namespace {

std::array<std::string_view, static_cast<std::size_t>(auth_failure::count_)> reason_names()
{
    std::array<std::string_view, static_cast<std::size_t>(auth_failure::count_)> out{};
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = name_of(static_cast<auth_failure>(i));
    return out;
}

}  // namespace

auth_metrics::auth_metrics()
    : failures{"crd_auth_failures_total", "Rejected authentication attempts by reason.", "reason", reason_names()}
    , redis_seconds{"crd_replay_redis_seconds", "Round trip of a replay check (SET NX) to the shared Redis, as the call waits for it."}
    , redis_errors{"crd_replay_redis_errors_total", "Replay checks (and connection attempts) that got no answer from Redis, by kind.", "kind",
          {"connect", "timeout", "reply", "lost", "down"}}
    , local_fallbacks{"crd_replay_local_fallbacks_total",
          "Replay checks answered by this process's own cache because Redis was unavailable (on_unavailable \"local\")."}
    , mode{"crd_replay_cache_mode",
          "Which cache answers replay checks: 0 in-process (no auth.replay_cache), 1 Redis, 2 in-process while Redis is unavailable "
          "(on_unavailable local), 3 refusing with 503 while Redis is unavailable (fail_closed)."}
    , registered{metrics::process_registry(), {&failures, &redis_seconds, &redis_errors, &local_fallbacks, &mode}}
    , jwks_pool(upstream::pool_gauges_for("jwks"))
{
}

auth_metrics& auth_metrics::instance()
{
    static auth_metrics m;
    return m;
}

namespace {
// At start-up, so the families are listed before the first call.
[[maybe_unused]] const auth_metrics& registered_at_start = auth_metrics::instance();
}  // namespace

}  // namespace crd::auth
