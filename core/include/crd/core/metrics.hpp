#pragma once
// Process-wide metrics, rendered for Prometheus (text format 0.0.4) by GET /metrics.
// Every family is known at compile time and stored in relaxed atomics, so recording costs a few
// uncontended atomic adds and never a lock or an allocation on the request path.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace crd::metrics {

// Cumulative histogram over fixed bounds (seconds).
class histogram
{
public:
    // Latency bounds used everywhere: 1 ms .. 10 s, including CRD's 5 s and 10 s targets.
    static constexpr std::array<double, 14> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    void observe(std::chrono::nanoseconds elapsed) noexcept;
    std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

    // Appends the _bucket, _sum and _count lines; `labels` is empty or `key="value",...`.
    void render(std::string& out, std::string_view name, std::string_view labels) const;

private:
    std::array<std::atomic<std::uint64_t>, bounds.size()> buckets_{};  // non-cumulative per bound
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
};

using counter = std::atomic<std::uint64_t>;
using gauge = std::atomic<std::int64_t>;

inline void add(counter& c, std::uint64_t n = 1) noexcept
{
    c.fetch_add(n, std::memory_order_relaxed);
}
inline std::uint64_t read(const counter& c) noexcept
{
    return c.load(std::memory_order_relaxed);
}

// What a request was, for crd_http_requests_total. Hook services are 0..5 (service_catalog order).
enum class route : std::uint8_t
{
    // 0..5: the hook services, in catalogue order
    discovery = 6,
    feedback,
    health,
    ready,
    metrics,
    smart_configuration,
    token,
    preflight,
    other,  // unknown paths, bad methods, malformed requests
    count_,
};
inline constexpr std::size_t route_count = static_cast<std::size_t>(route::count_);

// Statuses with their own series; anything else is counted as "other".
inline constexpr std::array<unsigned, 18> tracked_statuses{
    200, 204, 400, 401, 403, 404, 405, 408, 412, 413, 415, 422, 429, 431, 500, 502, 503, 504};

// rejected: the decision service refused the request itself (4xx); relayed, not its failure.
enum class decision_outcome : std::uint8_t { ok, timeout, error, breaker_open, rejected, count_ };
enum class prefetch_outcome : std::uint8_t { fetched, not_found, error, timeout, skipped, count_ };

// Why authentication failed: a label, never the token.
enum class auth_failure : std::uint8_t
{
    missing,
    malformed,
    bad_algorithm,
    unknown_client,
    unknown_key,
    bad_signature,
    bad_audience,
    expired,
    not_yet_valid,
    lifetime_too_long,
    replayed,
    bad_jku,
    bad_scope,
    bad_secret,
    key_fetch_failed,
    busy,  // too many slow (Basic) verifications already running
    keys_unavailable,  // the client's JWKS URL could not be fetched (yet): not an unknown key
    count_,
};

enum class pool_kind : std::uint8_t { decision, fhir, jwks, count_ };

// Upstream connection pools, summed over shards; each pool publishes its own deltas.
struct pool_gauges
{
    gauge open{0};
    gauge idle{0};
    gauge waiting{0};
    counter connects{0};
    counter reuses{0};
    counter retries{0};
};

struct registry
{
    std::array<std::array<counter, tracked_statuses.size() + 1>, route_count> requests{};
    std::array<histogram, 6> request_seconds;  // per hook service
    std::array<counter, static_cast<std::size_t>(decision_outcome::count_)> decision_calls{};
    histogram decision_seconds;
    counter decision_degraded{0};  // answered "conditional" after a failure
    std::array<pool_gauges, static_cast<std::size_t>(pool_kind::count_)> pools;
    std::array<counter, static_cast<std::size_t>(prefetch_outcome::count_)> prefetch_fetches{};
    histogram prefetch_seconds;
    std::array<counter, static_cast<std::size_t>(auth_failure::count_)> auth_failures{};
    counter cards_dropped{0};
    counter cards_repaired{0};
    counter actions_dropped{0};
    counter actions_repaired{0};
    gauge in_flight{0};
    gauge open_connections{0};
    counter overload_connections{0};  // connections refused with 503 (limits.max_connections)
    counter overload_in_flight{0};    // requests refused with 503 (limits.max_in_flight)
    counter audit_records{0};         // written to the audit file
    counter audit_write_errors{0};
    counter audit_backpressure{0};    // requests that waited for room in the audit queue
    counter audit_rejected{0};        // requests answered 503 because the audit queue was full
    gauge audit_queue_depth{0};
    counter feedback_forwarded{0};
    counter feedback_forward_errors{0};
    counter reloads{0};
    counter reload_failures{0};
    counter prefetch_origin_refused{0};  // fhirServer not in prefetch.allowed_origins
    counter accept_failures{0};          // accept() errors (EMFILE, ENFILE, ...)
    counter accept_shed{0};              // connections accepted on the reserve descriptor and closed with 503
    counter nonfinite_numbers{0};        // decision answers refused for a number outside double range
};

// The process's registry.
registry& global() noexcept;

void count_request(route r, unsigned status) noexcept;
inline route route_of_service(std::size_t catalogue_index) noexcept
{
    return static_cast<route>(catalogue_index);
}
inline void count(decision_outcome o) noexcept
{
    add(global().decision_calls[static_cast<std::size_t>(o)]);
}
inline void count(auth_failure reason) noexcept
{
    add(global().auth_failures[static_cast<std::size_t>(reason)]);
}
inline void count(prefetch_outcome o) noexcept
{
    add(global().prefetch_fetches[static_cast<std::size_t>(o)]);
}
inline pool_gauges& pool(pool_kind k) noexcept
{
    return global().pools[static_cast<std::size_t>(k)];
}

std::string_view name_of(auth_failure reason) noexcept;

// The whole registry in Prometheus text format 0.0.4.
std::string render_prometheus(std::string_view version);

// Holds a gauge up by one for its lifetime.
class gauge_guard
{
public:
    explicit gauge_guard(gauge& g) noexcept : g_(&g) { g_->fetch_add(1, std::memory_order_relaxed); }
    ~gauge_guard()
    {
        if (g_)
            g_->fetch_sub(1, std::memory_order_relaxed);
    }
    gauge_guard(const gauge_guard&) = delete;
    gauge_guard& operator=(const gauge_guard&) = delete;

private:
    gauge* g_;
};

}  // namespace crd::metrics
