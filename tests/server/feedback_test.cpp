// POST /cds-services/{id}/feedback: validation, durability in the audit log, forwarding.

#include <crd/core/feedback.hpp>

#include <crd/core/trace_context.hpp>

#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace crd;
using namespace std::chrono_literals;

namespace {

core::config feedback_config(const fs::path& audit_path, const test::fake_decision_service& receiver)
{
    auto cfg = test::test_config();
    cfg.audit.path = audit_path.string();
    cfg.audit.fsync_interval = 10s;  // durability must not depend on the periodic fsync
    cfg.decision.feedback_endpoint = *core::parse_http_url(receiver.url("/feedback"));
    return cfg;
}

struct feedback_server
{
    test::temp_dir dir{"crd-feedback"};
    fs::path audit_path = dir / "audit.jsonl";
    test::fake_decision_service decision;  // also the feedback receiver
    test::running_application app{feedback_config(audit_path, decision)};

    std::string audit_text() const
    {
        std::ifstream in(audit_path);
        return {std::istreambuf_iterator<char>(in), {}};
    }
};

json::value valid_feedback()
{
    return json::parse(R"({"feedback": [
        {"card": "9368d37b-283f-44a0-93ea-547cebab93ed", "outcome": "accepted",
         "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
         "outcomeTimestamp": "2026-11-22T10:15:30Z"},
        {"card": "0b7c3f1e-5a2d-4c8e-9f10-3d2e1a0b9c87", "outcome": "overridden",
         "overrideReason": {"reason": {"code": "patient-requested", "system": "http://example.org/override-reasons", "display": "Patient requested"},
                            "userComment": "discussed with the member"},
         "outcomeTimestamp": "2026-11-22T10:16:00.250+01:00"}
    ]})");
}

std::string diagnostics_path(const test::http_result& r)
{
    return std::string(json::parse(r.body).at("issue").at(0).at("expression").at(0).as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(feedback_)

BOOST_AUTO_TEST_CASE(valid_feedback_is_on_disk_when_the_200_arrives_and_is_forwarded)
{
    feedback_server s;
    test::http_client c(s.app.port());
    auto r = c.request("POST", "/cds-services/order-sign-crd/feedback", json::serialize(valid_feedback()));
    BOOST_TEST(r.status == 200U);
    BOOST_TEST(json::parse(r.body) == json::value(json::object{}));
    // Read right after the answer: no waiting for the writer's periodic flush.
    const auto text = s.audit_text();
    BOOST_TEST(text.find("\"kind\":\"feedback\"") != std::string::npos);
    BOOST_TEST(text.find("9368d37b-283f-44a0-93ea-547cebab93ed") != std::string::npos);
    BOOST_TEST(text.find("\"service\":\"order-sign-crd\"") != std::string::npos);

    // Forwarded off the request path.
    const auto until = std::chrono::steady_clock::now() + 3s;
    while (s.decision.requests() == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(10ms);
    BOOST_TEST(s.decision.requests() == 1U);
    BOOST_TEST(s.decision.last_header("x-cds-service") == "order-sign-crd");
    BOOST_TEST(json::parse(s.decision.last_body()) == valid_feedback());
}

BOOST_AUTO_TEST_CASE(forwarded_feedback_carries_a_child_span_of_the_ehrs_trace)
{
    feedback_server s;
    test::http_client c(s.app.port());
    const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    const std::string parent = "00f067aa0ba902b7";
    auto r = c.request("POST", "/cds-services/order-sign-crd/feedback", json::serialize(valid_feedback()),
        {{"Content-Type", "application/json"}, {"traceparent", "00-" + trace_id + "-" + parent + "-01"}, {"tracestate", "rojo=00f067aa0ba902b7"}});
    BOOST_TEST(r.status == 200U);
    const auto until = std::chrono::steady_clock::now() + 3s;
    while (s.decision.requests() == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(10ms);
    BOOST_TEST_REQUIRE(s.decision.requests() == 1U);
    const auto sent = s.decision.last_header("traceparent");
    auto span = core::parse_traceparent(sent);
    BOOST_TEST_REQUIRE(span.has_value(), sent);
    BOOST_TEST(span->trace_id_hex() == trace_id);        // the EHR's trace
    BOOST_TEST(sent.find(parent) == std::string::npos);  // a span of crd-server's, not the EHR's
    BOOST_TEST(s.decision.last_header("tracestate") == "rojo=00f067aa0ba902b7");
}

BOOST_AUTO_TEST_CASE(the_same_card_reported_twice_is_accepted)
{
    feedback_server s;
    test::http_client c(s.app.port());
    const auto body = json::serialize(valid_feedback());
    BOOST_TEST(c.request("POST", "/cds-services/order-sign-crd/feedback", body).status == 200U);
    BOOST_TEST(c.request("POST", "/cds-services/order-sign-crd/feedback", body).status == 200U);
}

BOOST_AUTO_TEST_CASE(each_invalid_shape_is_422_naming_the_field)
{
    feedback_server s;
    test::http_client c(s.app.port());
    struct bad_case
    {
        std::string pointer;
        std::optional<json::value> value;
        std::string expected_path;
    };
    const std::vector<bad_case> cases{
        {"/feedback", json::value("not an array"), "feedback"},
        {"/feedback", json::array{}, "feedback"},
        {"/feedback/0/card", std::nullopt, "feedback[0].card"},
        {"/feedback/0/card", json::value(""), "feedback[0].card"},
        {"/feedback/0/outcome", json::value("ignored"), "feedback[0].outcome"},
        {"/feedback/0/acceptedSuggestions", std::nullopt, "feedback[0].acceptedSuggestions"},
        {"/feedback/0/acceptedSuggestions", json::value("x"), "feedback[0].acceptedSuggestions"},
        {"/feedback/0/acceptedSuggestions/0/id", std::nullopt, "feedback[0].acceptedSuggestions[0].id"},
        {"/feedback/0/outcomeTimestamp", std::nullopt, "feedback[0].outcomeTimestamp"},
        {"/feedback/0/outcomeTimestamp", json::value("2026-11-22 10:15"), "feedback[0].outcomeTimestamp"},
        {"/feedback/1/outcomeTimestamp", json::value("2026-13-22T10:15:30Z"), "feedback[1].outcomeTimestamp"},
        {"/feedback/1/outcomeTimestamp", json::value("2026-11-22T10:15:30"), "feedback[1].outcomeTimestamp"},
        {"/feedback/1/overrideReason", json::object{}, "feedback[1].overrideReason"},
        {"/feedback/1/overrideReason/reason/system", std::nullopt, "feedback[1].overrideReason.reason.system"},
        {"/feedback/1/overrideReason/userComment", json::value(7), "feedback[1].overrideReason.userComment"},
        {"/feedback/0/overrideReason", json::object{{"userComment", "x"}}, "feedback[0].overrideReason"},
    };
    for (const auto& bc : cases)
    {
        BOOST_TEST_CONTEXT(bc.pointer << " -> " << bc.expected_path)
        {
            auto doc = valid_feedback();
            test::edit(doc, bc.pointer, bc.value);
            auto r = c.request("POST", "/cds-services/order-sign-crd/feedback", json::serialize(doc));
            BOOST_TEST(r.status == 422U);
            BOOST_TEST(diagnostics_path(r) == bc.expected_path);
        }
    }
    BOOST_TEST(c.request("POST", "/cds-services/order-sign-crd/feedback", "{not json").status == 400U);
    BOOST_TEST(c.request("POST", "/cds-services/order-sign-crd/feedback", "[]").status == 422U);
    BOOST_TEST(c.request("POST", "/cds-services/no-such-service/feedback", json::serialize(valid_feedback())).status == 404U);
    BOOST_TEST(c.request("GET", "/cds-services/order-sign-crd/feedback").status == 405U);
    // Nothing invalid reached the audit log or the decision service.
    BOOST_TEST(s.audit_text().find("\"kind\":\"feedback\"") == std::string::npos);
    BOOST_TEST(c.request("GET", "/health").status == 200U);
    BOOST_TEST(s.decision.requests() == 0U);
}

BOOST_AUTO_TEST_CASE(rfc3339_date_times)
{
    BOOST_TEST(core::is_rfc3339_date_time("2026-11-22T10:15:30Z"));
    BOOST_TEST(core::is_rfc3339_date_time("2026-11-22T10:15:30.123456-05:00"));
    BOOST_TEST(!core::is_rfc3339_date_time("2026-11-22T10:15Z"));
    BOOST_TEST(!core::is_rfc3339_date_time("2026-11-22T24:00:00Z"));
    BOOST_TEST(!core::is_rfc3339_date_time("2026-11-22T10:15:30+0100"));
    BOOST_TEST(!core::is_rfc3339_date_time("2026-11-22T10:15:30.Z"));
}

BOOST_AUTO_TEST_SUITE_END()
