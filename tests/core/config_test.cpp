#include <crd/core/config.hpp>
#include <crd/core/json_document.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <map>

#include <unistd.h>

namespace json = boost::json;
using namespace crd::core;

namespace {

env_lookup env_of(std::map<std::string, std::string> vars)
{
    return [vars](const char* name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

config parse(const std::string& text, std::map<std::string, std::string> env = {})
{
    return parse_config(json::parse(text), "/etc/crd", env_of(std::move(env)), "/usr/share/crd-server/rules.json");
}

// The error message of parsing `text`, which must fail.
std::string error_of(const std::string& text, std::map<std::string, std::string> env = {})
{
    try
    {
        parse(text, std::move(env));
    }
    catch (const config_error& e)
    {
        return e.what();
    }
    BOOST_FAIL("configuration was accepted: " + text);
    return {};
}

bool mentions(const std::string& message, const std::string& key)
{
    return message.find("'" + key + "'") != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_)

BOOST_AUTO_TEST_CASE(empty_document_gives_production_defaults)
{
    auto c = parse("{}");
    BOOST_TEST(c.listen.address == "127.0.0.1");
    BOOST_TEST(c.listen.port == 8080);
    BOOST_TEST(c.limits.max_body_bytes == 1024U * 1024U);
    BOOST_TEST(c.auth.required);  // secure by default
    BOOST_TEST(!c.decision.endpoint.has_value());
    BOOST_TEST(c.decision.rules_path == "/usr/share/crd-server/rules.json");
    BOOST_TEST(c.public_base_url == "http://127.0.0.1:8080");
    BOOST_TEST(c.cors_allowed_origins == std::vector<std::string>{"*"});
    BOOST_TEST(!c.enabled_services.has_value());
}

BOOST_AUTO_TEST_CASE(reads_every_section)
{
    auto c = parse(R"({
        "listen": {"address": "0.0.0.0", "port": 9443, "threads": 4},
        "public_base_url": "https://crd.payer.example/",
        "limits": {"max_body_bytes": 2048, "idle_timeout_ms": 500, "header_timeout_ms": 200},
        "decision": {"url": "https://decide.payer.example/v1", "timeout_ms": 3000, "on_failure": "conditional",
                     "rules": "rules.json", "pool_size": 8,
                     "headers": [{"name": "X-Api-Key", "value_env": "DECISION_KEY"}],
                     "services": {"appointment-book-crd": {"timeout_ms": 9000}}},
        "auth": {"required": true, "clients": [{"client_id": "ehr-1", "jwks_url": "https://ehr.example/jwks.json", "scope": "system/*.read"}]},
        "audit": {"path": "/var/lib/crd-server/audit.jsonl", "fsync_ms": 100},
        "services": {"enabled": ["order-sign-crd"]},
        "cors": {"allowed_origins": ["https://ehr.example.org"]},
        "prefetch": {"max_concurrency": 4, "deadline_share": 0.4},
        "log": {"level": "debug"}
    })",
        {{"DECISION_KEY", "k-123"}});
    BOOST_TEST(c.listen.threads == 4U);
    BOOST_TEST(c.public_base_url == "https://crd.payer.example");  // trailing slash dropped
    BOOST_TEST(c.limits.idle_timeout.count() == 500);
    BOOST_TEST_REQUIRE(c.decision.endpoint.has_value());
    BOOST_TEST(c.decision.endpoint->host == "decide.payer.example");
    BOOST_TEST(c.decision.timeout->count() == 3000);
    BOOST_TEST((c.decision.on_failure == failure_policy::conditional));
    BOOST_TEST(c.decision.rules_path == "/etc/crd/rules.json");  // relative to the config's folder
    BOOST_TEST(c.decision.headers.at(0).value == "k-123");
    BOOST_TEST(c.decision.services.at("appointment-book-crd").timeout->count() == 9000);
    BOOST_TEST(c.auth.clients.at(0).client_id == "ehr-1");
    BOOST_TEST(c.enabled_services->size() == 1U);
    BOOST_TEST((c.level == log_level::debug));
}

BOOST_AUTO_TEST_CASE(required_prefetch_keys_depend_on_the_decision_backend)
{
    // The embedded engine needs the Coverage; a decision service can find the member itself.
    BOOST_TEST(required_prefetch_keys(parse("{}")) == std::vector<std::string>{"coverage"});
    BOOST_TEST(required_prefetch_keys(parse(R"({"decision": {"url": "https://decide.example/v1"}})")).empty());
    BOOST_TEST(required_prefetch_keys(parse(R"({"decision": {"url": "https://decide.example/v1"},
        "prefetch": {"required_keys": ["coverage", "patient"]}})")) == (std::vector<std::string>{"coverage", "patient"}));
    BOOST_TEST(required_prefetch_keys(parse(R"({"prefetch": {"required_keys": []}})")).empty());
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_errors_naming_the_key)
{
    BOOST_TEST(mentions(error_of(R"({"lsiten": {}})"), "lsiten"));
    BOOST_TEST(mentions(error_of(R"({"limits": {"max_body_byte": 10}})"), "limits.max_body_byte"));
    BOOST_TEST(
        mentions(error_of(R"({"decision": {"services": {"order-sign-crd": {"timout_ms": 1}}}})"), "decision.services.order-sign-crd.timout_ms"));
    BOOST_TEST(mentions(error_of(R"({"auth": {"clients": [{"client_id": "a", "jwks_url": "https://x/j", "scop": ""}]}})"), "auth.clients[0].scop"));
}

BOOST_AUTO_TEST_CASE(wrong_types_and_ranges_are_errors_naming_the_key)
{
    BOOST_TEST(mentions(error_of(R"({"listen": {"port": "8080"}})"), "listen.port"));
    BOOST_TEST(mentions(error_of(R"({"listen": {"port": 70000}})"), "listen.port"));
    BOOST_TEST(mentions(error_of(R"({"listen": {"port": -1}})"), "listen.port"));
    BOOST_TEST(mentions(error_of(R"({"limits": {"max_body_bytes": 10}})"), "limits.max_body_bytes"));
    BOOST_TEST(mentions(error_of(R"({"limits": {"idle_timeout_ms": 0}})"), "limits.idle_timeout_ms"));
    BOOST_TEST(mentions(error_of(R"({"auth": {"required": "yes"}})"), "auth.required"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"on_failure": "ignore"}})"), "decision.on_failure"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"url": "decide.example/x"}})"), "decision.url"));
    BOOST_TEST(mentions(error_of(R"({"public_base_url": "ftp://x"})"), "public_base_url"));
    BOOST_TEST(mentions(error_of(R"({"log": {"level": "verbose"}})"), "log.level"));
    BOOST_TEST(mentions(error_of(R"({"prefetch": {"deadline_share": 1.5}})"), "prefetch.deadline_share"));
    BOOST_TEST(mentions(error_of(R"({"prefetch": {"required_keys": "coverage"}})"), "prefetch.required_keys"));
    BOOST_TEST(mentions(error_of(R"({"prefetch": {"required_keys": ["coverage", "Coverage"]}})"), "prefetch.required_keys[1]"));
    BOOST_TEST(mentions(error_of(R"({"cors": {"allowed_origins": ["ehr.example"]}})"), "cors.allowed_origins[0]"));
    BOOST_TEST(mentions(error_of(R"([])"), "the configuration"));
}

BOOST_AUTO_TEST_CASE(on_failure_relay_is_read_and_a_bad_policy_names_the_field_and_the_choices)
{
    BOOST_TEST((parse(R"({"decision": {"on_failure": "relay"}})").decision.on_failure == failure_policy::relay));
    const auto message = error_of(R"({"decision": {"on_failure": "pass-through"}})");
    BOOST_TEST(mentions(message, "decision.on_failure"));
    BOOST_TEST(message.find("\"relay\"") != std::string::npos, message);
    BOOST_TEST(message.find("\"conditional\"") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(x_cds_client_is_never_taken_from_the_caller_and_client_ids_are_header_safe)
{
    // crd-server says who authenticated; a forwarded X-CDS-Client would let a caller claim another.
    BOOST_TEST(mentions(error_of(R"({"decision": {"forward_headers": ["traceparent", "X-CDS-Client"]}})"), "decision.forward_headers[1]"));
    BOOST_TEST(parse(R"({"decision": {"forward_headers": ["x-client-id"]}})").decision.forward_headers == std::vector<std::string>{"x-client-id"});
    BOOST_TEST(mentions(
        error_of(R"({"auth": {"clients": [{"client_id": "ehr\r\nX-Injected: 1", "jwks_url": "https://x/j"}]}})"), "auth.clients[0].client_id"));
}

BOOST_AUTO_TEST_CASE(security_relevant_settings_are_checked)
{
    BOOST_TEST(mentions(error_of(R"({"auth": {"allowed_algs": ["HS256"]}})"), "auth.allowed_algs[0]"));
    BOOST_TEST(mentions(error_of(R"({"auth": {"allowed_algs": ["none"]}})"), "auth.allowed_algs[0]"));
    BOOST_TEST(mentions(error_of(R"({"auth": {"clients": [{"client_id": "a"}]}})"), "auth.clients[0]"));
    BOOST_TEST(mentions(error_of(R"({"auth": {"clients": [{"client_id": "a", "jwks": {"keys": 1}}]}})"), "auth.clients[0].jwks"));
    BOOST_TEST(
        mentions(error_of(R"({"auth": {"clients": [{"client_id": "a", "jwks_url": "https://x/j"}, {"client_id": "a", "jwks_url": "https://x/j"}]}})"),
            "auth.clients[1].client_id"));
    BOOST_TEST(mentions(error_of(R"({"tls": {"certificate": "cert.pem"}})"), "tls"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"headers": [{"name": "X-Key", "value_env": "MISSING"}]}})"), "decision.headers[0].value_env"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"headers": [{"name": "Bad Name", "value": "v"}]}})"), "decision.headers[0].name"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"headers": [{"name": "X-Key", "value": "a\r\nInjected: 1"}]}})"), "decision.headers[0].value"));
}

BOOST_AUTO_TEST_CASE(service_ids_must_be_known)
{
    BOOST_TEST(error_of(R"({"services": {"enabled": ["order-sign-crd", "prior-auth"]}})").find("prior-auth") != std::string::npos);
    BOOST_TEST(mentions(error_of(R"({"decision": {"services": {"nope": {}}}})"), "decision.services.nope"));
    BOOST_TEST(error_of(R"({"services": {"enabled": ["order-sign-crd", "order-sign-crd"]}})").find("twice") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(environment_overrides_the_file)
{
    auto c = parse(R"({"decision": {"url": "https://file.example/"}, "services": {"enabled": ["order-sign-crd"]}})",
        {{"CDS_DECISION_SERVICE_URL", "http://127.0.0.1:9000/decide"}, {"CDS_ENABLED_HOOKS", "order-select-crd, appointment-book-crd"}});
    BOOST_TEST(c.decision.endpoint->host == "127.0.0.1");
    BOOST_TEST(c.decision.endpoint->target == "/decide");
    BOOST_TEST((*c.enabled_services == std::vector<std::string>{"order-select-crd", "appointment-book-crd"}));

    BOOST_TEST(error_of("{}", {{"CDS_DECISION_SERVICE_URL", "not a url"}}).find("CDS_DECISION_SERVICE_URL") != std::string::npos);
    BOOST_TEST(error_of("{}", {{"CDS_ENABLED_HOOKS", "order-sign-crd,bogus"}}).find("CDS_ENABLED_HOOKS") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_key_given_twice_is_found_with_its_path)
{
    BOOST_TEST(!first_duplicate_key(R"({"a": 1, "b": {"a": 2}, "c": [{"a": 1}, {"a": 2}]})").has_value());
    BOOST_TEST(first_duplicate_key(R"({"audit": {}, "log": {}, "audit": {}})").value_or("") == "audit");
    BOOST_TEST(first_duplicate_key(R"({"decision": {"url": "a", "timeout_ms": 1, "url": "b"}})").value_or("") == "decision.url");
    BOOST_TEST(
        first_duplicate_key(R"({"auth": {"clients": [{"client_id": "a"}, {"client_id": "b", "scope": "", "client_id": "c"}]}})").value_or("") ==
        "auth.clients[1].client_id");
    BOOST_TEST(!first_duplicate_key("not json").has_value());
}

BOOST_AUTO_TEST_CASE(a_configuration_file_with_a_key_given_twice_is_refused)
{
    // Boost.JSON would keep the last one silently: an operator's first setting would be lost.
    const std::string path = "/tmp/crd-config-test-" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream out(path);
        out << R"({"auth": {"required": true}, "limits": {"max_body_bytes": 4096}, "auth": {"required": false}})";
    }
    try
    {
        load_config_file(path, env_of({}), "r.json");
        BOOST_FAIL("a duplicated key was accepted");
    }
    catch (const config_error& e)
    {
        BOOST_TEST(mentions(e.what(), "auth"), e.what());
        BOOST_TEST(std::string(e.what()).find(path) != std::string::npos);
    }
    std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(files_name_themselves_in_errors)
{
    const auto env = env_of({});
    try
    {
        load_config_file("/nonexistent/crd.json", env, "r.json");
        BOOST_FAIL("missing file accepted");
    }
    catch (const config_error& e)
    {
        BOOST_TEST(std::string(e.what()).find("/nonexistent/crd.json") != std::string::npos);
    }
    const auto shipped = load_config_file(std::string(CRD_SOURCE_DIR) + "/etc/crd-server.json", env, "r.json");
    BOOST_TEST(shipped.decision.rules_path == std::string(CRD_SOURCE_DIR) + "/etc/rules.json");
    BOOST_TEST(!shipped.auth.required);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decision_protocol_)

BOOST_AUTO_TEST_CASE(cds_hooks_is_the_default_and_decisions_is_chosen_in_the_file_per_service_or_by_payerbox_s_switch)
{
    const std::string remote = R"({"decision": {"url": "http://127.0.0.1:9000/decide"}})";
    BOOST_TEST((parse(remote).decision.protocol == decision_protocol::cds_hooks));
    BOOST_TEST(!parse(remote).decision.send_prefetch);

    auto c = parse(R"({"decision": {"url": "http://127.0.0.1:9000/decide", "protocol": "decisions", "send_prefetch": true,
                                   "services": {"order-select-crd": {"protocol": "cds-hooks"}}}})");
    BOOST_TEST((c.decision.protocol == decision_protocol::decisions));
    BOOST_TEST(c.decision.send_prefetch);
    BOOST_TEST((c.decision.services.at("order-select-crd").protocol == decision_protocol::cds_hooks));

    for (const char* on : {"true", "TRUE", "1"})
        BOOST_TEST((parse(remote, {{"CDS_DECISION_SERVICE_CUSTOM_RESPONSE", on}}).decision.protocol == decision_protocol::decisions));
    // The environment wins over the file, as CDS_DECISION_SERVICE_URL does.
    BOOST_TEST((parse(R"({"decision": {"url": "http://127.0.0.1:9000/decide", "protocol": "decisions"}})",
                    {{"CDS_DECISION_SERVICE_CUSTOM_RESPONSE", "false"}})
                    .decision.protocol == decision_protocol::cds_hooks));
    BOOST_TEST((parse("{}", {{"CDS_DECISION_SERVICE_URL", "http://127.0.0.1:9000/decide"}, {"CDS_DECISION_SERVICE_CUSTOM_RESPONSE", "true"}})
                    .decision.protocol == decision_protocol::decisions));
}

BOOST_AUTO_TEST_CASE(a_bad_protocol_is_an_error_naming_the_key)
{
    BOOST_TEST(mentions(error_of(R"({"decision": {"url": "http://127.0.0.1:9000/decide", "protocol": "custom"}})"), "decision.protocol"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"url": "http://127.0.0.1:9000/decide", "protocol": 1}})"), "decision.protocol"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"url": "http://127.0.0.1:9000/decide", "send_prefetch": "yes"}})"), "decision.send_prefetch"));
    BOOST_TEST(mentions(error_of(R"({"decision": {"url": "http://127.0.0.1:9000/decide", "services": {"order-sign-crd": {"protocol": "x"}}}})"),
        "decision.services.order-sign-crd.protocol"));
    const auto env = error_of(R"({"decision": {"url": "http://127.0.0.1:9000/decide"}})", {{"CDS_DECISION_SERVICE_CUSTOM_RESPONSE", "maybe"}});
    BOOST_TEST(env.find("CDS_DECISION_SERVICE_CUSTOM_RESPONSE") != std::string::npos, env);
}

BOOST_AUTO_TEST_CASE(the_decisions_protocol_without_a_decision_service_is_an_error)
{
    BOOST_TEST(mentions(error_of(R"({"decision": {"protocol": "decisions"}})"), "decision.protocol"));
    BOOST_TEST(mentions(error_of("{}", {{"CDS_DECISION_SERVICE_CUSTOM_RESPONSE", "true"}}), "decision.protocol"));
}

BOOST_AUTO_TEST_SUITE_END()
