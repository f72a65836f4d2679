// Two crd-server instances (in-process applications, as behind a balancer) sharing one real
// redis-server on a loopback port of the test's own: a client JWT used on one is refused on the
// other; Redis killed mid-run gives the configured policy (fail_closed: 503 with Retry-After and
// /ready 503; local: accepted) and recovers without restarting anything; a reload keeps the
// shared cache.

#include <crd/auth/jose.hpp>

#include "client_keys.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "redis_server.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

namespace json = boost::json;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;
using namespace crd;

namespace {

const std::string base = "https://crd.example-payer.org";  // both instances: one public name
const std::string hook_path = "/cds-services/order-sign-crd";

const auth::signing_key& client_key()
{
    return test::client_key("scaleout-key-1");
}

std::string fresh_token()
{
    static std::atomic<int> n{0};
    const auto now = test::unix_now();
    return "Bearer " + auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"aud", base + hook_path}, {"iat", now}, {"exp", now + 300},
                                                            {"jti", "s" + std::to_string(++n) + "-" + std::to_string(now)}});
}

json::value instance_config(const test::redis_server& redis, const std::string& on_unavailable)
{
    return {
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 2}}},
        {"admin", {{"port", 0}}},
        {"public_base_url", base},
        {"log", {{"level", "warning"}}},
        {"decision", {{"rules", std::string(CRD_SOURCE_DIR) + "/etc/rules.json"}}},
        {"auth", {{"required", true},
                     {"clients", json::array{json::object{{"client_id", "ehr"}, {"jwks", {{"keys", json::array{auth::public_jwk(client_key())}}}}}}},
                     {"replay_cache", {{"redis", redis.url(1)}, {"prefix", "crd:jti:"}, {"timeout_ms", 200}, {"on_unavailable", on_unavailable}}}}},
    };
}

std::string sign_body()
{
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    return json::serialize(doc);
}

test::http_result call(std::uint16_t port, const std::string& authorization)
{
    test::http_client c(port);
    return c.request("POST", hook_path, sign_body(), {{"Content-Type", "application/json"}, {"Authorization", authorization}});
}

unsigned ready_status(std::uint16_t port)
{
    test::http_client c(port);
    return c.request("GET", "/ready").status;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds within = std::chrono::seconds(10))
{
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end)
    {
        if (condition())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

std::string metrics_of(std::uint16_t admin_port)
{
    test::http_client c(admin_port);
    return c.request("GET", "/metrics").body;
}

// Two instances sharing one Redis (database 1), both connected.
struct two_instances
{
    explicit two_instances(const std::string& policy = "fail_closed") : policy_name(policy) {}

    std::string policy_name;
    test::redis_server redis;
    test::temp_dir dir{"crd-scaleout"};
    fs::path config_path = write_config();
    test::running_application a{test::config_from_file(config_path.string())};
    test::running_application b{test::config_from_file(config_path.string())};
    bool connected = eventually([&] { return ready_status(a.port()) == 200U && ready_status(b.port()) == 200U; });

    fs::path write_config()
    {
        auto path = dir / "crd-server.json";
        std::ofstream(path) << json::serialize(instance_config(redis, policy_name));
        return path;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_replay_cache_, *utf::precondition(test::redis_server_present))

BOOST_AUTO_TEST_CASE(a_client_jwt_used_on_one_instance_is_refused_on_the_other)
{
    two_instances s;
    BOOST_REQUIRE(s.connected);
    const auto token = fresh_token();
    BOOST_TEST(call(s.a.port(), token).status == 200U);
    const auto replay = call(s.b.port(), token);
    BOOST_TEST(replay.status == 401U);
    BOOST_TEST(replay.body.find("jti was used before") != std::string::npos);
    BOOST_TEST(call(s.a.port(), token).status == 401U);
    // A fresh token is fine on either.
    BOOST_TEST(call(s.b.port(), fresh_token()).status == 200U);
    BOOST_TEST(s.redis.command("SELECT 1") == "+OK");  // the configured database holds the keys
    const auto metrics = metrics_of(s.b.admin_port());
    BOOST_TEST(metrics.find("crd_replay_cache_mode 1") != std::string::npos);
    BOOST_TEST(metrics.find("crd_replay_redis_seconds_count") != std::string::npos);
    BOOST_TEST(metrics.find("crd_auth_failures_total{reason=\"replayed\"}") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(redis_killed_fail_closed_answers_503_with_retry_after_and_not_ready_then_recovers)
{
    two_instances s;
    BOOST_REQUIRE(s.connected);
    BOOST_TEST(call(s.a.port(), fresh_token()).status == 200U);

    s.redis.kill();
    BOOST_REQUIRE(eventually([&] { return ready_status(s.a.port()) == 503U && ready_status(s.b.port()) == 503U; }));
    const auto refused = call(s.a.port(), fresh_token());
    BOOST_TEST(refused.status == 503U);
    BOOST_TEST(refused.header("retry-after") == "1");
    BOOST_TEST(refused.body.find("replay check is unavailable") != std::string::npos);
    // The admin /ready says why; the public one does not name the Redis host.
    test::http_client admin(s.a.admin_port());
    BOOST_TEST(admin.request("GET", "/ready").body.find("Redis at 127.0.0.1") != std::string::npos);
    const auto metrics = metrics_of(s.a.admin_port());
    BOOST_TEST(metrics.find("crd_replay_cache_mode 3") != std::string::npos);
    BOOST_TEST(metrics.find("crd_auth_failures_total{reason=\"replay_unavailable\"}") != std::string::npos);

    s.redis.restart();
    BOOST_REQUIRE(eventually([&] { return ready_status(s.a.port()) == 200U && ready_status(s.b.port()) == 200U; }));
    const auto token = fresh_token();
    BOOST_TEST(call(s.b.port(), token).status == 200U);
    BOOST_TEST(call(s.a.port(), token).status == 401U);  // shared again
}

BOOST_AUTO_TEST_CASE(redis_killed_local_accepts_from_this_process_cache_and_recovers)
{
    two_instances s("local");
    BOOST_REQUIRE(s.connected);
    s.redis.kill();
    // Still ready: it answers, from its own cache.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    BOOST_TEST(ready_status(s.a.port()) == 200U);
    const auto token = fresh_token();
    BOOST_TEST(call(s.a.port(), token).status == 200U);
    BOOST_TEST(call(s.a.port(), token).status == 401U);  // a replay to the same instance is still seen
    const auto metrics = metrics_of(s.a.admin_port());
    BOOST_TEST(metrics.find("crd_replay_cache_mode 2") != std::string::npos);
    BOOST_TEST(metrics.find("crd_replay_local_fallbacks_total 0") == std::string::npos);

    s.redis.restart();
    BOOST_REQUIRE(eventually([&] { return metrics_of(s.a.admin_port()).find("crd_replay_cache_mode 1") != std::string::npos; }));
    const auto after = fresh_token();
    BOOST_TEST(call(s.a.port(), after).status == 200U);
    BOOST_TEST(call(s.b.port(), after).status == 401U);
}

BOOST_AUTO_TEST_CASE(a_reload_keeps_the_shared_cache)
{
    two_instances s;
    BOOST_REQUIRE(s.connected);
    const auto token = fresh_token();
    BOOST_TEST(call(s.a.port(), token).status == 200U);
    BOOST_TEST_REQUIRE(s.a.reload(s.config_path.string()));
    BOOST_TEST(ready_status(s.a.port()) == 200U);
    BOOST_TEST(call(s.a.port(), token).status == 401U);
    BOOST_TEST(call(s.b.port(), token).status == 401U);
    const auto next = fresh_token();
    BOOST_TEST(call(s.a.port(), next).status == 200U);  // the reloaded generation claims in Redis
    BOOST_TEST(call(s.b.port(), next).status == 401U);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

std::string fingerprint_of(std::uint16_t admin_port)
{
    test::http_client c(admin_port);
    const auto ready = c.request("GET", "/ready");
    const auto doc = json::parse(ready.body).as_object();
    return doc.contains("config") ? std::string(doc.at("config").as_string()) : std::string();
}

json::value plain_config(const std::string& rules, const std::string& public_base_url)
{
    return {
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 1}}},
        {"admin", {{"port", 0}}},
        {"public_base_url", public_base_url},
        {"log", {{"level", "warning"}}},
        {"auth", {{"required", false}}},
        {"decision", {{"rules", rules}}},
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_fingerprint_)

BOOST_AUTO_TEST_CASE(instances_with_the_same_settings_show_the_same_fingerprint_and_a_host_that_differs_shows_another)
{
    test::temp_dir dir("crd-fingerprint");
    const auto rules = (dir / "rules.json").string();
    fs::copy_file(std::string(CRD_SOURCE_DIR) + "/etc/rules.json", rules);
    const auto config_path = dir / "crd-server.json";
    std::ofstream(config_path) << json::serialize(plain_config(rules, base));
    test::running_application a{test::config_from_file(config_path.string())};
    test::running_application b{test::config_from_file(config_path.string())};
    test::running_application other{plain_config(rules, "https://other.example-payer.org")};

    const auto fingerprint = fingerprint_of(a.admin_port());
    BOOST_TEST(fingerprint.size() == 16U);
    BOOST_TEST(fingerprint_of(b.admin_port()) == fingerprint);
    BOOST_TEST(fingerprint_of(other.admin_port()) != fingerprint);
    // The public /ready stays bare.
    test::http_client pub(a.port());
    BOOST_TEST(pub.request("GET", "/ready").body == R"({"status":"ready"})");

    // New rules on one host (a reload): its fingerprint changes, and the metric says which.
    std::ofstream(rules, std::ios::app) << "\n";
    BOOST_TEST_REQUIRE(a.reload(config_path.string()));
    const auto after = fingerprint_of(a.admin_port());
    BOOST_TEST(after != fingerprint);
    BOOST_TEST(metrics_of(a.admin_port()).find("crd_config_info{fingerprint=\"" + after + "\"} 1") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A P-384 private key in PEM, as an operator would give every instance (auth.signing_key).
void write_signing_key(const fs::path& path)
{
    EVP_PKEY* key = EVP_EC_gen("P-384");
    BOOST_REQUIRE(key);
    FILE* out = std::fopen(path.c_str(), "w");
    BOOST_REQUIRE(out);
    BOOST_REQUIRE(PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    std::fclose(out);
    EVP_PKEY_free(key);
}

test::http_result token_request(std::uint16_t port)
{
    static std::atomic<int> n{0};
    const auto now = test::unix_now();
    const auto assertion =
        auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"sub", "ehr"}, {"aud", base + "/auth/token"}, {"exp", now + 240},
                                             {"jti", "assertion-" + std::to_string(++n) + "-" + std::to_string(now)}});
    test::http_client c(port);
    return c.request("POST", "/auth/token",
        "grant_type=client_credentials&scope=system%2Fcds.hooks"
        "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" +
            assertion,
        {{"Content-Type", "application/x-www-form-urlencoded"}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_smart_, *utf::precondition(test::redis_server_present))

BOOST_AUTO_TEST_CASE(an_access_token_issued_by_one_instance_verifies_on_the_other_and_a_dead_redis_is_a_503_at_the_token_endpoint)
{
    test::redis_server redis;
    test::temp_dir dir("crd-scaleout-smart");
    write_signing_key(dir / "signing-key.pem");
    auto doc = instance_config(redis, "fail_closed");
    auto& auth_section = doc.as_object()["auth"].as_object();
    auth_section["signing_key"] = (dir / "signing-key.pem").string();
    auth_section["clients"].as_array()[0].as_object()["scope"] = "system/cds.hooks";
    test::running_application a{doc};
    test::running_application b{doc};
    BOOST_REQUIRE(eventually([&] { return ready_status(a.port()) == 200U && ready_status(b.port()) == 200U; }));

    const auto issued = token_request(a.port());
    BOOST_TEST_REQUIRE(issued.status == 200U, issued.body);
    const std::string access(json::parse(issued.body).at("access_token").as_string());
    BOOST_TEST(call(b.port(), "Bearer " + access).status == 200U);  // the shared key: B verifies A's token
    BOOST_TEST(call(a.port(), "Bearer " + access).status == 200U);  // reused for its life, as EHRs do

    redis.kill();
    BOOST_REQUIRE(eventually([&] { return ready_status(a.port()) == 503U; }));
    const auto refused = token_request(a.port());
    BOOST_TEST(refused.status == 503U);
    BOOST_TEST(refused.header("retry-after") == "1");
    BOOST_TEST(json::parse(refused.body).at("error").as_string() == "temporarily_unavailable");
    // An access token already issued is not claimed per call: it keeps working meanwhile.
    BOOST_TEST(call(b.port(), "Bearer " + access).status == 200U);
}

BOOST_AUTO_TEST_SUITE_END()
