// docs/decision-api.yaml is the contract payers build their decision service against: every
// example it names (externalValue) must be what crd-server really sends, or an answer it really
// accepts without repairs, in both protocols.

#include <crd/core/hook_request.hpp>
#include <crd/decision/decisions_protocol.hpp>
#include <crd/decision/response_normaliser.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

const std::filesystem::path docs = std::filesystem::path(CRD_SOURCE_DIR) / "docs";

// Every `externalValue:` of the contract, resolved against docs/.
std::vector<std::filesystem::path> examples()
{
    std::ifstream in(docs / "decision-api.yaml");
    BOOST_TEST_REQUIRE(in.good());
    static const std::regex external(R"(^\s*externalValue:\s*(\S+)\s*$)");
    std::vector<std::filesystem::path> out;
    std::string line;
    std::smatch m;
    while (std::getline(in, line))
        if (std::regex_match(line, m, external))
            out.push_back(std::filesystem::weakly_canonical(docs / m[1].str()));
    return out;
}

json::value load(const std::filesystem::path& p)
{
    return json::parse(test::read_file(p.string()));
}

// The EHR's request behind the examples: crd-order-sign-1.json as a CRD 2.0 caller sends it.
core::hook_request order_sign_request(std::string_view version)
{
    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& ext = doc.as_object()["extension"];
    if (!ext.is_object())
        ext = json::object{};
    if (version.empty())
        ext.as_object().erase("davinci-crd.requestedVersion");
    else
        ext.as_object()["davinci-crd.requestedVersion"] = version;
    auto validated = core::validate_hook_request(*core::find_service("order-sign-crd"), std::make_unique<json::value>(std::move(doc)));
    BOOST_TEST_REQUIRE(validated.has_value());
    return std::move(validated).value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(decision_api_contract)

BOOST_AUTO_TEST_CASE(names_an_example_for_each_message_of_both_protocols)
{
    std::set<std::string> names;
    for (const auto& p : examples())
    {
        BOOST_TEST_CONTEXT(p)
        {
            BOOST_TEST_REQUIRE(std::filesystem::exists(p));
            names.insert(p.filename().string());
        }
    }
    for (const char* expected : {"decisions-request-order-sign.json", "decisions-response-order-sign.json", "decisions-response-every-field.json",
             "cds-hooks-response-order-sign.json", "crd-order-sign-1.json", "operation-outcome.json"})
        BOOST_TEST(names.count(expected) == 1U, expected);
}

BOOST_AUTO_TEST_CASE(the_decisions_request_example_is_what_crd_server_sends)
{
    const auto request = order_sign_request("");
    const auto sent = json::parse(decisions_request_body(request, false));
    const auto example = load(docs / "decision-api" / "decisions-request-order-sign.json");
    BOOST_TEST(sent == example, "crd-server sends:\n" << json::serialize(sent));
}

BOOST_AUTO_TEST_CASE(every_decisions_response_example_is_accepted_without_repairs_in_each_version)
{
    for (const auto& p : examples())
    {
        if (!p.filename().string().starts_with("decisions-response-"))
            continue;
        for (std::string_view version : {"", "2.1", "2.2"})
        {
            BOOST_TEST_CONTEXT(p.filename() << " for version '" << version << "'")
            {
                const auto request = order_sign_request(version);
                decisions_report report;
                auto answer = answer_from_decisions(load(p), request, "Example Health Plan", report);
                BOOST_TEST_REQUIRE(answer.has_value());
                BOOST_TEST(!report.changed(), (report.notes.empty() ? std::string() : report.notes.front()));
                BOOST_TEST(report.ignored_fields.empty());
                BOOST_TEST(answer->at("systemActions").as_array().size() == 2U);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(the_cds_hooks_response_example_needs_no_repair)
{
    normalise_report report;
    auto normalised = normalise_response(load(docs / "decision-api" / "cds-hooks-response-order-sign.json"), report);
    BOOST_TEST_REQUIRE(normalised.has_value());
    BOOST_TEST(!report.changed(), (report.notes.empty() ? std::string() : report.notes.front()));
    BOOST_TEST(normalised->at("systemActions").as_array().size() == 1U);
}

BOOST_AUTO_TEST_CASE(the_cds_hooks_request_example_is_a_valid_request)
{
    auto doc = load(std::filesystem::weakly_canonical(docs / "../tests/fixtures/crd-examples/crd-order-sign-1.json"));
    auto validated = core::validate_hook_request(*core::find_service("order-sign-crd"), std::make_unique<json::value>(std::move(doc)));
    BOOST_TEST(validated.has_value());
}

BOOST_AUTO_TEST_CASE(the_refusal_example_is_an_operation_outcome)
{
    const auto oo = load(docs / "decision-api" / "operation-outcome.json");
    BOOST_TEST(oo.at("resourceType").as_string() == "OperationOutcome");
    BOOST_TEST(!oo.at("issue").as_array().empty());
}

BOOST_AUTO_TEST_SUITE_END()
