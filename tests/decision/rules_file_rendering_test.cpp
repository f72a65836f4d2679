// What the new rules-file fields (issue 15) become in each CRD version's coverage information, and
// which Coverages the payer identity of a rules file accepts: rules file -> engine -> extension.
#include <crd/core/hook_request.hpp>
#include <crd/decision/rules_engine.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

// A rule for the oxygen order (HCPCS E0431) of crd-order-sign-1 with every new field.
const char* oxygen_rules = R"({
    "payer": {"name": "Example Health Plan"},
    "code_systems": {"hcpcs": ["https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"]},
    "default": {"covered": "covered", "pa_needed": "no-auth"},
    "rules": [{
        "id": "oxygen", "codes": [{"system": "hcpcs", "code": "E0431"}],
        "covered": "covered", "pa_needed": "no-auth",
        "reason_codes": ["gold-card"],
        "reason": "The ordering practice is gold-carded for home oxygen.",
        "details": [
            {"code": "allowed-quantity", "value": {"quantity": {"value": 1, "unit": "system"}}},
            {"code": "policy-link", "value": {"url": "https://plan.example/oxygen"}}
        ],
        "billing_codes": [{"system": "hcpcs", "code": "E0431"}],
        "contacts": [{"name": "DME desk", "telecom": [{"system": "phone", "value": "+1-555-0142"}, {"system": "fax", "value": "+1-555-0143"}]}],
        "valid_days": 30
    }]
})";

// `version`: the requestedVersion to ask for; nullptr asks for none (the fixture's own is removed).
core::hook_request validated(json::value doc, const char* version = nullptr)
{
    if (json::value* ext = doc.as_object().if_contains("extension"))
        ext->as_object().erase("davinci-crd.requestedVersion");
    if (version)
    {
        json::value& ext = doc.as_object()["extension"];
        if (!ext.is_object())
            ext.emplace_object();
        ext.as_object()["davinci-crd.requestedVersion"] = version;
    }
    const auto* service = core::find_service(test::service_id_for(doc));
    BOOST_TEST_REQUIRE(service != nullptr);
    auto result = core::validate_hook_request(*service, std::make_unique<json::value>(std::move(doc)));
    BOOST_TEST_REQUIRE(result.has_value());
    return std::move(result).value();
}

// The sub-extensions of the coverage information on the oxygen order's update action.
std::multimap<std::string, json::value> oxygen_coverage_information(const char* version)
{
    const rules_engine engine(parse_rules(json::parse(oxygen_rules)));
    const auto response = engine.evaluate(validated(test::load_fixture("crd-order-sign-1.json"), version));
    std::multimap<std::string, json::value> out;
    for (const auto& action : response.at("systemActions").as_array())
    {
        if (action.at("resource").at("id") != "2468")
            continue;
        for (const auto& e : action.at("resource").at("extension").as_array())
            if (is_coverage_information(e))
                for (const auto& sub : e.at("extension").as_array())
                    out.emplace(std::string(sub.at("url").as_string()), sub);
    }
    BOOST_TEST_REQUIRE(!out.empty());
    return out;
}

std::vector<json::value> all(const std::multimap<std::string, json::value>& ext, const std::string& url)
{
    std::vector<json::value> out;
    for (auto [it, end] = ext.equal_range(url); it != end; ++it)
        out.push_back(it->second);
    return out;
}

const json::value* part(const json::value& detail, std::string_view url)
{
    for (const auto& p : detail.at("extension").as_array())
        if (p.at("url").as_string() == url)
            return &p;
    return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rules_file_rendering)

BOOST_AUTO_TEST_CASE(crd_2_2_says_every_new_field)
{
    const auto ext = oxygen_coverage_information("2.2");
    const auto reasons = all(ext, "reason");
    BOOST_TEST_REQUIRE(reasons.size() == 1U);
    BOOST_TEST(reasons[0].at("valueCodeableConcept") == json::parse(R"({"coding": [{"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp",
        "code": "gold-card", "display": "Gold card"}], "text": "The ordering practice is gold-carded for home oxygen."})"));
    const auto details = all(ext, "detail");
    BOOST_TEST_REQUIRE(details.size() == 2U);
    BOOST_TEST(part(details[0], "category")->at("valueCode") == "cat-limitation");
    BOOST_TEST(part(details[0], "code")->at("valueCodeableConcept").at("coding").at(0).at("system") ==
               "http://terminology.hl7.org/CodeSystem/crd-coverage-detail");
    BOOST_TEST(part(details[0], "value")->at("valueQuantity") == json::parse(R"({"value": 1, "unit": "system"})"));
    BOOST_TEST(part(details[1], "category")->at("valueCode") == "cat-other");
    BOOST_TEST(part(details[1], "value")->at("valueUrl") == "https://plan.example/oxygen");
    const auto billing = all(ext, "billingCode");
    BOOST_TEST_REQUIRE(billing.size() == 1U);
    BOOST_TEST(
        billing[0].at("valueCoding") == json::parse(R"({"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "E0431"})"));
    const auto contacts = all(ext, "contact");
    BOOST_TEST_REQUIRE(contacts.size() == 1U);
    BOOST_TEST(contacts[0].at("valueContactDetail") == json::parse(R"({"name": "DME desk",
        "telecom": [{"system": "phone", "value": "+1-555-0142"}, {"system": "fax", "value": "+1-555-0143"}]})"));
    BOOST_TEST(ext.count("expiry-date") == 1U);
    BOOST_TEST(ext.find("expiry-date")->second.at("valueDate").as_string() > ext.find("date")->second.at("valueDate").as_string());
}

BOOST_AUTO_TEST_CASE(crd_2_1_has_contact_points_and_no_detail_category)
{
    const auto ext = oxygen_coverage_information("2.1");
    const auto contacts = all(ext, "contact");
    BOOST_TEST_REQUIRE(contacts.size() == 2U);  // one ContactPoint per telecom; the name is lost
    BOOST_TEST(contacts[0].at("valueContactPoint") == json::parse(R"({"system": "phone", "value": "+1-555-0142"})"));
    for (const auto& d : all(ext, "detail"))
        BOOST_TEST(part(d, "category") == nullptr);
    BOOST_TEST(ext.count("expiry-date") == 1U);
    BOOST_TEST(ext.count("billingCode") == 1U);
}

BOOST_AUTO_TEST_CASE(crd_2_0_has_no_expiry_date_and_says_urls_as_strings)
{
    const auto ext = oxygen_coverage_information(nullptr);  // no requestedVersion: 2.0.1
    BOOST_TEST(ext.count("expiry-date") == 0U);
    BOOST_TEST(all(ext, "contact").size() == 2U);
    BOOST_TEST(all(ext, "contact").at(1).at("valueContactPoint").at("system") == "fax");
    const auto details = all(ext, "detail");
    BOOST_TEST_REQUIRE(details.size() == 2U);
    BOOST_TEST(part(details[0], "category") == nullptr);
    BOOST_TEST(part(details[1], "value")->at("valueString") == "https://plan.example/oxygen");
    BOOST_TEST(all(ext, "reason").at(0).at("valueCodeableConcept").at("coding").at(0).at("code") == "gold-card");
}

BOOST_AUTO_TEST_CASE(payer_references_of_the_rules_file_pick_the_coverages)
{
    const auto rules_with = [](const char* payer) {
        json::value doc = json::parse(oxygen_rules);
        doc.as_object()["payer"] = json::parse(payer);
        return parse_rules(doc);
    };
    const auto ours = rules_with(R"({"name": "Plan", "references": ["Organization/org1234"]})");
    BOOST_TEST(is_with_payer(validated(test::load_fixture("crd-order-sign-5.json")), ours));   // payor Organization/org1234
    BOOST_TEST(!is_with_payer(validated(test::load_fixture("crd-order-sign-1.json")), ours));  // payor .../Organization/acme-payer
    // An absolute payor reference matches its Organization/id.
    const auto acme = rules_with(R"({"name": "Plan", "references": ["Organization/acme-payer"]})");
    BOOST_TEST(is_with_payer(validated(test::load_fixture("crd-order-sign-1.json")), acme));
    // Nothing configured: every Coverage is the payer's.
    const auto open = rules_with(R"({"name": "Plan"})");
    BOOST_TEST(is_with_payer(validated(test::load_fixture("crd-order-sign-1.json")), open));
}

BOOST_AUTO_TEST_CASE(payer_identifiers_of_the_rules_file_pick_the_coverages)
{
    json::value rules_doc = json::parse(oxygen_rules);
    rules_doc.as_object()["payer"] =
        json::parse(R"({"name": "Plan", "identifiers": [{"system": "urn:oid:2.16.840.1.113883.6.300", "value": "99999"}]})");
    const auto rules = parse_rules(rules_doc);
    auto doc = test::load_fixture("crd-order-sign-5.json");
    BOOST_TEST(!is_with_payer(validated(doc), rules));  // a payor reference, no identifier
    // The identifier on the payor reference names the payer.
    for (auto& entry : doc.at_pointer("/prefetch/coverage/entry").as_array())
        entry.at("resource").at("payor").at(0).as_object()["identifier"] =
            json::parse(R"({"system": "urn:oid:2.16.840.1.113883.6.300", "value": "99999"})");
    BOOST_TEST(is_with_payer(validated(doc), rules));
}

BOOST_AUTO_TEST_SUITE_END()
