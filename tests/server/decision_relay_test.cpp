// decision.on_failure "relay" and X-CDS-Client over HTTP: a decision service's own OperationOutcome
// reaches the EHR with its status (per CRD version), and the decision service hears which client
// authenticated, never its token.

#include <crd/auth/jose.hpp>
#include <crd/core/hooks.hpp>

#include "client_keys.hpp"
#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;
using test::fake_decision_service;

namespace {

constexpr std::string_view coverage_information_url = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
constexpr std::string_view temp_system = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";

// What a payer's decision service says when it will not decide: its words, not crd-server's.
const std::string upstream_outcome = R"({"resourceType": "OperationOutcome", "id": "oo-17",
    "issue": [{"severity": "error", "code": "business-rule", "diagnostics": "member 0042 has no benefit for E0250",
               "expression": ["context.draftOrders"]}]})";

// Headers of the decision service's answer that must never reach the EHR.
const testing::header_fields upstream_headers{{"Set-Cookie", "session=decision-secret"}, {"X-Upstream-Trace", "t-17"}};

core::config remote_config(const fake_decision_service& fake, core::failure_policy policy)
{
    auto cfg = test::test_config();
    cfg.decision.endpoint = *core::parse_http_url(fake.url());
    cfg.decision.timeout = 2s;
    cfg.decision.on_failure = policy;
    cfg.decision.breaker_failures = 1000;  // the 5xx answers below must not open the breaker
    cfg.listen.threads = 1;
    return cfg;
}

// Two orders (1357, 2468), the member's Coverage in prefetch, no FHIR server to call.
json::value sign_request(const std::optional<std::string>& version)
{
    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& o = doc.as_object();
    o.erase("fhirServer");
    o.erase("fhirAuthorization");
    if (!o.contains("extension"))
        o["extension"] = json::object{};
    if (version)
        o["extension"].as_object()["davinci-crd.requestedVersion"] = *version;
    else
        o["extension"].as_object().erase("davinci-crd.requestedVersion");
    return doc;
}

test::http_result sign(std::uint16_t port, const std::optional<std::string>& version)
{
    test::http_client c(port);
    return c.request("POST", "/cds-services/order-sign-crd", json::serialize(sign_request(version)));
}

void check_relayed(const test::http_result& r, unsigned status)
{
    BOOST_TEST(r.status == status, r.body);
    BOOST_TEST(json::parse(r.body) == json::parse(upstream_outcome), r.body);
    BOOST_TEST(r.header("set-cookie").empty());
    BOOST_TEST(r.header("x-upstream-trace").empty());
}

// 2.2: "indeterminate" with reason technical on both orders, coverage information only as systemActions.
void check_technical_2_2(const test::http_result& r)
{
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    const auto body = json::parse(r.body);
    BOOST_TEST(body.at("cards").as_array().empty());
    const auto& actions = body.at("systemActions").as_array();
    BOOST_TEST_REQUIRE(actions.size() == 2U);
    for (const auto& a : actions)
    {
        const json::object* ci = nullptr;
        for (const auto& e : a.at("resource").at("extension").as_array())
            if (e.at("url").as_string() == coverage_information_url)
                ci = &e.as_object();
        BOOST_TEST_REQUIRE(ci != nullptr);
        std::string covered;
        bool technical = false;
        for (const auto& p : ci->at("extension").as_array())
        {
            if (p.at("url").as_string() == "covered")
                covered = p.at("valueCode").as_string();
            if (p.at("url").as_string() == "reason")
                for (const auto& c : p.at("valueCodeableConcept").at("coding").as_array())
                    technical = technical || (c.at("code").as_string() == "technical" && c.at("system").as_string() == temp_system);
        }
        BOOST_TEST(covered == "indeterminate");
        BOOST_TEST(technical);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(decision_relay_)

BOOST_AUTO_TEST_CASE(relay_passes_the_services_status_and_operation_outcome_to_a_2_0_caller)
{
    fake_decision_service fake;
    test::running_application app(remote_config(fake, core::failure_policy::relay));
    // A refusal of the request (400, 422), the service's own failures (401, 429, 500, 503).
    for (const unsigned status : {400U, 422U, 401U, 429U, 500U, 503U})
        for (const auto& asked : {std::optional<std::string>{}, std::optional<std::string>{"2.0"}})
            BOOST_TEST_CONTEXT("HTTP " << status << ", requestedVersion " << asked.value_or("absent"))
            {
                fake.set_answer(status, upstream_outcome, upstream_headers);
                check_relayed(sign(app.port(), asked), status);
            }
}

BOOST_AUTO_TEST_CASE(relay_answers_a_body_that_is_not_an_operation_outcome_as_before)
{
    fake_decision_service fake;
    test::running_application app(remote_config(fake, core::failure_policy::relay));
    const std::string_view not_outcomes[] = {
        R"({"error": "boom"})",
        "<html>bad gateway</html>",
        R"({"resourceType": "OperationOutcome", "issue": []})",
        R"({"resourceType": "OperationOutcome"})",
        R"({"resourceType": "Patient", "issue": [{"severity": "error"}]})",
        R"([{"resourceType": "OperationOutcome"}])",
    };
    for (const auto body : not_outcomes)
        BOOST_TEST_CONTEXT(body)
        {
            fake.set_answer(500, std::string(body));
            auto r = sign(app.port(), std::nullopt);
            BOOST_TEST(r.status == 502U);
            const auto answer = json::parse(r.body);
            BOOST_TEST(answer.at("resourceType").as_string() == "OperationOutcome");
            BOOST_TEST(json::serialize(answer).find("boom") == std::string::npos);
            // A refusal without an OperationOutcome: its status, with crd-server's own words.
            fake.set_answer(422, std::string(body));
            r = sign(app.port(), std::nullopt);
            BOOST_TEST(r.status == 422U);
            BOOST_TEST(json::parse(r.body) != json::parse(upstream_outcome));
        }
    // The same service answering an OperationOutcome is relayed.
    fake.set_answer(500, upstream_outcome);
    check_relayed(sign(app.port(), std::nullopt), 500U);
}

BOOST_AUTO_TEST_CASE(only_relay_passes_the_services_operation_outcome_on)
{
    fake_decision_service fake;
    for (const auto policy : {core::failure_policy::error, core::failure_policy::relay})
        BOOST_TEST_CONTEXT("on_failure " << static_cast<int>(policy))
        {
            test::running_application app(remote_config(fake, policy));
            fake.set_answer(503, upstream_outcome, upstream_headers);
            const auto r = sign(app.port(), std::nullopt);
            if (policy == core::failure_policy::relay)
                check_relayed(r, 503U);
            else
            {
                BOOST_TEST(r.status == 502U);
                BOOST_TEST(json::parse(r.body) != json::parse(upstream_outcome));
            }
        }
}

BOOST_AUTO_TEST_CASE(relay_gives_a_2_2_caller_a_technical_determination_for_the_services_failures_and_its_own_refusals)
{
    fake_decision_service fake;
    test::running_application app(remote_config(fake, core::failure_policy::relay));
    // The decision service failed (5xx; 401 and 429 are about our credentials or its load): CRD 2.2
    // wants a determination, and gets it.
    for (const unsigned status : {500U, 503U, 401U, 429U})
        BOOST_TEST_CONTEXT("HTTP " << status)
        {
            fake.set_answer(status, upstream_outcome, upstream_headers);
            check_technical_2_2(sign(app.port(), "2.2"));
        }
    // The service refused the caller's request: the caller's own error, in the service's words.
    for (const unsigned status : {400U, 404U, 422U})
        BOOST_TEST_CONTEXT("HTTP " << status)
        {
            fake.set_answer(status, upstream_outcome, upstream_headers);
            check_relayed(sign(app.port(), "2.2"), status);
        }
}

BOOST_AUTO_TEST_CASE(the_decision_service_hears_the_authenticated_client_as_x_cds_client_and_never_its_token)
{
    fake_decision_service fake;
    const std::string base = "https://crd.example-payer.org";
    const auto& key = test::client_key("ehr-key-1");
    auto cfg = test::test_config();
    cfg.public_base_url = base;
    cfg.decision.endpoint = *core::parse_http_url(fake.url());
    cfg.decision.timeout = 2s;
    cfg.auth.required = true;
    core::auth_client client;
    client.client_id = "ehr-north";
    client.jwks = json::object{{"keys", json::array{auth::public_jwk(key)}}};
    client.scope = "system/cds.hooks";
    cfg.auth.clients.push_back(std::move(client));
    test::running_application app(std::move(cfg));

    const auto now = test::unix_now();
    const std::string path = "/cds-services/order-sign-crd";
    const auto token = auth::sign_compact(
        key, json::object{{"iss", "ehr-north"}, {"aud", base + path}, {"iat", now}, {"exp", now + 300}, {"jti", "relay-" + std::to_string(now)}});
    test::http_client c(app.port());
    // A caller's own X-CDS-Client is never what the decision service hears.
    const auto r = c.request("POST", path, json::serialize(sign_request(std::nullopt)),
        {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}, {"X-CDS-Client", "ehr-south"}});
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    BOOST_TEST(fake.last_header("x-cds-client") == "ehr-north");
    BOOST_TEST(fake.last_header("authorization").empty());
    BOOST_TEST(fake.last_body().find(token) == std::string::npos);
    const auto calls = fake.requests();

    // Authentication off: no client to name, and still not the caller's own header.
    test::running_application open_app(remote_config(fake, core::failure_policy::error));
    test::http_client open_client(open_app.port());
    const auto open = open_client.request(
        "POST", path, json::serialize(sign_request(std::nullopt)), {{"Content-Type", "application/json"}, {"X-CDS-Client", "ehr-south"}});
    BOOST_TEST_REQUIRE(open.status == 200U, open.body);
    BOOST_TEST(fake.requests() == calls + 1);
    BOOST_TEST(fake.last_header("x-cds-client").empty());
}

BOOST_AUTO_TEST_SUITE_END()
