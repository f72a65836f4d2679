#pragma once
// COMPATIBILITY HEADER (issue 13), to be removed: the families whose recording sites are in
// server/src/router.cpp, kept in core with their old names and enums while the router is being
// reworked. The server takes them over (route, the request counters and histograms, in-flight
// and overload) and this header goes. Nothing new belongs here.

#include <crd/core/metrics.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace crd::metrics {

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
inline constexpr std::array<unsigned, 18> tracked_statuses{200, 204, 400, 401, 403, 404, 405, 408, 412, 413, 415, 422, 429, 431, 500, 502, 503, 504};

// A gauge the router reads back with load().
class compat_gauge : public gauge
{
public:
    std::int64_t load(std::memory_order) const noexcept { return value(); }
};

// The router's counters, as the router reaches them (global().in_flight, ...).
struct compat_registry
{
    std::array<std::array<counter, tracked_statuses.size() + 1>, route_count> requests{};
    std::array<histogram, 6> request_seconds{};  // per hook service, catalogue order
    compat_gauge in_flight{};
    counter overload_connections{};  // connections refused with 503 (limits.max_connections)
    counter overload_in_flight{};    // requests refused with 503 (limits.max_in_flight)
};

// Its families are registered with process_registry() on the first call.
compat_registry& global();

inline void add(counter& c, std::uint64_t n = 1) noexcept
{
    c.add(n);
}

void count_request(route r, unsigned status) noexcept;
inline route route_of_service(std::size_t catalogue_index) noexcept
{
    return static_cast<route>(catalogue_index);
}

// crd_build_info{version} and then every registered family.
std::string render_prometheus(std::string_view version);

}  // namespace crd::metrics
