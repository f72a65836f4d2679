#pragma once
// A CDS Hooks request after validation: the parsed document plus the fields every handler needs,
// normalised across hook versions (order-dispatch's three context shapes become one list).

#include <crd/core/hooks.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/operation_outcome.hpp>

#include <boost/json/value.hpp>

#include <memory>
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
};

struct hook_request
{
    const service_definition* service = nullptr;
    // The request document. Held by pointer: every view and pointer below points into it, and
    // Boost.JSON keeps short strings inline, so the document itself must never move.
    document_ptr document;

    std::string_view hook_instance;
    std::string_view patient_id;
    std::string_view user_id;       // may be empty (optional for order-dispatch)
    std::string_view encounter_id;  // may be empty
    std::string_view performer;     // order-dispatch only
    std::string_view fhir_server;   // may be empty

    std::vector<request_item> items;                   // orders or appointments, in request order
    std::vector<const boost::json::object*> tasks;     // order-dispatch fulfilment tasks
    const boost::json::object* prefetch = nullptr;     // may be null
    const boost::json::object* configuration = nullptr;  // extension."davinci-crd.configuration"

    // Every resource found in prefetch (Bundles are opened), keyed "Type/id".
    std::unordered_map<std::string, const boost::json::object*> prefetch_resources;

    // The first prefetch resource of that type, e.g. the patient's Coverage; nullptr if none.
    const boost::json::object* first_prefetched(std::string_view resource_type) const;
    // A resource by "Type/id" (relative, or absolute URL ending in Type/id); nullptr if absent.
    const boost::json::object* find_prefetched(std::string_view reference) const;
};

// Validates a parsed request for a service (CDS Hooks 2.0 §request, CRD 2.0.1 hooks, checklist
// §1.3 and §1.10). On failure returns a 422 problem naming the field; unknown context fields and
// extensions are ignored.
std::variant<hook_request, problem> validate_hook_request(
    const service_definition& service,
    document_ptr document
);

// FHIR id syntax: [A-Za-z0-9\-\.]{1,64}.
bool is_fhir_id(std::string_view s) noexcept;
// A relative reference "Type/id" with a FHIR resource type name and a FHIR id.
bool is_relative_reference(std::string_view s) noexcept;

}  // namespace crd::core
