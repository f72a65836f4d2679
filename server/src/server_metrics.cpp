#include <crd/server/server_metrics.hpp>

#include <crd/core/hooks.hpp>

#include <dlfcn.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace crd::server {
namespace {

std::string_view route_name(std::size_t r)
{
    const auto& catalog = core::service_catalog();
    if (r < catalog.size())
        return catalog[r].id;
    switch (static_cast<route_label>(r))
    {
    case route_label::discovery: return "discovery";
    case route_label::feedback: return "feedback";
    case route_label::health: return "health";
    case route_label::ready: return "ready";
    case route_label::metrics: return "metrics";
    case route_label::smart_configuration: return "smart-configuration";
    case route_label::token: return "token";
    case route_label::preflight: return "preflight";
    default: return "other";
    }
}

std::vector<std::string_view> service_ids()
{
    std::vector<std::string_view> ids;
    for (const auto& service : core::service_catalog())
        ids.push_back(service.id);
    return ids;
}

}  // namespace

request_counts::request_counts()
    : family("crd_http_requests_total", metrics::metric_type::counter, "HTTP requests answered, by route (service id for hook calls) and status.")
{
    // route_label numbers the hook services by catalogue index: a seventh service would otherwise
    // be counted as "discovery".
    if (core::service_catalog().size() != static_cast<std::size_t>(route_label::discovery))
        throw std::logic_error("route_label::discovery must follow the last hook service of core::service_catalog()");
}

void request_counts::add(route_label route, unsigned status) noexcept
{
    std::size_t slot = tracked_statuses.size();  // "other"
    for (std::size_t i = 0; i < tracked_statuses.size(); ++i)
        if (tracked_statuses[i] == status)
        {
            slot = i;
            break;
        }
    counters_[static_cast<std::size_t>(route)][slot].add();
}

void request_counts::render_series(std::string& out) const
{
    for (std::size_t route = 0; route < route_label_count; ++route)
        for (std::size_t s = 0; s <= tracked_statuses.size(); ++s)
        {
            const auto n = counters_[route][s].value();
            if (n == 0)
                continue;
            const std::string status = s < tracked_statuses.size() ? std::to_string(tracked_statuses[s]) : "other";
            metrics::text::sample(out, name(), metrics::text::label("route", route_name(route)) + "," + metrics::text::label("status", status), n);
        }
}

certificate_expiry::certificate_expiry()
    : family("crd_tls_certificate_not_after_seconds", metrics::metric_type::gauge,
          "The TLS listener certificate's notAfter, as Unix time (no series without a TLS listener).")
{
}

void certificate_expiry::render_series(std::string& out) const
{
    if (const auto not_after = value(); not_after != 0)
        metrics::text::sample(out, name(), "", not_after);
}

server_metrics::server_metrics()
    : request_seconds{"crd_request_duration_seconds", "Hook call latency from request read to response ready, by service.", "service", service_ids()}
    , in_flight{"crd_in_flight_requests", "Requests being processed."}
    , overload{"crd_overload_rejections_total", "Connections and requests refused with 503 by limits.", "limit", {"max_connections", "max_in_flight"}}
    , open_connections{"crd_open_connections", "Open client connections."}
    , accept_failures{"crd_accept_failures_total", "Failed accept() calls (out of file descriptors, ...); the listener backs off."}
    , accept_shed{"crd_accept_shed_total", "Connections accepted on the reserve descriptor while out of descriptors and answered 503."}
    , audit_records{"crd_audit_records_total", "Audit records written to the audit file."}
    , audit_write_errors{"crd_audit_write_errors_total", "Failed audit writes (records are kept and retried)."}
    , audit_backpressure{"crd_audit_backpressure_total", "Requests that waited for room in the audit queue."}
    , audit_rejected{"crd_audit_rejected_total", "Requests answered 503 because the audit queue was full (audit.required)."}
    , audit_queue_depth{"crd_audit_queue_depth", "Audit records waiting to be written."}
    , reloads{"crd_config_reloads_total", "SIGHUP reloads by result.", "result", {"ok", "refused"}}
    , ready{"crd_ready", "1 when GET /ready answers 200, 0 when the instance is not ready or draining (evaluated at each scrape)."}
    , registered{metrics::process_registry(),
          {&requests, &request_seconds, &in_flight, &overload, &open_connections, &accept_failures, &accept_shed, &audit_records, &audit_write_errors,
              &audit_backpressure, &audit_rejected, &audit_queue_depth, &reloads, &tls_certificate_not_after, &ready}}
{
}

server_metrics& server_metrics::instance()
{
    static server_metrics m;
    return m;
}

std::string render_metrics(std::string_view version)
{
    std::string out;
    out.append("# HELP crd_build_info Build information; the value is always 1.\n# TYPE crd_build_info gauge\n");
    metrics::text::sample(out, "crd_build_info",
        metrics::text::label("version", version) + "," + metrics::text::label("allocator", process_allocator()), std::uint64_t{1});
    out += metrics::process_registry().render();
    return out;
}

namespace {

// jemalloc's control entry point, looked up rather than linked: the library (and every test that
// links it) builds the same either way, and only the executable's link line decides the allocator.
using mallctl_function = int (*)(const char*, void*, std::size_t*, void*, std::size_t);

mallctl_function find_mallctl() noexcept
{
    return reinterpret_cast<mallctl_function>(::dlsym(RTLD_DEFAULT, "mallctl"));
}

// jemalloc serves malloc only when the malloc every library calls is its own: a sanitizer's malloc
// can come first while jemalloc is loaded beside it, and then mallctl alone would mislead.
bool malloc_is_from_the_object_of(const void* function) noexcept
{
    Dl_info of_function{};
    Dl_info of_malloc{};
    void* const malloc_found = ::dlsym(RTLD_DEFAULT, "malloc");
    return malloc_found != nullptr && ::dladdr(function, &of_function) != 0 && ::dladdr(malloc_found, &of_malloc) != 0 &&
           of_function.dli_fbase == of_malloc.dli_fbase;
}

std::string describe_allocator()
{
    const auto mallctl = find_mallctl();
    if (mallctl == nullptr || !malloc_is_from_the_object_of(reinterpret_cast<const void*>(mallctl)))
        return "system";
    const char* version = nullptr;
    std::size_t size = sizeof(version);
    if (mallctl("version", static_cast<void*>(&version), &size, nullptr, 0) != 0 || version == nullptr)
        return "jemalloc";
    // "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": the release is enough for a label.
    const std::string_view full(version);
    return "jemalloc " + std::string(full.substr(0, full.find('-')));
}

}  // namespace

std::string_view process_allocator()
{
    static const std::string described = describe_allocator();
    return described;
}

bool runs_on_jemalloc()
{
    return process_allocator() != "system";
}

namespace {
// At start-up, so the families are listed before first use.
[[maybe_unused]] const server_metrics& registered_at_start = server_metrics::instance();
}  // namespace

}  // namespace crd::server
