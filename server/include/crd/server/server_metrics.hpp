#pragma once
// The server library's metric families: connections and the accept loop, the audit log and
// configuration reloads.

#include <crd/core/metrics.hpp>

#include <cstdint>

namespace crd::server {

enum class reload_result : std::uint8_t
{
    ok,
    refused,
    count_
};

struct server_metrics
{
    metrics::gauge_family open_connections;
    metrics::counter_family accept_failures;  // accept() errors (EMFILE, ENFILE, ...)
    metrics::counter_family accept_shed;      // accepted on the reserve descriptor and closed with 503
    metrics::counter_family audit_records;    // written to the audit file
    metrics::counter_family audit_write_errors;
    metrics::counter_family audit_backpressure;  // requests that waited for room in the audit queue
    metrics::counter_family audit_rejected;      // requests answered 503 because the audit queue was full
    metrics::gauge_family audit_queue_depth;
    metrics::counter_array<reload_result> reloads;
    metrics::registration registered;

    // The process's, registered with metrics::process_registry() on first use; server_metrics.cpp
    // also asks for it during static initialisation, so /metrics lists these families (at zero)
    // from the start.
    static server_metrics& instance();

private:
    server_metrics();
};

}  // namespace crd::server
