#include <crd/core/metrics.hpp>

#include <crd/core/hooks.hpp>

#include <cstdio>

namespace crd::metrics {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;

void append_number(std::string& out, double v)
{
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.9g", v);
    out.append(buf, static_cast<std::size_t>(n));
}

void append_number(std::string& out, std::uint64_t v)
{
    out += std::to_string(v);
}

void append_number(std::string& out, std::int64_t v)
{
    out += std::to_string(v);
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help)
{
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <class T>
void sample(std::string& out, std::string_view name, std::string_view labels, T value)
{
    out.append(name);
    if (!labels.empty())
        out.append("{").append(labels).append("}");
    out.append(" ");
    append_number(out, value);
    out.append("\n");
}

std::string label(std::string_view key, std::string_view value)
{
    std::string s;
    s.append(key).append("=\"").append(value).append("\"");
    return s;
}

std::string_view route_name(std::size_t r)
{
    const auto& catalog = core::service_catalog();
    if (r < catalog.size())
        return catalog[r].id;
    switch (static_cast<route>(r))
    {
    case route::discovery: return "discovery";
    case route::feedback: return "feedback";
    case route::health: return "health";
    case route::ready: return "ready";
    case route::metrics: return "metrics";
    case route::smart_configuration: return "smart-configuration";
    case route::token: return "token";
    case route::preflight: return "preflight";
    default: return "other";
    }
}

constexpr std::array<std::string_view, static_cast<std::size_t>(decision_outcome::count_)> decision_outcome_names{
    "ok", "timeout", "error", "breaker_open", "rejected"};
constexpr std::array<std::string_view, static_cast<std::size_t>(prefetch_outcome::count_)> prefetch_outcome_names{
    "fetched", "not_found", "error", "timeout", "skipped"};
constexpr std::array<std::string_view, static_cast<std::size_t>(pool_kind::count_)> pool_names{"decision", "fhir", "jwks"};
constexpr std::array<std::string_view, static_cast<std::size_t>(auth_failure::count_)> auth_failure_names{
    "missing",       "malformed", "bad_algorithm",     "unknown_client", "unknown_key",
    "bad_signature", "bad_audience", "expired",        "not_yet_valid",  "lifetime_too_long",
    "replayed",      "bad_jku",   "bad_scope",         "bad_secret",     "key_fetch_failed", "busy", "keys_unavailable"};

}  // namespace

void histogram::observe(std::chrono::nanoseconds elapsed) noexcept
{
    const double seconds = std::chrono::duration<double>(elapsed).count();
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i])
        ++i;
    if (i < bounds.size())
        buckets_[i].fetch_add(1, relaxed);
    count_.fetch_add(1, relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count()), relaxed);
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const
{
    const std::string bucket = std::string(name) + "_bucket";
    const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i)
    {
        cumulative += buckets_[i].load(relaxed);
        std::string le;
        append_number(le, bounds[i]);
        sample(out, bucket, prefix + label("le", le), cumulative);
    }
    // Read count last: concurrent observations may make +Inf exceed the sum of the buckets, never
    // fall below it, which keeps the series monotonic as Prometheus requires.
    const auto total = std::max(cumulative, count_.load(relaxed));
    sample(out, bucket, prefix + label("le", "+Inf"), total);
    sample(out, std::string(name) + "_sum", labels, static_cast<double>(sum_ns_.load(relaxed)) / 1e9);
    sample(out, std::string(name) + "_count", labels, total);
}

registry& global() noexcept
{
    static registry r;
    return r;
}

void count_request(route r, unsigned status) noexcept
{
    std::size_t slot = tracked_statuses.size();  // "other"
    for (std::size_t i = 0; i < tracked_statuses.size(); ++i)
        if (tracked_statuses[i] == status)
        {
            slot = i;
            break;
        }
    add(global().requests[static_cast<std::size_t>(r)][slot]);
}

std::string_view name_of(auth_failure reason) noexcept
{
    return auth_failure_names[static_cast<std::size_t>(reason)];
}

std::string render_prometheus(std::string_view version)
{
    const registry& g = global();
    std::string out;
    out.reserve(16 * 1024);

    header(out, "crd_build_info", "gauge", "Build information; the value is always 1.");
    sample(out, "crd_build_info", label("version", version), std::uint64_t{1});

    header(out, "crd_http_requests_total", "counter", "HTTP requests answered, by route (service id for hook calls) and status.");
    for (std::size_t r = 0; r < route_count; ++r)
        for (std::size_t s = 0; s <= tracked_statuses.size(); ++s)
        {
            const auto n = g.requests[r][s].load(relaxed);
            if (n == 0)
                continue;
            const std::string status = s < tracked_statuses.size() ? std::to_string(tracked_statuses[s]) : "other";
            sample(out, "crd_http_requests_total", label("route", route_name(r)) + "," + label("status", status), n);
        }

    header(out, "crd_request_duration_seconds", "histogram", "Hook call latency from request read to response ready, by service.");
    const auto& catalog = core::service_catalog();
    for (std::size_t i = 0; i < catalog.size() && i < g.request_seconds.size(); ++i)
        g.request_seconds[i].render(out, "crd_request_duration_seconds", label("service", catalog[i].id));

    header(out, "crd_decision_calls_total", "counter", "Decision-service calls by outcome.");
    for (std::size_t i = 0; i < decision_outcome_names.size(); ++i)
        sample(out, "crd_decision_calls_total", label("outcome", decision_outcome_names[i]), g.decision_calls[i].load(relaxed));
    header(out, "crd_decision_duration_seconds", "histogram", "Decision-service call latency.");
    g.decision_seconds.render(out, "crd_decision_duration_seconds", "");
    header(out, "crd_decision_degraded_total", "counter", "Failed decisions answered as 'conditional' (decision.on_failure).");
    sample(out, "crd_decision_degraded_total", "", read(g.decision_degraded));

    header(out, "crd_upstream_pool_connections", "gauge", "Upstream pooled connections by pool and state (open includes idle).");
    for (std::size_t i = 0; i < pool_names.size(); ++i)
    {
        sample(out, "crd_upstream_pool_connections", label("pool", pool_names[i]) + ",state=\"open\"", g.pools[i].open.load(relaxed));
        sample(out, "crd_upstream_pool_connections", label("pool", pool_names[i]) + ",state=\"idle\"", g.pools[i].idle.load(relaxed));
    }
    header(out, "crd_upstream_pool_waiting", "gauge", "Callers waiting for a pooled upstream connection.");
    for (std::size_t i = 0; i < pool_names.size(); ++i)
        sample(out, "crd_upstream_pool_waiting", label("pool", pool_names[i]), g.pools[i].waiting.load(relaxed));
    header(out, "crd_upstream_connects_total", "counter", "Upstream connections opened.");
    for (std::size_t i = 0; i < pool_names.size(); ++i)
        sample(out, "crd_upstream_connects_total", label("pool", pool_names[i]), read(g.pools[i].connects));
    header(out, "crd_upstream_reuses_total", "counter", "Upstream requests sent on a pooled keep-alive connection.");
    for (std::size_t i = 0; i < pool_names.size(); ++i)
        sample(out, "crd_upstream_reuses_total", label("pool", pool_names[i]), read(g.pools[i].reuses));
    header(out, "crd_upstream_retries_total", "counter", "Requests retried once after a stale pooled connection failed.");
    for (std::size_t i = 0; i < pool_names.size(); ++i)
        sample(out, "crd_upstream_retries_total", label("pool", pool_names[i]), read(g.pools[i].retries));

    header(out, "crd_prefetch_fetches_total", "counter", "Prefetch keys fetched from the EHR's FHIR server, by outcome.");
    for (std::size_t i = 0; i < prefetch_outcome_names.size(); ++i)
        sample(out, "crd_prefetch_fetches_total", label("outcome", prefetch_outcome_names[i]), g.prefetch_fetches[i].load(relaxed));
    header(out, "crd_prefetch_duration_seconds", "histogram", "FHIR prefetch fetch latency.");
    g.prefetch_seconds.render(out, "crd_prefetch_duration_seconds", "");

    header(out, "crd_auth_failures_total", "counter", "Rejected authentication attempts by reason.");
    for (std::size_t i = 0; i < auth_failure_names.size(); ++i)
        sample(out, "crd_auth_failures_total", label("reason", auth_failure_names[i]), g.auth_failures[i].load(relaxed));

    header(out, "crd_cards_normalised_total", "counter", "Decision-service cards and systemActions dropped or repaired.");
    sample(out, "crd_cards_normalised_total", "kind=\"card\",action=\"dropped\"", read(g.cards_dropped));
    sample(out, "crd_cards_normalised_total", "kind=\"card\",action=\"repaired\"", read(g.cards_repaired));
    sample(out, "crd_cards_normalised_total", "kind=\"systemAction\",action=\"dropped\"", read(g.actions_dropped));
    sample(out, "crd_cards_normalised_total", "kind=\"systemAction\",action=\"repaired\"", read(g.actions_repaired));

    header(out, "crd_in_flight_requests", "gauge", "Requests being processed.");
    sample(out, "crd_in_flight_requests", "", g.in_flight.load(relaxed));
    header(out, "crd_open_connections", "gauge", "Open client connections.");
    sample(out, "crd_open_connections", "", g.open_connections.load(relaxed));
    header(out, "crd_overload_rejections_total", "counter", "Connections and requests refused with 503 by limits.");
    sample(out, "crd_overload_rejections_total", "limit=\"max_connections\"", read(g.overload_connections));
    sample(out, "crd_overload_rejections_total", "limit=\"max_in_flight\"", read(g.overload_in_flight));

    header(out, "crd_audit_records_total", "counter", "Audit records written to the audit file.");
    sample(out, "crd_audit_records_total", "", read(g.audit_records));
    header(out, "crd_audit_write_errors_total", "counter", "Failed audit writes (records are kept and retried).");
    sample(out, "crd_audit_write_errors_total", "", read(g.audit_write_errors));
    header(out, "crd_audit_backpressure_total", "counter", "Requests that waited for room in the audit queue.");
    sample(out, "crd_audit_backpressure_total", "", read(g.audit_backpressure));
    header(out, "crd_audit_rejected_total", "counter", "Requests answered 503 because the audit queue was full (audit.required).");
    sample(out, "crd_audit_rejected_total", "", read(g.audit_rejected));
    header(out, "crd_audit_queue_depth", "gauge", "Audit records waiting to be written.");
    sample(out, "crd_audit_queue_depth", "", g.audit_queue_depth.load(relaxed));

    header(out, "crd_feedback_forwarded_total", "counter", "Feedback forwarded to decision.feedback_url, by result.");
    sample(out, "crd_feedback_forwarded_total", "result=\"ok\"", read(g.feedback_forwarded));
    sample(out, "crd_feedback_forwarded_total", "result=\"error\"", read(g.feedback_forward_errors));

    header(out, "crd_config_reloads_total", "counter", "SIGHUP reloads by result.");
    sample(out, "crd_config_reloads_total", "result=\"ok\"", read(g.reloads));
    sample(out, "crd_config_reloads_total", "result=\"refused\"", read(g.reload_failures));

    header(out, "crd_prefetch_origin_refused_total", "counter", "Calls whose fhirServer is not in prefetch.allowed_origins (nothing fetched).");
    sample(out, "crd_prefetch_origin_refused_total", "", read(g.prefetch_origin_refused));
    header(out, "crd_accept_failures_total", "counter", "Failed accept() calls (out of file descriptors, ...); the listener backs off.");
    sample(out, "crd_accept_failures_total", "", read(g.accept_failures));
    header(out, "crd_accept_shed_total", "counter", "Connections accepted on the reserve descriptor while out of descriptors and answered 503.");
    sample(out, "crd_accept_shed_total", "", read(g.accept_shed));
    header(out, "crd_decision_nonfinite_numbers_total", "counter", "Decision answers refused for a number outside double range (inf/NaN).");
    sample(out, "crd_decision_nonfinite_numbers_total", "", read(g.nonfinite_numbers));
    return out;
}

}  // namespace crd::metrics
