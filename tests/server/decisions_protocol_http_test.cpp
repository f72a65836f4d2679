// decision.protocol "decisions" end to end: crd-server sends the compact request to a decision
// service that only answers per-order decisions, and EHRs receive conformant CRD answers in their
// own version; failures of such a service follow decision.on_failure and the caller's version.

#include <crd/core/hooks.hpp>
#include <crd/decision/decision_metrics.hpp>

#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;
using test::fake_decision_service;
using test::fake_mode;

namespace {

constexpr std::string_view coverage_information_url = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

core::config decisions_config(const fake_decision_service& fake, core::failure_policy policy = core::failure_policy::error)
{
    auto cfg = test::test_config();
    cfg.decision.endpoint = *core::parse_http_url(fake.url());
    cfg.decision.protocol = core::decision_protocol::decisions;
    cfg.decision.timeout = 1500ms;
    cfg.decision.on_failure = policy;
    cfg.decision.breaker_failures = 1000;  // the failures below must not open the breaker
    cfg.listen.threads = 1;
    return cfg;
}

// crd-order-sign-1.json: ServiceRequest/1357 (CPT 77061) and ServiceRequest/2468 (HCPCS E0431),
// the member's Coverage in prefetch, no FHIR server to call.
test::http_result sign(std::uint16_t port, std::string_view version)
{
    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& o = doc.as_object();
    o.erase("fhirServer");
    o.erase("fhirAuthorization");
    if (!o["extension"].is_object())
        o["extension"] = json::object{};
    if (version.empty())
        o["extension"].as_object().erase("davinci-crd.requestedVersion");
    else
        o["extension"].as_object()["davinci-crd.requestedVersion"] = version;
    test::http_client c(port);
    return c.request("POST", "/cds-services/order-sign-crd", json::serialize(doc));
}

// covered / pa-needed of the order's coverage information, "" when absent.
std::pair<std::string, std::string> determination_of(const json::value& answer, std::string_view id)
{
    for (const auto& a : answer.at("systemActions").as_array())
    {
        if (a.at("resource").at("id").as_string() != id)
            continue;
        std::pair<std::string, std::string> out;
        for (const auto& e : a.at("resource").at("extension").as_array())
            if (e.at("url").as_string() == coverage_information_url)
                for (const auto& p : e.at("extension").as_array())
                {
                    if (p.at("url").as_string() == "covered")
                        out.first = p.at("valueCode").as_string();
                    if (p.at("url").as_string() == "pa-needed")
                        out.second = p.at("valueCode").as_string();
                }
        return out;
    }
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(decisions_protocol_http)

BOOST_AUTO_TEST_CASE(a_service_answering_per_order_decisions_gives_each_caller_a_conformant_answer_in_its_version)
{
    fake_decision_service fake;  // testing::decisions_for: E0431 needs prior authorization, the rest is covered
    test::running_application app(decisions_config(fake));
    for (std::string_view version : {"", "2.1", "2.2"})
    {
        BOOST_TEST_CONTEXT("requestedVersion '" << version << "'")
        {
            const auto r = sign(app.port(), version);
            BOOST_TEST_REQUIRE(r.status == 200U, r.body);
            const auto answer = json::parse(r.body);
            BOOST_TEST(answer.at("systemActions").as_array().size() == 2U);
            BOOST_TEST(determination_of(answer, "2468").first == "covered");
            BOOST_TEST(determination_of(answer, "2468").second == "auth-needed");
            BOOST_TEST(determination_of(answer, "1357").first == "covered");
            BOOST_TEST(determination_of(answer, "1357").second == "no-auth");
            // The PA portal link of the decision is an External Reference card.
            BOOST_TEST(answer.at("cards").as_array().size() == 1U);

            // What the decision service saw: the compact request, in the caller's version, no token.
            const auto sent = json::parse(fake.last_body());
            BOOST_TEST(sent.at("protocol").as_string() == "crd-decisions/1");
            BOOST_TEST(sent.at("crdVersion").as_string() == (version.empty() ? "2.0" : version));
            BOOST_TEST(sent.at("orders").as_array().size() == 2U);
            BOOST_TEST(fake.last_body().find("fhirAuthorization") == std::string::npos);
            BOOST_TEST(!fake.last_header("x-cds-hook-instance").empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_service_that_misses_an_order_is_repaired_and_counted)
{
    fake_decision_service fake;
    test::running_application app(decisions_config(fake));
    auto& repaired = decision::decision_metrics::instance().decisions_repaired;
    const auto missing_before = repaired.value(decision::decision_repair::missing_order);
    const auto unknown_before = repaired.value(decision::decision_repair::unknown_order);
    fake.set_answer(200, R"({"decisions": [{"order": "ServiceRequest/1357", "covered": "not-covered"},
                                           {"order": "ServiceRequest/777", "covered": "covered", "pa_needed": "no-auth"}]})");
    const auto r = sign(app.port(), "2.2");
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    const auto answer = json::parse(r.body);
    BOOST_TEST(determination_of(answer, "1357").first == "not-covered");
    BOOST_TEST(determination_of(answer, "2468").first == "indeterminate");
    BOOST_TEST(repaired.value(decision::decision_repair::missing_order) == missing_before + 1);
    BOOST_TEST(repaired.value(decision::decision_repair::unknown_order) == unknown_before + 1);
}

BOOST_AUTO_TEST_CASE(failures_of_the_service_follow_the_callers_version_and_on_failure)
{
    fake_decision_service fake;
    test::running_application app(decisions_config(fake, core::failure_policy::error));
    struct failure
    {
        const char* what;
        std::function<void()> script;
        unsigned status_2_0;
    };
    const failure failures[] = {
        {"garbage", [&] { fake.set_mode(fake_mode::not_json); }, 502U},
        {"a CDS Hooks answer", [&] { fake.set_answer(200, R"({"cards": []})"); }, 502U},
        {"decisions not an array", [&] { fake.set_answer(200, R"({"decisions": {"order": "ServiceRequest/1357"}})"); }, 502U},
        {"5xx", [&] { fake.set_mode(fake_mode::server_error); }, 502U},
        {"slow",
            [&] {
                fake.set_mode(fake_mode::slow);
                fake.set_delay(3s);
            },
            504U},
    };
    for (const auto& f : failures)
    {
        BOOST_TEST_CONTEXT(f.what)
        {
            f.script();
            const auto r20 = sign(app.port(), "");
            BOOST_TEST(r20.status == f.status_2_0, r20.body);
            BOOST_TEST(json::parse(r20.body).at("resourceType").as_string() == "OperationOutcome");
            const auto r22 = sign(app.port(), "2.2");
            BOOST_TEST_REQUIRE(r22.status == 200U, r22.body);
            const auto answer = json::parse(r22.body);
            BOOST_TEST(determination_of(answer, "1357").first == "indeterminate");
            BOOST_TEST(determination_of(answer, "2468").first == "indeterminate");
            fake.set_mode(fake_mode::normal);
            fake.set_delay(0ms);
        }
    }
}

BOOST_AUTO_TEST_CASE(on_failure_conditional_and_relay_apply_to_the_decisions_protocol)
{
    fake_decision_service fake;
    {
        test::running_application app(decisions_config(fake, core::failure_policy::conditional));
        fake.set_mode(fake_mode::server_error);
        const auto r = sign(app.port(), "");
        BOOST_TEST_REQUIRE(r.status == 200U, r.body);
        BOOST_TEST(determination_of(json::parse(r.body), "2468").first == "conditional");
    }
    {
        test::running_application app(decisions_config(fake, core::failure_policy::relay));
        const auto outcome = test::read_file(std::string(CRD_SOURCE_DIR) + "/docs/decision-api/operation-outcome.json");
        auto& relayed = decision::decision_metrics::instance().relayed;
        const auto before = relayed.value();
        fake.set_answer(422, outcome);
        const auto r = sign(app.port(), "");
        BOOST_TEST(r.status == 422U);
        BOOST_TEST(json::parse(r.body) == json::parse(outcome));
        BOOST_TEST(relayed.value() == before + 1);
        // Not an OperationOutcome: crd-server's own words, as under "error".
        fake.set_answer(503, R"({"error": "down"})");
        const auto down = sign(app.port(), "");
        BOOST_TEST(down.status == 502U);
        BOOST_TEST(relayed.value() == before + 1);
    }
}

BOOST_AUTO_TEST_CASE(the_protocol_can_differ_per_service)
{
    fake_decision_service fake;
    auto cfg = decisions_config(fake);
    cfg.decision.protocol = core::decision_protocol::cds_hooks;
    cfg.decision.services["order-sign-crd"].protocol = core::decision_protocol::decisions;
    test::running_application app(cfg);
    const auto r = sign(app.port(), "2.2");
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    BOOST_TEST(json::parse(fake.last_body()).at("protocol").as_string() == "crd-decisions/1");

    // order-select still speaks CDS Hooks: the service sees the EHR's request.
    test::http_client c(app.port());
    auto select = test::load_fixture("crd-order-select-1.json");
    select.as_object().erase("fhirAuthorization");
    select.as_object().erase("fhirServer");
    const auto s = c.request("POST", "/cds-services/order-select-crd", json::serialize(select));
    BOOST_TEST(s.status == 200U, s.body);
    BOOST_TEST(json::parse(fake.last_body()).at("hook").as_string() == "order-select");
    BOOST_TEST(!json::parse(fake.last_body()).as_object().contains("protocol"));
}

BOOST_AUTO_TEST_SUITE_END()
