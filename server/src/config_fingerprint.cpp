#include "config_fingerprint.hpp"

#include <crd/core/metrics.hpp>

#include <boost/json/serialize.hpp>

#include <openssl/evp.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>

namespace crd::server {
namespace {

// Each field as "name=value\n", lengths first where a value could hold the separator.
class canonical_text
{
public:
    void add(std::string_view name, std::string_view value)
    {
        text_.append(name).append(1, '=').append(std::to_string(value.size())).append(1, ':').append(value).append(1, '\n');
    }
    const std::string& str() const noexcept { return text_; }

private:
    std::string text_;
};

std::string file_bytes(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return "unreadable:" + path;
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class config_info_family final : public metrics::family
{
public:
    config_info_family()
        : family("crd_config_info", metrics::metric_type::gauge,
              "1, labelled with the fingerprint of the settings every instance behind a balancer must share (docs/deployment.md).")
    {
    }
    void set(std::string fingerprint)
    {
        std::lock_guard lock(mutex_);
        fingerprint_ = std::move(fingerprint);
    }

private:
    void render_series(std::string& out) const override
    {
        std::lock_guard lock(mutex_);
        if (!fingerprint_.empty())
            metrics::text::sample(out, name(), metrics::text::label("fingerprint", fingerprint_), std::int64_t{1});
    }
    mutable std::mutex mutex_;
    std::string fingerprint_;  // guarded by mutex_
};

struct config_info
{
    config_info_family family;
    metrics::registration registered{metrics::process_registry(), {&family}};
    static config_info& instance()
    {
        static config_info m;
        return m;
    }
};

// Listed (without a series) before the first application starts.
[[maybe_unused]] const config_info& registered_at_start = config_info::instance();

}  // namespace

std::string config_fingerprint(const core::config& cfg)
{
    canonical_text t;
    t.add("public_base_url", cfg.public_base_url);
    if (cfg.decision.endpoint)
        t.add("decision.url", cfg.decision.endpoint->origin() + cfg.decision.endpoint->target);
    else
        t.add("decision.rules", file_bytes(cfg.decision.rules_path));
    t.add("decision.on_failure", std::to_string(static_cast<int>(cfg.decision.on_failure)));
    for (const auto& [id, o] : cfg.decision.services)
        t.add("decision.services." + id, o.endpoint ? o.endpoint->origin() + o.endpoint->target : std::string());
    if (cfg.enabled_services)
        for (const auto& s : *cfg.enabled_services)
            t.add("services.enabled", s);
    const auto& a = cfg.auth;
    t.add("auth.required", a.required ? "true" : "false");
    t.add("auth.max_token_lifetime_s", std::to_string(a.max_token_lifetime_s));
    t.add("auth.clock_leeway_s", std::to_string(a.clock_leeway_s));
    for (const auto& alg : a.allowed_algs)
        t.add("auth.allowed_algs", alg);
    t.add("auth.signing_key", a.signing_key ? file_bytes(*a.signing_key) : std::string());
    t.add("auth.allow_basic", a.allow_basic ? "true" : "false");
    for (const auto& c : a.clients)
    {
        t.add("client", c.client_id);
        t.add("jwks", c.jwks ? boost::json::serialize(*c.jwks) : std::string());
        t.add("jwks_url", c.jwks_url ? c.jwks_url->origin() + c.jwks_url->target : std::string());
        for (const auto& j : c.jku_allowlist)
            t.add("jku", j);
        t.add("scope", c.scope);
        t.add("secret_hash", c.secret_hash.value_or(""));
        t.add("max_token_lifetime_s", c.max_token_lifetime_s ? std::to_string(*c.max_token_lifetime_s) : std::string());
    }
    if (a.replay_cache)
        t.add("auth.replay_cache", a.replay_cache->host + ":" + std::to_string(a.replay_cache->port) + "/" + std::to_string(a.replay_cache->db) +
                                       " " + a.replay_cache->prefix);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(t.str().data(), t.str().size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < 8 && i < len; ++i)
    {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

void publish_config_fingerprint(const std::string& fingerprint)
{
    config_info::instance().family.set(fingerprint);
}

}  // namespace crd::server
