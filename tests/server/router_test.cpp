#include <crd/decision/crd_service.hpp>
#include <crd/decision/rules_engine.hpp>
#include <crd/server/router.hpp>

#include "fixtures.hpp"
#include "router_calls.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <stdexcept>

namespace json = boost::json;
using namespace crd;
using namespace crd::server;

namespace {

using test::diagnostics;
using test::header;

// A handler that fails the way a bug would.
class throwing_handler final : public core::hook_handler
{
public:
    const core::service_definition& service() const noexcept override { return *core::find_service("order-select-crd"); }
    json::object discovery() const override { return {{"id", "order-select-crd"}}; }
    net::awaitable<core::api_response> handle(core::document_ptr, core::request_context) override
    {
        throw std::runtime_error("secret internal detail");
        co_return core::api_response{};
    }
};

struct router_fixture
{
    decision::rules_engine engine{decision::load_rules(std::string(CRD_SOURCE_DIR) + "/etc/rules.json")};
    core::hook_registry registry;
    std::optional<router> routes;

    explicit router_fixture(std::vector<std::string> origins = {"*"})
    {
        registry.add(std::make_unique<decision::crd_service>(*core::find_service("order-sign-crd"), engine, std::chrono::seconds(4)));
        registry.add(std::make_unique<throwing_handler>());
        routes.emplace(registry, router_settings{std::move(origins), 64});
    }

    http_response send(std::string_view method, std::string_view target, std::string_view body = {},
        std::string_view content_type = "application/json", std::string_view origin = {})
    {
        return test::dispatch(*routes, method, target, body, content_type, origin);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(router_)

BOOST_AUTO_TEST_CASE(a_number_beyond_double_range_is_refused_naming_its_path)
{
    // Boost.JSON 1.81 reads 1e400 as inf and 0e400... as NaN; echoed they were not JSON.
    router_fixture f;
    auto doc = test::load_fixture("crd-order-sign-5.json");
    auto body = json::serialize(doc);
    const auto at = body.find("\"hookInstance\"");
    body.insert(at, R"("measure": {"values": [1, 1e400]}, )");
    auto r = f.send("POST", "/cds-services/order-sign-crd", body);
    BOOST_TEST(r.status == 400U);
    BOOST_TEST(diagnostics(r).find("measure.values[1]") != std::string::npos);
    BOOST_TEST(r.body.find("Infinity") == std::string::npos);
    body = json::serialize(doc);
    body.insert(body.find("\"hookInstance\""), R"("x": 0e400, )");
    // 0 in JSON's grammar, but Boost.JSON 1.81 reads it as NaN: refused rather than guessed at.
    BOOST_TEST(f.send("POST", "/cds-services/order-sign-crd", body).status == 400U);
    body = json::serialize(doc);
    body.insert(body.find("\"hookInstance\""), R"("x": -1e999, )");
    BOOST_TEST(f.send("POST", "/cds-services/order-sign-crd", body).status == 400U);
}

BOOST_AUTO_TEST_CASE(refusals_quote_only_a_short_prefix_of_what_was_sent)
{
    router_fixture f;
    const std::string type = "text/" + std::string(10'000, 'p') + "\x1b[31m";
    auto r = f.send("POST", "/cds-services/order-sign-crd", "{}", type);
    BOOST_TEST(r.status == 415U);
    BOOST_TEST(r.body.size() < 1'000U);
    BOOST_TEST(r.body.find('\x1b') == std::string::npos);
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["hook"] = std::string(100'000, 'h');
    auto hook = f.send("POST", "/cds-services/order-sign-crd", json::serialize(doc));
    BOOST_TEST(hook.status == 422U);
    BOOST_TEST(hook.body.size() < 2'000U);
}

BOOST_AUTO_TEST_CASE(metrics_and_ready_detail_are_on_the_admin_surface_only)
{
    router_fixture f;
    BOOST_TEST(f.send("GET", "/metrics").status == 404U);
    router_settings admin_settings{{"*"}, 64};
    admin_settings.surface = surface::admin;
    router admin(f.registry, admin_settings);
    BOOST_TEST(test::dispatch(admin, "GET", "/metrics", {}, {}).status == 200U);
    BOOST_TEST(test::dispatch(admin, "POST", "/cds-services/order-sign-crd", "{}").status == 404U);
    BOOST_TEST(test::dispatch(admin, "GET", "/health", {}, {}).status == 200U);
}

BOOST_AUTO_TEST_CASE(health_and_discovery)
{
    router_fixture f;
    auto health = f.send("GET", "/health");
    BOOST_TEST(health.status == 200U);
    BOOST_TEST(json::parse(health.body).at("status").as_string() == "ok");

    auto discovery = f.send("GET", "/cds-services");
    BOOST_TEST(discovery.status == 200U);
    BOOST_TEST(discovery.content_type == "application/json");
    BOOST_TEST(json::parse(discovery.body).at("services").as_array().size() == 2U);
    BOOST_TEST(f.send("GET", "/cds-services/").status == 200U);
    BOOST_TEST(f.send("GET", "/cds-services?x=1").status == 200U);
}

BOOST_AUTO_TEST_CASE(unknown_paths_and_services_are_404_with_an_operation_outcome)
{
    router_fixture f;
    for (const char* target : {"/", "/cds-servicesX", "/cds", "/cds-services/order-sign-crd/extra/more", "/cds-services/nope"})
    {
        BOOST_TEST_CONTEXT(target)
        {
            auto r = f.send("POST", target, "{}");
            BOOST_TEST(r.status == 404U);
            BOOST_TEST(json::parse(r.body).at("resourceType").as_string() == "OperationOutcome");
        }
    }
    // A service the configuration did not enable is simply not there.
    BOOST_TEST(diagnostics(f.send("POST", "/cds-services/appointment-book-crd", "{}")).find("appointment-book-crd") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_methods_are_405_with_allow)
{
    router_fixture f;
    auto r = f.send("GET", "/cds-services/order-sign-crd");
    BOOST_TEST(r.status == 405U);
    BOOST_TEST(header(r, "Allow") == "POST, OPTIONS");
    auto d = f.send("POST", "/cds-services", "{}");
    BOOST_TEST(d.status == 405U);
    BOOST_TEST(header(d, "Allow") == "GET, HEAD, OPTIONS");
    BOOST_TEST(f.send("DELETE", "/health").status == 405U);
}

BOOST_AUTO_TEST_CASE(content_type_must_be_json)
{
    router_fixture f;
    const auto body = test::read_file(test::fixture_path("crd-order-sign-5.json"));
    BOOST_TEST(f.send("POST", "/cds-services/order-sign-crd", body, "text/plain").status == 415U);
    auto missing = f.send("POST", "/cds-services/order-sign-crd", body, "");
    BOOST_TEST(missing.status == 415U);
    BOOST_TEST(diagnostics(missing).find("Content-Type") != std::string::npos);
    BOOST_TEST(f.send("POST", "/cds-services/order-sign-crd", body, "application/json; charset=utf-8").status == 200U);
    BOOST_TEST(f.send("POST", "/cds-services/order-sign-crd", body, "Application/FHIR+JSON").status == 200U);
    BOOST_TEST(!is_json_media_type("application/jsonx"));
    BOOST_TEST(!is_json_media_type("application/+json"));
    BOOST_TEST(!is_json_media_type("text/json"));
}

BOOST_AUTO_TEST_CASE(bad_json_is_400_and_bad_cds_hooks_is_422)
{
    router_fixture f;
    for (const char* body : {"{", "", "not json", "{\"a\":1} trailing", "{\"a\":}"})
    {
        BOOST_TEST_CONTEXT(body)
        {
            auto r = f.send("POST", "/cds-services/order-sign-crd", body);
            BOOST_TEST(r.status == 400U);
            BOOST_TEST(diagnostics(r).find("not valid JSON") != std::string::npos);
        }
    }
    // Nesting deeper than any FHIR resource needs is refused before it can exhaust the stack.
    std::string deep(100, '[');
    deep += std::string(100, ']');
    BOOST_TEST(f.send("POST", "/cds-services/order-sign-crd", deep).status == 400U);

    auto r = f.send("POST", "/cds-services/order-sign-crd", R"({"hookInstance": "x", "context": {}})");
    BOOST_TEST(r.status == 422U);
    BOOST_TEST(diagnostics(r) == "hook is required");
}

BOOST_AUTO_TEST_CASE(a_handler_exception_is_a_generic_500)
{
    router_fixture f;
    auto r = f.send("POST", "/cds-services/order-select-crd", "{}");
    BOOST_TEST(r.status == 500U);
    BOOST_TEST(r.body.find("secret") == std::string::npos);
    // The router still serves afterwards.
    BOOST_TEST(f.send("GET", "/health").status == 200U);
}

BOOST_AUTO_TEST_CASE(cors_preflight_and_responses)
{
    router_fixture open;
    auto pre = open.send("OPTIONS", "/cds-services/order-sign-crd", {}, {}, "https://ehr.example.org");
    BOOST_TEST(pre.status == 204U);
    BOOST_TEST(pre.body.empty());
    BOOST_TEST(header(pre, "Access-Control-Allow-Origin") == "*");
    BOOST_TEST(header(pre, "Access-Control-Allow-Methods") == "GET, POST, OPTIONS");
    BOOST_TEST(header(pre, "Access-Control-Allow-Headers") == "Authorization, Content-Type");
    BOOST_TEST(header(open.send("GET", "/cds-services", {}, {}, "https://ehr.example.org"), "Access-Control-Allow-Origin") == "*");
    BOOST_TEST(header(open.send("GET", "/cds-services"), "Access-Control-Allow-Origin").empty());  // no Origin, no CORS

    router_fixture strict({"https://ehr.example.org"});
    auto allowed = strict.send("OPTIONS", "/cds-services", {}, {}, "https://EHR.example.org");
    BOOST_TEST(allowed.status == 204U);
    BOOST_TEST(header(allowed, "Access-Control-Allow-Origin") == "https://EHR.example.org");
    BOOST_TEST(header(allowed, "Vary") == "Origin");
    auto refused = strict.send("OPTIONS", "/cds-services/order-sign-crd", {}, {}, "https://evil.example");
    BOOST_TEST(refused.status == 403U);
    BOOST_TEST(header(refused, "Access-Control-Allow-Origin").empty());
    BOOST_TEST(header(strict.send("GET", "/cds-services", {}, {}, "https://evil.example"), "Access-Control-Allow-Origin").empty());
}

BOOST_AUTO_TEST_SUITE_END()
