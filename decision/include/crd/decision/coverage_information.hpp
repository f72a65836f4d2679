#pragma once
// One coverage assertion, whatever CRD version it came in or goes out in: the embedded engine,
// the decision-service normaliser and the failure answers all produce a coverage_assertion, and
// render_coverage_information() writes the ext-coverage-information of the caller's version.
//
// The extension by version (HL7/davinci-crd input/fsh/extensions/CoverageInformation.fsh and
// valuesets/CoverageInformationValuesets.fsh at tags 2.0.1, 2.1.0, 2.2.1):
// - 2.0: doc-needed 0..1 (clinical | admin | both | conditional); response (QuestionnaireResponse);
//   contact is a ContactPoint; no expiry-date; no indeterminate; invariants q1–q5 (q2 as written:
//   anything but not-covered carries pa-needed).
// - 2.1: doc-needed 0..* (clinical | admin | patient | conditional, no `both`); response gone;
//   expiry-date; detail valueUrl; q3 becomes "info-needed if and only if something is
//   conditional"; q6 (info-needed OTH needs a reason) and q7 (a reason code outside the value set
//   needs text).
// - 2.2: `indeterminate` in covered, pa-needed and doc-needed (q9: needs a reason); detail gains a
//   required category; contact is a ContactDetail; info-needed `detail-code`; reason codes
//   technical, no-member-found, no-active-coverage, coverage-not-found, auth-out-network; q4 also
//   forbids withpa under no-auth; q8 (doc-purpose needs a reason).
//
// What a version cannot say is said as that version allows and counted (rendering_report):
// `indeterminate` before 2.2 is `conditional` with info-needed OTH and the reason kept.

#include <crd/core/crd_version.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crd::decision {

inline constexpr std::string_view coverage_information_url = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
// The IG's CodeSystem of reason, detail and (before 2.2) card-type codes.
inline constexpr std::string_view crd_temp_system = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";
// 2.2 detail codes (the temp codes stay allowed by an additional binding).
inline constexpr std::string_view crd_coverage_detail_system = "http://terminology.hl7.org/CodeSystem/crd-coverage-detail";

// A Coding, plus the text of the CodeableConcept it stands in (reason, detail code).
struct coded
{
    std::string system;
    std::string code;
    std::string display;
    std::string text;

    bool empty() const noexcept { return code.empty() && text.empty(); }
};

// A detail name-value pair. `value` is one of the value[x] the version allows, as
// {"valueBoolean": true}, {"valueString": "..."}, {"valueUrl": "..."}, {"valueQuantity": {...}}
// or {"valuePeriod": {...}}: one member.
struct coverage_detail
{
    std::string category;  // 2.2: cat-limitation | cat-decisional | cat-other (rendered cat-other when empty)
    coded code;
    boost::json::object value;
    std::string qualification;
};

struct contact_point
{
    std::string system;  // phone | fax | email | pager | url | sms | other
    std::string value;
};

// A ContactDetail (2.2); before 2.2 each telecom becomes a ContactPoint and the name is lost.
struct contact_detail
{
    std::string name;
    std::vector<contact_point> telecom;
};

struct coverage_assertion
{
    // Reference to the Coverage on the EHR; `coverage_display` only when none was identified.
    std::string coverage_reference;
    std::string coverage_display;

    std::string covered;                   // covered | not-covered | conditional | indeterminate
    std::string pa_needed;                 // no-auth | auth-needed | satisfied | performpa | conditional | indeterminate; empty: omit
    std::vector<std::string> doc_needed;   // clinical | admin | patient | conditional | indeterminate (| both, 2.0)
    std::vector<std::string> doc_purpose;  // withpa | withclaim | withorder | retain-doc | OTH
    std::vector<std::string> info_needed;  // performer | location | timeframe | contract-window | detail-code | OTH
    std::vector<coded> billing_codes;
    std::vector<coded> reasons;
    std::vector<coverage_detail> details;
    std::vector<std::string> dependencies;    // references to other orders
    std::vector<std::string> questionnaires;  // canonical URLs
    std::vector<std::string> responses;       // QuestionnaireResponse references (2.0 only)
    std::string date;                         // YYYY-MM-DD
    std::string assertion_id;
    std::string satisfied_pa_id;
    std::vector<contact_detail> contacts;
    std::string expiry_date;  // YYYY-MM-DD; 2.1+
};

// Reason codes of the IG's temp CodeSystem.
namespace reason_code {
inline constexpr std::string_view gold_card = "gold-card";
inline constexpr std::string_view technical = "technical";
inline constexpr std::string_view no_member_found = "no-member-found";
inline constexpr std::string_view no_active_coverage = "no-active-coverage";
inline constexpr std::string_view coverage_not_found = "coverage-not-found";
inline constexpr std::string_view auth_out_network = "auth-out-network";
}  // namespace reason_code

// A reason with a code of the temp CodeSystem and the words a clinician reads.
coded crd_reason(std::string_view code, std::string text);

// What rendering changed to fit the caller's version or the invariants; the normaliser counts
// these with its card and action repairs.
struct rendering_report
{
    unsigned downgraded = 0;  // a value the version cannot say, said as it allows (indeterminate -> conditional, ...)
    unsigned repaired = 0;    // an invariant enforced by adding or changing an element
    unsigned dropped = 0;     // an element the version or an invariant does not allow, left out
    std::vector<std::string> notes;

    bool changed() const noexcept { return downgraded + repaired + dropped > 0; }
};

// The ext-coverage-information extension of `a` in `version`, elements in the profile's order,
// enforcing the version's invariants (repairs and drops in `report`). Allocates in `sp`.
// Takes the assertion by value: fitting it to the version changes it in place (move it in).
boost::json::object render_coverage_information(
    coverage_assertion a, core::crd_version version, rendering_report& report, boost::json::storage_ptr sp = {});

// Re-renders `extension`, read into `a`, in `version` (as render_coverage_information, in the
// extension's memory resource). An extension that already says exactly what the rendering would,
// the usual answer of a decision service of the caller's version, is left as it is: building it
// again cost most of relaying an answer's coverage information (issue 19). True when it was
// rendered again (the extension changed), false when left as it was.
bool rerender_coverage_information(boost::json::object& extension, coverage_assertion a, core::crd_version version, rendering_report& report);

// Reads an ext-coverage-information extension in any of the versions (ContactPoint or
// ContactDetail, detail with or without category, ...). Sub-extensions it does not know, or of
// the wrong type, are left out and noted in `report.dropped`. Fails (nullopt-like: false) only
// when the extension is not an object with an `extension` array, or `covered` is missing.
bool read_coverage_information(const boost::json::object& extension, coverage_assertion& out, rendering_report& report);

// True for an extension object whose url is ext-coverage-information.
bool is_coverage_information(const boost::json::value& extension) noexcept;

// `resource` with its ext-coverage-information replaced by `extension` (any other extension,
// and every other element, kept as it was: CRD 2.2 update actions change nothing else).
boost::json::object with_coverage_information(boost::json::object resource, boost::json::object extension);

}  // namespace crd::decision
