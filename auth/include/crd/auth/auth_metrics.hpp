#pragma once
// The auth library's metric families: refusals by reason, and the "jwks" upstream pool (the
// clients' JWKS URLs and allowlisted jku hosts).

#include <crd/auth/auth_failure.hpp>
#include <crd/core/metrics.hpp>
#include <crd/upstream/pool_metrics.hpp>

namespace crd::auth {

struct auth_metrics
{
    metrics::counter_array<auth_failure> failures;  // crd_auth_failures_total{reason}
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
