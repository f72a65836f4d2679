// Every route of both listeners, every method, over the real router and service registry of a
// default configuration: which methods answer, which get 405 and with what Allow, which paths are
// 404 and why, and the metrics route label each request is counted under. The contract the
// route table must keep (issue #13).

#include <crd/auth/authenticator.hpp>
#include <crd/auth/jose.hpp>
#include <crd/core/hooks.hpp>
#include <crd/decision/crd_service.hpp>
#include <crd/decision/rules_engine.hpp>
#include <crd/server/router.hpp>

#include "client_keys.hpp"
#include "fixtures.hpp"
#include "router_calls.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace crd::server;

namespace {

constexpr std::array<std::string_view, 7> every_method{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

// What application.cpp gives its two routers, from the same configuration.
router_settings settings_for(const core::config& cfg, const core::decision_service& decision, const auth::authenticator_slot* authn, surface on)
{
    router_settings s;
    s.cors_allowed_origins = cfg.cors_allowed_origins;
    s.decision = &decision;
    s.auth = cfg.auth.required ? authn : nullptr;
    s.protect_discovery = cfg.auth.protect_discovery;
    s.terse_auth_errors = cfg.auth.terse_errors;
    s.required_headers = cfg.requests.required_headers;
    s.forward_headers = cfg.decision.forward_headers;
    s.surface = on;
    return s;
}

// The public and the admin router of one configuration.
struct listeners
{
    core::config cfg;
    decision::rules_engine engine{decision::load_rules(cfg.decision.rules_path)};
    core::hook_registry registry{decision::make_registry(cfg, engine)};
    auth::authenticator_slot authn{cfg.auth.required ? std::make_shared<auth::authenticator>(cfg) : nullptr};
    router public_api{registry, settings_for(cfg, engine, &authn, surface::public_api)};
    router admin{registry, settings_for(cfg, engine, &authn, surface::admin)};

    explicit listeners(core::config c) : cfg(std::move(c)) {}

    const router& on(surface which) const { return which == surface::admin ? admin : public_api; }

    // crd_http_requests_total{route, status} as the admin listener's /metrics shows it.
    double requests_total(std::string_view route, unsigned status) const
    {
        const auto text = "\n" + test::dispatch(admin, "GET", "/metrics", {}, {}).body;
        const auto series = "\ncrd_http_requests_total{route=\"" + std::string(route) + "\",status=\"" + std::to_string(status) + "\"} ";
        const auto at = text.find(series);
        return at == std::string::npos ? 0.0 : std::stod(text.substr(at + series.size()));
    }

    // Sends one request and checks its status and the route label it was counted under.
    http_response expect(
        surface which, std::string_view method, std::string_view target, unsigned status, std::string_view label, std::string_view body = {}) const
    {
        const auto before = requests_total(label, status);
        auto response = test::dispatch(on(which), method, target, body, "application/json", "https://ehr.example.org");
        // The scrape that read `before` is itself counted, as a GET of /metrics.
        const double scrapes = label == "metrics" && status == 200U ? 1.0 : 0.0;
        BOOST_TEST_CONTEXT(method << " " << target)
        {
            BOOST_TEST_INFO("body: " << response.body);
            BOOST_TEST(response.status == status);
            BOOST_TEST_INFO("counted under another route label than " << label);
            BOOST_TEST(requests_total(label, status) - before == 1.0 + scrapes);
        }
        return response;
    }
};

// Authentication on, with discovery protected: one registered client, inline keys.
core::config secured_config()
{
    auto no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
    json::value doc = {
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 1}}},
        {"public_base_url", "https://crd.example-payer.org"},
        {"auth", {{"required", true}, {"protect_discovery", true},
                     {"clients",
                         json::array{json::object{
                             {"client_id", "ehr"},
                             {"jwks", json::object{{"keys", json::array{auth::public_jwk(auth::generate_signing_key(auth::key_family::ec_p384))}}}},
                             {"scope", "system/cds.hooks"},
                         }}}}},
    };
    return core::parse_config(doc, "", no_env, std::string(CRD_SOURCE_DIR) + "/etc/rules.json");
}

using test::diagnostics;
using test::header;

std::string issue_code(const http_response& r)
{
    return std::string(json::parse(r.body).at("issue").at(0).at("code").as_string());
}

// A whole request body for the service, from the public CRD examples.
std::string hook_body(std::string_view service_id)
{
    for (const auto& name : test::request_fixture_names())
    {
        auto doc = test::load_fixture(name);
        if (test::service_id_for(doc) == service_id)
            return json::serialize(doc);
    }
    throw std::runtime_error("no example request for " + std::string(service_id));
}

std::string feedback_body()
{
    return R"({"feedback": [{"card": "9368d37b-283f-44a0-93ea-547cebab93ed", "outcome": "accepted",
        "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}], "outcomeTimestamp": "2026-11-22T10:15:30Z"}]})";
}

// One route as a caller sees it: the methods that answer (and with what), the Allow header every
// other method gets with its 405, and the label the request is counted under.
struct route_spec
{
    std::string target;
    std::vector<std::pair<std::string_view, unsigned>> answers;
    std::string allow;
    std::string label;  // crd_http_requests_total's route label
    std::string body = {};
};

void check_route(const listeners& l, surface which, const route_spec& spec)
{
    for (const auto method : every_method)
    {
        BOOST_TEST_CONTEXT(method << " " << spec.target)
        {
            const auto answer = std::find_if(spec.answers.begin(), spec.answers.end(), [&](const auto& a) { return a.first == method; });
            if (answer != spec.answers.end())
            {
                // A CORS preflight is counted as one, whichever route it asked about.
                const std::string label = method == "OPTIONS" ? "preflight" : spec.label;
                auto response = l.expect(which, method, spec.target, answer->second, label, spec.body);
                if (method == "OPTIONS" && answer->second == 204U)
                {
                    BOOST_TEST(header(response, "Allow") == spec.allow);
                    BOOST_TEST(header(response, "Access-Control-Allow-Methods") == "GET, POST, OPTIONS");
                    BOOST_TEST(header(response, "Access-Control-Allow-Headers") == "Authorization, Content-Type");
                    BOOST_TEST(header(response, "Access-Control-Max-Age") == "600");
                }
                continue;
            }
            auto refused = l.expect(which, method, spec.target, 405U, spec.label, spec.body);
            BOOST_TEST(header(refused, "Allow") == spec.allow);
            const auto path = spec.target.substr(0, spec.target.find('?'));
            BOOST_TEST(diagnostics(refused) == "method " + std::string(method) + " is not allowed on " + path);
            BOOST_TEST(issue_code(refused) == "not-supported");
            BOOST_TEST(header(refused, "Access-Control-Allow-Origin") == "*");  // CORS on refusals too
        }
    }
}

// Every method on `target` is 404 with `why`, counted under `label`.
void check_absent(const listeners& l, surface which, std::string_view target, const std::string& why, std::string_view label = "other")
{
    for (const auto method : every_method)
    {
        BOOST_TEST_CONTEXT(method << " " << target)
        {
            auto response = l.expect(which, method, target, 404U, label, "{}");
            BOOST_TEST(diagnostics(response) == why);
            BOOST_TEST(issue_code(response) == "not-found");
            BOOST_TEST(header(response, "Allow").empty());
        }
    }
}

const std::string admin_only = "the admin listener serves /health, /ready and /metrics only";
const std::string auth_disabled = "authentication is not enabled on this server";

std::string no_resource(std::string_view path)
{
    return "no resource at " + std::string(path);
}

std::string no_service(std::string_view id)
{
    return "no CDS service '" + std::string(id) + "' is offered here";
}

// Paths under /cds-services that match no route.
const std::vector<std::string_view> malformed_service_paths{"/cds-services/order-sign-crd/extra/more", "/cds-services//feedback",
    "/cds-services/order-sign-crd/feedback/", "/cds-services/order-sign-crd/feedbackx", "/cds-services/a/b"};

}  // namespace

BOOST_AUTO_TEST_SUITE(route_table_)

BOOST_AUTO_TEST_CASE(public_surface_routes_answer_their_methods_and_405_the_rest)
{
    listeners l(test::test_config());
    check_route(l, surface::public_api, {"/health", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "health"});
    check_route(l, surface::public_api, {"/ready", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "ready"});
    check_route(l, surface::public_api, {"/ready?detail=1", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "ready"});
    for (const char* discovery : {"/cds-services", "/cds-services/"})
        check_route(l, surface::public_api, {discovery, {{"GET", 200}, {"HEAD", 200}, {"OPTIONS", 204}}, "GET, HEAD, OPTIONS", "discovery"});
    for (const auto& service : core::service_catalog())
    {
        check_route(l, surface::public_api,
            {"/cds-services/" + std::string(service.id), {{"POST", 200}, {"OPTIONS", 204}}, "POST, OPTIONS", std::string(service.id),
                hook_body(service.id)});
        check_route(l, surface::public_api,
            {"/cds-services/" + std::string(service.id) + "/feedback", {{"POST", 200}, {"OPTIONS", 204}}, "POST, OPTIONS", "feedback",
                feedback_body()});
    }
}

BOOST_AUTO_TEST_CASE(admin_surface_routes_answer_their_methods_and_405_the_rest)
{
    listeners l(test::test_config());
    check_route(l, surface::admin, {"/health", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "health"});
    check_route(l, surface::admin, {"/ready", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "ready"});
    check_route(l, surface::admin, {"/metrics", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "metrics"});
}

BOOST_AUTO_TEST_CASE(unknown_paths_are_404_on_both_surfaces)
{
    listeners l(test::test_config());
    for (const char* path : {"/", "/nope", "/health/", "/HEALTH", "/ready/x", "/cds-servicesX", "/cds", "/metrics/"})
    {
        check_absent(l, surface::public_api, path, no_resource(path));
        check_absent(l, surface::admin, path, admin_only);
    }
    // Unknown and disabled service ids: named, whatever the method but a CORS preflight, which
    // is answered for the route's shape so that a browser app gets to read the 404 of its call.
    for (const char* id : {"nope", "feedback"})
    {
        BOOST_TEST_CONTEXT(id)
        {
            for (const auto method : every_method)
            {
                if (method == "OPTIONS")
                {
                    l.expect(surface::public_api, method, "/cds-services/" + std::string(id), 204U, "preflight");
                    l.expect(surface::public_api, method, "/cds-services/" + std::string(id) + "/feedback", 204U, "preflight");
                    continue;
                }
                BOOST_TEST(diagnostics(l.expect(surface::public_api, method, "/cds-services/" + std::string(id), 404U, "other")) == no_service(id));
                BOOST_TEST(diagnostics(l.expect(surface::public_api, method, "/cds-services/" + std::string(id) + "/feedback", 404U, "feedback")) ==
                           no_service(id));
            }
        }
    }
    // Under /cds-services too, a path that matches no route is no resource, preflight or not.
    for (const auto path : malformed_service_paths)
    {
        check_absent(l, surface::public_api, path, no_resource(path));
        check_absent(l, surface::admin, path, admin_only);
    }
}

BOOST_AUTO_TEST_CASE(admin_only_paths_are_404_on_the_public_surface_and_public_paths_on_the_admin_surface)
{
    listeners l(test::test_config());
    check_absent(l, surface::public_api, "/metrics", no_resource("/metrics"));
    check_absent(l, surface::public_api, "/metrics?x=1", no_resource("/metrics"));
    for (const std::string path : {"/cds-services", "/cds-services/", "/cds-services/order-sign-crd", "/cds-services/order-sign-crd/feedback",
             "/.well-known/smart-configuration", "/auth/token"})
        check_absent(l, surface::admin, path, admin_only);
    // The SMART endpoints exist only with authentication on; the request still counts as theirs.
    check_absent(l, surface::public_api, "/.well-known/smart-configuration", auth_disabled, "smart-configuration");
    check_absent(l, surface::public_api, "/auth/token", auth_disabled, "token");
}

BOOST_AUTO_TEST_CASE(with_authentication_on_the_smart_endpoints_exist_and_a_wrong_method_is_405_before_401)
{
    listeners l(secured_config());
    check_route(l, surface::public_api, {"/.well-known/smart-configuration", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "smart-configuration"});
    // An empty form is the token endpoint's own 400 (invalid_request), not the router's.
    check_route(l, surface::public_api, {"/auth/token", {{"POST", 400}}, "POST", "token"});
    // No token: the routes that need one answer 401, but only to a method they take.
    check_route(l, surface::public_api, {"/cds-services", {{"GET", 401}, {"HEAD", 401}, {"OPTIONS", 204}}, "GET, HEAD, OPTIONS", "discovery"});
    check_route(l, surface::public_api,
        {"/cds-services/order-sign-crd", {{"POST", 401}, {"OPTIONS", 204}}, "POST, OPTIONS", "order-sign-crd", hook_body("order-sign-crd")});
    check_route(l, surface::public_api,
        {"/cds-services/order-sign-crd/feedback", {{"POST", 401}, {"OPTIONS", 204}}, "POST, OPTIONS", "feedback", feedback_body()});
    check_route(l, surface::public_api, {"/health", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "health"});
    check_absent(l, surface::public_api, "/metrics", no_resource("/metrics"));
    for (const char* path : {"/.well-known/smart-configuration", "/auth/token", "/cds-services"})
        check_absent(l, surface::admin, path, admin_only);
    check_route(l, surface::admin, {"/metrics", {{"GET", 200}, {"HEAD", 200}}, "GET, HEAD", "metrics"});
}

// Issue #13: discovery answered GET only (405 to HEAD, Allow: GET, OPTIONS) where every other GET
// route takes HEAD; a load balancer or uptime check probing it with HEAD saw a 405.
BOOST_AUTO_TEST_CASE(discovery_takes_head_like_every_get_route)
{
    listeners l(test::test_config());
    const auto get = l.expect(surface::public_api, "GET", "/cds-services", 200U, "discovery");
    const auto head = l.expect(surface::public_api, "HEAD", "/cds-services", 200U, "discovery");
    BOOST_TEST(head.body.size() == get.body.size());  // the listener sends the header only, Content-Length as for GET
    BOOST_TEST(head.content_type == get.content_type);
    BOOST_TEST(header(l.expect(surface::public_api, "DELETE", "/cds-services", 405U, "discovery"), "Allow") == "GET, HEAD, OPTIONS");
    BOOST_TEST(header(l.expect(surface::public_api, "OPTIONS", "/cds-services", 204U, "preflight"), "Allow") == "GET, HEAD, OPTIONS");
}

// Issue #13: OPTIONS on a path under /cds-services that is no route (/cds-services/a/b) was
// answered 204 as a hook's preflight, while every other method there was 404. A preflight for a
// route's shape with an unknown id is still answered, so that a browser app reads its call's 404.
BOOST_AUTO_TEST_CASE(a_preflight_for_a_path_that_is_no_route_is_404)
{
    listeners l(test::test_config());
    const auto refused = l.expect(surface::public_api, "OPTIONS", "/cds-services/order-sign-crd/extra", 404U, "other");
    BOOST_TEST(diagnostics(refused) == no_resource("/cds-services/order-sign-crd/extra"));
    BOOST_TEST(header(refused, "Access-Control-Allow-Methods").empty());
    BOOST_TEST(header(refused, "Allow").empty());
    const auto unknown_id = l.expect(surface::public_api, "OPTIONS", "/cds-services/nope", 204U, "preflight");
    BOOST_TEST(header(unknown_id, "Allow") == "POST, OPTIONS");
    BOOST_TEST(diagnostics(l.expect(surface::public_api, "POST", "/cds-services/nope", 404U, "other")) == no_service("nope"));
}

BOOST_AUTO_TEST_SUITE_END()
