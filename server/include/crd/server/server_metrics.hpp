#pragma once
// The server library's metric families: requests answered by route and status, hook-call latency,
// requests in flight and overload refusals (the router's); connections and the accept loop, the
// audit log and configuration reloads.

#include <crd/core/metrics.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace crd::server {

// What a request was, for crd_http_requests_total{route}. A hook call is labelled by its service:
// route_of_service(its index in core::service_catalog()), 0..5, the service's id; everything else by
// one of these (server_metrics checks at construction that they start after the catalogue).
enum class route_label : std::uint8_t
{
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
inline constexpr std::size_t route_label_count = static_cast<std::size_t>(route_label::count_);

inline route_label route_of_service(std::size_t catalogue_index) noexcept
{
    return static_cast<route_label>(catalogue_index);
}

// Statuses with their own crd_http_requests_total series; any other is counted as "other".
inline constexpr std::array<unsigned, 18> tracked_statuses{200, 204, 400, 401, 403, 404, 405, 408, 412, 413, 415, 422, 429, 431, 500, 502, 503, 504};

// crd_http_requests_total{route,status}: one counter per route and tracked status (and "other").
// Only the series that have counted are rendered: route x status is large and mostly empty.
class request_counts final : public metrics::family
{
public:
    request_counts();
    void add(route_label route, unsigned status) noexcept;

private:
    void render_series(std::string& out) const override;

    std::array<std::array<metrics::counter, tracked_statuses.size() + 1>, route_label_count> counters_{};
};

enum class reload_result : std::uint8_t
{
    ok,
    refused,
    count_
};

// crd_overload_rejections_total{limit}
enum class overload_limit : std::uint8_t
{
    max_connections,  // connections refused with 503 (limits.max_connections)
    max_in_flight,    // requests refused with 503 (limits.max_in_flight)
    count_
};

// crd_tls_certificate_not_after_seconds: the listener certificate's notAfter as Unix time, so an
// alert can page weeks before it expires. No series while no TLS listener has started (0).
class certificate_expiry final : public metrics::family
{
public:
    certificate_expiry();
    void set(std::int64_t not_after_unix_seconds) noexcept { not_after_.store(not_after_unix_seconds, std::memory_order_relaxed); }
    std::int64_t value() const noexcept { return not_after_.load(std::memory_order_relaxed); }

private:
    void render_series(std::string& out) const override;

    std::atomic<std::int64_t> not_after_{0};
};

struct server_metrics
{
    request_counts requests;
    metrics::histogram_array request_seconds;  // per hook service, by catalogue index
    metrics::gauge_family in_flight;           // hook and feedback calls being processed
    metrics::counter_array<overload_limit> overload;
    metrics::gauge_family open_connections;
    metrics::counter_family accept_failures;  // accept() errors (EMFILE, ENFILE, ...)
    metrics::counter_family accept_shed;      // accepted on the reserve descriptor and closed with 503
    metrics::counter_family audit_records;    // written to the audit file
    metrics::counter_family audit_write_errors;
    metrics::counter_family audit_backpressure;  // requests that waited for room in the audit queue
    metrics::counter_family audit_rejected;      // requests answered 503 because the audit queue was full
    metrics::gauge_family audit_queue_depth;
    metrics::counter_array<reload_result> reloads;
    certificate_expiry tls_certificate_not_after;
    // 1 when GET /ready answers 200, 0 when not ready or draining: evaluated by each scrape of
    // /metrics just before it renders, so an alert needs no probe of its own.
    metrics::gauge_family ready;
    metrics::registration registered;

    // The process's, registered with metrics::process_registry() on first use; server_metrics.cpp
    // also asks for it during static initialisation, so /metrics lists these families (at zero)
    // from the start.
    static server_metrics& instance();

private:
    server_metrics();
};

// The body of GET /metrics: crd_build_info{version} and then every family registered with
// metrics::process_registry(), whichever module owns it.
std::string render_metrics(std::string_view version);

// The malloc this process runs on, as crd_build_info's allocator label says it: "jemalloc <version>"
// when jemalloc provides malloc (the Release crd-server links it: bench/README.md, ninth part),
// else "system" (glibc's, or a sanitizer's). Found once, by asking for jemalloc's mallctl.
std::string_view process_allocator();
// True when jemalloc provides malloc.
bool runs_on_jemalloc();

}  // namespace crd::server
