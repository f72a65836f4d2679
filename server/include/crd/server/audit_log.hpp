#pragma once
// The audit log CRD requires for disputes (CRD-62): one JSON line per hook call and per feedback
// call, with the request (the EHR's FHIR token removed) and the response. Records are queued on
// the request path and written, flushed and fsync'd by one writer thread; a full queue or a
// failing disk pushes back on the request path instead of dropping records.

#include <crd/core/async.hpp>
#include <crd/core/config.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace crd::server {

struct audit_record
{
    std::string kind;  // "hook" or "feedback"
    std::chrono::system_clock::time_point time;
    std::string service;
    std::string hook_instance;
    std::string client;  // authenticated client id (JWT iss), empty when authentication is off
    std::string jti;
    std::string tenant;
    std::string trace_id;                                      // W3C trace id of the call (32 hex digits), as in its access log line
    std::vector<std::pair<std::string, std::string>> headers;  // requests.required_headers, as sent
    unsigned status = 0;
    std::chrono::microseconds latency{0};
    std::string decision;       // decision outcome: "ok", "timeout", ... or empty
    std::string crd_version;    // the CRD version answered in ("2.0", "2.1", "2.2"), or empty
    std::string request_body;   // as received; redacted on the writer thread
    std::string response_body;  // as sent (JSON)
};

// Builds the JSON line of a record (what the writer thread writes, without the newline):
// fhirAuthorization's tokens are replaced by "[redacted]"; a body that is not JSON is recorded by
// size and SHA-256 only, since it could hold anything.
std::string format_audit_line(const audit_record& r);

class audit_log
{
public:
    // Opens (creates, appends to) cfg.path and starts the writer thread. Throws std::system_error
    // naming the path when the file cannot be opened.
    explicit audit_log(const core::audit_config& cfg);
    // Writes and fsyncs everything queued, then stops the writer.
    ~audit_log();
    audit_log(const audit_log&) = delete;
    audit_log& operator=(const audit_log&) = delete;

    // Queues a record. When the queue is full this waits for room until `give_up` (back-pressure)
    // or, with audit.required, refuses at once. Completes with false when the record was not
    // accepted: the caller must not report success to its client.
    net::awaitable<bool> append(audit_record r, clock::time_point give_up);

    // Like append, and completes only once the record is written and fsync'd (feedback).
    net::awaitable<bool> append_durable(audit_record r, clock::time_point give_up);

    // Reopens the file at the same path (after logrotate moved it); SIGHUP. Thread-safe.
    void reopen();

    // Blocks until every record queued so far is written and fsync'd. Thread-safe.
    void flush();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace crd::server
