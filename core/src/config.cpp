#include <crd/core/config.hpp>
#include <crd/core/hook_request.hpp>
#include <crd/core/hooks.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/text.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace json = boost::json;

namespace crd::core {
namespace {

// Reads one JSON object, remembering which keys were consumed so that anything left over is
// reported as an unknown key. Every error names the full dotted path of the key.
class object_reader
{
public:
    object_reader(const json::value& v, std::string path) : path_(std::move(path))
    {
        if (!v.is_object())
            fail(path_.empty() ? "the configuration" : path_, "must be a JSON object");
        obj_ = &v.get_object();
    }

    // Call after reading every known key.
    void reject_unknown_keys() const
    {
        for (const auto& kv : *obj_)
            if (!seen_.count(std::string(kv.key())))
                fail(key_path(kv.key()), "is not a known configuration key");
    }

    const json::value* find(std::string_view key)
    {
        seen_.emplace(key);
        return obj_->if_contains(key);
    }

    std::string key_path(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }

    [[noreturn]] static void fail(const std::string& key, const std::string& what) { throw config_error("configuration key '" + key + "' " + what); }

    void read(std::string_view key, bool& out)
    {
        if (auto v = find(key))
        {
            if (!v->is_bool())
                fail(key_path(key), "must be true or false");
            out = v->get_bool();
        }
    }

    void read(std::string_view key, std::string& out, bool allow_empty = false)
    {
        if (auto v = find(key))
            out = as_string(*v, key_path(key), allow_empty);
    }

    void read(std::string_view key, std::optional<std::string>& out)
    {
        if (auto v = find(key))
            out = as_string(*v, key_path(key), false);
    }

    template <class Int>
    void read_int(std::string_view key, Int& out, std::uint64_t min, std::uint64_t max)
    {
        if (auto v = find(key))
            out = static_cast<Int>(as_uint(*v, key_path(key), min, max));
    }

    void read_ms(std::string_view key, milliseconds& out, std::uint64_t min, std::uint64_t max)
    {
        if (auto v = find(key))
            out = milliseconds(static_cast<milliseconds::rep>(as_uint(*v, key_path(key), min, max)));
    }

    void read_url(std::string_view key, std::optional<url>& out)
    {
        if (auto v = find(key); v && !v->is_null())
            out = as_url(*v, key_path(key));
    }

    std::optional<std::vector<std::string>> read_string_list(std::string_view key)
    {
        auto v = find(key);
        if (!v)
            return std::nullopt;
        if (!v->is_array())
            fail(key_path(key), "must be an array of strings");
        std::vector<std::string> out;
        std::size_t i = 0;
        for (const auto& item : v->get_array())
            out.push_back(as_string(item, key_path(key) + "[" + std::to_string(i++) + "]", false));
        return out;
    }

    static std::string as_string(const json::value& v, const std::string& key, bool allow_empty)
    {
        if (!v.is_string())
            fail(key, "must be a string");
        if (!allow_empty && v.get_string().empty())
            fail(key, "must not be empty");
        return std::string(v.get_string());
    }

    static std::uint64_t as_uint(const json::value& v, const std::string& key, std::uint64_t min, std::uint64_t max)
    {
        std::uint64_t n = 0;
        if (v.is_uint64())
            n = v.get_uint64();
        else if (v.is_int64() && v.get_int64() >= 0)
            n = static_cast<std::uint64_t>(v.get_int64());
        else
            fail(key, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
        if (n < min || n > max)
            fail(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
        return n;
    }

    static url as_url(const json::value& v, const std::string& key)
    {
        auto parsed = parse_http_url(as_string(v, key, false));
        if (!parsed)
            fail(key, "must be an absolute http:// or https:// URL without credentials or fragment");
        return *parsed;
    }

private:
    const json::object* obj_{};
    std::string path_;
    std::set<std::string, std::less<>> seen_;
};

std::string resolve_path(const std::string& base_dir, const std::string& p)
{
    if (p.empty() || p.front() == '/' || base_dir.empty())
        return p;
    return base_dir + "/" + p;
}

constexpr std::uint64_t max_ms = 24ULL * 3600 * 1000;

void read_listen(object_reader& root, listen_config& out)
{
    auto v = root.find("listen");
    if (!v)
        return;
    object_reader r(*v, "listen");
    r.read("address", out.address);
    r.read_int("port", out.port, 0, 65535);
    r.read_int("threads", out.threads, 0, 256);
    r.reject_unknown_keys();
}

void read_admin(object_reader& root, admin_config& out)
{
    auto v = root.find("admin");
    if (!v)
        return;
    object_reader r(*v, "admin");
    r.read("enabled", out.enabled);
    r.read("address", out.address);
    if (r.find("port"))
    {
        std::uint16_t port = 0;
        r.read_int("port", port, 0, 65535);
        out.port = port;
    }
    r.reject_unknown_keys();
}

void read_limits(object_reader& root, limits_config& out)
{
    auto v = root.find("limits");
    if (!v)
        return;
    object_reader r(*v, "limits");
    r.read_int("max_body_bytes", out.max_body_bytes, 1024, 256ULL * 1024 * 1024);
    r.read_int("max_header_bytes", out.max_header_bytes, 1024, 1024 * 1024);
    r.read_ms("header_timeout_ms", out.header_timeout, 1, max_ms);
    r.read_ms("body_timeout_ms", out.body_timeout, 1, max_ms);
    r.read_ms("idle_timeout_ms", out.idle_timeout, 1, max_ms);
    r.read_ms("write_timeout_ms", out.write_timeout, 1, max_ms);
    r.read_int("max_connections", out.max_connections, 1, 1'000'000);
    r.read_int("max_in_flight", out.max_in_flight, 1, 1'000'000);
    r.read_int("max_orders", out.max_orders, 1, 100'000);
    r.read_int("max_selections", out.max_selections, 1, 100'000);
    r.read_ms("shutdown_grace_ms", out.shutdown_grace, 0, max_ms);
    r.read_ms("drain_delay_ms", out.drain_delay, 0, 60'000);
    r.reject_unknown_keys();
}

bool valid_header_name(std::string_view name)
{
    static constexpr std::string_view token_chars = "!#$%&'*+-.^_`|~";
    return !name.empty() && std::all_of(name.begin(), name.end(),
                                [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || token_chars.find(c) != std::string_view::npos; });
}

decision_protocol read_protocol(const boost::json::value& v, const std::string& path)
{
    const auto s = object_reader::as_string(v, path, false);
    if (s == "cds-hooks")
        return decision_protocol::cds_hooks;
    if (s == "decisions")
        return decision_protocol::decisions;
    object_reader::fail(path, "must be \"cds-hooks\" (a CDS Hooks response) or \"decisions\" (one decision per order, docs/decision-api.yaml)");
}

void read_decision(object_reader& root, decision_config& out, const std::string& base_dir, const env_lookup& env)
{
    auto v = root.find("decision");
    if (!v)
        return;
    object_reader r(*v, "decision");
    r.read_url("url", out.endpoint);
    if (r.find("timeout_ms"))
    {
        milliseconds t{0};
        r.read_ms("timeout_ms", t, 1, 60'000);
        out.timeout = t;
    }
    if (auto p = r.find("on_failure"))
    {
        const auto s = object_reader::as_string(*p, "decision.on_failure", false);
        if (s == "error")
            out.on_failure = failure_policy::error;
        else if (s == "conditional")
            out.on_failure = failure_policy::conditional;
        else if (s == "relay")
            out.on_failure = failure_policy::relay;
        else
            object_reader::fail("decision.on_failure", "must be \"error\", \"conditional\" or \"relay\"");
    }
    if (auto p = r.find("protocol"))
        out.protocol = read_protocol(*p, "decision.protocol");
    r.read("send_prefetch", out.send_prefetch);
    if (auto p = r.find("rules"))
        out.rules_path = resolve_path(base_dir, object_reader::as_string(*p, "decision.rules", false));
    r.read_int("pool_size", out.pool_size, 1, 16384);
    r.read_int("max_pending", out.max_pending, 0, 1'000'000);
    r.read_ms("idle_ttl_ms", out.idle_ttl, 1, max_ms);
    r.read_ms("resolve_interval_ms", out.resolve_interval, 1000, max_ms);
    r.read_int("breaker_failures", out.breaker_failures, 1, 1'000'000);
    r.read_ms("breaker_cooldown_ms", out.breaker_cooldown, 1, max_ms);
    r.read("source_label", out.source_label);
    if (out.source_label.size() > 100)
        object_reader::fail("decision.source_label", "must be at most 100 characters");
    r.read_int("max_response_bytes", out.max_response_bytes, 1024, 256ULL * 1024 * 1024);
    r.read("forward_fhir_authorization", out.forward_fhir_authorization);
    if (auto p = r.find("ca_file"))
        out.ca_file = resolve_path(base_dir, object_reader::as_string(*p, "decision.ca_file", false));
    r.read_url("feedback_url", out.feedback_endpoint);

    if (auto names = r.read_string_list("forward_headers"))
    {
        for (std::size_t i = 0; i < names->size(); ++i)
        {
            if (!valid_header_name((*names)[i]))
                object_reader::fail("decision.forward_headers[" + std::to_string(i) + "]", "must be an HTTP header name");
            // X-CDS-Client says who authenticated: a caller must not be able to send its own.
            if (to_lower((*names)[i]) == "x-cds-client")
                object_reader::fail("decision.forward_headers[" + std::to_string(i) + "]",
                    "must not be x-cds-client: crd-server sends the authenticated client id in it");
            out.forward_headers.push_back(to_lower((*names)[i]));
        }
    }
    if (auto p = r.find("headers"))
    {
        if (!p->is_array())
            object_reader::fail("decision.headers", "must be an array of {name, value | value_env}");
        std::size_t i = 0;
        for (const auto& item : p->get_array())
        {
            const std::string path = "decision.headers[" + std::to_string(i++) + "]";
            object_reader h(item, path);
            header_config hc;
            h.read("name", hc.name);
            if (!valid_header_name(hc.name))
                object_reader::fail(path + ".name", "must be a non-empty HTTP header name");
            std::optional<std::string> value, value_env;
            h.read("value", value);
            h.read("value_env", value_env);
            h.reject_unknown_keys();
            if (value.has_value() == value_env.has_value())
                object_reader::fail(path, "needs exactly one of 'value' or 'value_env'");
            if (value_env)
            {
                auto from_env = env(value_env->c_str());
                if (!from_env || from_env->empty())
                    object_reader::fail(path + ".value_env", "names environment variable '" + *value_env + "', which is not set");
                value = std::move(from_env);
            }
            if (value->find_first_of("\r\n") != std::string::npos)
                object_reader::fail(path + ".value", "must not contain line breaks");
            hc.value = std::move(*value);
            out.headers.push_back(std::move(hc));
        }
    }

    if (auto p = r.find("services"))
    {
        object_reader services(*p, "decision.services");
        for (const auto& kv : p->get_object())
        {
            const std::string id(kv.key());
            const std::string path = "decision.services." + id;
            if (!find_service(id))
                object_reader::fail(path, "names an unknown service id");
            object_reader s(kv.value(), path);
            decision_service_override o;
            s.read_url("url", o.endpoint);
            milliseconds t{0};
            if (s.find("timeout_ms"))
            {
                s.read_ms("timeout_ms", t, 1, 60'000);
                o.timeout = t;
            }
            if (auto proto = s.find("protocol"))
                o.protocol = read_protocol(*proto, path + ".protocol");
            s.reject_unknown_keys();
            services.find(id);
            out.services.emplace(id, std::move(o));
        }
        services.reject_unknown_keys();
    }
    r.reject_unknown_keys();
}

// CDS_DECISION_SERVICE_URL (Payerbox's name for it) wins over decision.url, and
// CDS_DECISION_SERVICE_CUSTOM_RESPONSE (Payerbox's switch for per-order answers) over decision.protocol.
void apply_decision_url_override(decision_config& out, const env_lookup& env)
{
    if (auto custom = env("CDS_DECISION_SERVICE_CUSTOM_RESPONSE"); custom && !custom->empty())
    {
        const std::string v = to_lower(*custom);
        if (v == "true" || v == "1")
            out.protocol = decision_protocol::decisions;
        else if (v == "false" || v == "0")
            out.protocol = decision_protocol::cds_hooks;
        else
            throw config_error(
                "environment variable CDS_DECISION_SERVICE_CUSTOM_RESPONSE must be true or false (got '" + quote_for_diagnostics(*custom) + "')");
    }
    if (auto from_env = env("CDS_DECISION_SERVICE_URL"); from_env && !from_env->empty())
    {
        auto parsed = parse_http_url(*from_env);
        if (!parsed)
            throw config_error("environment variable CDS_DECISION_SERVICE_URL must be an absolute http:// or https:// URL");
        out.endpoint = std::move(parsed);
    }
}

// redis://[host][:port][/db]; rediss:// is refused by name: Debian 12's hiredis (0.14) has no TLS.
void read_redis_url(const std::string& text, replay_cache_config& out)
{
    const std::string key = "auth.replay_cache.redis";
    constexpr std::string_view scheme = "redis://";
    if (text.rfind("rediss://", 0) == 0)
        object_reader::fail(key, "uses rediss://, but this build's hiredis (Debian 12: 0.14) has no TLS: reach Redis over a private network or "
                                 "loopback, or through a TLS tunnel (stunnel, spiped) on loopback, and write redis://");
    if (text.rfind(scheme, 0) != 0)
        object_reader::fail(key, "must be a redis://host:port/db URL");
    std::string_view rest = std::string_view(text).substr(scheme.size());
    if (rest.find('@') != std::string_view::npos)
        object_reader::fail(key, "must not carry credentials: name the environment variable holding the password in auth.replay_cache.password_env");
    const auto slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    if (slash != std::string_view::npos)
    {
        const auto db = rest.substr(slash + 1);
        if (!db.empty())
        {
            if (db.size() > 2 || !std::all_of(db.begin(), db.end(), [](char c) { return c >= '0' && c <= '9'; }))
                object_reader::fail(key, "must end in a database number from 0 to 15 (redis://host:port/0)");
            out.db = static_cast<unsigned>(std::stoul(std::string(db)));
            if (out.db > 15)
                object_reader::fail(key, "must end in a database number from 0 to 15 (redis://host:port/0)");
        }
    }
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos)
    {
        const auto port = authority.substr(colon + 1);
        if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535)
            object_reader::fail(key, "has a bad port: it must be from 1 to 65535");
        out.port = static_cast<std::uint16_t>(std::stoul(std::string(port)));
        authority = authority.substr(0, colon);
    }
    if (authority.empty())
        object_reader::fail(key, "must name a host (redis://127.0.0.1:6379/0)");
    if (!std::all_of(authority.begin(), authority.end(),
            [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'; }))
        object_reader::fail(key, "must name a host name or an IPv4 address");
    out.host = std::string(authority);
}

void read_replay_cache(object_reader& auth, std::optional<replay_cache_config>& out, const env_lookup& env)
{
    auto v = auth.find("replay_cache");
    if (!v || v->is_null())
        return;
    object_reader r(*v, "auth.replay_cache");
    replay_cache_config c;
    std::string redis;
    r.read("redis", redis);
    if (redis.empty())
        object_reader::fail("auth.replay_cache.redis", "is required (redis://host:port/db); leave auth.replay_cache out for the in-process cache");
    read_redis_url(redis, c);
    r.read("prefix", c.prefix);
    if (!has_no_controls(c.prefix) || c.prefix.size() > 64)
        object_reader::fail("auth.replay_cache.prefix", "must be at most 64 characters, without control characters");
    r.read_ms("timeout_ms", c.timeout, 1, 5'000);
    if (auto p = r.find("on_unavailable"))
    {
        const auto s = object_reader::as_string(*p, "auth.replay_cache.on_unavailable", false);
        if (s == "fail_closed")
            c.on_unavailable = replay_unavailable_policy::fail_closed;
        else if (s == "local")
            c.on_unavailable = replay_unavailable_policy::local;
        else
            object_reader::fail("auth.replay_cache.on_unavailable", "must be \"fail_closed\" or \"local\"");
    }
    if (auto p = r.find("password_env"))
    {
        const auto name = object_reader::as_string(*p, "auth.replay_cache.password_env", false);
        auto password = env(name.c_str());
        if (!password || password->empty())
            object_reader::fail("auth.replay_cache.password_env", "names the environment variable " + name + ", which is not set or empty");
        if (!has_no_controls(*password))
            object_reader::fail("auth.replay_cache.password_env", "names a variable whose value has control characters");
        c.password = std::move(*password);
    }
    r.reject_unknown_keys();
    out = std::move(c);
}

void read_auth(object_reader& root, auth_config& out, const std::string& base_dir, const env_lookup& env)
{
    auto v = root.find("auth");
    if (!v)
        return;
    object_reader r(*v, "auth");
    r.read("required", out.required);
    r.read_int("max_token_lifetime_s", out.max_token_lifetime_s, 1, 3600);
    r.read_int("clock_leeway_s", out.clock_leeway_s, 0, 300);
    r.read("allow_basic", out.allow_basic);
    r.read("protect_discovery", out.protect_discovery);
    r.read("terse_errors", out.terse_errors);
    r.read_ms("jwks_refresh_ms", out.jwks_refresh, 1'000, max_ms);
    if (auto p = r.find("signing_key"))
        out.signing_key = resolve_path(base_dir, object_reader::as_string(*p, "auth.signing_key", false));
    if (auto algs = r.read_string_list("allowed_algs"))
    {
        static const std::set<std::string> supported{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"};
        for (std::size_t i = 0; i < algs->size(); ++i)
            if (!supported.count((*algs)[i]))
                object_reader::fail("auth.allowed_algs[" + std::to_string(i) + "]",
                    "must be an asymmetric JWS algorithm (RS256/384/512, ES256/384/512); 'none' and HMAC are refused");
        if (algs->empty())
            object_reader::fail("auth.allowed_algs", "must not be empty");
        out.allowed_algs = std::move(*algs);
    }
    if (auto p = r.find("clients"))
    {
        if (!p->is_array())
            object_reader::fail("auth.clients", "must be an array of client registrations");
        std::set<std::string> ids;
        std::size_t i = 0;
        for (const auto& item : p->get_array())
        {
            const std::string path = "auth.clients[" + std::to_string(i++) + "]";
            object_reader c(item, path);
            auth_client client;
            c.read("client_id", client.client_id);
            if (client.client_id.empty())
                object_reader::fail(path + ".client_id", "is required");
            // It travels to the decision service as the X-CDS-Client header.
            if (!has_no_controls(client.client_id))
                object_reader::fail(path + ".client_id", "must not contain control characters (CR, LF, NUL)");
            if (!ids.insert(client.client_id).second)
                object_reader::fail(path + ".client_id", "duplicates another client's id");
            if (auto jwks = c.find("jwks"))
            {
                if (!jwks->is_object() || !jwks->get_object().contains("keys") || !jwks->get_object().at("keys").is_array())
                    object_reader::fail(path + ".jwks", "must be a JWK Set object with a 'keys' array");
                client.jwks = jwks->get_object();
            }
            c.read_url("jwks_url", client.jwks_url);
            if (auto list = c.read_string_list("jku_allowlist"))
            {
                for (std::size_t k = 0; k < list->size(); ++k)
                    if (!parse_http_url((*list)[k]))
                        object_reader::fail(path + ".jku_allowlist[" + std::to_string(k) + "]", "must be an absolute URL");
                client.jku_allowlist = std::move(*list);
            }
            c.read("scope", client.scope, true);
            c.read("secret_hash", client.secret_hash);
            if (c.find("max_token_lifetime_s"))
            {
                unsigned lifetime = 0;
                c.read_int("max_token_lifetime_s", lifetime, 1, 3600);
                client.max_token_lifetime_s = lifetime;
            }
            c.reject_unknown_keys();
            if (!client.jwks && !client.jwks_url && !client.secret_hash)
                object_reader::fail(path, "needs one of 'jwks', 'jwks_url' or 'secret_hash'");
            out.clients.push_back(std::move(client));
        }
    }
    read_replay_cache(r, out.replay_cache, env);
    r.reject_unknown_keys();
    // Several instances share one replay cache; a SMART access token issued by one must verify on
    // the others, which only a signing key they all load allows.
    const bool issues_access_tokens = std::any_of(out.clients.begin(), out.clients.end(), [](const auth_client& c) { return !c.scope.empty(); });
    if (out.replay_cache && out.required && issues_access_tokens && !out.signing_key)
        object_reader::fail("auth.signing_key", "is required with auth.replay_cache when clients have SMART scopes: every instance behind the "
                                                "balancer must verify the access tokens the others issue (give them all the same key file)");
}

void read_audit(object_reader& root, audit_config& out, const std::string& base_dir)
{
    auto v = root.find("audit");
    if (!v)
        return;
    object_reader r(*v, "audit");
    if (auto p = r.find("path"))
        out.path = resolve_path(base_dir, object_reader::as_string(*p, "audit.path", false));
    r.read_ms("fsync_ms", out.fsync_interval, 1, 60'000);
    r.read("required", out.required);
    r.read_int("queue_size", out.queue_size, 16, 10'000'000);
    r.reject_unknown_keys();
}

std::vector<std::string> check_service_ids(std::vector<std::string> ids, const std::string& where)
{
    std::set<std::string> seen;
    for (std::size_t i = 0; i < ids.size(); ++i)
    {
        if (!find_service(ids[i]))
            throw config_error(where + " names unknown service id '" + ids[i] +
                               "' (known: order-sign-crd, order-select-crd, "
                               "order-dispatch-crd, appointment-book-crd, encounter-start-crd, encounter-discharge-crd)");
        if (!seen.insert(ids[i]).second)
            throw config_error(where + " names service id '" + ids[i] + "' twice");
    }
    return ids;
}

void read_services(object_reader& root, std::optional<std::vector<std::string>>& out, const env_lookup& env)
{
    if (auto v = root.find("services"))
    {
        object_reader r(*v, "services");
        if (auto list = r.read_string_list("enabled"))
            out = check_service_ids(std::move(*list), "configuration key 'services.enabled'");
        r.reject_unknown_keys();
    }
    if (auto from_env = env("CDS_ENABLED_HOOKS"); from_env)
    {
        std::vector<std::string> ids;
        std::stringstream ss(*from_env);
        for (std::string item; std::getline(ss, item, ',');)
        {
            item.erase(0, item.find_first_not_of(" \t"));
            item.erase(item.find_last_not_of(" \t") + 1);
            if (!item.empty())
                ids.push_back(item);
        }
        out = check_service_ids(std::move(ids), "environment variable CDS_ENABLED_HOOKS");
    }
}

// requests.required_headers, or the environment's CDS_REQUIRED_HEADERS (a comma list), which wins.
void read_requests(object_reader& root, requests_config& out, const env_lookup& env)
{
    if (auto v = root.find("requests"))
    {
        object_reader r(*v, "requests");
        if (auto names = r.read_string_list("required_headers"))
            for (std::size_t i = 0; i < names->size(); ++i)
            {
                if (!valid_header_name((*names)[i]))
                    object_reader::fail("requests.required_headers[" + std::to_string(i) + "]", "must be an HTTP header name");
                out.required_headers.push_back(to_lower((*names)[i]));
            }
        r.reject_unknown_keys();
    }
    if (auto from_env = env("CDS_REQUIRED_HEADERS"); from_env)
    {
        out.required_headers.clear();
        std::stringstream ss(*from_env);
        for (std::string item; std::getline(ss, item, ',');)
        {
            item.erase(0, item.find_first_not_of(" \t"));
            item.erase(item.find_last_not_of(" \t") + 1);
            if (item.empty())
                continue;
            if (!valid_header_name(item))
                throw config_error("environment variable CDS_REQUIRED_HEADERS: '" + item + "' is not an HTTP header name");
            out.required_headers.push_back(to_lower(item));
        }
    }
}

void read_cors(object_reader& root, std::vector<std::string>& out)
{
    auto v = root.find("cors");
    if (!v)
        return;
    object_reader r(*v, "cors");
    if (auto list = r.read_string_list("allowed_origins"))
    {
        for (std::size_t i = 0; i < list->size(); ++i)
        {
            const auto& o = (*list)[i];
            if (o != "*" && !parse_http_url(o))
                object_reader::fail("cors.allowed_origins[" + std::to_string(i) + "]", "must be \"*\" or an origin such as https://ehr.example.org");
        }
        out = std::move(*list);
    }
    r.reject_unknown_keys();
}

void read_prefetch(object_reader& root, prefetch_config& out)
{
    auto v = root.find("prefetch");
    if (!v)
        return;
    object_reader r(*v, "prefetch");
    if (auto keys = r.read_string_list("required_keys"))
    {
        // Only keys some service's discovery prefetch defines can ever be fetched.
        static constexpr std::string_view known[] = {"patient", "coverage", "user", "performer", "order", "encounter"};
        for (std::size_t i = 0; i < keys->size(); ++i)
            if (std::find(std::begin(known), std::end(known), (*keys)[i]) == std::end(known))
                object_reader::fail("prefetch.required_keys[" + std::to_string(i) + "]",
                    "must be a discovery prefetch key: patient, coverage, user, performer, order or encounter");
        out.required_keys = std::move(*keys);
    }
    if (auto origins = r.read_string_list("allowed_origins"))
    {
        for (std::size_t i = 0; i < origins->size(); ++i)
        {
            const auto u = parse_http_url((*origins)[i]);
            if (!u || u->target != "/")
                object_reader::fail("prefetch.allowed_origins[" + std::to_string(i) + "]",
                    "must be an origin such as https://ehr.example.org or https://ehr.example.org:8443 (no path)");
            (*origins)[i] = u->origin();  // canonical: compared with the fhirServer's canonical origin
        }
        out.allowed_origins = std::move(*origins);
    }
    r.read("allow_http", out.allow_http);
    r.read_int("max_concurrency", out.max_concurrency, 1, 64);
    r.read_int("max_response_bytes", out.max_response_bytes, 1024, 256ULL * 1024 * 1024);
    if (auto p = r.find("deadline_share"))
    {
        if (!p->is_number() || p->to_number<double>() <= 0.0 || p->to_number<double>() >= 1.0)
            object_reader::fail("prefetch.deadline_share", "must be a number between 0 and 1 (exclusive)");
        out.deadline_share = p->to_number<double>();
    }
    r.reject_unknown_keys();
}

void read_tls(object_reader& root, tls_config& out, const std::string& base_dir)
{
    auto v = root.find("tls");
    if (!v)
        return;
    object_reader r(*v, "tls");
    if (auto p = r.find("certificate"))
        out.certificate = resolve_path(base_dir, object_reader::as_string(*p, "tls.certificate", false));
    if (auto p = r.find("private_key"))
        out.private_key = resolve_path(base_dir, object_reader::as_string(*p, "tls.private_key", false));
    r.reject_unknown_keys();
    if (out.certificate.has_value() != out.private_key.has_value())
        object_reader::fail("tls", "needs both 'certificate' and 'private_key', or neither");
}

void read_log(object_reader& root, log_level& out)
{
    auto v = root.find("log");
    if (!v)
        return;
    object_reader r(*v, "log");
    std::string level;
    r.read("level", level);
    r.reject_unknown_keys();
    if (level.empty())
        return;
    if (level == "debug")
        out = log_level::debug;
    else if (level == "info")
        out = log_level::info;
    else if (level == "warning")
        out = log_level::warning;
    else if (level == "error")
        out = log_level::error;
    else
        object_reader::fail("log.level", "must be one of debug, info, warning, error");
}

std::string default_base_url(const listen_config& l)
{
    const bool ipv6 = l.address.find(':') != std::string::npos;
    return "http://" + (ipv6 ? "[" + l.address + "]" : l.address) + ":" + std::to_string(l.port);
}

}  // namespace

env_lookup process_environment()
{
    return [](const char* name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name))
            return std::string(v);
        return std::nullopt;
    };
}

config parse_config(const json::value& doc, const std::string& base_dir, const env_lookup& env, const std::string& default_rules_path)
{
    config out;
    object_reader root(doc, "");
    read_listen(root, out.listen);
    read_admin(root, out.admin);
    if (auto v = root.find("public_base_url"))
    {
        auto u = object_reader::as_url(*v, "public_base_url");
        if (u.target.find('?') != std::string::npos)
            object_reader::fail("public_base_url", "must not contain a query");
        std::string s = object_reader::as_string(*v, "public_base_url", false);
        while (!s.empty() && s.back() == '/')
            s.pop_back();
        out.public_base_url = std::move(s);
    }
    read_limits(root, out.limits);
    read_decision(root, out.decision, base_dir, env);
    apply_decision_url_override(out.decision, env);
    for (const auto& [id, o] : out.decision.services)
        if (o.endpoint && !out.decision.endpoint)
            object_reader::fail("decision.services." + id + ".url", "needs decision.url (or CDS_DECISION_SERVICE_URL) for the other services");
    // The protocol is what a decision service speaks: without one, the embedded rules decide and a
    // protocol asked for would silently mean nothing.
    if (out.decision.protocol == decision_protocol::decisions && !out.decision.endpoint)
        object_reader::fail("decision.protocol", "is \"decisions\" (or CDS_DECISION_SERVICE_CUSTOM_RESPONSE=true), which needs a decision service: "
                                                 "set decision.url or CDS_DECISION_SERVICE_URL");
    read_auth(root, out.auth, base_dir, env);
    // Under systemd (StateDirectory=) a relative audit path lives in the service's state directory.
    const auto state_dir = env("STATE_DIRECTORY");
    read_audit(root, out.audit, state_dir && !state_dir->empty() ? state_dir->substr(0, state_dir->find(':')) : base_dir);
    read_services(root, out.enabled_services, env);
    read_cors(root, out.cors_allowed_origins);
    read_prefetch(root, out.prefetch);
    read_requests(root, out.requests, env);
    read_tls(root, out.tls, base_dir);
    read_log(root, out.level);
    root.reject_unknown_keys();

    if (!out.admin.port)
    {
        if (out.listen.port == 65535)
            object_reader::fail("admin.port", "must be set when listen.port is 65535 (its default is listen.port + 1)");
        out.admin.port = static_cast<std::uint16_t>(out.listen.port == 0 ? 0 : out.listen.port + 1);
    }
    if (out.admin.enabled && *out.admin.port != 0 && *out.admin.port == out.listen.port && out.admin.address == out.listen.address)
        object_reader::fail("admin.port", "must differ from listen.port: the admin surface is a listener of its own");
    if (out.public_base_url.empty())
        out.public_base_url = default_base_url(out.listen);
    if (out.decision.rules_path.empty())
        out.decision.rules_path = default_rules_path;
    return out;
}

config load_config_file(const std::string& path, const env_lookup& env, const std::string& default_rules_path)
{
    json::value doc;
    try
    {
        doc = read_json_file(path, "configuration");
    }
    catch (const json_file_error& e)
    {
        throw config_error(e.what());
    }
    const auto slash = path.rfind('/');
    const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    try
    {
        return parse_config(doc, base_dir, env, default_rules_path);
    }
    catch (const config_error& e)
    {
        throw config_error(path + ": " + e.what());
    }
}

config default_config(const env_lookup& env, const std::string& default_rules_path)
{
    return parse_config(json::object{}, "", env, default_rules_path);
}

std::vector<std::string> required_prefetch_keys(const config& cfg)
{
    if (cfg.prefetch.required_keys)
        return *cfg.prefetch.required_keys;
    if (cfg.decision.endpoint)
        return {};
    return {"coverage"};
}

const std::vector<std::string>& known_service_ids()
{
    static const std::vector<std::string> ids = [] {
        std::vector<std::string> out;
        for (const auto& s : service_catalog())
            out.emplace_back(s.id);
        return out;
    }();
    return ids;
}

}  // namespace crd::core
