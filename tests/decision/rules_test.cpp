#include <crd/decision/rules.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace json = boost::json;
using namespace crd::decision;

namespace {

const char* minimal = R"({
    "payer": {"name": "Plan"},
    "default": {"covered": "covered", "pa_needed": "no-auth"},
    "rules": [{"id": "r1", "codes": [{"system": "http://loinc.org", "code": "1-8"}], "covered": "covered", "pa_needed": "auth-needed"}]
})";

// The message of parsing `base` with one edit (JSON pointer -> value, nullopt erases); must fail.
std::string error_of(const std::string& pointer, std::optional<json::value> value)
{
    json::value doc = json::parse(minimal);
    crd::test::edit(doc, pointer, std::move(value));
    try
    {
        parse_rules(doc);
    }
    catch (const rules_error& e)
    {
        return e.what();
    }
    BOOST_FAIL("rules accepted after editing " + pointer);
    return {};
}

bool mentions(const std::string& message, const std::string& field)
{
    return message.find("'" + field + "'") != std::string::npos;
}

// JSON pointer -> value (nullopt erases).
using edits = std::vector<std::pair<std::string, std::optional<json::value>>>;

json::value edited(const edits& changes)
{
    json::value doc = json::parse(minimal);
    for (const auto& [pointer, value] : changes)
        crd::test::edit(doc, pointer, value);
    return doc;
}

// `minimal` with several members set; must parse.
rule_set parsed_with(const edits& changes)
{
    return parse_rules(edited(changes));
}

// The message of parsing `minimal` with several members set; must fail.
std::string error_with(const edits& changes)
{
    try
    {
        parse_rules(edited(changes));
    }
    catch (const rules_error& e)
    {
        return e.what();
    }
    BOOST_FAIL("rules accepted after " + std::to_string(changes.size()) + " edits, the first " + changes.front().first);
    return {};
}

json::value jv(const char* text)
{
    return json::parse(text);
}

const std::string temp_system(crd_temp_system);
const std::string detail_system(crd_coverage_detail_system);

}  // namespace

BOOST_AUTO_TEST_SUITE(rules_)

BOOST_AUTO_TEST_CASE(shipped_sample_rules_load)
{
    auto rules = load_rules(std::string(CRD_SOURCE_DIR) + "/etc/rules.json");
    BOOST_TEST(rules.payer_name == "Example Health Plan");
    BOOST_TEST(rules.rules.size() >= 8U);
    // Aliases resolve: the three HCPCS system URIs are one system.
    BOOST_TEST(rules.canonical_system("https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets") ==
               rules.canonical_system("https://bluebutton.cms.gov/resources/codesystem/hcpcs"));
    // More specific rules (payer/performer restricted) come first.
    BOOST_TEST(rules.rules.front().specificity() > 0);
}

BOOST_AUTO_TEST_CASE(minimal_rules_parse)
{
    auto rules = parse_rules(json::parse(minimal));
    BOOST_TEST(rules.rules.size() == 1U);
    BOOST_TEST(rules.rules[0].topic == "coverage-info");
    BOOST_TEST(rules.fallback.covered == "covered");
}

BOOST_AUTO_TEST_CASE(each_bad_field_is_named)
{
    BOOST_TEST(mentions(error_of("/payer", std::nullopt), "payer"));
    BOOST_TEST(mentions(error_of("/payer/name", json::value("")), "payer.name"));
    BOOST_TEST(mentions(error_of("/payer/url", json::value("www.plan")), "payer.url"));
    BOOST_TEST(mentions(error_of("/default", std::nullopt), "default"));
    BOOST_TEST(mentions(error_of("/default/covered", json::value("maybe")), "default.covered"));
    BOOST_TEST(mentions(error_of("/rules", json::object{}), "rules"));
    BOOST_TEST(mentions(error_of("/rules/0/id", std::nullopt), "rules[0].id"));
    BOOST_TEST(mentions(error_of("/rules/0/codes", json::array{}), "rules[0].codes"));
    BOOST_TEST(mentions(error_of("/rules/0/codes/0/code", std::nullopt), "rules[0].codes[0].code"));
    BOOST_TEST(mentions(error_of("/rules/0/covered", json::value("yes")), "rules[0].covered"));
    BOOST_TEST(mentions(error_of("/rules/0/pa_needed", std::nullopt), "rules[0].pa_needed"));  // crd-ci-q2
    BOOST_TEST(mentions(error_of("/rules/0/pa_needed", json::value("satisfied")), "rules[0].pa_needed"));
    BOOST_TEST(mentions(error_of("/rules/0/doc_needed", json::value("lots")), "rules[0].doc_needed"));
    BOOST_TEST(mentions(error_of("/rules/0/questionnaire", json::array{"https://q/1"}), "rules[0].questionnaire"));  // q1
    BOOST_TEST(mentions(error_of("/rules/0/info_needed", json::array{"OTH"}), "rules[0].info_needed"));              // q3
    BOOST_TEST(mentions(error_of("/rules/0/info_needed", json::array{"weather"}), "rules[0].info_needed[0]"));
    BOOST_TEST(mentions(error_of("/rules/0/topic", json::value("prior-auth")), "rules[0].topic"));
    BOOST_TEST(mentions(error_of("/rules/0/indicator", json::value("urgent")), "rules[0].indicator"));
    BOOST_TEST(mentions(error_of("/rules/0/summary", json::value(std::string(140, 'x'))), "rules[0].summary"));
    BOOST_TEST(mentions(error_of("/rules/0/links", json::array{json::object{{"label", "x"}, {"url", "/relative"}}}), "rules[0].links[0].url"));
    BOOST_TEST(mentions(error_of("/rules/0/payers", json::array{"org1"}), "rules[0].payers"));
    BOOST_TEST(mentions(error_of("/rules/0/hooks", json::array{"order-review"}), "rules[0].hooks"));
    BOOST_TEST(mentions(error_of("/rules/0/typo", json::value(1)), "rules[0].typo"));
    BOOST_TEST(mentions(error_of("/extra", json::value(1)), "rules-file.extra"));
}

BOOST_AUTO_TEST_CASE(duplicate_rule_ids_are_refused)
{
    json::value doc = json::parse(minimal);
    doc.at("rules").as_array().push_back(doc.at("rules").at(0));
    BOOST_CHECK_THROW(parse_rules(doc), rules_error);
}

BOOST_AUTO_TEST_CASE(files_name_themselves_in_errors)
{
    try
    {
        load_rules("/nonexistent/rules.json");
        BOOST_FAIL("missing rules file accepted");
    }
    catch (const rules_error& e)
    {
        BOOST_TEST(std::string(e.what()).find("/nonexistent/rules.json") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_rules_file_with_a_key_given_twice_is_refused)
{
    // The shipped rules with the payer named twice: the first would be lost without a word.
    std::ifstream in(std::string(CRD_SOURCE_DIR) + "/etc/rules.json");
    std::stringstream text;
    text << in.rdbuf();
    auto doubled = text.str();
    doubled.insert(doubled.find('{') + 1, R"("payer": {"name": "Shadow Plan"},)");
    const std::string path = "/tmp/crd-rules-test-" + std::to_string(::getpid()) + ".json";
    std::ofstream(path) << doubled;
    try
    {
        load_rules(path);
        BOOST_FAIL("a duplicated key was accepted");
    }
    catch (const rules_error& e)
    {
        BOOST_TEST(std::string(e.what()).find("'payer' appears twice") != std::string::npos, e.what());
    }
    std::remove(path.c_str());
}

BOOST_AUTO_TEST_SUITE_END()

// CRD 2.1+ fields of a determination (issue 15): each one parsed, and each bad one named.
BOOST_AUTO_TEST_SUITE(rules_crd_2_2_fields)

BOOST_AUTO_TEST_CASE(doc_needed_is_one_code_or_several)
{
    auto one = parsed_with({{"/rules/0/doc_needed", "clinical"}});
    BOOST_TEST((one.rules[0].result.doc_needed == std::vector<std::string>{"clinical"}));
    auto several = parsed_with({{"/rules/0/doc_needed", jv(R"(["clinical", "patient"])")}});
    BOOST_TEST((several.rules[0].result.doc_needed == std::vector<std::string>{"clinical", "patient"}));
    auto both = parsed_with({{"/default/doc_needed", jv(R"(["both"])")}});
    BOOST_TEST((both.fallback.doc_needed == std::vector<std::string>{"both"}));
}

BOOST_AUTO_TEST_CASE(bad_doc_needed_is_named)
{
    BOOST_TEST(mentions(error_with({{"/rules/0/doc_needed", 42}}), "rules[0].doc_needed"));
    BOOST_TEST(mentions(error_with({{"/rules/0/doc_needed", jv(R"(["clinical", 3])")}}), "rules[0].doc_needed[1]"));
    BOOST_TEST(mentions(error_with({{"/rules/0/doc_needed", jv(R"(["clinical", "lots"])")}}), "rules[0].doc_needed[1]"));
    BOOST_TEST(mentions(error_with({{"/rules/0/doc_needed", jv(R"(["admin", "admin"])")}}), "rules[0].doc_needed[1]"));
    const auto both = error_with({{"/rules/0/doc_needed", jv(R"(["both", "clinical"])")}});
    BOOST_TEST(mentions(both, "rules[0].doc_needed"));
    BOOST_TEST(both.find("'both'") != std::string::npos, both);
    BOOST_TEST(mentions(error_with({{"/default/doc_needed", jv(R"(["admin", "both"])")}}), "default.doc_needed"));
}

BOOST_AUTO_TEST_CASE(indeterminate_is_the_servers_word_not_a_rules)
{
    for (const char* field : {"covered", "pa_needed", "doc_needed"})
    {
        const auto message = error_with({{std::string("/rules/0/") + field, "indeterminate"}});
        BOOST_TEST(mentions(message, std::string("rules[0].") + field), message);
        BOOST_TEST(message.find("indeterminate") != std::string::npos, message);
    }
    BOOST_TEST(mentions(error_with({{"/rules/0/doc_needed", jv(R"(["clinical", "indeterminate"])")}}), "rules[0].doc_needed[1]"));
    BOOST_TEST(mentions(error_with({{"/default/covered", "indeterminate"}}), "default.covered"));
}

BOOST_AUTO_TEST_CASE(info_needed_takes_detail_code)
{
    auto rules = parsed_with({{"/rules/0/covered", "conditional"}, {"/rules/0/info_needed", jv(R"(["detail-code"])")}});
    BOOST_TEST((rules.rules[0].result.info_needed == std::vector<std::string>{"detail-code"}));
}

BOOST_AUTO_TEST_CASE(reason_codes_become_temp_codings)
{
    auto rules = parsed_with({{"/rules/0/pa_needed", "no-auth"}, {"/rules/0/reason_codes", jv(R"(["gold-card", "auth-out-network"])")}});
    const auto& codes = rules.rules[0].result.reason_codes;
    BOOST_TEST_REQUIRE(codes.size() == 2U);
    BOOST_TEST(codes[0].system == temp_system);
    BOOST_TEST(codes[0].code == "gold-card");
    BOOST_TEST(codes[0].display == "Gold card");
    BOOST_TEST(codes[0].text.empty());  // the rule's `reason` is the text (the engine puts it there)
    BOOST_TEST(codes[1].code == "auth-out-network");
    BOOST_TEST(codes[1].display == "Authorization needed out-of-network");
    auto fallback = parsed_with({{"/default/reason_codes", jv(R"(["gold-card"])")}});
    BOOST_TEST(fallback.fallback.reason_codes.size() == 1U);
}

BOOST_AUTO_TEST_CASE(bad_reason_codes_are_named)
{
    BOOST_TEST(mentions(error_with({{"/rules/0/reason_codes", "gold-card"}}), "rules[0].reason_codes"));
    BOOST_TEST(mentions(error_with({{"/rules/0/reason_codes", jv(R"(["gold-card", "silver-card"])")}}), "rules[0].reason_codes[1]"));
    // What the server finds about a request is not a rule's to say.
    for (const char* code : {"technical", "no-member-found", "no-active-coverage", "coverage-not-found"})
    {
        const auto message = error_with({{"/rules/0/reason_codes", json::array{code}}});
        BOOST_TEST(mentions(message, "rules[0].reason_codes[0]"), message);
        BOOST_TEST(message.find("by itself") != std::string::npos, message);
    }
}

BOOST_AUTO_TEST_CASE(details_parse_into_the_model)
{
    auto rules = parsed_with({{"/code_systems", jv(R"({"payer-codes": ["https://plan.example/CodeSystem/detail"]})")}, {"/rules/0/details", jv(R"([
            {"code": "allowed-quantity", "value": {"quantity": {"value": 2, "unit": "visits", "system": "http://unitsofmeasure.org", "code": "{visits}"}},
             "qualification": "Per calendar year"},
            {"category": "cat-other", "code": {"code": "policy-link"}, "value": {"url": "https://plan.example/policy"}},
            {"code": {"system": "payer-codes", "code": "nurse-line", "display": "Nurse line"}, "value": {"boolean": true}},
            {"category": "cat-decisional", "code": "instructions", "value": {"string": "Call first."}},
            {"code": "allowed-period", "value": {"period": {"start": "2026-01-01", "end": "2026-12-31"}}}
        ])")}});
    const auto& details = rules.rules[0].result.details;
    BOOST_TEST_REQUIRE(details.size() == 5U);

    BOOST_TEST(details[0].code.system == detail_system);
    BOOST_TEST(details[0].code.code == "allowed-quantity");
    BOOST_TEST(details[0].code.display == "Maximum quantity");
    BOOST_TEST(details[0].category == "cat-limitation");  // its parent in crd-coverage-detail
    BOOST_TEST(json::value(details[0].value) ==
               jv(R"({"valueQuantity": {"value": 2, "unit": "visits", "system": "http://unitsofmeasure.org", "code": "{visits}"}})"));
    BOOST_TEST(details[0].qualification == "Per calendar year");

    BOOST_TEST(details[1].category == "cat-other");
    BOOST_TEST(details[1].code.system == detail_system);
    BOOST_TEST(json::value(details[1].value) == jv(R"({"valueUrl": "https://plan.example/policy"})"));

    BOOST_TEST(details[2].code.system == "https://plan.example/CodeSystem/detail");  // alias resolved
    BOOST_TEST(details[2].code.display == "Nurse line");
    BOOST_TEST(details[2].category.empty());  // rendered cat-other in 2.2
    BOOST_TEST(json::value(details[2].value) == jv(R"({"valueBoolean": true})"));

    BOOST_TEST(details[3].category == "cat-decisional");  // given beats the code's
    BOOST_TEST(json::value(details[3].value) == jv(R"({"valueString": "Call first."})"));

    BOOST_TEST(json::value(details[4].value) == jv(R"({"valuePeriod": {"start": "2026-01-01", "end": "2026-12-31"}})"));
}

BOOST_AUTO_TEST_CASE(bad_details_are_named)
{
    const auto detail = [](const char* text) { return error_with({{"/rules/0/details", jv(text)}}); };
    BOOST_TEST(mentions(detail(R"({"code": "instructions"})"), "rules[0].details"));
    BOOST_TEST(mentions(detail(R"([{"value": {"boolean": true}}])"), "rules[0].details[0].code"));
    BOOST_TEST(mentions(detail(R"([{"code": "copay", "value": {"boolean": true}}])"), "rules[0].details[0].code"));
    BOOST_TEST(mentions(detail(R"([{"code": {"system": "nowhere", "code": "x"}, "value": {"boolean": true}}])"), "rules[0].details[0].code.system"));
    BOOST_TEST(mentions(detail(R"([{"code": {"display": "x"}, "value": {"boolean": true}}])"), "rules[0].details[0].code.code"));
    BOOST_TEST(mentions(detail(R"([{"code": "instructions"}])"), "rules[0].details[0].value"));
    BOOST_TEST(mentions(detail(R"([{"code": "instructions", "value": {"string": "a", "url": "https://x.example"}}])"), "rules[0].details[0].value"));
    BOOST_TEST(mentions(detail(R"([{"code": "instructions", "value": {"integer": 3}}])"), "rules[0].details[0].value.integer"));
    BOOST_TEST(mentions(detail(R"([{"code": "concurrent-review", "value": {"boolean": "yes"}}])"), "rules[0].details[0].value.boolean"));
    BOOST_TEST(mentions(detail(R"([{"code": "instructions", "value": {"string": ""}}])"), "rules[0].details[0].value.string"));
    BOOST_TEST(mentions(detail(R"([{"code": "policy-link", "value": {"url": "ftp://x.example/p"}}])"), "rules[0].details[0].value.url"));
    BOOST_TEST(
        mentions(detail(R"([{"code": "allowed-quantity", "value": {"quantity": {"unit": "visits"}}}])"), "rules[0].details[0].value.quantity.value"));
    BOOST_TEST(mentions(detail(R"([{"code": "allowed-quantity", "value": {"quantity": {"value": 1}}}])"), "rules[0].details[0].value.quantity.unit"));
    BOOST_TEST(mentions(detail(R"([{"code": "allowed-quantity", "value": {"quantity": {"value": 1, "unit": "d", "code": "d"}}}])"),
        "rules[0].details[0].value.quantity.system"));
    BOOST_TEST(mentions(detail(R"([{"code": "allowed-quantity", "value": {"quantity": {"value": 1, "unit": "d", "comparator": "<"}}}])"),
        "rules[0].details[0].value.quantity.comparator"));
    BOOST_TEST(mentions(detail(R"([{"code": "allowed-period", "value": {"period": {}}}])"), "rules[0].details[0].value.period"));
    BOOST_TEST(
        mentions(detail(R"([{"code": "allowed-period", "value": {"period": {"start": "2026-02-30"}}}])"), "rules[0].details[0].value.period.start"));
    BOOST_TEST(mentions(detail(R"([{"code": "allowed-period", "value": {"period": {"start": "2026-03-01", "end": "2026-02-01"}}}])"),
        "rules[0].details[0].value.period.end"));
    // The code's definition names its value type.
    const auto mismatch = detail(R"([{"code": "allowed-quantity", "value": {"boolean": true}}])");
    BOOST_TEST(mentions(mismatch, "rules[0].details[0].value"));
    BOOST_TEST(mismatch.find("quantity") != std::string::npos, mismatch);
    BOOST_TEST(mentions(detail(R"([{"category": "cat-money", "code": "instructions", "value": {"string": "a"}}])"), "rules[0].details[0].category"));
    BOOST_TEST(mentions(detail(R"([{"code": "instructions", "value": {"string": "a"}, "qualifier": "x"}])"), "rules[0].details[0].qualifier"));
}

BOOST_AUTO_TEST_CASE(billing_codes_resolve_aliases)
{
    auto rules = parsed_with({{"/code_systems", jv(R"({"cpt": ["http://www.ama-assn.org/go/cpt"]})")},
        {"/rules/0/billing_codes",
            jv(R"([{"system": "cpt", "code": "70551", "display": "MRI brain"}, {"system": "urn:oid:2.16.840.1.113883.6.285", "code": "G0180"}])")}});
    const auto& codes = rules.rules[0].result.billing_codes;
    BOOST_TEST_REQUIRE(codes.size() == 2U);
    BOOST_TEST(codes[0].system == "http://www.ama-assn.org/go/cpt");
    BOOST_TEST(codes[0].code == "70551");
    BOOST_TEST(codes[0].display == "MRI brain");
    BOOST_TEST(codes[1].system == "urn:oid:2.16.840.1.113883.6.285");
    BOOST_TEST(codes[1].display.empty());
}

BOOST_AUTO_TEST_CASE(bad_billing_codes_are_named)
{
    BOOST_TEST(mentions(error_with({{"/rules/0/billing_codes", jv(R"({"system": "cpt", "code": "1"})")}}), "rules[0].billing_codes"));
    BOOST_TEST(mentions(error_with({{"/rules/0/billing_codes", jv(R"([{"code": "1"}])")}}), "rules[0].billing_codes[0].system"));
    BOOST_TEST(mentions(error_with({{"/rules/0/billing_codes", jv(R"([{"system": "cpt", "code": "1"}])")}}), "rules[0].billing_codes[0].system"));
    BOOST_TEST(mentions(error_with({{"/rules/0/billing_codes", jv(R"([{"system": "http://loinc.org"}])")}}), "rules[0].billing_codes[0].code"));
    BOOST_TEST(mentions(error_with({{"/rules/0/billing_codes", jv(R"([{"system": "http://loinc.org", "code": "1", "version": "2"}])")}}),
        "rules[0].billing_codes[0].version"));
}

BOOST_AUTO_TEST_CASE(contacts_are_contact_details)
{
    auto rules = parsed_with({{"/rules/0/contacts", jv(R"([
        {"name": "Prior authorization desk", "telecom": [{"system": "phone", "value": "+1-555-0100"}, {"system": "url", "value": "https://plan.example/pa"}]},
        {"telecom": [{"system": "email", "value": "pa@plan.example"}]}
    ])")}});
    const auto& contacts = rules.rules[0].result.contacts;
    BOOST_TEST_REQUIRE(contacts.size() == 2U);
    BOOST_TEST(contacts[0].name == "Prior authorization desk");
    BOOST_TEST_REQUIRE(contacts[0].telecom.size() == 2U);
    BOOST_TEST(contacts[0].telecom[0].system == "phone");
    BOOST_TEST(contacts[0].telecom[0].value == "+1-555-0100");
    BOOST_TEST(contacts[0].telecom[1].system == "url");
    BOOST_TEST(contacts[1].name.empty());
    BOOST_TEST(contacts[1].telecom[0].value == "pa@plan.example");
}

BOOST_AUTO_TEST_CASE(bad_contacts_are_named)
{
    const auto contact = [](const char* text) { return error_with({{"/rules/0/contacts", jv(text)}}); };
    BOOST_TEST(mentions(contact(R"({"telecom": []})"), "rules[0].contacts"));
    BOOST_TEST(mentions(contact(R"([{"name": "Desk"}])"), "rules[0].contacts[0].telecom"));
    BOOST_TEST(mentions(contact(R"([{"name": "Desk", "telecom": []}])"), "rules[0].contacts[0].telecom"));
    BOOST_TEST(mentions(contact(R"([{"telecom": [{"system": "pigeon", "value": "x"}]}])"), "rules[0].contacts[0].telecom[0].system"));
    BOOST_TEST(mentions(contact(R"([{"telecom": [{"system": "phone"}]}])"), "rules[0].contacts[0].telecom[0].value"));
    BOOST_TEST(mentions(contact(R"([{"telecom": [{"system": "url", "value": "plan.example"}]}])"), "rules[0].contacts[0].telecom[0].value"));
    BOOST_TEST(mentions(contact(R"([{"name": "", "telecom": [{"system": "phone", "value": "1"}]}])"), "rules[0].contacts[0].name"));
    BOOST_TEST(mentions(contact(R"([{"telecom": [{"system": "phone", "value": "1"}], "role": "x"}])"), "rules[0].contacts[0].role"));
}

BOOST_AUTO_TEST_CASE(valid_days_sets_how_long_an_assertion_holds)
{
    BOOST_TEST(!parse_rules(json::parse(minimal)).rules[0].result.valid_days.has_value());
    BOOST_TEST(parsed_with({{"/rules/0/valid_days", 30}}).rules[0].result.valid_days.value_or(0) == 30U);
    BOOST_TEST(parsed_with({{"/rules/0/valid_days", 3650}}).rules[0].result.valid_days.value_or(0) == 3650U);
    BOOST_TEST(parsed_with({{"/default/valid_days", 1}}).fallback.valid_days.value_or(0) == 1U);
    for (json::value bad :
        {json::value(0), json::value(-1), json::value(3651), json::value(1.5), json::value("30"), json::value(18446744073709551615ULL)})
        BOOST_TEST(mentions(error_with({{"/rules/0/valid_days", bad}}), "rules[0].valid_days"), json::serialize(bad));
}

// The invariants a rule could break, in the version where each one bites.
BOOST_AUTO_TEST_CASE(invariants_hold_with_several_doc_needed_codes)
{
    // q1 and the doc_purpose check: an array doc_needed satisfies them like a single code.
    auto rules = parsed_with({{"/rules/0/doc_needed", jv(R"(["clinical", "admin"])")}, {"/rules/0/doc_purpose", jv(R"(["withpa"])")},
        {"/rules/0/questionnaire", jv(R"(["https://q.example/1"])")}, {"/rules/0/reason", "Needs notes."}});
    BOOST_TEST(rules.rules[0].result.doc_purpose.size() == 1U);
    // q3: a conditional doc_needed among others lets info_needed in.
    auto conditional = parsed_with({{"/rules/0/doc_needed", jv(R"(["clinical", "conditional"])")}, {"/rules/0/info_needed", jv(R"(["timeframe"])")}});
    BOOST_TEST(conditional.rules[0].result.info_needed.size() == 1U);
    // q3: so does a conditional pa_needed.
    auto pa = parsed_with({{"/rules/0/pa_needed", "conditional"}, {"/rules/0/info_needed", jv(R"(["performer"])")}});
    BOOST_TEST(pa.rules[0].result.info_needed.size() == 1U);
    BOOST_TEST(mentions(error_with({{"/rules/0/doc_needed", jv(R"(["clinical", "admin"])")}, {"/rules/0/info_needed", jv(R"(["timeframe"])")}}),
        "rules[0].info_needed"));
}

BOOST_AUTO_TEST_CASE(q2_not_covered_has_no_pa_needed)
{
    BOOST_TEST(mentions(error_with({{"/rules/0/covered", "not-covered"}}), "rules[0].pa_needed"));
    const auto message = error_with({{"/rules/0/covered", "not-covered"}});
    BOOST_TEST(message.find("crd-ci-q2") != std::string::npos, message);
    BOOST_TEST(parsed_with({{"/rules/0/covered", "not-covered"}, {"/rules/0/pa_needed", std::nullopt}}).rules[0].result.pa_needed.empty());
}

BOOST_AUTO_TEST_CASE(q4_no_withpa_without_prior_authorization)
{
    const edits documented{{"/rules/0/doc_needed", "clinical"}, {"/rules/0/doc_purpose", jv(R"(["withpa"])")}, {"/rules/0/reason", "Needs notes."}};
    auto no_auth = documented;
    no_auth.emplace_back("/rules/0/pa_needed", "no-auth");
    const auto message = error_with(no_auth);
    BOOST_TEST(mentions(message, "rules[0].doc_purpose"), message);
    BOOST_TEST(message.find("crd-ci-q4") != std::string::npos, message);
    // withclaim is fine without prior authorization.
    auto with_claim = no_auth;
    with_claim.emplace_back("/rules/0/doc_purpose", jv(R"(["withclaim"])"));
    BOOST_TEST(parsed_with(with_claim).rules[0].result.doc_purpose.front() == "withclaim");
    BOOST_TEST(mentions(error_with({{"/default/doc_needed", "clinical"}, {"/default/doc_purpose", jv(R"(["withpa"])")},
                            {"/default/reason_codes", jv(R"(["gold-card"])")}}),
        "default.doc_purpose"));
}

BOOST_AUTO_TEST_CASE(q8_a_documentation_purpose_has_a_reason)
{
    const edits purpose{{"/rules/0/doc_needed", "clinical"}, {"/rules/0/doc_purpose", jv(R"(["withpa"])")}};
    const auto message = error_with(purpose);
    BOOST_TEST(mentions(message, "rules[0].doc_purpose"), message);
    BOOST_TEST(message.find("crd-ci-q8") != std::string::npos, message);
    auto with_text = purpose;
    with_text.emplace_back("/rules/0/reason", "Clinical notes go with the prior authorization request.");
    parsed_with(with_text);
    auto with_code = purpose;
    with_code.emplace_back("/rules/0/reason_codes", jv(R"(["auth-out-network"])"));
    parsed_with(with_code);
    // "default" has no reason text: only codes can give its reason.
    BOOST_TEST(mentions(error_with({{"/default/doc_needed", "admin"}, {"/default/doc_purpose", jv(R"(["withclaim"])")}}), "default.doc_purpose"));
    parsed_with(
        {{"/default/doc_needed", "admin"}, {"/default/doc_purpose", jv(R"(["withclaim"])")}, {"/default/reason_codes", jv(R"(["gold-card"])")}});
}

BOOST_AUTO_TEST_CASE(q6_info_needed_oth_has_a_reason)
{
    const edits other{{"/rules/0/covered", "conditional"}, {"/rules/0/info_needed", jv(R"(["OTH"])")}};
    const auto message = error_with(other);
    BOOST_TEST(mentions(message, "rules[0].info_needed"), message);
    BOOST_TEST(message.find("crd-ci-q6") != std::string::npos, message);
    auto with_text = other;
    with_text.emplace_back("/rules/0/reason", "Send the treatment plan.");
    BOOST_TEST(parsed_with(with_text).rules[0].result.info_needed.front() == "OTH");
}

BOOST_AUTO_TEST_CASE(payer_identity_is_read)
{
    auto rules = parsed_with({{"/payer/references", jv(R"(["Organization/plan", "Organization/plan-west"])")},
        {"/payer/identifiers",
            jv(R"([{"system": "urn:oid:2.16.840.1.113883.6.300", "value": "12345"}, {"system": "https://plan.example/payer-id", "value": "P1"}])")}});
    BOOST_TEST((rules.payer_references == std::vector<std::string>{"Organization/plan", "Organization/plan-west"}));
    BOOST_TEST_REQUIRE(rules.payer_identifiers.size() == 2U);
    BOOST_TEST(rules.payer_identifiers[0].system == "urn:oid:2.16.840.1.113883.6.300");
    BOOST_TEST(rules.payer_identifiers[0].code == "12345");
    BOOST_TEST(rules.payer_identifiers[1].code == "P1");
    // None configured: every Coverage is taken as the payer's.
    auto open = parse_rules(json::parse(minimal));
    BOOST_TEST(open.payer_references.empty());
    BOOST_TEST(open.payer_identifiers.empty());
}

BOOST_AUTO_TEST_CASE(bad_payer_identity_is_named)
{
    BOOST_TEST(mentions(error_with({{"/payer/references", "Organization/plan"}}), "payer.references"));
    BOOST_TEST(mentions(error_with({{"/payer/references", jv(R"(["Organization/plan", "plan"])")}}), "payer.references[1]"));
    BOOST_TEST(mentions(error_with({{"/payer/references", jv(R"(["Practitioner/p1"])")}}), "payer.references[0]"));
    BOOST_TEST(mentions(error_with({{"/payer/references", jv(R"(["Organization/"])")}}), "payer.references[0]"));
    BOOST_TEST(mentions(error_with({{"/payer/identifiers", jv(R"({"system": "urn:x", "value": "1"})")}}), "payer.identifiers"));
    BOOST_TEST(mentions(error_with({{"/payer/identifiers", jv(R"([{"value": "1"}])")}}), "payer.identifiers[0].system"));
    BOOST_TEST(mentions(error_with({{"/payer/identifiers", jv(R"([{"system": "naic", "value": "1"}])")}}), "payer.identifiers[0].system"));
    BOOST_TEST(mentions(error_with({{"/payer/identifiers", jv(R"([{"system": "urn:x"}])")}}), "payer.identifiers[0].value"));
    BOOST_TEST(
        mentions(error_with({{"/payer/identifiers", jv(R"([{"system": "urn:x", "value": "1", "code": "1"}])")}}), "payer.identifiers[0].code"));
}

BOOST_AUTO_TEST_CASE(shipped_sample_rules_show_the_new_fields)
{
    auto rules = load_rules(std::string(CRD_SOURCE_DIR) + "/etc/rules.json");
    // No payer identity: the test suites' Coverages name several payors, or none (docs/rules.md).
    BOOST_TEST(rules.payer_references.empty());
    BOOST_TEST(rules.payer_identifiers.empty());
    const auto find = [&](std::string_view id) -> const rule& {
        const auto it = std::find_if(rules.rules.begin(), rules.rules.end(), [&](const rule& r) { return r.id == id; });
        BOOST_TEST_REQUIRE((it != rules.rules.end()), id);
        return *it;
    };
    const auto& gold = find("advanced-imaging-gold-card").result;
    BOOST_TEST(gold.pa_needed == "no-auth");
    BOOST_TEST_REQUIRE(gold.reason_codes.size() == 1U);
    BOOST_TEST(gold.reason_codes[0].code == "gold-card");
    BOOST_TEST(gold.valid_days.has_value());
    BOOST_TEST(!gold.details.empty());
    BOOST_TEST(!find("dme-hospital-bed").result.contacts.empty());
    BOOST_TEST(!find("methotrexate-specialty").result.billing_codes.empty());
    BOOST_TEST(find("oxygen-non-participating-supplier").result.reason_codes.at(0).code == "auth-out-network");
}

BOOST_AUTO_TEST_SUITE_END()
