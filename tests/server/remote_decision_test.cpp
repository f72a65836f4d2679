// crd-server in front of a scripted decision service: every fault mode gets its documented answer.

#include <crd/core/hooks.hpp>
#include <crd/decision/answer_relay.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/decision/remote_decision.hpp>

#include "closed_port.hpp"
#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"
#include "tls_cert.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>
#include <thread>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;
using test::fake_decision_service;
using test::fake_mode;

namespace {

core::config remote_config(const fake_decision_service& fake)
{
    auto cfg = test::test_config();
    cfg.decision.endpoint = *core::parse_http_url(fake.url());
    cfg.decision.timeout = 500ms;
    cfg.decision.breaker_failures = 3;
    cfg.decision.breaker_cooldown = 300ms;
    cfg.listen.threads = 1;
    return cfg;
}

struct gateway
{
    test::running_application app;

    explicit gateway(core::config cfg) : app(std::move(cfg)) {}

    test::http_result sign(test::http_client& client, const std::string& fixture = "crd-order-sign-5.json")
    {
        auto doc = test::load_fixture(fixture);
        doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
        return client.request("POST", "/cds-services/" + test::service_id_for(doc), json::serialize(doc));
    }
};

std::string diagnostics(const test::http_result& r)
{
    return std::string(json::parse(r.body).at("issue").at(0).at("diagnostics").as_string());
}

// The fixture's request spelled by hand: its top-level members in `order`, `separator` between
// members, `colon` between key and value, and each key spelled as `keys` says (default: plainly).
std::string spelled(const json::object& doc, const std::vector<std::string>& order, const std::string& separator = ",",
    const std::string& colon = ":", const std::map<std::string, std::string>& keys = {})
{
    std::string out = "{";
    for (std::size_t i = 0; i < order.size(); ++i)
    {
        if (i > 0)
            out += separator;
        const auto key = keys.find(order[i]);
        out += key != keys.end() ? key->second : json::serialize(json::string(order[i]));
        out += colon;
        out += json::serialize(doc.at(order[i]));
    }
    return out + "}";
}

json::object sign_fixture()
{
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    return std::move(doc.as_object());
}

std::string expression(const test::http_result& r)
{
    return std::string(json::parse(r.body).at("issue").at(0).at("expression").at(0).as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(remote_decision_)

BOOST_AUTO_TEST_CASE(the_decision_service_answer_is_relayed_and_sees_no_fhir_token)
{
    fake_decision_service fake;
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    auto r = g.sign(client);
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    auto body = json::parse(r.body);
    BOOST_TEST(body.at("cards").at(0).at("source").at("label").as_string() == "Remote Plan");
    BOOST_TEST(body.at("systemActions").as_array().size() == 1U);

    auto sent = json::parse(fake.last_body());
    BOOST_TEST(sent.at("hook").as_string() == "order-sign");
    BOOST_TEST(!sent.as_object().contains("fhirAuthorization"));  // never forwarded by default
    BOOST_TEST(fake.last_body().find("some-opaque") == std::string::npos);
    BOOST_TEST(fake.last_header("x-cds-hook-instance") == "d1577c69-dfbe-77ad-ba6d-3e05e953b2ea");

    // N sequential calls share one upstream connection.
    for (int i = 0; i < 5; ++i)
        BOOST_TEST(g.sign(client).status == 200U);
    BOOST_TEST(fake.connections() == 1U);

    test::http_client probe(g.app.port());
    BOOST_TEST(probe.request("GET", "/ready").status == 200U);
}

BOOST_AUTO_TEST_CASE(each_fault_gets_its_status_and_an_operation_outcome)
{
    const std::pair<fake_mode, unsigned> cases[] = {
        {fake_mode::slow, 504U},
        {fake_mode::server_error, 502U},
        {fake_mode::not_json, 502U},
        {fake_mode::reset_mid_response, 502U},
        {fake_mode::close_before_answer, 502U},
        {fake_mode::oversized, 502U},
    };
    for (const auto& [mode, status] : cases)
    {
        BOOST_TEST_CONTEXT("mode " << static_cast<int>(mode))
        {
            fake_decision_service fake;
            fake.set_mode(mode);
            fake.set_delay(3s);
            fake.set_oversized_bytes(64 * 1024);
            auto cfg = remote_config(fake);
            cfg.decision.max_response_bytes = 16 * 1024;
            gateway g(std::move(cfg));
            test::http_client client(g.app.port());
            const auto start = std::chrono::steady_clock::now();
            auto r = g.sign(client);
            BOOST_TEST(r.status == status);
            BOOST_TEST(json::parse(r.body).at("resourceType").as_string() == "OperationOutcome");
            // The deadline (500 ms) bounds even the slow case; generous upper bound.
            BOOST_TEST((std::chrono::steady_clock::now() - start < 2500ms));
            BOOST_TEST(client.request("GET", "/health").status == 200U);
        }
    }
}

BOOST_AUTO_TEST_CASE(invalid_cards_are_repaired_or_dropped_before_the_ehr_sees_them)
{
    fake_decision_service fake;
    fake.set_body(R"({"cards": [
        {"summary": "no indicator", "source": {"label": "P"}},
        {"summary": "fixable", "indicator": "info", "source": {"label": "P"}, "detail": ""}
    ], "systemActions": [{"type": "update", "resource": {"resourceType": "DeviceRequest", "id": "x"}}]})");
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    auto r = g.sign(client);
    BOOST_TEST_REQUIRE(r.status == 200U);
    auto body = json::parse(r.body);
    BOOST_TEST_REQUIRE(body.at("cards").as_array().size() == 1U);
    const auto& card = body.at("cards").at(0).as_object();
    BOOST_TEST(card.at("summary").as_string() == "fixable");
    BOOST_TEST(!card.at("uuid").as_string().empty());
    BOOST_TEST(card.at("source").at("topic").at("code").as_string() == "coverage-info");
    BOOST_TEST(!card.contains("detail"));
    BOOST_TEST(!body.at("systemActions").at(0).at("description").as_string().empty());
}

BOOST_AUTO_TEST_CASE(request_configuration_applies_to_remote_answers)
{
    fake_decision_service fake;
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"coverage-info", false}};
    auto r = client.request("POST", "/cds-services/order-sign-crd", json::serialize(doc));
    BOOST_TEST_REQUIRE(r.status == 200U);
    auto body = json::parse(r.body);
    BOOST_TEST(!body.as_object().contains("systemActions"));
    BOOST_TEST(body.at("cards").as_array().empty());
}

BOOST_AUTO_TEST_CASE(the_breaker_opens_fails_fast_and_recovers)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::server_error);
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(g.sign(client).status == 502U);
    const auto before = fake.requests();

    // Open: answered at once, without calling the decision service.
    auto fast = g.sign(client);
    BOOST_TEST(fast.status == 503U);
    BOOST_TEST(fake.requests() == before);
    auto ready = test::http_client(g.app.admin_port()).request("GET", "/ready");
    BOOST_TEST(ready.status == 503U);
    BOOST_TEST(json::parse(ready.body).at("reason").as_string().find("circuit breaker") != std::string::npos);
    // The public /ready says only that: no origin, no reason.
    auto bare = client.request("GET", "/ready");
    BOOST_TEST(bare.status == 503U);
    BOOST_TEST(json::parse(bare.body).as_object().size() == 1U);
    BOOST_TEST(client.request("GET", "/health").status == 200U);  // health is not readiness
    // /metrics says the same as /ready, for an alert that needs no probe of its own.
    test::http_client scraper(g.app.admin_port());
    BOOST_TEST(scraper.request("GET", "/metrics").body.find("\ncrd_ready 0\n") != std::string::npos);

    // After the cool-down one probe goes through; its success closes the breaker.
    fake.set_mode(fake_mode::normal);
    std::this_thread::sleep_for(400ms);
    BOOST_TEST(g.sign(client).status == 200U);
    BOOST_TEST(client.request("GET", "/ready").status == 200U);
    BOOST_TEST(scraper.request("GET", "/metrics").body.find("\ncrd_ready 1\n") != std::string::npos);
    BOOST_TEST(g.sign(client).status == 200U);
}

BOOST_AUTO_TEST_CASE(on_failure_conditional_answers_with_undetermined_coverage)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::server_error);
    auto cfg = remote_config(fake);
    cfg.decision.on_failure = core::failure_policy::conditional;
    cfg.decision.source_label = "Example Health Plan";
    gateway g(std::move(cfg));
    test::http_client client(g.app.port());

    auto r = g.sign(client);
    BOOST_TEST_REQUIRE(r.status == 200U);
    auto body = json::parse(r.body);
    const auto& action = body.at("systemActions").at(0);
    BOOST_TEST(action.at("resource").at("id").as_string() == "devreq-015-e0250");
    const auto ext = json::serialize(action.at("resource").at("extension"));
    BOOST_TEST(ext.find(R"({"url":"covered","valueCode":"conditional"})") != std::string::npos);
    BOOST_TEST(ext.find(R"({"url":"info-needed","valueCode":"OTH"})") != std::string::npos);
    BOOST_TEST(body.at("cards").at(0).at("source").at("label").as_string() == "Example Health Plan");

    // Secondary hooks: no cards.
    auto select = g.sign(client, "crd-order-select-1.json");
    BOOST_TEST(select.status == 200U);
    BOOST_TEST(json::parse(select.body).at("cards").as_array().empty());
}

BOOST_AUTO_TEST_CASE(https_decision_service_with_a_private_ca)
{
    fake_decision_service fake(true);
    auto cfg = remote_config(fake);
    cfg.decision.timeout = 3s;
    cfg.decision.ca_file = test::localhost_certificate().certificate;
    gateway g(std::move(cfg));
    test::http_client client(g.app.port());
    auto r = g.sign(client);
    BOOST_TEST(r.status == 200U, r.body);

    // Without the CA the certificate is not trusted: an error, not a silent downgrade.
    fake_decision_service other(true);
    auto untrusted = remote_config(other);
    untrusted.decision.timeout = 3s;
    gateway g2(std::move(untrusted));
    test::http_client client2(g2.app.port());
    auto refused = g2.sign(client2);
    BOOST_TEST(refused.status == 502U);
    BOOST_TEST(diagnostics(refused).find("unavailable") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unresolvable_host_is_not_ready)
{
    fake_decision_service fake;
    auto cfg = remote_config(fake);
    cfg.decision.endpoint = *core::parse_http_url("http://decision.invalid/decide");
    gateway g(std::move(cfg));
    test::http_client client(g.app.port());
    auto ready = test::http_client(g.app.admin_port()).request("GET", "/ready");
    BOOST_TEST(ready.status == 503U);
    BOOST_TEST(json::parse(ready.body).at("reason").as_string().find("decision.invalid") != std::string::npos);
    BOOST_TEST(client.request("GET", "/ready").body.find("decision.invalid") == std::string::npos);
    BOOST_TEST(g.sign(client).status == 502U);
}

BOOST_AUTO_TEST_CASE(the_request_is_released_once_sent_unless_a_failure_answer_needs_it)
{
    // Thousands of calls may wait on a slow decision service: none should hold its parsed request.
    fake_decision_service fake;
    auto request_for = [](const core::config&) {
        auto doc = test::load_fixture("crd-order-sign-5.json");
        const auto& service = *core::find_service(test::service_id_for(doc));
        auto v = core::validate_hook_request(service, std::make_unique<json::value>(std::move(doc)));
        BOOST_TEST_REQUIRE(v.has_value());
        return std::move(v).value();
    };
    {
        auto cfg = remote_config(fake);
        decision::remote_decision remote(cfg);
        auto request = request_for(cfg);
        auto answer = test::run_coro(remote.decide(request, clock::now() + 2s));
        BOOST_TEST_REQUIRE(answer.has_value());
        BOOST_TEST(!request.document);  // released once sent
        // The answer was parsed into an arena of its own that the request now carries to the
        // response: its nodes point into it without owning it.
        BOOST_TEST_REQUIRE(static_cast<bool>(request.answer_document));
        BOOST_TEST(answer->storage().get() == request.answer_document->storage().get());
        BOOST_TEST(answer->storage().is_not_shared_and_deallocate_is_trivial());  // freed with the arena, no walk
        BOOST_TEST(request.items.empty());
        BOOST_TEST(request.service != nullptr);
        BOOST_TEST(json::parse(fake.last_body()).at("hookInstance").is_string());  // the service got it all
    }
    {
        // The handler asks for the request to be kept when it will answer a failure from it
        // (decision.on_failure "conditional", or a CRD 2.1+ caller's technical determination).
        auto cfg = remote_config(fake);
        decision::remote_decision remote(cfg);
        auto request = request_for(cfg);
        request.keep_for_failure_answer = true;
        fake.set_mode(fake_mode::server_error);
        auto answer = test::run_coro(remote.decide(request, clock::now() + 2s));
        fake.set_mode(fake_mode::normal);
        BOOST_TEST(!answer.has_value());  // the failure itself: the handler turns it into an answer
        BOOST_TEST(static_cast<bool>(request.document));
        BOOST_TEST(!request.items.empty());
    }
}

BOOST_AUTO_TEST_CASE(the_decision_services_4xx_is_relayed_and_never_opens_the_breaker)
{
    // Any caller could open the breaker for everyone by sending what the service answers 400.
    fake_decision_service fake;
    gateway g(remote_config(fake));  // breaker_failures = 3
    test::http_client client(g.app.port());
    fake.set_mode(fake_mode::client_error);
    for (int i = 0; i < 6; ++i)
    {
        auto r = g.sign(client);
        BOOST_TEST(r.status == 400U);
        BOOST_TEST(diagnostics(r).find("HTTP 400") != std::string::npos);
    }
    BOOST_TEST(fake.requests() == 6U);  // every one reached it: the breaker stayed closed
    BOOST_TEST(test::http_client(g.app.admin_port()).request("GET", "/ready").status == 200U);
    fake.set_mode(fake_mode::normal);
    BOOST_TEST(g.sign(client).status == 200U);
}

BOOST_AUTO_TEST_CASE(ready_turns_503_as_soon_as_the_decision_service_refuses_connections)
{
    // /ready answered 200 after failed connects until the breaker (5 failures) opened, so a load
    // balancer kept sending calls to an instance that could only answer 502.
    const test::closed_port closed;
    fake_decision_service unused;
    auto cfg = remote_config(unused);
    cfg.decision.endpoint = *core::parse_http_url(closed.url("/decide"));
    cfg.decision.breaker_failures = 5;
    gateway g(std::move(cfg));
    test::http_client admin(g.app.admin_port());
    BOOST_TEST(admin.request("GET", "/ready").status == 200U);  // resolved; nothing known yet
    test::http_client client(g.app.port());
    BOOST_TEST(g.sign(client).status == 502U);
    auto ready = admin.request("GET", "/ready");
    BOOST_TEST(ready.status == 503U);
    BOOST_TEST(json::parse(ready.body).at("reason").as_string().find("could not be reached") != std::string::npos);
    BOOST_TEST(client.request("GET", "/ready").status == 503U);
}

BOOST_AUTO_TEST_CASE(a_non_finite_number_in_the_answer_is_never_relayed)
{
    // Boost.JSON 1.81 reads 1e999 as inf; serialised back it was "Infinity", not JSON.
    fake_decision_service fake;
    fake.set_body(R"({"cards": [], "systemActions": [], "extension": {"x": 1e999}})");
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    auto r = g.sign(client);
    BOOST_TEST(r.status == 502U);
    BOOST_TEST(r.body.find("Infinity") == std::string::npos);
    boost::system::error_code ec;
    (void)json::parse(r.body, ec);
    BOOST_TEST(!ec);
    auto metrics = test::http_client(g.app.admin_port()).request("GET", "/metrics").body;
    BOOST_TEST(metrics.find("crd_decision_nonfinite_numbers_total 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_hook_instance_that_would_split_a_header_never_reaches_the_decision_service)
{
    fake_decision_service fake;
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["hookInstance"] = "x\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: d\r\nX-A: ";
    auto r = client.request("POST", "/cds-services/order-sign-crd", json::serialize(doc));
    BOOST_TEST(r.status == 422U);
    BOOST_TEST(json::parse(r.body).at("issue").at(0).at("expression").at(0).as_string() == "hookInstance");
    BOOST_TEST(fake.requests() == 0U);
    BOOST_TEST(g.sign(client).status == 200U);
    BOOST_TEST(g.sign(client).status == 200U);
}

BOOST_AUTO_TEST_CASE(a_key_given_twice_is_refused_400_naming_its_path)
{
    // Boost.JSON keeps the last of a repeated key: forwarded as sent, a decision service keeping the
    // first would read a value crd-server never validated. Refused wherever the key repeats.
    fake_decision_service fake;
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    const auto doc = sign_fixture();
    const std::string body = json::serialize(doc);
    BOOST_TEST_REQUIRE(body.back() == '}');
    const std::string trunk = body.substr(0, body.size() - 1);
    auto nested = doc;
    nested.at("context").at("draftOrders").at("entry").at(0).at("resource").as_object()["crdTestMarker"] = 1;
    std::string nested_body = json::serialize(nested);
    nested_body.replace(nested_body.find(R"("crdTestMarker":1)"), 17, R"("crdTestMarker":1,"crdTestMarker":2)");

    const std::pair<std::string, std::string> cases[] = {
        {trunk + R"(,"hook":"order-select"})", "hook"},
        {nested_body, "context.draftOrders.entry[0].resource.crdTestMarker"},
        // A second token would otherwise slip past the cut of the first.
        {trunk + R"(,"fhirAuthorization":{"access_token":"other","token_type":"Bearer"}})", "fhirAuthorization"},
        {trunk + R"(,"fhir\u0041uthorization":{"access_token":"other"}})", "fhirAuthorization"},
    };
    for (const auto& [text, path] : cases)
    {
        BOOST_TEST_CONTEXT(path)
        {
            auto r = client.request("POST", "/cds-services/order-sign-crd", text);
            BOOST_TEST(r.status == 400U);
            BOOST_TEST(json::parse(r.body).at("resourceType").as_string() == "OperationOutcome");
            BOOST_TEST(expression(r) == path);
            BOOST_TEST(diagnostics(r).find(path + " is given twice") != std::string::npos, diagnostics(r));
        }
    }
    BOOST_TEST(fake.requests() == 0U);
    BOOST_TEST(client.request("GET", "/health").status == 200U);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", body).status == 200U);
}

BOOST_AUTO_TEST_CASE(the_decision_service_gets_the_callers_bytes_without_fhir_authorization)
{
    fake_decision_service fake;
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    const auto doc = sign_fixture();
    const std::vector<std::string> others = {"hookInstance", "fhirServer", "hook", "context", "extension", "prefetch"};
    auto with_auth_at = [&](std::size_t position) {
        auto order = others;
        order.insert(order.begin() + static_cast<std::ptrdiff_t>(position), "fhirAuthorization");
        return order;
    };
    struct spelling
    {
        std::string name, separator, colon;
        std::map<std::string, std::string> keys;
    };
    const spelling spellings[] = {
        {"compact", ",", ":", {}},
        {"spaced", " ,\n  ", " : ", {}},
        {"newline before comma", "\n,\t", ":", {}},
        {"escaped key", ", ", ": ", {{"fhirAuthorization", R"("fhir\u0041uthorization")"}, {"hook", R"("\u0068ook")"}}},
    };
    for (const auto& s : spellings)
        for (const std::size_t position : {std::size_t{0}, std::size_t{3}, others.size()})
        {
            BOOST_TEST_CONTEXT(s.name << ", fhirAuthorization at " << position)
            {
                const std::string sent = "\n " + spelled(doc, with_auth_at(position), s.separator, s.colon, s.keys) + " \n";
                const std::string expected = "\n " + spelled(doc, others, s.separator, s.colon, s.keys) + " \n";
                auto r = client.request("POST", "/cds-services/order-sign-crd", sent);
                BOOST_TEST_REQUIRE(r.status == 200U, r.body);
                BOOST_TEST(fake.last_body() == expected);
                BOOST_TEST(fake.last_body().find("SAMPLE_TOKEN") == std::string::npos);
            }
        }
    // Without fhirAuthorization: the bytes as sent.
    const std::string plain = spelled(doc, others, " , ", " : ");
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", plain).status == 200U);
    BOOST_TEST(fake.last_body() == plain);
}

BOOST_AUTO_TEST_CASE(forwarding_fhir_authorization_sends_the_callers_bytes_unchanged)
{
    fake_decision_service fake;
    auto cfg = remote_config(fake);
    cfg.decision.forward_fhir_authorization = true;
    gateway g(std::move(cfg));
    test::http_client client(g.app.port());
    const auto doc = sign_fixture();
    const std::string sent =
        spelled(doc, {"hookInstance", "fhirAuthorization", "fhirServer", "hook", "context", "extension", "prefetch"}, " ,\n", " : ");
    BOOST_TEST_REQUIRE(client.request("POST", "/cds-services/order-sign-crd", sent).status == 200U);
    BOOST_TEST(fake.last_body() == sent);
}

// Issue 19: an answer nothing had to be changed in reaches the EHR as the decision service wrote
// it (its spacing, its escapes, its numbers), not re-serialised; one that was repaired, cut down by
// the caller's configuration or said again in the caller's version is written from the tree.
BOOST_AUTO_TEST_CASE(an_answer_nothing_is_changed_in_reaches_the_ehr_as_the_service_wrote_it)
{
    fake_decision_service fake;
    // The default answer with the Coverage it is about, a date and an id, as crd-server says it in
    // the caller's version: an answer that needs nothing.
    std::string complete = fake_decision_service::default_body();
    complete.insert(complete.find(R"({"url": "covered")"), R"({"url": "coverage", "valueReference": {"reference": "Coverage/cov-1"}}, )");
    complete.insert(
        complete.find(R"(}]}]})") + 1, R"(, {"url": "date", "valueDate": "2026-12-01"}, {"url": "coverage-assertion-id", "valueString": "ca-17"})");
    fake.set_body(complete);
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    const auto rendered = g.sign(client);
    BOOST_TEST_REQUIRE(rendered.status == 200U, rendered.body);
    std::string as_written = "\n" + rendered.body + "\n";
    // Spacing, an escape and a number the tree would write otherwise ("Caf\u00e9" as UTF-8, 1.50 as 1.5E0).
    const std::string marker = R"("detail" : "Caf\u00e9 1.50",  "extension": {"x-score": 1.50}, )";
    as_written.insert(as_written.find(R"("summary")"), marker);
    fake.set_body(as_written);
    // Read once and relayed without a tree (answer_relay.hpp), and counted so.
    const auto& relayed_unread = decision::decision_metrics::instance().relayed_unread;
    const auto unread_before = relayed_unread.value();
    auto r = g.sign(client);
    BOOST_TEST(relayed_unread.value() == unread_before + 1);
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    const auto trimmed = [](std::string s) {
        s.erase(0, s.find_first_not_of(" \t\r\n"));
        s.erase(s.find_last_not_of(" \t\r\n") + 1);
        return s;
    };
    BOOST_TEST(r.body == trimmed(as_written));
    BOOST_TEST(r.header("content-length") == std::to_string(r.body.size()));
    BOOST_TEST(json::parse(r.body) == json::parse(as_written));

    // Repaired (an empty member pruned): the tree, which no longer says what the text said.
    std::string repaired = as_written;
    repaired.insert(repaired.find(R"("summary")"), R"("overrideReasons": [], )");
    fake.set_body(repaired);
    auto fixed = g.sign(client);
    BOOST_TEST_REQUIRE(fixed.status == 200U, fixed.body);
    BOOST_TEST(relayed_unread.value() == unread_before + 1);  // the tree path
    BOOST_TEST(fixed.body.find("overrideReasons") == std::string::npos);
    BOOST_TEST(fixed.body.find(R"(\u00e9)") == std::string::npos);  // written from the tree: UTF-8
    BOOST_TEST(json::parse(fixed.body) == json::parse(as_written));

    // The caller's configuration leaves the coverage information out: the tree again.
    fake.set_body(as_written);
    auto doc = sign_fixture();
    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"coverage-info", false}};
    auto configured = client.request("POST", "/cds-services/order-sign-crd", json::serialize(doc));
    BOOST_TEST_REQUIRE(configured.status == 200U, configured.body);
    BOOST_TEST(!json::parse(configured.body).as_object().contains("systemActions"));
    BOOST_TEST(relayed_unread.value() == unread_before + 1);
}

// What the caller's max-cards and the order of severity change is never relayed unread: an answer
// whose cards come least severe first is reordered, one with more cards than the caller keeps is
// cut, both on the tree; the same answer within the caller's options goes as written.
BOOST_AUTO_TEST_CASE(an_answer_the_callers_options_reorder_or_cut_is_not_relayed_unread)
{
    const auto card = [](const char* uuid, const char* indicator) {
        return std::string(R"({"uuid": ")") + uuid + R"(", "summary": "S", "indicator": ")" + indicator +
               R"(", "source": {"label": "P", "topic": {"code": "c"}}})";
    };
    fake_decision_service fake;
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    const auto& relayed_unread = decision::decision_metrics::instance().relayed_unread;
    const auto uuids = [](const test::http_result& r) {
        std::vector<std::string> out;
        const json::value answer = json::parse(r.body);
        for (const auto& c : answer.at("cards").as_array())
            out.emplace_back(c.at("uuid").as_string());
        return out;
    };

    const std::string in_order = R"({"cards": [)" + card("a", "critical") + ", " + card("b", "info") + "]}";
    fake.set_body(in_order);
    auto before = relayed_unread.value();
    auto r = g.sign(client);
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    BOOST_TEST(r.body == in_order);
    BOOST_TEST(relayed_unread.value() == before + 1);

    fake.set_body(R"({"cards": [)" + card("b", "info") + ", " + card("a", "critical") + "]}");
    before = relayed_unread.value();
    r = g.sign(client);
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    BOOST_TEST(uuids(r) == (std::vector<std::string>{"a", "b"}));
    BOOST_TEST(relayed_unread.value() == before);

    fake.set_body(in_order);
    auto doc = sign_fixture();
    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"max-cards", 1}};
    before = relayed_unread.value();
    r = client.request("POST", "/cds-services/order-sign-crd", json::serialize(doc));
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    BOOST_TEST(uuids(r) == (std::vector<std::string>{"a"}));
    BOOST_TEST(relayed_unread.value() == before);
}

// A service whose answers always need a repair (here a card without a uuid) has them read twice
// (the one pass, then the tree) only until the pass has said no eight times in a row: then it is
// tried on one answer in 64. Every answer is still repaired.
BOOST_AUTO_TEST_CASE(answers_that_keep_needing_the_tree_are_not_read_twice_for_long)
{
    fake_decision_service fake;
    fake.set_body(R"({"cards": [{"summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}}]})");
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    const auto& read_twice = decision::decision_metrics::instance().relay_pass_refused;
    const auto before = read_twice.value();
    for (unsigned call = 0; call < decision::relay_pass_backoff::refusals_before_backoff + 10; ++call)
    {
        auto r = g.sign(client);
        BOOST_TEST_REQUIRE(r.status == 200U, r.body);
        BOOST_TEST(!json::parse(r.body).at("cards").at(0).at("uuid").as_string().empty());
    }
    BOOST_TEST(read_twice.value() == before + decision::relay_pass_backoff::refusals_before_backoff);
}

// A key the service gives twice in one object: Boost.JSON keeps the last, an EHR reading the text
// could take the first, one never checked. The text is not relayed; the tree, with one, is.
BOOST_AUTO_TEST_CASE(an_answer_with_a_key_given_twice_is_never_relayed_as_written)
{
    fake_decision_service fake;
    std::string twice = fake_decision_service::default_body();
    twice.insert(twice.find(R"("summary")"), R"("summary": "Covered, nothing needed", )");
    fake.set_body(twice);
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    auto r = g.sign(client);
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    BOOST_TEST(r.body.find("nothing needed") == std::string::npos);
    BOOST_TEST(json::parse(r.body).at("cards").at(0).at("summary").as_string() == "Prior authorization required for the hospital bed");
}

// The caller's configuration changes an answer that needed no repair (max-cards and severity order,
// applied after the decision): the EHR gets the tree as changed, never the service's text.
BOOST_AUTO_TEST_CASE(an_answer_the_callers_options_change_is_written_from_the_tree)
{
    fake_decision_service fake;
    const std::string card = R"({"uuid": "%U", "summary" : "%S", "indicator": "%I",
        "source": {"label": "Remote Plan", "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "coverage-info"}}})";
    const auto make = [&](const std::string& uuid, const std::string& summary, const std::string& indicator) {
        std::string c = card;
        c.replace(c.find("%U"), 2, uuid);
        c.replace(c.find("%S"), 2, summary);
        c.replace(c.find("%I"), 2, indicator);
        return c;
    };
    // Info before warning: the options put the most severe first.
    fake.set_body("{\"cards\" : [" + make("u-1", "first, info", "info") + ", " + make("u-2", "second, warning", "warning") + "]}");
    gateway g(remote_config(fake));
    test::http_client client(g.app.port());
    auto r = g.sign(client);
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    BOOST_TEST(r.body.find("\"summary\" :") == std::string::npos);  // not the service's spacing
    const auto body = json::parse(r.body);
    BOOST_TEST_REQUIRE(body.at("cards").as_array().size() == 2U);
    BOOST_TEST(body.at("cards").at(0).at("summary").as_string() == "second, warning");

    // max-cards 1 keeps the warning only.
    auto doc = sign_fixture();
    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"max-cards", 1}};
    auto one = client.request("POST", "/cds-services/order-sign-crd", json::serialize(doc));
    BOOST_TEST_REQUIRE(one.status == 200U, one.body);
    const auto kept = json::parse(one.body);
    BOOST_TEST_REQUIRE(kept.at("cards").as_array().size() == 1U);
    BOOST_TEST(kept.at("cards").at(0).at("summary").as_string() == "second, warning");
    BOOST_TEST(one.body.find("first, info") == std::string::npos);

    // In order and within max-cards: nothing changes, and the service's own bytes go.
    const std::string in_order = "{\"cards\" : [" + make("u-2", "second, warning", "warning") + ", " + make("u-1", "first, info", "info") + "]}";
    fake.set_body(in_order);
    auto relayed = g.sign(client);
    BOOST_TEST_REQUIRE(relayed.status == 200U, relayed.body);
    BOOST_TEST(relayed.body == in_order);
}

BOOST_AUTO_TEST_SUITE_END()
