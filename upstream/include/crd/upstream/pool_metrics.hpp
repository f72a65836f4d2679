#pragma once
// The crd_upstream_* series: connection pool gauges and counters labelled pool="<name>", the name
// given by whoever creates the pools ("decision", "fhir", "jwks"). Every pool of one name, on
// every shard and origin, adds its own deltas to the same gauges.

#include <crd/core/metrics.hpp>

#include <string_view>

namespace crd::upstream {

struct pool_gauges
{
    metrics::gauge open;  // includes idle
    metrics::gauge idle;
    metrics::gauge waiting;  // callers waiting for a connection
    metrics::counter connects;
    metrics::counter reuses;
    metrics::counter retries;
};

// The gauges labelled `pool`: made, and listed by /metrics, on the first call for that name; the
// same object on every later call, for the life of the process. Takes a lock: call it while
// setting up (a module's metrics, at start-up), keep the reference in client_config::gauges, and
// record through that.
pool_gauges& pool_gauges_for(std::string_view pool);

}  // namespace crd::upstream
