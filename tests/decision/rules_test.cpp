#include <crd/decision/rules.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

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
    BOOST_TEST(mentions(error_of("/rules/0/info_needed", json::array{"weather"}), "rules[0].info_needed"));
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
