#pragma once
// The auth library's metric families: refusals by reason, the "jwks" upstream pool (the
// clients' JWKS URLs and allowlisted jku hosts), and the replay cache (in-process or Redis).

#include <crd/auth/auth_failure.hpp>
#include <crd/core/metrics.hpp>
#include <crd/upstream/pool_metrics.hpp>

namespace crd::auth {

// Why a Redis replay check did not get an answer (crd_replay_redis_errors_total{kind}).
enum class redis_error : std::uint8_t
{
    connect,  // connecting, AUTH or SELECT failed
    timeout,  // no answer within auth.replay_cache.timeout_ms
    reply,    // an error reply (e.g. NOAUTH, OOM, READONLY)
    lost,     // the connection went while the claim waited
    down,     // no connection when the claim came
    count_,
};

// crd_replay_cache_mode: which cache answers replay checks now.
enum class replay_mode : std::int64_t
{
    in_process = 0,      // no auth.replay_cache: this process's own
    redis = 1,           // the shared Redis
    local_fallback = 2,  // Redis unavailable, on_unavailable "local": this process's own meanwhile
    refusing = 3,        // Redis unavailable, on_unavailable "fail_closed": 503 meanwhile
};

struct auth_metrics
{
    metrics::counter_array<auth_failure> failures;  // crd_auth_failures_total{reason}
    metrics::histogram_family redis_seconds;        // crd_replay_redis_seconds: a claim's round trip
    metrics::counter_array<redis_error> redis_errors;
    metrics::counter_family local_fallbacks;  // crd_replay_local_fallbacks_total
    metrics::gauge_family mode;               // crd_replay_cache_mode (replay_mode)
    metrics::registration registered;
    upstream::pool_gauges& jwks_pool;

    // The process's, registered with metrics::process_registry() on first use; auth_metrics.cpp
    // also asks for it during static initialisation, so /metrics lists these series (at zero)
    // before the first call.
    static auth_metrics& instance();

private:
    auth_metrics();
};

}  // namespace crd::auth
