#pragma once
// A CDS Hooks request after validation: the parsed document plus the fields every handler needs,
// normalised across hook versions (order-dispatch's three context shapes become one list).

#include <crd/core/crd_version.hpp>
#include <crd/core/hooks.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/operation_outcome.hpp>
#include <crd/core/trace_context.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace crd::core {

// One order or appointment a determination is about.
struct request_item
{
    std::string_view resource_type;
    std::string_view id;
    // The full resource, from context or prefetch. nullptr when the request only referenced it
    // (order-dispatch without the order in prefetch).
    const boost::json::object* resource = nullptr;
    // order-select: advice should be limited to the selected orders.
    bool selected = true;
    // The resource's own bytes in hook_request::source_text (its object, braces included), when
    // the parse placed them exactly (locate_item_texts); empty otherwise.
    std::string_view text;
};

// A decision service's own error answer, kept to be relayed to the caller (decision.on_failure
// "relay"): its HTTP status and its OperationOutcome, parsed (never its raw bytes or headers).
struct upstream_failure
{
    unsigned status = 0;
    boost::json::object outcome;
};

struct hook_request
{
    const service_definition* service = nullptr;
    // The request document. Held by pointer: every view and pointer below points into it, and
    // Boost.JSON keeps short strings inline, so the document itself must never move.
    document_ptr document;
    // The arena a decision service's answer was parsed into (remote decisions): the answer's nodes
    // point into it without owning it, so it goes with the request to the response (api_response).
    // Its text (core::exact_text_of) is relayed instead of the tree re-serialised while the tree
    // still says exactly what it says: the decision source marks it changed otherwise
    // (core::mark_tree_changed), and the handler does not relay it when it changes the answer itself
    // (configuration options).
    document_ptr answer_document;

    std::string_view hook_instance;
    std::string_view patient_id;
    std::string_view user_id;       // may be empty (optional for order-dispatch)
    std::string_view encounter_id;  // may be empty
    std::string_view performer;     // order-dispatch only
    std::string_view fhir_server;   // may be empty

    std::vector<request_item> items;                     // orders or appointments, in request order
    std::vector<const boost::json::object*> tasks;       // order-dispatch fulfilment tasks
    const boost::json::object* prefetch = nullptr;       // may be null
    const boost::json::object* configuration = nullptr;  // extension."davinci-crd.configuration"
    // The CRD version to answer in: negotiated from extension."davinci-crd.requestedVersion".
    crd_version version = default_crd_version;
    // Set by the handler before the decision step when a failure would still be answered from the
    // request (decision.on_failure "conditional", or a 2.1+ caller's technical determination): a
    // decision source must then keep the request after sending it (see core::decision_service).
    bool keep_for_failure_answer = false;
    // Set by the handler before the decision step when the caller's options can change a decision
    // service's answer only by the number and order of its cards (no card type disabled, coverage
    // information wanted): a decision source may then read the answer's text once and relay it as
    // written, without its tree, when it holds at most cards_kept cards, most severe first, and
    // nothing in it needs changing (decision::relayable_as_written).
    bool answer_may_be_relayed_unread = false;
    // The most cards the caller keeps (its max-cards), set by the handler before the decision step
    // when every card counts toward it (no card type disabled). A decision source may leave out a
    // card that this many cards at least as severe precede: the caller would never see it.
    std::size_t cards_kept = std::numeric_limits<std::size_t>::max();
    // Prefetch keys whose fetch from the EHR's FHIR server failed (refused token, server error,
    // timeout), as opposed to data that does not exist: a 2.1+ caller hears "technical".
    std::vector<std::string> prefetch_failures;
    // The caller's own bytes of `document`, set by the handler only while they say exactly what the
    // tree says: no key given twice (core::compare_text_to_tree) and nothing merged in since (a
    // request completed with prefetch crd-server fetched is validated anew, without them). A remote
    // decision service is sent these bytes minus `fhir_authorization_bytes`, not a re-serialised
    // tree. They point into the HTTP body (core::request_context::body), alive until the handler has
    // answered; a decision source releasing the request uses them before. Empty: re-serialise.
    std::string_view source_text;
    // Objects of the answer that are the caller's own bytes (an order echoed as sent), for the
    // writer to copy instead of re-serialising (core::verbatim_object): set by the decision source
    // that moves the orders into its answer, in the order the answer holds them. Their texts are
    // source_text's, so only what answers before the body is gone may use them.
    std::vector<verbatim_object> verbatim;
    // The top-level fhirAuthorization member within source_text, with one adjacent comma; empty when
    // there is none.
    byte_range fhir_authorization_bytes;
    // The caller's headers named in decision.forward_headers (lower-case name, value).
    std::vector<std::pair<std::string, std::string>> forward_headers;
    // The authenticated client (core::request_context::client_id; empty when auth is off): sent to
    // the decision service as X-CDS-Client so it can tell EHRs apart.
    std::string client_id;
    // crd-server's span of this call (core::request_context::trace): each call made for it (decision
    // service, FHIR prefetch) sends a child_span of it as traceparent, with its tracestate.
    trace_context trace;
    // Set by the handler before the decision step under decision.on_failure "relay": a decision
    // source that hears a 4xx/5xx answer whose body is a FHIR OperationOutcome keeps it in
    // `upstream_outcome` (set after the request may have been released, so it survives that).
    bool relay_upstream_outcome = false;
    std::optional<upstream_failure> upstream_outcome;

    // A prefetch resource's type and id, views into the document: no "Type/id" string is built
    // per resource (or per look-up).
    struct resource_key
    {
        std::string_view type;
        std::string_view id;
        bool operator==(const resource_key&) const = default;
    };
    struct resource_key_hash
    {
        // Not noexcept on purpose: libstdc++ then keeps each key's hash in its node, as it does for
        // std::string keys, instead of hashing again whenever the request (and its map) moves.
        std::size_t operator()(const resource_key& key) const;
    };
    // Every resource found in prefetch (Bundles are opened), by type and id. Both indexes are
    // emptied by rules_engine::evaluate(hook_request&), which moves resources into the answer.
    std::unordered_map<resource_key, const boost::json::object*, resource_key_hash> prefetch_resources;
    // The first prefetch resource of each type in document order, ids or not (indexed once per
    // request: the rules engine asks per order).
    std::unordered_map<std::string_view, const boost::json::object*> first_of_type;

    // The first prefetch resource of that type, e.g. the patient's Coverage; nullptr if none.
    const boost::json::object* first_prefetched(std::string_view resource_type) const;
    // A resource by "Type/id" (relative, or absolute URL ending in Type/id); nullptr if absent.
    const boost::json::object* find_prefetched(std::string_view reference) const;
};

// hookInstance becomes the X-CDS-Hook-Instance header of decision calls and a field of every
// log and audit line: a UUID is 36 bytes, this leaves room for other id schemes.
inline constexpr std::size_t max_hook_instance_bytes = 256;

// Gives each order or appointment its own bytes (request_item::text) from the parse's placing of
// them (parse_facts::entry_resources), once the handler has found that source_text says exactly what
// the tree says. Nothing is set unless every item of the hook's bundle was placed in order.
void locate_item_texts(hook_request& request);

// Counts bounded per request (limits.max_orders, limits.max_selections): the work a call may
// ask of validation and the rules engine grows with them.
struct request_limits
{
    std::size_t max_orders = 1'000;      // draftOrders entries, appointments or dispatched orders
    std::size_t max_selections = 1'000;  // order-select selections
};

// Validates a parsed request for a service (CDS Hooks 2.0 §request, CRD 2.0.1 hooks, checklist
// §1.3 and §1.10). On failure returns an error (core::request_errc) naming the field: 422 for a
// bad field, 413 for a count over `limits`; unknown context fields and extensions are ignored.
result<hook_request, error> validate_hook_request(const service_definition& service, document_ptr document, const request_limits& limits = {});

// A value as diagnostics may quote it: at most a short prefix, control and non-ASCII bytes
// shown as '?', so an answer never echoes a caller's megabyte or its terminal escapes.
std::string quote_for_diagnostics(std::string_view value);

// RFC 6750 §2.1 b64token: what a Bearer token may contain, so that it can be sent as a header.
bool is_token68(std::string_view s) noexcept;
// No byte below 0x20 and no DEL: a value that can travel in an HTTP header field.
bool has_no_controls(std::string_view s) noexcept;

// FHIR id syntax: [A-Za-z0-9\-\.]{1,64}.
bool is_fhir_id(std::string_view s) noexcept;
// A relative reference "Type/id" with a FHIR resource type name and a FHIR id.
bool is_relative_reference(std::string_view s) noexcept;

}  // namespace crd::core
