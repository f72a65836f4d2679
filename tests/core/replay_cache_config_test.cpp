// auth.replay_cache: the shared (Redis) replay cache of a multi-instance deployment.
#include <crd/core/config.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <map>

namespace json = boost::json;
using namespace crd::core;

namespace {

config parse(const std::string& text, std::map<std::string, std::string> vars = {})
{
    env_lookup env = [vars](const char* name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    return parse_config(json::parse(text), "/etc/crd", env, "/usr/share/crd-server/rules.json");
}

std::string error_of(const std::string& text, std::map<std::string, std::string> vars = {})
{
    try
    {
        parse(text, std::move(vars));
    }
    catch (const config_error& e)
    {
        return e.what();
    }
    BOOST_FAIL("configuration was accepted: " + text);
    return {};
}

std::string with_cache(const std::string& cache)
{
    return R"({"auth": {"replay_cache": )" + cache + "}}";
}

bool names(const std::string& message, const std::string& key)
{
    return message.find("'" + key + "'") != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replay_cache_config)

BOOST_AUTO_TEST_CASE(absent_means_the_in_process_cache)
{
    BOOST_TEST(!parse("{}").auth.replay_cache.has_value());
    BOOST_TEST(!parse(R"({"auth": {"replay_cache": null}})").auth.replay_cache.has_value());
}

BOOST_AUTO_TEST_CASE(every_field_is_read)
{
    const auto c = parse(with_cache(R"({"redis": "redis://10.0.0.7:6380/3", "prefix": "payer:jti:", "timeout_ms": 150,
        "on_unavailable": "local", "password_env": "CRD_REDIS_PASSWORD"})"),
        {{"CRD_REDIS_PASSWORD", "s3cret with space"}});
    BOOST_REQUIRE(c.auth.replay_cache.has_value());
    const auto& r = *c.auth.replay_cache;
    BOOST_TEST(r.host == "10.0.0.7");
    BOOST_TEST(r.port == 6380);
    BOOST_TEST(r.db == 3U);
    BOOST_TEST(r.prefix == "payer:jti:");
    BOOST_TEST(r.timeout.count() == 150);
    BOOST_TEST((r.on_unavailable == replay_unavailable_policy::local));
    BOOST_TEST(r.password.value_or("") == "s3cret with space");
}

BOOST_AUTO_TEST_CASE(defaults_are_fail_closed_200_ms_and_the_default_port)
{
    const auto r = *parse(with_cache(R"({"redis": "redis://redis.internal"})")).auth.replay_cache;
    BOOST_TEST(r.host == "redis.internal");
    BOOST_TEST(r.port == 6379);
    BOOST_TEST(r.db == 0U);
    BOOST_TEST(r.prefix == "crd:jti:");
    BOOST_TEST(r.timeout.count() == 200);
    BOOST_TEST((r.on_unavailable == replay_unavailable_policy::fail_closed));
    BOOST_TEST(!r.password.has_value());
}

BOOST_AUTO_TEST_CASE(bad_urls_name_the_field_and_say_why)
{
    const std::string field = "auth.replay_cache.redis";
    for (const char* bad : {R"({})", R"({"redis": ""})", R"({"redis": 6379})", R"({"redis": "http://127.0.0.1:6379"})", R"({"redis": "redis://"})",
             R"({"redis": "redis://127.0.0.1:0"})", R"({"redis": "redis://127.0.0.1:70000"})", R"({"redis": "redis://127.0.0.1:x"})",
             R"({"redis": "redis://127.0.0.1:6379/16"})", R"({"redis": "redis://127.0.0.1:6379/a"})", R"({"redis": "redis://user:pw@127.0.0.1"})",
             R"({"redis": "redis://bad host"})"})
        BOOST_TEST(names(error_of(with_cache(bad)), field), bad);
    const auto credentials = error_of(with_cache(R"({"redis": "redis://:pw@127.0.0.1"})"));
    BOOST_TEST(credentials.find("password_env") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rediss_is_refused_by_name_with_what_to_do_instead)
{
    const auto e = error_of(with_cache(R"({"redis": "rediss://127.0.0.1:6380/0"})"));
    BOOST_TEST(names(e, "auth.replay_cache.redis"));
    BOOST_TEST(e.find("no TLS") != std::string::npos);
    BOOST_TEST(e.find("stunnel") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(other_bad_fields_name_themselves)
{
    BOOST_TEST(names(error_of(with_cache(R"({"redis": "redis://127.0.0.1", "timeout_ms": 0})")), "auth.replay_cache.timeout_ms"));
    BOOST_TEST(names(error_of(with_cache(R"({"redis": "redis://127.0.0.1", "timeout_ms": 60000})")), "auth.replay_cache.timeout_ms"));
    BOOST_TEST(names(error_of(with_cache(R"({"redis": "redis://127.0.0.1", "on_unavailable": "open"})")), "auth.replay_cache.on_unavailable"));
    BOOST_TEST(names(error_of(with_cache(R"({"redis": "redis://127.0.0.1", "prefix": "a\nb"})")), "auth.replay_cache.prefix"));
    BOOST_TEST(names(error_of(with_cache(R"({"redis": "redis://127.0.0.1", "password": "inline"})")), "auth.replay_cache.password"));
    BOOST_TEST(names(error_of(with_cache(R"("redis://127.0.0.1")")), "auth.replay_cache"));
    // The variable must be there: a cache that cannot authenticate would refuse every call.
    const auto unset = error_of(with_cache(R"({"redis": "redis://127.0.0.1", "password_env": "CRD_REDIS_PASSWORD"})"));
    BOOST_TEST(names(unset, "auth.replay_cache.password_env"));
    BOOST_TEST(unset.find("CRD_REDIS_PASSWORD") != std::string::npos);
    BOOST_TEST(names(error_of(with_cache(R"({"redis": "redis://127.0.0.1", "password_env": "P"})"), {{"P", ""}}), "auth.replay_cache.password_env"));
}

BOOST_AUTO_TEST_CASE(a_shared_cache_with_smart_clients_needs_a_signing_key_every_instance_loads)
{
    const std::string smart_client = R"({"client_id": "ehr", "jwks": {"keys": []}, "scope": "system/*.read"})";
    const std::string plain_client = R"({"client_id": "ehr", "jwks": {"keys": []}})";
    const std::string cache = R"("replay_cache": {"redis": "redis://127.0.0.1"})";
    const auto e = error_of(R"({"auth": {"clients": [)" + smart_client + "], " + cache + "}}");
    BOOST_TEST(names(e, "auth.signing_key"));
    BOOST_TEST(e.find("auth.replay_cache") != std::string::npos);
    // With the key, or without SMART clients, or without the shared cache, or with auth off: accepted.
    BOOST_TEST(
        parse(R"({"auth": {"signing_key": "/etc/crd/key.pem", "clients": [)" + smart_client + "], " + cache + "}}").auth.replay_cache.has_value());
    BOOST_TEST(parse(R"({"auth": {"clients": [)" + plain_client + "], " + cache + "}}").auth.replay_cache.has_value());
    BOOST_TEST(parse(R"({"auth": {"clients": [)" + smart_client + "]}}").auth.clients.size() == 1U);
    BOOST_TEST(parse(R"({"auth": {"required": false, "clients": [)" + smart_client + "], " + cache + "}}").auth.replay_cache.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
