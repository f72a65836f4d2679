#pragma once
// The decision step: what a hook handler awaits with a validated request and a deadline. The
// embedded rules engine implements it; the remote decision-service client is the other.

#include <crd/core/async.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <crd/core/config.hpp>
#include <crd/core/error.hpp>
#include <crd/core/hook_request.hpp>

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crd::core {

// Whether the decision source can take calls now; reason says why not (for GET /ready).
struct readiness
{
    bool ready = true;
    std::string reason;
};

class decision_service
{
public:
    virtual ~decision_service() = default;

    // Completes with a CDS Hooks response object ({"cards": [...], "systemActions": [...]}) or
    // an errc::decision_* error. Must finish by `deadline`.
    // A decision that sends the request elsewhere may release `request` (its document and every
    // view into it) once sent, so thousands of calls waiting on a slow service do not each hold a
    // parsed request: callers copy what they need from `request` before calling. An answer that
    // refers into the request document is returned with `request.document` still set.
    // When `request.relay_upstream_outcome` is set and the failure is an answer of the service's
    // own (a 4xx/5xx whose body is a FHIR OperationOutcome), a source that has one sets
    // `request.upstream_outcome` before completing with the error: the handler relays it
    // (decision.on_failure "relay"). Sources without such answers (the rules engine) ignore both.
    // A request may arrive with `client_id` set: the authenticated caller, for the source to pass on.
    // Thread safety: may be called concurrently from every server thread.
    virtual net::awaitable<result<boost::json::object>> decide(hook_request& request, clock::time_point deadline) = 0;

    // "embedded-rules" or "remote": for logs and the start-up summary.
    virtual std::string_view mode() const noexcept = 0;

    // Whether this source's answers for `service` echo the caller's orders as sent (moved from
    // the request into the update actions): the listener then has the parse place each order in
    // the text (core::parse_facts::entry_resources), for the writer to copy. Fixed for the
    // source's life.
    virtual bool echoes_request_orders(const service_definition& /*service*/) const noexcept { return false; }

    virtual readiness ready() const { return {}; }

    // Starts background work (e.g. refreshing upstream addresses) on the application's control
    // executor. Called once, before the server starts.
    virtual void start_background(net::any_io_executor) {}

    // SIGHUP: re-reads what this source loads from files (rules), as start-up does: throws
    // std::runtime_error naming the file and field at fault, and keeps the old state, when the new
    // files are invalid. Thread-safe against concurrent decide().
    virtual void reload(const config&) {}

    // Card type codes (CRD CodeSystem temp) this decision source may return for a service; each
    // becomes a boolean configuration option in discovery.
    virtual std::vector<std::string> card_types(const service_definition& service) const = 0;
};

}  // namespace crd::core
