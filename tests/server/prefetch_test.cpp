// Prefetch fulfilment against an in-process fake FHIR server, seen from the decision service's side.

#include <crd/decision/prefetch.hpp>

#include "fake_decision_service.hpp"
#include "fake_fhir_server.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;

namespace {

const char* token = "ehr-access-token-7f3a";

core::config gateway_config(
    const test::fake_decision_service* remote, std::chrono::milliseconds timeout, std::optional<std::vector<std::string>> required_keys)
{
    auto cfg = test::test_config();
    if (remote)
        cfg.decision.endpoint = *core::parse_http_url(remote->url());
    cfg.decision.timeout = timeout;
    cfg.prefetch.allow_http = true;  // the fake FHIR server is plain HTTP on loopback
    cfg.prefetch.required_keys = std::move(required_keys);
    return cfg;
}

struct gateway
{
    test::fake_fhir_server fhir;
    test::fake_decision_service decision;
    test::running_application app;

    explicit gateway(
        bool remote = true, std::chrono::milliseconds timeout = 2000ms, std::optional<std::vector<std::string>> required_keys = std::nullopt)
        : app(gateway_config(remote ? &decision : nullptr, timeout, std::move(required_keys)))
    {
        // What the EHR's FHIR server has for order-sign-5's patient.
        fhir.answer("/fhir/Patient/pat015", {200, R"({"resourceType":"Patient","id":"pat015"})", ""});
        fhir.answer("/fhir/Coverage?patient=pat015&status=active",
            {200,
                R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"cov015","status":"active"}}]})",
                ""});
        fhir.answer("/fhir/Practitioner/pra1234", {200, R"({"resourceType":"Practitioner","id":"pra1234"})", ""});
    }
    json::value sign_request()
    {
        auto doc = test::load_fixture("crd-order-sign-5.json");
        auto& o = doc.as_object();
        o["fhirServer"] = fhir.base();
        o["fhirAuthorization"].as_object()["access_token"] = token;
        return doc;
    }

    test::http_result post(const json::value& doc, const std::string& service = "order-sign-crd")
    {
        test::http_client c(app.port());
        return c.request("POST", "/cds-services/" + service, json::serialize(doc));
    }

    json::object prefetch_seen_by_decision() const
    {
        auto body = json::parse(decision.last_body()).as_object();
        return body.contains("prefetch") ? body.at("prefetch").as_object() : json::object{};
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(prefetch_)

BOOST_AUTO_TEST_CASE(complete_prefetch_needs_no_fhir_call)
{
    gateway g;
    BOOST_TEST(g.post(g.sign_request()).status == 200U);
    BOOST_TEST(g.fhir.requests().empty());
}

BOOST_AUTO_TEST_CASE(absent_keys_are_fetched_with_the_bearer_token_and_merged)
{
    gateway g;
    auto doc = g.sign_request();
    doc.as_object().erase("prefetch");
    BOOST_TEST(g.post(doc).status == 200U);
    const auto seen = g.fhir.requests();
    BOOST_TEST(seen.size() == 3U);
    for (const auto& r : seen)
        BOOST_TEST(r.authorization == std::string("Bearer ") + token);
    const auto prefetch = g.prefetch_seen_by_decision();
    BOOST_TEST(prefetch.at("patient").at("id").as_string() == "pat015");
    BOOST_TEST(prefetch.at("coverage").at("entry").at(0).at("resource").at("id").as_string() == "cov015");
    BOOST_TEST(prefetch.at("user").at("id").as_string() == "pra1234");
    // The decision service never sees the EHR's token.
    BOOST_TEST(g.decision.last_body().find(token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(fetched_prefetch_reaches_the_decision_service_in_the_merged_tree_not_the_callers_bytes)
{
    // The caller's bytes are forwarded only while they say what the document says: once crd-server
    // merged what it fetched, the document is re-serialised (hook_request::source_text is unset).
    gateway g;
    auto doc = g.sign_request();
    const std::string with_prefetch = json::serialize(doc);
    doc.as_object().erase("prefetch");
    // The caller's own spelling: an escaped key and spaces, which re-serialising does not keep.
    auto spelled = [](const json::value& v) {
        std::string text = json::serialize(v);
        text.replace(text.find(R"("hook":)"), 7, R"( "\u0068ook" : )");
        return text;
    };
    test::http_client c(g.app.port());
    BOOST_TEST_REQUIRE(c.request("POST", "/cds-services/order-sign-crd", spelled(doc)).status == 200U);
    BOOST_TEST(g.fhir.requests().size() == 3U);
    auto forwarded = json::parse(g.decision.last_body()).as_object();
    BOOST_TEST(forwarded.at("prefetch").at("coverage").at("entry").at(0).at("resource").at("id").as_string() == "cov015");
    BOOST_TEST(forwarded.at("hook").as_string() == "order-sign");
    BOOST_TEST(!forwarded.contains("fhirAuthorization"));
    BOOST_TEST(g.decision.last_body().find(R"("\u0068ook")") == std::string::npos);  // re-serialised
    BOOST_TEST(g.decision.last_body().find(token) == std::string::npos);

    // Nothing to fetch: the caller's bytes, spelling and all, minus fhirAuthorization.
    auto complete = json::parse(with_prefetch);
    BOOST_TEST_REQUIRE(c.request("POST", "/cds-services/order-sign-crd", spelled(complete)).status == 200U);
    BOOST_TEST(g.fhir.requests().size() == 3U);
    BOOST_TEST(g.decision.last_body().find(R"( "\u0068ook" : )") != std::string::npos);
    BOOST_TEST(g.decision.last_body().find(token) == std::string::npos);
    complete.as_object().erase("fhirAuthorization");
    BOOST_TEST(json::parse(g.decision.last_body()) == complete);
}

BOOST_AUTO_TEST_CASE(the_embedded_engine_uses_fetched_coverage)
{
    gateway g(false);
    auto doc = g.sign_request();
    doc.as_object().erase("prefetch");
    auto r = g.post(doc);
    BOOST_TEST(r.status == 200U);
    // The coverage-information extension names the fetched Coverage.
    BOOST_TEST(r.body.find("Coverage/cov015") != std::string::npos, r.body);
}

BOOST_AUTO_TEST_CASE(null_keys_are_not_fetched)
{
    gateway g;
    auto doc = g.sign_request();
    doc.as_object()["prefetch"] = json::object{{"patient", nullptr}, {"coverage", nullptr}, {"user", nullptr}};
    BOOST_TEST(g.post(doc).status == 200U);
    BOOST_TEST(g.fhir.requests().empty());
    BOOST_TEST(g.prefetch_seen_by_decision().at("coverage").is_null());
}

BOOST_AUTO_TEST_CASE(an_operation_outcome_key_is_fetched_again)
{
    gateway g;
    auto doc = g.sign_request();
    doc.as_object()["prefetch"].as_object()["coverage"] =
        json::object{{"resourceType", "OperationOutcome"}, {"issue", json::array{json::object{{"severity", "error"}, {"code", "timeout"}}}}};
    BOOST_TEST(g.post(doc).status == 200U);
    const auto seen = g.fhir.requests();
    BOOST_TEST_REQUIRE(seen.size() == 1U);
    BOOST_TEST(seen[0].target == "/fhir/Coverage?patient=pat015&status=active");
    BOOST_TEST(g.prefetch_seen_by_decision().at("coverage").at("resourceType").as_string() == "Bundle");
}

BOOST_AUTO_TEST_CASE(a_slow_fhir_server_does_not_make_the_hook_late)
{
    gateway g(false, 1000ms);  // prefetch may spend half: 500 ms
    g.fhir.set_delay(3s);
    auto doc = g.sign_request();
    doc.as_object().erase("prefetch");
    const auto started = std::chrono::steady_clock::now();
    auto r = g.post(doc);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    BOOST_TEST(r.status == 200U);
    BOOST_TEST((elapsed < 1000ms), "answered after " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
}

BOOST_AUTO_TEST_CASE(a_redirect_to_another_host_is_not_followed)
{
    gateway g;
    test::fake_fhir_server elsewhere;
    g.fhir.answer("/fhir/Patient/pat015", {302, "", elsewhere.base() + "/Patient/pat015"});
    auto doc = g.sign_request();
    doc.as_object()["prefetch"].as_object().erase("patient");
    BOOST_TEST(g.post(doc).status == 200U);
    BOOST_TEST(elsewhere.requests().empty());  // the token never left for the other host
    BOOST_TEST(!g.prefetch_seen_by_decision().contains("patient"));
}

namespace {

json::value without_fhir_access(json::value doc)
{
    auto& o = doc.as_object();
    o.erase("prefetch");
    o.erase("fhirServer");
    o.erase("fhirAuthorization");
    return doc;
}

void expect_412_naming_coverage(const test::http_result& r)
{
    BOOST_TEST(r.status == 412U);
    auto outcome = json::parse(r.body);
    BOOST_TEST(outcome.at("resourceType").as_string() == "OperationOutcome");
    BOOST_TEST(outcome.at("issue").at(0).at("expression").at(0).as_string() == "prefetch.coverage");
}

}  // namespace

BOOST_AUTO_TEST_CASE(required_data_without_fhir_access_is_412)
{
    // The embedded engine needs the member's Coverage by default.
    gateway embedded(false);
    expect_412_naming_coverage(embedded.post(without_fhir_access(embedded.sign_request())));

    // So does a decision service when the operator says so; it is then never called.
    gateway strict_remote(true, 2000ms, std::vector<std::string>{"coverage"});
    expect_412_naming_coverage(strict_remote.post(without_fhir_access(strict_remote.sign_request())));
    BOOST_TEST(strict_remote.decision.requests() == 0U);

    // An http FHIR server is no access either unless prefetch.allow_http is set.
    test::running_application strict(test::test_config());
    auto doc2 = embedded.sign_request();
    doc2.as_object().erase("prefetch");
    test::http_client c(strict.port());
    BOOST_TEST(c.request("POST", "/cds-services/order-sign-crd", json::serialize(doc2)).status == 412U);
    BOOST_TEST(embedded.fhir.requests().empty());
}

BOOST_AUTO_TEST_CASE(a_decision_service_by_default_gets_the_call_without_coverage)
{
    // The product documents' example sends only the Patient: the payer's decision service can
    // look the member up itself, so the call goes through without prefetch.coverage.
    gateway g;
    auto r = g.post(without_fhir_access(g.sign_request()));
    BOOST_TEST(r.status == 200U);
    BOOST_TEST(g.decision.requests() == 1U);
    BOOST_TEST(!g.prefetch_seen_by_decision().contains("coverage"));
}

BOOST_AUTO_TEST_CASE(order_dispatch_fetches_the_referenced_order)
{
    gateway g;
    g.fhir.answer("/fhir/ServiceRequest/example",
        {200,
            R"({"resourceType":"ServiceRequest","id":"example","status":"active","intent":"order","subject":{"reference":"Patient/example"},"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"97110"}]}})",
            ""});
    g.fhir.answer("/fhir/Coverage?patient=example&status=active", {200, R"({"resourceType":"Bundle","type":"searchset","entry":[]})", ""});
    auto doc = test::load_fixture("crd-order-dispatch-4.json");
    doc.as_object()["fhirServer"] = g.fhir.base();
    BOOST_TEST(g.post(doc, "order-dispatch-crd").status == 200U);
    bool asked = false;
    for (const auto& r : g.fhir.requests())
        asked = asked || r.target == "/fhir/ServiceRequest/example";
    BOOST_TEST(asked);
    const auto prefetch = g.prefetch_seen_by_decision();
    bool merged = false;
    for (const auto& kv : prefetch)
        merged = merged || (kv.value().is_object() && kv.value().as_object().contains("resourceType") &&
                               kv.value().at("resourceType").as_string() == "ServiceRequest");
    BOOST_TEST(merged);
}

BOOST_AUTO_TEST_CASE(templates_resolve_cds_hooks_and_crd_tokens)
{
    auto context = json::parse(R"({
        "patientId": "p1", "userId": "PractitionerRole/r9", "encounterId": "e5",
        "draftOrders": {"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "ServiceRequest", "id": "sr1"}},
            {"resource": {"resourceType": "MedicationRequest", "id": "mr1"}},
            {"resource": {"resourceType": "ServiceRequest", "id": "sr2"}}]},
        "dispatchedOrders": ["ServiceRequest/sr7", "DeviceRequest/d1"]
    })")
                       .as_object();
    using decision::resolve_template;
    BOOST_TEST(*resolve_template("Patient/{{context.patientId}}", context) == "Patient/p1");
    BOOST_TEST(*resolve_template("Coverage?patient={{context.patientId}}&status=active", context) == "Coverage?patient=p1&status=active");
    BOOST_TEST(*resolve_template("{{context.userId}}", context) == "PractitionerRole/r9");
    BOOST_TEST(*resolve_template("PractitionerRole/{{userPractitionerRoleId}}", context) == "PractitionerRole/r9");
    BOOST_TEST(!resolve_template("Practitioner/{{userPractitionerId}}", context));  // the user is not a Practitioner
    BOOST_TEST(*resolve_template("ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}", context) == "ServiceRequest?_id=sr1,sr2");
    BOOST_TEST(*resolve_template("ServiceRequest?_id={{context.dispatchedOrders.ServiceRequest.id}}", context) == "ServiceRequest?_id=sr7");
    BOOST_TEST(!resolve_template("NutritionOrder?_id={{context.draftOrders.NutritionOrder.id}}", context));
    BOOST_TEST(!resolve_template("Encounter/{{context.missing}}", context));
    BOOST_TEST(!resolve_template("Patient/{{context.patientId", context));
}

BOOST_AUTO_TEST_SUITE_END()
