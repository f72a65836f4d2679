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
    , registered{metrics::process_registry(), {&failures}}
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
