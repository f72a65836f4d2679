#include <crd/server/server_metrics.hpp>

namespace crd::server {

server_metrics::server_metrics()
    : open_connections{"crd_open_connections", "Open client connections."}
    , accept_failures{"crd_accept_failures_total", "Failed accept() calls (out of file descriptors, ...); the listener backs off."}
    , accept_shed{"crd_accept_shed_total", "Connections accepted on the reserve descriptor while out of descriptors and answered 503."}
    , audit_records{"crd_audit_records_total", "Audit records written to the audit file."}
    , audit_write_errors{"crd_audit_write_errors_total", "Failed audit writes (records are kept and retried)."}
    , audit_backpressure{"crd_audit_backpressure_total", "Requests that waited for room in the audit queue."}
    , audit_rejected{"crd_audit_rejected_total", "Requests answered 503 because the audit queue was full (audit.required)."}
    , audit_queue_depth{"crd_audit_queue_depth", "Audit records waiting to be written."}
    , reloads{"crd_config_reloads_total", "SIGHUP reloads by result.", "result", {"ok", "refused"}}
    , registered{metrics::process_registry(), {&open_connections, &accept_failures, &accept_shed, &audit_records, &audit_write_errors,
                                                  &audit_backpressure, &audit_rejected, &audit_queue_depth, &reloads}}
{
}

server_metrics& server_metrics::instance()
{
    static server_metrics m;
    return m;
}

namespace {
// At start-up, so the families are listed before first use.
[[maybe_unused]] const server_metrics& registered_at_start = server_metrics::instance();
}  // namespace

}  // namespace crd::server
