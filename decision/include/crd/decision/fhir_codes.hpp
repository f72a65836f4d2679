#pragma once
// What an order, appointment or encounter is about: its codings, the payer of its coverage and
// its performers, read from the resource and, where it only references them, from prefetch.

#include <crd/core/hook_request.hpp>

#include <boost/json/object.hpp>

#include <list>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace crd::decision {

struct coding
{
    std::string_view system;
    std::string_view code;
    std::string_view display;
};

// Codings that identify the ordered or booked service: ServiceRequest.code,
// MedicationRequest.medication[x] (following a reference into prefetch or contained),
// DeviceRequest.code[x], NutritionOrder diet/formula types, VisionPrescription products,
// CommunicationRequest.category/reasonCode, Task.code, Appointment service and appointment types,
// Encounter.class and type.
std::vector<coding> service_codings(const boost::json::object& resource, const core::hook_request& request);
// The same into `out`, cleared first: one vector for all of a call's orders.
void service_codings(const boost::json::object& resource, const core::hook_request& request, std::vector<coding>& out);

// A short human name for a resource: a coding display, a CodeableConcept text, or "Type/id".
std::string describe(const boost::json::object& resource, const std::vector<coding>& codings);
// The same as a view of the resource's own words, or of `built` when they must be put together
// ("Type/id"): valid while both live and the resource is unchanged.
std::string_view describe(const boost::json::object& resource, const std::vector<coding>& codings, std::string& built);

// Performer references ("Type/id") of a resource plus, for order-dispatch, context.performer.
std::vector<std::string> performers(const boost::json::object* resource, const core::hook_request& request);

struct coverage_ref
{
    std::string reference;            // "Coverage/id"; empty when no coverage was identified
    std::vector<std::string> payers;  // Coverage.payor references, as "Type/id"
    // Coverage.payor identifiers, and those of the payor Organizations found in prefetch.
    std::vector<std::pair<std::string, std::string>> payer_identifiers;  // system, value
    // Coverage.status is "active", or the Coverage itself was not in the request to say otherwise.
    bool active = true;
};

// The coverage an order is billed to: its own insurance reference, else the first Coverage in prefetch.
coverage_ref coverage_for(const boost::json::object* resource, const core::hook_request& request);

// coverage_for for the orders of one call: a Coverage several orders are billed to is read once
// (its payors and their identifiers were read again for every order; issue 19). The request must
// outlive it.
class coverage_memo
{
public:
    const coverage_ref& of(const boost::json::object* resource, const core::hook_request& request);

private:
    // A list: references handed out stay valid, and a call whose orders name one Coverage allocates once.
    std::list<std::pair<const boost::json::object*, coverage_ref>> read_;
    // The last order's insurance reference as written and what it led to: orders that spell it
    // alike (the usual case) skip the look-up. One, not one per spelling: a caller spelling one
    // Coverage a different way per order would otherwise make the list as long as the orders.
    std::string_view last_insurance_;
    const coverage_ref* last_ = nullptr;
};

// "http://ehr/fhir/Organization/1" -> "Organization/1"; relative references are returned as-is.
std::string_view relative_reference(std::string_view reference);

}  // namespace crd::decision
