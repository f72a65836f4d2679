#pragma once
// The decisions protocol (decision.protocol "decisions", or CDS_DECISION_SERVICE_CUSTOM_RESPONSE=true
// as Payerbox calls it; the contract is docs/decision-api.yaml). Payers' decision logic lives in
// rules engines and claims systems whose teams do not speak FHIR: crd-server sends them a compact
// JSON summary of the hook call, they answer one decision per order in the rules file's
// vocabulary, and crd-server writes the conformant CRD answer in the caller's version.

#include <crd/core/error.hpp>
#include <crd/core/hook_request.hpp>
#include <crd/decision/decision_metrics.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crd::decision {

// DecisionsRequest.protocol: the contract's version, so a service can refuse one it does not know.
inline constexpr std::string_view decisions_protocol_id = "crd-decisions/1";

// The compact request for a validated hook call: hook, hookInstance, the CRD version asked for,
// patient (id, birth date, gender), the member's coverages (reference, status, payers, subscriber,
// plan), every order or appointment (reference, resource type, selected, status, codes, quantity,
// performers, its coverage, dates), user and encounter references, and the prefetch when
// `include_prefetch`. Never the EHR's FHIR access token.
std::string decisions_request_body(const core::hook_request& request, bool include_prefetch);

struct decisions_report
{
    std::array<unsigned, static_cast<std::size_t>(decision_repair::count_)> repairs{};
    std::vector<std::string> notes;           // each names the field ("decisions[2].pa_needed ..."), for the log
    std::vector<std::string> ignored_fields;  // members the contract does not define, left out

    unsigned count(decision_repair r) const noexcept { return repairs[static_cast<std::size_t>(r)]; }
    bool changed() const noexcept;
};

// The CDS Hooks answer (cards, and systemActions for primary hooks) to `request`, in
// request.version, from a decision service's DecisionsResponse `answer`. Cards carry
// `source_label`. Built in the request document's memory resource (the caller keeps the document
// until the answer is sent, as for the embedded engine). Fails with errc::decision_bad_response
// only when `answer` is not an object with a `decisions` array; anything less is repaired and
// reported.
result<boost::json::object> answer_from_decisions(
    const boost::json::value& answer, const core::hook_request& request, std::string_view source_label, decisions_report& report);

// The same, taking the request's orders into the answer's update actions instead of copying them:
// in the request document's own memory resource a move is a swap. The request's orders are left
// empty and its prefetch index cleared, so nothing may read them afterwards (the caller answers
// with this answer or, on failure, before this is called).
result<boost::json::object> answer_from_decisions(
    const boost::json::value& answer, core::hook_request& request, std::string_view source_label, decisions_report& report);

// Adds `report`'s repairs to crd_decisions_repaired_total.
void count_repairs(const decisions_report& report) noexcept;

}  // namespace crd::decision
