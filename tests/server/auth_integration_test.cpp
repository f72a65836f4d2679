// Authentication over HTTP: which routes need a token, what a refusal looks like on the wire,
// and the SMART Backend Services flow end to end.

#include <crd/auth/jose.hpp>

#include "client_keys.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>

namespace json = boost::json;
using namespace crd;

namespace {

std::int64_t now_s()
{
    return test::unix_now();
}

const auth::signing_key& client_key()
{
    return test::client_key("ehr-key-1");
}

json::value secured_config(const test::temp_dir& dir, const std::string& base)
{
    return {
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 1}}},
        {"public_base_url", base},
        {"audit", {{"path", (dir / "audit.jsonl").string()}, {"fsync_ms", 20}}},
        {"auth", {{"required", true}, {"clients", json::array{json::object{
                                                      {"client_id", "ehr"},
                                                      {"jwks", json::object{{"keys", json::array{auth::public_jwk(client_key())}}}},
                                                      {"scope", "system/cds.hooks"},
                                                  }}}}},
    };
}

struct secured_server
{
    test::temp_dir dir{"crd-auth"};
    // The port is not known before binding; the audience names the public URL, so fix it.
    std::string base = "https://crd.example-payer.org";
    test::running_application app{secured_config(dir, base)};

    std::string hook_jwt(const std::string& path)
    {
        static int n = 0;
        const auto now = now_s();
        return auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"aud", base + path}, {"iat", now}, {"exp", now + 300},
                                                    {"jti", "j" + std::to_string(++n) + "-" + std::to_string(now)}});
    }
};

std::string sign_body()
{
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    return json::serialize(doc);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_over_http_)

BOOST_AUTO_TEST_CASE(hooks_need_a_token_discovery_health_and_metadata_do_not)
{
    secured_server s;
    test::http_client c(s.app.port());
    auto hook = c.request("POST", "/cds-services/order-sign-crd", sign_body());
    BOOST_TEST(hook.status == 401U);
    BOOST_TEST(hook.header("www-authenticate") == "Bearer");
    BOOST_TEST(json::parse(hook.body).at("resourceType").as_string() == "OperationOutcome");
    // Discovery is open by default (auth.protect_discovery: false): it holds no patient data.
    BOOST_TEST(c.request("GET", "/cds-services").status == 200U);
    BOOST_TEST(c.request("GET", "/health").status == 200U);
    BOOST_TEST(c.request("GET", "/ready").status == 200U);
    // Metrics live on the admin listener only: failure counts by reason would help a prober.
    BOOST_TEST(c.request("GET", "/metrics").status == 404U);
    test::http_client admin(s.app.admin_port());
    BOOST_TEST(admin.request("GET", "/metrics").status == 200U);
    BOOST_TEST(c.request("GET", "/.well-known/smart-configuration").status == 200U);

    // A bad token: invalid_token, and why in the server's own words, never the token's.
    const auto wrong_aud = s.hook_jwt("/cds-services/order-select-crd");
    auto bad = c.request(
        "POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + wrong_aud}});
    BOOST_TEST(bad.status == 401U);
    BOOST_TEST(bad.header("www-authenticate").rfind(R"(Bearer error="invalid_token", error_description=")", 0) == 0U);
    BOOST_TEST(bad.body.find("aud does not name this endpoint") != std::string::npos);
    BOOST_TEST(bad.body.find("order-select-crd") == std::string::npos);  // the token's claim is not echoed
    BOOST_TEST(bad.body.find(wrong_aud.substr(0, 20)) == std::string::npos);

    auto good = c.request("POST", "/cds-services/order-sign-crd", sign_body(),
        {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + s.hook_jwt("/cds-services/order-sign-crd")}});
    BOOST_TEST(good.status == 200U);
    auto discovery = c.request("GET", "/cds-services", "", {{"Authorization", "Bearer " + s.hook_jwt("/cds-services")}});
    BOOST_TEST(discovery.status == 200U);

    auto metrics = admin.request("GET", "/metrics").body;
    BOOST_TEST(discovery.status == 200U);
    BOOST_TEST(metrics.find("crd_auth_failures_total{reason=\"bad_audience\"} ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(smart_backend_services_token_then_a_hook_call_audited_without_the_token)
{
    secured_server s;
    test::http_client c(s.app.port());
    auto config = json::parse(c.request("GET", "/.well-known/smart-configuration").body);
    BOOST_TEST(config.at("token_endpoint").as_string() == s.base + "/auth/token");

    const auto now = now_s();
    const auto assertion = auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"sub", "ehr"}, {"aud", s.base + "/auth/token"},
                                                                {"exp", now + 240}, {"jti", "assertion-" + std::to_string(now)}});
    auto token = c.request("POST", "/auth/token",
        "grant_type=client_credentials&scope=system%2Fcds.hooks"
        "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" +
            assertion,
        {{"Content-Type", "application/x-www-form-urlencoded"}});
    BOOST_TEST_REQUIRE(token.status == 200U, token.body);
    BOOST_TEST(token.header("cache-control") == "no-store");
    const std::string access(json::parse(token.body).at("access_token").as_string());

    auto hook =
        c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + access}});
    BOOST_TEST(hook.status == 200U);
    auto refused = c.request("POST", "/auth/token", "grant_type=password", {{"Content-Type", "application/x-www-form-urlencoded"}});
    BOOST_TEST(refused.status == 400U);
    BOOST_TEST(json::parse(refused.body).at("error").as_string() == "unsupported_grant_type");

    s.app.stop();  // flushes the audit log
    std::ifstream in(s.dir / "audit.jsonl");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    BOOST_TEST(text.find(access) == std::string::npos);
    BOOST_TEST(text.find(assertion) == std::string::npos);
    BOOST_TEST(text.find("\"client\":\"ehr\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(discovery_can_still_be_protected)
{
    test::running_application app(json::value{
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 1}}},
        {"auth", {{"required", true}, {"protect_discovery", true},
                     {"clients", json::array{json::object{
                                     {"client_id", "ehr"}, {"jwks", json::object{{"keys", json::array{auth::public_jwk(client_key())}}}}}}}}},
    });
    test::http_client c(app.port());
    BOOST_TEST(c.request("GET", "/cds-services").status == 401U);
}

BOOST_AUTO_TEST_SUITE_END()
