// COMPATIBILITY (issue 13), to be removed with metrics_compat.hpp: see there.
#include <crd/core/metrics_compat.hpp>

#include <crd/core/hooks.hpp>

namespace crd::metrics {
namespace {

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

// Each renders a member of compat_registry; only requests skips its zero series (route x status
// is large and mostly empty).
class requests_family final : public family
{
public:
    explicit requests_family(const compat_registry& r)
        : family("crd_http_requests_total", metric_type::counter, "HTTP requests answered, by route (service id for hook calls) and status.")
        , r_(r)
    {
    }

private:
    void render_series(std::string& out) const override
    {
        for (std::size_t route_index = 0; route_index < route_count; ++route_index)
            for (std::size_t s = 0; s <= tracked_statuses.size(); ++s)
            {
                const auto n = r_.requests[route_index][s].value();
                if (n == 0)
                    continue;
                const std::string status = s < tracked_statuses.size() ? std::to_string(tracked_statuses[s]) : "other";
                text::sample(out, name(), text::label("route", route_name(route_index)) + "," + text::label("status", status), n);
            }
    }
    const compat_registry& r_;
};

class request_seconds_family final : public family
{
public:
    explicit request_seconds_family(const compat_registry& r)
        : family("crd_request_duration_seconds", metric_type::histogram, "Hook call latency from request read to response ready, by service.")
        , r_(r)
    {
    }

private:
    void render_series(std::string& out) const override
    {
        const auto& catalog = core::service_catalog();
        for (std::size_t i = 0; i < catalog.size() && i < r_.request_seconds.size(); ++i)
            r_.request_seconds[i].render(out, name(), text::label("service", catalog[i].id));
    }
    const compat_registry& r_;
};

class in_flight_family final : public family
{
public:
    explicit in_flight_family(const compat_registry& r) : family("crd_in_flight_requests", metric_type::gauge, "Requests being processed."), r_(r) {}

private:
    void render_series(std::string& out) const override { text::sample(out, name(), "", r_.in_flight.value()); }
    const compat_registry& r_;
};

class overload_family final : public family
{
public:
    explicit overload_family(const compat_registry& r)
        : family("crd_overload_rejections_total", metric_type::counter, "Connections and requests refused with 503 by limits.")
        , r_(r)
    {
    }

private:
    void render_series(std::string& out) const override
    {
        text::sample(out, name(), "limit=\"max_connections\"", r_.overload_connections.value());
        text::sample(out, name(), "limit=\"max_in_flight\"", r_.overload_in_flight.value());
    }
    const compat_registry& r_;
};

struct compat_families
{
    compat_registry counters;
    requests_family requests{counters};
    request_seconds_family request_seconds{counters};
    in_flight_family in_flight{counters};
    overload_family overload{counters};
    registration registered{process_registry(), {&requests, &request_seconds, &in_flight, &overload}};
};

// Registered during static initialisation, so /metrics lists these families before first use.
[[maybe_unused]] const compat_registry& registered_at_start = global();

}  // namespace

compat_registry& global()
{
    static compat_families f;
    return f.counters;
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
    global().requests[static_cast<std::size_t>(r)][slot].add();
}

std::string render_prometheus(std::string_view version)
{
    std::string out;
    out.append("# HELP crd_build_info Build information; the value is always 1.\n# TYPE crd_build_info gauge\n");
    text::sample(out, "crd_build_info", text::label("version", version), std::uint64_t{1});
    out += process_registry().render();
    return out;
}

}  // namespace crd::metrics
