// Reloads (SIGHUP, daily from logrotate) while EHRs call: what a generation owns ends with it,
// what outlives generations (the replay cache) does.

#include <crd/auth/jose.hpp>

#include "fake_decision_service.hpp"
#include "client_keys.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace crd;
using namespace std::chrono_literals;

namespace {

std::int64_t now_s()
{
    return test::unix_now();
}

const auth::signing_key& client_key()
{
    return test::client_key("reload-key-1");
}

// crd-server with one client whose keys are fetched from a JWKS URL, refreshed every second.
struct reloading_server
{
    test::fake_decision_service jwks;  // serves the client's JWK Set
    test::temp_dir dir{"crd-reload"};
    fs::path config_path = dir / "crd-server.json";
    std::string base = "https://crd.example-payer.org";
    test::running_application app{test::config_from_file(publish_keys_and_write_config())};

    // The key host serves the client's key; the configuration file (what a reload reads) names it.
    std::string publish_keys_and_write_config()
    {
        jwks.set_body(json::serialize(json::object{{"keys", json::array{auth::public_jwk(client_key())}}}));
        const json::value doc = {
            {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 1}}},
            {"admin", {{"port", 0}}},
            {"public_base_url", base},
            {"log", {{"level", "warning"}}},
            {"decision", {{"rules", std::string(CRD_SOURCE_DIR) + "/etc/rules.json"}}},
            {"auth", {{"required", true}, {"jwks_refresh_ms", 1000},
                         {"clients", json::array{json::object{{"client_id", "ehr"}, {"jwks_url", jwks.url("/jwks.json")}}}}}},
        };
        std::ofstream(config_path) << json::serialize(doc);
        return config_path.string();
    }

    bool reload() { return app.reload(config_path.string()); }

    std::string token()
    {
        static std::atomic<int> n{0};
        const auto now = now_s();
        return "Bearer " + auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"aud", base + "/cds-services/order-sign-crd"}, {"iat", now},
                                                                {"exp", now + 300}, {"jti", "r" + std::to_string(++n) + "-" + std::to_string(now)}});
    }
};

std::string sign_body()
{
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    return json::serialize(doc);
}

unsigned call(test::http_client& c, const std::string& authorization)
{
    return c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", authorization}})
        .status;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reload_)

BOOST_AUTO_TEST_CASE(a_token_used_before_a_reload_is_a_replay_after_it)
{
    reloading_server s;
    test::http_client c(s.app.port());
    const auto token = s.token();
    BOOST_TEST(call(c, token) == 200U);
    BOOST_TEST_REQUIRE(s.reload());
    BOOST_TEST(call(c, token) == 401U);  // each reload used to forget every jti seen
    BOOST_TEST(call(c, s.token()) == 200U);
}

BOOST_AUTO_TEST_CASE(three_reloads_under_load_past_the_refresh_interval_lose_nothing)
{
    // The old generation's JWKS refresh loops captured the authenticator a reload replaced and
    // woke on freed memory one interval later (ASan: heap-use-after-free). Now each generation's
    // loops are ended and joined by the reload. Calls run throughout; every one is answered 200.
    reloading_server s;
    std::atomic<bool> done{false};
    std::atomic<unsigned> ok{0}, failed{0};
    std::thread caller([&] {
        test::http_client c(s.app.port());
        while (!done)
        {
            (call(c, s.token()) == 200U ? ok : failed) += 1;
            std::this_thread::sleep_for(20ms);
        }
    });
    for (int i = 0; i < 3; ++i)
    {
        std::this_thread::sleep_for(1200ms);  // past the 1 s refresh of the generation in force
        BOOST_TEST(s.reload());
    }
    std::this_thread::sleep_for(1500ms);  // the replaced generations' loops would wake in here
    done = true;
    caller.join();
    BOOST_TEST(failed.load() == 0U);
    BOOST_TEST(ok.load() > 20U);
    BOOST_TEST(s.jwks.requests() >= 4U);  // each generation fetched the keys it verifies with
}

BOOST_AUTO_TEST_SUITE_END()
