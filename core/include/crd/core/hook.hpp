#pragma once
// The hook handler interface and the registry the router looks services up in. Both live in core
// so that the server and the decision modules never include each other.

#include <crd/core/async.hpp>
#include <crd/core/hooks.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/operation_outcome.hpp>
#include <crd/core/trace_context.hpp>

#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crd::core {

// What a handler answers: a status and a JSON body (CDS Hooks response or OperationOutcome).
struct api_response
{
    unsigned status = 200;
    // The request document, kept until `body` is serialised: copies of its resources (orders
    // echoed in coverage information) may live in its arena. Declared before `body`, so it is
    // destroyed after it.
    document_ptr request_document;
    // The decision service's answer document, kept for the same reason: `body` may be its nodes.
    document_ptr answer_document;
    boost::json::value body;
    // Objects of `body` the writer may copy as the caller's bytes (hook_request::verbatim): the
    // request body they point into is the listener's, alive until this answer is written.
    std::vector<verbatim_object> verbatim;
    // For the access log and the audit record: the call's hookInstance once validated, and how the
    // decision step ended ("ok", "timeout", "error", "breaker_open", "conditional"; empty if not reached).
    std::string hook_instance;
    std::string decision;
    // The CRD version answered in ("2.0", "2.1", "2.2"); empty when the call never got that far.
    std::string crd_version;

    api_response() = default;
    // A body that may live in the documents' arenas is taken by move construction: json::value's
    // move assignment would deep-copy one held in another memory resource into the default one.
    api_response(unsigned answer_status, document_ptr request, document_ptr answer, boost::json::value answer_body) noexcept
        : status(answer_status)
        , request_document(std::move(request))
        , answer_document(std::move(answer))
        , body(std::move(answer_body))
    {
    }
    api_response(api_response&&) noexcept = default;
    // Member by member, the old documents went first while the old body still lived in their
    // arenas, and the new body was copied into the old body's memory resource. The old body goes
    // first here, and the new one keeps its own memory resource, which comes with its documents.
    api_response& operator=(api_response&& other) noexcept
    {
        if (this == &other)
            return *this;
        verbatim = std::move(other.verbatim);
        std::destroy_at(&body);
        std::construct_at(&body, std::move(other.body));
        request_document = std::move(other.request_document);
        answer_document = std::move(other.answer_document);
        status = other.status;
        hook_instance = std::move(other.hook_instance);
        decision = std::move(other.decision);
        crd_version = std::move(other.crd_version);
        return *this;
    }
    // The answer's whole JSON text when it is relayed as a decision service wrote it, read once and
    // never built into a tree (core::text_only_document): `body` is then null, and this is written
    // instead. Empty otherwise. (Derived, not stored: every answer held while calls wait is the
    // smaller for it.)
    std::string_view body_text() const noexcept { return is_text_only(answer_document) ? exact_text_of(answer_document) : std::string_view(); }
    api_response(const api_response&) = delete;
    api_response& operator=(const api_response&) = delete;
    ~api_response() = default;

    static api_response from(const problem& p)
    {
        api_response r;
        r.status = p.status;
        r.body = to_operation_outcome(p);
        return r;
    }
};

// Per-request facts the router establishes before the handler runs.
struct request_context
{
    clock::time_point received;  // when the request was read
    std::string client_id;       // authenticated caller; empty when authentication is off
    std::string jti;             // the caller's token id (JWT), for the audit log
    std::string tenant;          // CDS Hooks JWT "tenant" claim, when given
    // The caller's headers named in decision.forward_headers (lower-case name, value), for the
    // decision service.
    std::vector<std::pair<std::string, std::string>> forward_headers;
    // crd-server's span of this call: a child of the caller's traceparent, or a new trace.
    trace_context trace;
    // The request body the document was parsed from. Points into the listener's HTTP parser, which
    // keeps it until the handler has answered. Empty when the caller has no text (tests, tools).
    std::string_view body;
};

class hook_handler
{
public:
    virtual ~hook_handler() = default;

    virtual const service_definition& service() const noexcept = 0;

    // This service's entry in GET /cds-services.
    virtual boost::json::object discovery() const = 0;

    // Validates and answers one hook call. Never throws for bad input or upstream failures:
    // those come back as an api_response with an error status and an OperationOutcome.
    // Cancellation: none beyond the deadline the handler derives from ctx.received.
    // Thread safety: handlers are immutable after start-up and may be called from any thread.
    virtual net::awaitable<api_response> handle(document_ptr body, request_context ctx) = 0;

    // Whether the body's parse should place the caller's orders in its text
    // (core::entry_placing): only an answer that echoes them as sent uses it.
    virtual bool echoes_request_orders() const noexcept { return false; }
};

class hook_registry
{
public:
    // Throws std::logic_error on a duplicate id (start-up only).
    void add(std::unique_ptr<hook_handler> handler);

    hook_handler* find(std::string_view id) const noexcept;

    // {"services": [...]} in registration order.
    boost::json::value discovery() const;

    std::vector<std::string_view> ids() const;

private:
    std::vector<std::unique_ptr<hook_handler>> handlers_;
    std::map<std::string, hook_handler*, std::less<>> by_id_;
};

}  // namespace crd::core
