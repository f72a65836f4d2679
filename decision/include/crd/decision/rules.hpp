#pragma once
// The embedded engine's payer rules, loaded from a JSON file (decision.rules). A rule maps codes
// (CPT/HCPCS, RxNorm, SNOMED, LOINC, ...) — optionally only for some payers, performers or hooks —
// to a coverage determination and the cards that explain it. See etc/rules.json and docs/rules.md.

#include <crd/decision/coverage_information.hpp>

#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace crd::decision {

// Thrown by load_rules / parse_rules; what() names the file and the offending field.
class rules_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct rule_link
{
    std::string label;
    std::string url;  // absolute https/http URL
};

// The coverage part of a determination, in ext-coverage-information codes (the newest version's:
// the renderer says them as an older caller's version allows, see coverage_information.hpp).
struct determination
{
    std::string covered;                     // covered | not-covered | conditional
    std::string pa_needed;                   // no-auth | auth-needed | performpa | conditional; empty: omit
    std::vector<std::string> doc_needed;     // clinical | admin | patient | both | conditional; empty: none
    std::vector<std::string> doc_purpose;    // withpa | withclaim | withorder | retain-doc | OTH
    std::vector<std::string> info_needed;    // performer | location | timeframe | contract-window | detail-code | OTH
    std::vector<std::string> questionnaire;  // canonical URLs
    std::vector<coded> reason_codes;         // coded reasons (temp CodeSystem: gold-card, auth-out-network, ...)
    std::vector<coverage_detail> details;    // name-value details, with a 2.2 category
    std::vector<coded> billing_codes;        // codes the claim must use for the assertion to hold
    std::vector<contact_detail> contacts;    // context-specific contacts (ContactDetail)
    std::optional<unsigned> valid_days;      // expiry-date = the assertion's date + valid_days
    // Only a decision service's answer gives these (decisions protocol): a rule cannot know them.
    std::string satisfied_pa_id;  // with pa_needed "satisfied" (crd-ci-q5)
    std::string expiry_date;      // YYYY-MM-DD; wins over valid_days
};

struct coded_value
{
    std::string system;  // canonical code system URI
    std::string code;
};

struct rule
{
    std::string id;
    std::string description;
    std::vector<coded_value> codes;       // matches when an order carries any of them
    std::vector<std::string> payers;      // "Organization/x"; empty: any payer
    std::vector<std::string> performers;  // "Organization/x", "Practitioner/y"; empty: any
    std::vector<std::string> hooks;       // CDS hook names; empty: every hook
    determination result;
    std::string reason;                   // why, shown to clinicians
    std::string summary;                  // card summary; generated when empty
    std::string topic = "coverage-info";  // card type code (CRD CodeSystem temp)
    std::string indicator;                // info | warning | critical; derived when empty
    std::vector<rule_link> links;         // -> an External Reference card
    std::string instructions;             // markdown -> an Instructions card

    // Rules restricted to a payer or performer beat general ones.
    int specificity() const noexcept { return (payers.empty() ? 0 : 2) + (performers.empty() ? 0 : 1); }
};

struct rule_set
{
    std::string payer_name;  // Card.source.label
    std::string payer_url;   // Card.source.url (optional)
    // Who this payer is on a Coverage (CRD hooks.md: a primary Coverage of another payer is a 400):
    // Coverage.payor references ("Organization/x") and identifiers (system + value, on the payor
    // reference or on the Organization in prefetch). Both empty: every Coverage is taken as ours.
    std::vector<std::string> payer_references;
    std::vector<coded_value> payer_identifiers;
    determination fallback;  // when no rule matches
    std::vector<rule> rules;
    // Every system URI that an alias stands for maps to the alias's first URI, so that e.g. the
    // three HCPCS system URIs seen in the wild match one rule.
    std::map<std::string, std::string, std::less<>> system_aliases;

    // The canonical form of a system URI (itself when it has no alias).
    std::string_view canonical_system(std::string_view system) const;
};

rule_set parse_rules(const boost::json::value& doc);

// One per-order answer of the decisions protocol (docs/decision-api.yaml, OrderDecision): the
// rules file's determination and card fields for the order `order` ("Type/id"), held in a rule
// (no codes, payers, performers or hooks). A decision service, unlike a rule, may also say
// `indeterminate` (with a reason), pa_needed `satisfied` (with satisfied_pa_id), an explicit
// expiry_date, and every reason code of the IG (technical, no-member-found, ...).
struct order_decision
{
    std::string order;
    rule advice;
    std::vector<std::string> ignored_fields;  // members the protocol does not define, left out
};

// Reads decisions[i] at `path` ("decisions[3]"). Throws rules_error whose what() starts with
// "decision field '<path>.<field>'" and says what is wrong; unknown top-level members are not
// errors (a service may add its own) and are listed in ignored_fields.
order_decision parse_order_decision(const boost::json::value& v, const std::string& path);
rule_set load_rules(const std::string& path);

// The CRD card type codes (http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp) and their display.
const std::map<std::string, std::string, std::less<>>& crd_card_types();
inline constexpr std::string_view crd_card_type_system = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";
// From CRD 2.2 the same codes come from the CDS Hooks card-type CodeSystem.
inline constexpr std::string_view cdshooks_card_type_system = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type";

}  // namespace crd::decision
