#include <crd/auth/authenticator.hpp>

#include <crd/core/ids.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/log.hpp>
#include <crd/core/text.hpp>
#include <crd/upstream/pool_registry.hpp>
#include <crd/upstream/http_client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace json = boost::json;

namespace crd::auth {
namespace {

using metrics::auth_failure;
using sys_clock = std::chrono::system_clock;

constexpr auto jwks_floor = std::chrono::minutes(1);      // never refetch more often than this on expiry
constexpr auto jwks_ceiling = std::chrono::hours(24);     // and never keep keys longer than this
constexpr auto unknown_kid_refetch = std::chrono::seconds(30);  // rate limit for "kid not found" refetches
constexpr std::size_t max_verified_access_tokens = 10'000;
// HTTP Basic: a PBKDF2 check costs about 0.1 s of CPU, so it runs on a thread of its own, never
// on a thread serving calls, with a bounded queue; a verified secret is then recalled a while.
constexpr unsigned max_basic_checks_in_flight = 16;
constexpr unsigned max_basic_checks_per_source = max_basic_checks_in_flight / 2;
constexpr std::size_t max_verified_basic = 1'000;
constexpr std::int64_t verified_basic_lifetime_s = 300;
constexpr std::int64_t access_token_lifetime_s = 300;
constexpr std::size_t max_token_bytes = 16 * 1024;

std::int64_t now_s()
{
    return std::chrono::duration_cast<std::chrono::seconds>(sys_clock::now().time_since_epoch()).count();
}

// The last second of year 9999: no NumericDate we accept is larger, so sums and differences of
// two of them (plus a leeway) stay far inside int64.
constexpr std::int64_t max_numeric_date = 253'402'300'799;

// A NumericDate claim (RFC 7519 §2) as whole seconds from 1970 to the end of 9999; nullopt when
// absent or anything else. Doubles are range-checked before any conversion (1e300, inf and NaN
// would be undefined behaviour to cast) and must be whole: these run before the signature check.
std::optional<std::int64_t> numeric_claim(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (!v)
        return std::nullopt;
    if (v->is_int64())
    {
        const auto n = v->get_int64();
        return n >= 0 && n <= max_numeric_date ? std::optional<std::int64_t>(n) : std::nullopt;
    }
    if (v->is_uint64())
        return v->get_uint64() <= static_cast<std::uint64_t>(max_numeric_date)
                   ? std::optional<std::int64_t>(static_cast<std::int64_t>(v->get_uint64()))
                   : std::nullopt;
    if (v->is_double())
    {
        const double d = v->get_double();
        if (!(d >= 0.0 && d <= static_cast<double>(max_numeric_date)) || d != std::floor(d))
            return std::nullopt;
        return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

// A time claim that is present but not a NumericDate: the token is malformed, whatever it says.
bool bad_time_claim(const json::object& o, std::string_view key)
{
    return o.contains(key) && !numeric_claim(o, key);
}

std::string string_claim(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool audience_matches(const json::value* aud, const std::vector<std::string>& accepted)
{
    if (!aud)
        return false;
    auto one = [&](const json::value& v) {
        return v.is_string() && std::find(accepted.begin(), accepted.end(), std::string_view(v.get_string())) != accepted.end();
    };
    if (aud->is_string())
        return one(*aud);
    if (aud->is_array())
        return std::any_of(aud->get_array().begin(), aud->get_array().end(), one);
    return false;
}

std::vector<std::string> split_scopes(std::string_view s)
{
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    std::string w;
    while (in >> w)
        out.push_back(w);
    return out;
}

// application/x-www-form-urlencoded; nullopt on bad escapes or duplicated names (RFC 6749 §3.2).
std::optional<std::map<std::string, std::string>> parse_form(std::string_view body)
{
    auto unescape = [](std::string_view in) -> std::optional<std::string> {
        std::string out;
        for (std::size_t i = 0; i < in.size(); ++i)
        {
            if (in[i] == '+')
                out += ' ';
            else if (in[i] == '%')
            {
                if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
                    !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
                    return std::nullopt;
                out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
                i += 2;
            }
            else
                out += in[i];
        }
        return out;
    };
    std::map<std::string, std::string> out;
    while (!body.empty())
    {
        const auto amp = body.find('&');
        const auto pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        if (pair.empty())
            continue;
        const auto eq = pair.find('=');
        auto name = unescape(pair.substr(0, eq));
        auto value = unescape(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!name || !value || !out.emplace(std::move(*name), std::move(*value)).second)
            return std::nullopt;
    }
    return out;
}

// Keys from one JWKS URL, shared by every thread.
struct key_source
{
    core::url url;
    std::shared_ptr<upstream::endpoint_cache> endpoints;
    std::shared_ptr<upstream::tls_context> tls;
    std::mutex mutex;
    std::vector<public_key> keys;         // guarded by mutex
    sys_clock::time_point expires{};      // guarded by mutex
    sys_clock::time_point last_attempt{}; // guarded by mutex
    sys_clock::time_point last_unknown_kid_refetch{};  // guarded by mutex: a forced fetch that got keys
    bool fetching = false;                // guarded by mutex
    // The last fetch failed (the EHR's key host not up yet, a network blip): retried after
    // `backoff`, doubling from 1 s to 30 s, without using up the unknown-kid refetch.
    bool failing = false;                        // guarded by mutex
    std::chrono::seconds backoff{1};             // guarded by mutex
};

struct client_entry
{
    const core::auth_client* registration = nullptr;
    std::vector<public_key> inline_keys;
    key_source* registered_source = nullptr;  // jwks_url
    std::set<std::string> scopes;
};

// Verified credentials remembered until they expire, bounded in memory. Expired entries are
// dropped when met and swept when the map is full; a map full of live entries takes no more (the
// caller then simply verifies every time). Thread-safe.
template <class Value>
class expiring_cache
{
public:
    explicit expiring_cache(std::size_t capacity) : capacity_(capacity) {}

    std::optional<Value> find(const std::string& key, std::int64_t now)
    {
        std::lock_guard lock(mutex_);
        const auto it = entries_.find(key);
        if (it == entries_.end())
            return std::nullopt;
        if (it->second.second < now)
        {
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.first;
    }

    void insert(std::string key, Value value, std::int64_t until, std::int64_t now)
    {
        std::lock_guard lock(mutex_);
        if (entries_.size() >= capacity_)
            std::erase_if(entries_, [&](const auto& e) { return e.second.second < now; });
        if (entries_.size() < capacity_)
            entries_.emplace(std::move(key), std::make_pair(std::move(value), until));
    }

private:
    const std::size_t capacity_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::pair<Value, std::int64_t>> entries_;  // key -> value, until
};

// The slow hash, as a coroutine of its own (not a lambda: GCC 12 mishandles coroutine lambdas),
// run on the hashing thread. Arguments by value: the caller's strings must not be shared.
net::awaitable<bool> check_secret_on_pool(std::string secret, std::string stored_hash)
{
    co_return secret_matches(secret, stored_hash);
}

std::optional<std::chrono::seconds> max_age(std::string_view cache_control)
{
    const auto p = cache_control.find("max-age=");
    if (p == std::string_view::npos)
        return std::nullopt;
    try
    {
        return std::chrono::seconds(std::stol(std::string(cache_control.substr(p + 8))));
    }
    catch (...)
    {
        return std::nullopt;
    }
}

bool is_loopback_host(const std::string& host)
{
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace


struct authenticator::impl
{
    const core::config cfg;  // a copy: a reload builds a new authenticator from the new file
    std::string issuer;  // our own: public_base_url
    std::string token_url;
    signing_key own_key;
    public_key own_verifier;
    std::map<std::string, client_entry, std::less<>> clients;
    std::map<std::string, std::unique_ptr<key_source>, std::less<>> sources;  // by URL
    std::set<std::string> allowed_algs;

    std::shared_ptr<replay_cache> replays;  // shared with the authenticators of other generations

    // Access tokens we issued and have verified once. An EHR reuses one for every call of its
    // (at most 5-minute) life, and an ES384 verification costs about 0.7 ms of CPU. Keyed by the
    // whole token text: a token that differs in any byte is verified afresh. A reload builds a new
    // authenticator, so a client removed from the registry loses its cached tokens with it.
    expiring_cache<identity> verified_access_tokens{max_verified_access_tokens};  // until exp + leeway

    // HTTP Basic. Verified credentials are remembered under an HMAC keyed with a secret of this
    // process only, so memory never holds anything a guess could be checked against offline.
    net::thread_pool hashing{1};
    std::atomic<unsigned> basic_in_flight{0};
    std::mutex basic_sources_mutex;
    std::unordered_map<std::string, unsigned> basic_in_flight_by_source;  // guarded by basic_sources_mutex

    // One slot of the Basic hashing pool, per source and overall; released by its destructor.
    class basic_slot
    {
    public:
        basic_slot(impl& m, std::string source) : m_(m), source_(std::move(source))
        {
            {
                std::lock_guard lock(m_.basic_sources_mutex);
                auto& mine = m_.basic_in_flight_by_source[source_];
                if (mine >= max_basic_checks_per_source)
                {
                    if (mine == 0)
                        m_.basic_in_flight_by_source.erase(source_);
                    return;
                }
                ++mine;
            }
            if (m_.basic_in_flight.fetch_add(1, std::memory_order_relaxed) >= max_basic_checks_in_flight)
            {
                m_.basic_in_flight.fetch_sub(1, std::memory_order_relaxed);
                release_source();
                return;
            }
            held_ = true;
        }
        ~basic_slot()
        {
            if (!held_)
                return;
            m_.basic_in_flight.fetch_sub(1, std::memory_order_relaxed);
            release_source();
        }
        basic_slot(const basic_slot&) = delete;
        basic_slot& operator=(const basic_slot&) = delete;
        explicit operator bool() const noexcept { return held_; }

    private:
        void release_source()
        {
            std::lock_guard lock(m_.basic_sources_mutex);
            if (auto it = m_.basic_in_flight_by_source.find(source_); it != m_.basic_in_flight_by_source.end() && --it->second == 0)
                m_.basic_in_flight_by_source.erase(it);
        }
        impl& m_;
        std::string source_;
        bool held_ = false;
    };
    std::string basic_cache_key = random_key();
    expiring_cache<std::string> verified_basic{max_verified_basic};  // mac -> client_id

    static std::string random_key()
    {
        std::string k(32, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(k.data()), static_cast<int>(k.size())) != 1)
            throw std::runtime_error("no randomness for the Basic credential cache key");
        return k;
    }

    std::string basic_mac(std::string_view credentials) const
    {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        HMAC(EVP_sha256(), basic_cache_key.data(), static_cast<int>(basic_cache_key.size()),
             reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size(), mac, &len);
        return std::string(reinterpret_cast<const char*>(mac), len);
    }

    // A token past its expiry is not recalled: it is verified again, and refused with its own log line.
    std::optional<identity> recall_access_token(std::string_view token)
    {
        return verified_access_tokens.find(std::string(token), now_s());
    }

    void remember_access_token(std::string_view token, const identity& who, std::int64_t exp)
    {
        verified_access_tokens.insert(std::string(token), who, exp + static_cast<std::int64_t>(cfg.auth.clock_leeway_s), now_s());
    }

    impl(const core::config& c, std::shared_ptr<replay_cache> shared_replays)
        : cfg(c), issuer(c.public_base_url), token_url(c.public_base_url + "/auth/token"),
          replays(shared_replays ? std::move(shared_replays) : std::make_shared<replay_cache>())
    {
        allowed_algs.insert(cfg.auth.allowed_algs.begin(), cfg.auth.allowed_algs.end());
        if (cfg.auth.signing_key)
            own_key = load_signing_key(*cfg.auth.signing_key);
        else
        {
            own_key = generate_signing_key();
            if (cfg.auth.required)
                log::warning("signing_key_generated", {{"detail",
                    "auth.signing_key is not set: access tokens are signed with a key generated at start-up, so they "
                    "stop working on restart and on other instances"}});
        }
        own_verifier = own_key.verifier();

        std::size_t i = 0;
        for (const auto& reg : cfg.auth.clients)
        {
            const std::string where = "auth.clients[" + std::to_string(i++) + "]";
            client_entry e;
            e.registration = &reg;
            for (auto& s : split_scopes(reg.scope))
                e.scopes.insert(s);
            if (reg.jwks)
            {
                std::size_t k = 0;
                for (const auto& item : reg.jwks->at("keys").as_array())
                {
                    std::string error;
                    if (!item.is_object())
                        throw std::runtime_error(where + ".jwks.keys[" + std::to_string(k) + "] is not an object");
                    auto key = parse_jwk(item.get_object(), error);
                    if (!key)
                        throw std::runtime_error(where + ".jwks.keys[" + std::to_string(k) + "]: " + error);
                    e.inline_keys.push_back(std::move(*key));
                    ++k;
                }
            }
            if (reg.jwks_url)
                e.registered_source = add_source(*reg.jwks_url, where + ".jwks_url");
            for (std::size_t k = 0; k < reg.jku_allowlist.size(); ++k)
                add_source(*core::parse_http_url(reg.jku_allowlist[k]), where + ".jku_allowlist[" + std::to_string(k) + "]");
            clients.emplace(reg.client_id, std::move(e));
        }
    }

    key_source* add_source(const core::url& u, const std::string& where)
    {
        const auto text = u.origin() + u.target;
        if (auto it = sources.find(text); it != sources.end())
            return it->second.get();
        // Keys decide who may call: fetch them over TLS, except from this host (tests, sidecars).
        if (!u.is_https() && !is_loopback_host(u.host))
            throw std::runtime_error(where + " must be an https URL (http is allowed only on loopback)");
        auto src = std::make_unique<key_source>();
        src->url = u;
        src->endpoints = std::make_shared<upstream::endpoint_cache>(u);
        if (auto ec = src->endpoints->resolve_now())
            log::warning("jwks_host_unresolved", {{"url", text}, {"error", ec.message()}});
        if (u.is_https())
            src->tls = std::make_shared<upstream::tls_context>(std::nullopt);
        auto* raw = src.get();
        sources.emplace(text, std::move(src));
        return raw;
    }

    // The client for `src` on the context `ex` runs on (a shard, or the control thread).
    upstream::http_client client_for(key_source& src, const net::any_io_executor& ex)
    {
        std::function<std::shared_ptr<upstream::http_client>()> make = [&] {
            upstream::client_config c;
            c.origin = src.url;
            c.max_connections = 2;
            c.max_pending = 16;
            c.max_response_bytes = 256 * 1024;
            c.pool = metrics::pool_kind::jwks;
            return std::make_shared<upstream::http_client>(ex, c, src.endpoints, src.tls);
        };
        return *upstream::pool_registry::of(ex).get_or_create("jwks " + src.url.origin() + src.url.target, make);
    }

    // Fetches a JWK Set; keeps the old keys when the fetch fails. `forced`: a kid was unknown.
    net::awaitable<void> refresh(key_source& src, bool forced)
    {
        {
            std::lock_guard lock(src.mutex);
            const auto now = sys_clock::now();
            if (src.fetching)
                co_return;
            // Forced (a kid is unknown): once per 30 s after keys were had; while fetches fail,
            // every 250 ms at most, so keys that arrive late are picked up by the next call.
            if (forced && (src.failing ? now - src.last_attempt < std::chrono::milliseconds(250)
                                       : now - src.last_unknown_kid_refetch < unknown_kid_refetch))
                co_return;
            if (!forced && now < src.expires)
                co_return;
            src.fetching = true;
            src.last_attempt = now;
        }
        auto ex = co_await net::this_coro::executor;
        upstream::request req;
        req.method = "GET";
        req.target = src.url.target;
        auto client = client_for(src, ex);
        auto got = co_await client.send(std::move(req), clock::now() + std::chrono::seconds(3));
        std::vector<public_key> keys;
        std::string problem;
        auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::minutes(5));
        if (!got)
            problem = got.error().message();
        else if (got->status != 200)
            problem = "HTTP " + std::to_string(got->status);
        else
        {
            boost::system::error_code ec;
            auto doc = core::parse_json(got->body, ec);
            const json::value* list = (!ec && doc.is_object()) ? doc.get_object().if_contains("keys") : nullptr;
            if (!list || !list->is_array())
                problem = "not a JWK Set";
            else
                for (const auto& item : list->get_array())
                {
                    std::string error;
                    if (auto k = item.is_object() ? parse_jwk(item.get_object(), error) : std::nullopt)
                        keys.push_back(std::move(*k));
                    else
                        log::debug("jwk_skipped", {{"url", src.url.origin() + src.url.target}, {"error", error}});
                }
            if (auto age = max_age(got->cache_control))
                lifetime = *age;
        }
        lifetime = std::clamp<std::chrono::seconds>(lifetime, jwks_floor, jwks_ceiling);
        std::lock_guard lock(src.mutex);
        src.fetching = false;
        if (!problem.empty())
        {
            metrics::count(auth_failure::key_fetch_failed);
            log::warning("jwks_fetch_failed", {{"url", src.url.origin() + src.url.target}, {"error", problem}});
            // Keep the old keys; retry soon, backing off.
            src.failing = true;
            src.expires = sys_clock::now() + src.backoff;
            src.backoff = std::min<std::chrono::seconds>(src.backoff * 2, std::chrono::seconds(30));
            co_return;
        }
        if (forced)
            src.last_unknown_kid_refetch = sys_clock::now();
        src.failing = false;
        src.backoff = std::chrono::seconds(1);
        src.keys = std::move(keys);
        src.expires = sys_clock::now() + lifetime;
    }

    // How long the background loop may sleep before `src` wants fetching again.
    std::chrono::milliseconds until_next_fetch(key_source& src, std::chrono::milliseconds at_most)
    {
        std::lock_guard lock(src.mutex);
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(src.expires - sys_clock::now());
        return std::clamp<std::chrono::milliseconds>(left, std::chrono::milliseconds(200), at_most);
    }

    // No key could be found because the keys themselves could not be had, not because the kid
    // is wrong: the source (the jku's, else the registered one) has no keys and its last fetch failed.
    template <class SourceIt>
    bool keys_unavailable(const client_entry& client, SourceIt jku_source)
    {
        key_source* src = jku_source != sources.end() ? jku_source->second.get() : client.registered_source;
        if (!src)
            return false;
        std::lock_guard lock(src->mutex);
        return src->failing && src->keys.empty();
    }

    std::optional<public_key> find_cached(key_source& src, const std::string& kid)
    {
        std::lock_guard lock(src.mutex);
        for (const auto& k : src.keys)
            if (k.kid == kid)
                return k;
        return std::nullopt;
    }

    bool fetch_in_progress(key_source& src)
    {
        std::lock_guard lock(src.mutex);
        return src.fetching;
    }

    net::awaitable<std::optional<public_key>> find_key(key_source& src, const std::string& kid)
    {
        co_await refresh(src, false);  // no-op while the cached set is fresh
        auto k = find_cached(src, kid);
        if (!k && fetch_in_progress(src))
        {
            // Another caller is fetching the set (e.g. the first one after start-up): wait for it
            // briefly rather than refuse a valid token.
            net::steady_timer wait(co_await net::this_coro::executor);
            for (int i = 0; i < 300 && fetch_in_progress(src); ++i)
            {
                wait.expires_after(std::chrono::milliseconds(10));
                co_await wait.async_wait(use_tuple);
            }
            k = find_cached(src, kid);
        }
        if (!k)
        {
            co_await refresh(src, true);  // rotated keys: one rate-limited refetch
            k = find_cached(src, kid);
        }
        co_return k;
    }

    // Records iss+jti until exp; false when already seen (or the cache is full of live entries).
    // Each jti is kept until its token's exp plus the leeway: until then it could still be accepted.
    bool first_use(const std::string& iss, const std::string& jti, std::int64_t exp)
    {
        return replays->first_use(iss, jti, exp + static_cast<std::int64_t>(cfg.auth.clock_leeway_s), now_s());
    }

    rejection fail(auth_failure reason, std::string detail, bool token_given = true)
    {
        return rejection{reason, token_given, std::move(detail), explain(reason)};
    }

    struct jwt_rules
    {
        std::vector<std::string> audiences;
        bool require_iat = true;
        bool require_sub_equals_iss = false;
        std::optional<std::int64_t> max_exp_ahead;  // SMART assertion: exp at most 5 minutes ahead
    };

    // Mode A and SMART client assertions: a client-signed JWT checked against its registration.
    net::awaitable<auth_result> verify_client_jwt(const jws& token, const jwt_rules& rules)
    {
        const auto alg = string_claim(token.header, "alg");
        if (!allowed_algs.count(alg) || !family_for_alg(alg))
            co_return fail(auth_failure::bad_algorithm, "alg '" + alg + "' is not accepted");
        if (string_claim(token.header, "typ") != "JWT")
            co_return fail(auth_failure::malformed, "typ must be JWT");
        const auto kid = string_claim(token.header, "kid");
        if (kid.empty())
            co_return fail(auth_failure::malformed, "kid is required");
        const auto iss = string_claim(token.payload, "iss");
        const auto it = clients.find(iss);
        if (iss.empty() || it == clients.end())
            co_return fail(auth_failure::unknown_client, "iss '" + iss + "' is not a registered client");
        client_entry& client = it->second;
        const auto jti = string_claim(token.payload, "jti");
        for (std::string_view claim : {"exp", "iat", "nbf"})
            if (bad_time_claim(token.payload, claim))
                co_return fail(auth_failure::malformed, std::string(claim) + " must be a NumericDate: whole seconds from 1970 to 9999");
        const auto exp = numeric_claim(token.payload, "exp");
        const auto iat = numeric_claim(token.payload, "iat");
        if (jti.empty() || !exp || (rules.require_iat && !iat) || !token.payload.contains("aud"))
            co_return fail(auth_failure::malformed, "exp, iat, jti and aud are required");
        if (rules.require_sub_equals_iss && string_claim(token.payload, "sub") != iss)
            co_return fail(auth_failure::malformed, "sub must equal iss");
        if (!audience_matches(token.payload.if_contains("aud"), rules.audiences))
        {
            // Our own URL, which the caller needs to see (localhost vs 127.0.0.1, http vs https).
            auto refused = fail(auth_failure::bad_audience, "aud does not name this endpoint");
            refused.explanation += ": expected " + rules.audiences.front() + " (public_base_url plus the path called)";
            co_return refused;
        }
        const auto now = now_s();
        const auto leeway = static_cast<std::int64_t>(cfg.auth.clock_leeway_s);
        if (*exp + leeway < now)
            co_return fail(auth_failure::expired, "expired");
        if (iat && *iat > now + leeway)
            co_return fail(auth_failure::not_yet_valid, "iat is in the future");
        if (const auto nbf = numeric_claim(token.payload, "nbf"); nbf && *nbf > now + leeway)
            co_return fail(auth_failure::not_yet_valid, "nbf is in the future");
        const auto max_lifetime = static_cast<std::int64_t>(
            client.registration && client.registration->max_token_lifetime_s ? *client.registration->max_token_lifetime_s
                                                                              : cfg.auth.max_token_lifetime_s);
        if (iat && *exp - *iat > max_lifetime)
        {
            auto refused = fail(auth_failure::lifetime_too_long, "exp - iat exceeds the client's max_token_lifetime_s");
            refused.explanation += " (at most " + std::to_string(max_lifetime) + " s from iat to exp)";
            co_return refused;
        }
        if (rules.max_exp_ahead && *exp > now + *rules.max_exp_ahead + leeway)
            co_return fail(auth_failure::lifetime_too_long, "exp is more than 5 minutes ahead");

        // Key: the jku (only a registered URL), else the registered JWKS URL, else the inline set.
        std::optional<public_key> key;
        const auto jku = string_claim(token.header, "jku");
        if (token.header.contains("jku"))
        {
            // Both sides canonical (scheme and host case, default port): one URL, one spelling.
            const auto& reg = *client.registration;
            const auto wanted = core::canonical_url(jku);
            const bool allowed = !wanted.empty() &&
                                 ((reg.jwks_url && wanted == reg.jwks_url->origin() + reg.jwks_url->target) ||
                                  std::any_of(reg.jku_allowlist.begin(), reg.jku_allowlist.end(),
                                              [&](const std::string& listed) { return core::canonical_url(listed) == wanted; }));
            const auto src = allowed ? sources.find(wanted) : sources.end();
            if (!allowed || src == sources.end())
                co_return fail(auth_failure::bad_jku, "jku is not registered for this client");
            key = co_await find_key(*src->second, kid);
        }
        else if (client.registered_source)
            key = co_await find_key(*client.registered_source, kid);
        else
            for (const auto& k : client.inline_keys)
                if (k.kid == kid)
                    key = k;
        if (!key && keys_unavailable(client, token.header.contains("jku") ? sources.find(core::canonical_url(jku)) : sources.end()))
            co_return fail(auth_failure::keys_unavailable, "the client's JWK Set could not be fetched");
        if (!key)
            co_return fail(auth_failure::unknown_key, "no key with this kid");
        if (family_for_alg(alg) != key->family)
            co_return fail(auth_failure::bad_algorithm, "alg does not fit the key type");
        if (!verify_signature(alg, *key, token.signing_input, token.signature))
            co_return fail(auth_failure::bad_signature, "signature does not verify");
        // Only a verified token may take a replay-cache slot.
        if (!first_use(iss, jti, *exp))
            co_return fail(auth_failure::replayed, "jti was used before");
        co_return identity{iss, jti, string_claim(token.payload, "tenant")};
    }

    // Mode B: an access token we issued.
    auth_result verify_access_token(const jws& token)
    {
        if (string_claim(token.header, "alg") != own_key.alg || string_claim(token.header, "kid") != own_key.kid)
            return fail(auth_failure::unknown_key, "access token not signed with our current key");
        if (!verify_signature(own_key.alg, own_verifier, token.signing_input, token.signature))
            return fail(auth_failure::bad_signature, "access token signature does not verify");
        const auto exp = numeric_claim(token.payload, "exp");
        if (!exp || *exp + static_cast<std::int64_t>(cfg.auth.clock_leeway_s) < now_s())
            return fail(auth_failure::expired, "access token expired");
        if (!audience_matches(token.payload.if_contains("aud"), {issuer + "/cds-services"}))
            return fail(auth_failure::bad_audience, "access token audience");
        const auto sub = string_claim(token.payload, "sub");
        if (!clients.count(sub))
            return fail(auth_failure::unknown_client, "access token for a client no longer registered");
        return identity{sub, string_claim(token.payload, "jti"), ""};
    }

    net::awaitable<auth_result> verify_basic(std::string_view encoded, std::string_view source)
    {
        if (!cfg.auth.allow_basic)
            co_return fail(auth_failure::malformed, "Basic authentication is not enabled");
        const auto decoded = base64_decode(encoded);
        const auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon == std::string::npos)
            co_return fail(auth_failure::malformed, "malformed Basic credentials");
        const auto id = decoded->substr(0, colon);
        const auto mac = basic_mac(*decoded);
        if (auto client = verified_basic.find(mac, now_s()))
            co_return identity{std::move(*client), "", ""};
        const auto it = clients.find(id);
        const bool known = it != clients.end() && it->second.registration->secret_hash;
        // Bounded, overall and per source: past a limit a caller is refused at once (503, retry)
        // rather than queued behind others.
        basic_slot slot(*this, std::string(source));
        if (!slot)
            co_return fail(auth_failure::busy, "too many Basic verifications in progress");
        // The same work for an unknown client: no client enumeration by timing. Named locals, not
        // temporaries inside the co_await expression: GCC 12 mishandles those.
        std::string secret = decoded->substr(colon + 1);
        std::string stored;
        if (known)
            stored = *it->second.registration->secret_hash;
        auto check = check_secret_on_pool(std::move(secret), std::move(stored));
        const bool matches = co_await net::co_spawn(hashing, std::move(check), net::use_awaitable);
        if (!known)
            co_return fail(auth_failure::unknown_client, "unknown Basic client");
        if (!matches)
            co_return fail(auth_failure::bad_secret, "wrong secret");
        const auto now = now_s();
        verified_basic.insert(mac, id, now + verified_basic_lifetime_s, now);
        co_return identity{id, "", ""};
    }
};

std::string explain(auth_failure reason)
{
    switch (reason)
    {
    case auth_failure::missing: return "authentication is required: send Authorization: Bearer <token>";
    case auth_failure::malformed: return "the token is malformed: a JWS compact JWT with typ JWT, kid, and iss, aud, exp, iat, jti claims (NumericDate as whole seconds)";
    case auth_failure::bad_algorithm: return "the token's alg is not accepted here, or does not fit its key";
    case auth_failure::unknown_client: return "the token's iss is not a client registered with this server";
    case auth_failure::unknown_key: return "no key of this client has the token's kid";
    case auth_failure::bad_signature: return "the token's signature does not verify";
    case auth_failure::bad_audience: return "the token's aud does not name this endpoint";
    case auth_failure::expired: return "the token has expired";
    case auth_failure::not_yet_valid: return "the token is not valid yet (iat or nbf in the future)";
    case auth_failure::lifetime_too_long: return "the token lives too long";
    case auth_failure::replayed: return "the token's jti was used before: send a fresh token with each call";
    case auth_failure::bad_jku: return "the token's jku is neither the client's jwks_url nor in its jku_allowlist";
    case auth_failure::bad_scope: return "the requested scope exceeds the client's registration";
    case auth_failure::bad_secret: return "the client credentials are not valid";
    case auth_failure::key_fetch_failed: return "the client's keys could not be fetched";
    case auth_failure::busy: return "authentication is busy; retry shortly";
    case auth_failure::keys_unavailable: return "the client's keys are unavailable (its JWKS URL could not be fetched yet); retry shortly";
    case auth_failure::count_: break;
    }
    return "authentication failed";
}

authenticator::authenticator(const core::config& cfg, std::shared_ptr<replay_cache> replays)
    : impl_(std::make_unique<impl>(cfg, std::move(replays)))
{
}
authenticator::~authenticator() = default;

void authenticator::start_background(core::task_group& group, std::chrono::milliseconds refresh)
{
    // Each loop refers to this authenticator's impl and one of its key sources: the group's
    // owner joins it before they are destroyed; a terminal cancellation ends the wait.
    for (auto& [url, src] : impl_->sources)
    {
        key_source* s = src.get();
        group.spawn([](impl& m, key_source& source, std::chrono::milliseconds every) -> net::awaitable<void> {
            net::steady_timer timer(co_await net::this_coro::executor);
            for (;;)
            {
                co_await m.refresh(source, false);
                if ((co_await net::this_coro::cancellation_state).cancelled() != net::cancellation_type::none)
                    co_return;
                timer.expires_after(m.until_next_fetch(source, every));  // sooner after a failure
                auto [ec] = co_await timer.async_wait(use_tuple);
                if (ec)
                    co_return;
            }
        }(*impl_, *s, refresh));
    }
}

net::awaitable<auth_result> authenticator::authenticate(std::string_view authorization, std::string_view path, std::string_view source)
{
    auto& m = *impl_;
    if (authorization.empty())
        co_return m.fail(auth_failure::missing, "no Authorization header", false);
    const auto space = authorization.find(' ');
    const auto scheme = authorization.substr(0, space);
    auto credentials = space == std::string_view::npos ? std::string_view{} : authorization.substr(space + 1);
    while (!credentials.empty() && credentials.front() == ' ')
        credentials.remove_prefix(1);
    using core::iequals;
    if (iequals(scheme, "Basic"))
        co_return co_await m.verify_basic(credentials, source);
    if (!iequals(scheme, "Bearer") || credentials.empty() || credentials.size() > max_token_bytes)
        co_return m.fail(auth_failure::malformed, "not a Bearer token", !credentials.empty());
    if (auto known = m.recall_access_token(credentials))
        co_return *known;
    auto token = parse_compact(credentials);
    if (!token)
        co_return m.fail(auth_failure::malformed, "not a compact JWS");
    if (string_claim(token->payload, "iss") == m.issuer && !m.issuer.empty())
    {
        auto verified = m.verify_access_token(*token);
        if (const auto* who = std::get_if<identity>(&verified))
            m.remember_access_token(credentials, *who, *numeric_claim(token->payload, "exp"));
        co_return verified;
    }

    impl::jwt_rules rules;
    rules.audiences.push_back(m.issuer + std::string(path));
    // Feedback: CDS Hooks leaves its aud open; accept the service URL as well.
    constexpr std::string_view feedback_suffix = "/feedback";
    if (path.size() > feedback_suffix.size() && path.substr(path.size() - feedback_suffix.size()) == feedback_suffix)
        rules.audiences.push_back(m.issuer + std::string(path.substr(0, path.size() - feedback_suffix.size())));
    co_return co_await m.verify_client_jwt(*token, rules);
}

boost::json::object authenticator::smart_configuration() const
{
    json::array scopes;
    std::set<std::string> all;
    for (const auto& [id, c] : impl_->clients)
        all.insert(c.scopes.begin(), c.scopes.end());
    for (const auto& s : all)
        scopes.emplace_back(s);
    json::array algs;
    for (const auto& a : impl_->cfg.auth.allowed_algs)
        algs.emplace_back(a);
    return json::object{
        {"issuer", impl_->issuer},
        {"token_endpoint", impl_->token_url},
        {"grant_types_supported", json::array{"client_credentials"}},
        {"token_endpoint_auth_methods_supported", json::array{"private_key_jwt"}},
        {"token_endpoint_auth_signing_alg_values_supported", std::move(algs)},
        {"scopes_supported", std::move(scopes)},
        {"capabilities", json::array{"client-confidential-asymmetric"}},
        {"code_challenge_methods_supported", json::array{"S256"}},
    };
}

std::string authenticator::token_endpoint() const
{
    return impl_->token_url;
}

net::awaitable<token_answer> authenticator::token(std::string_view content_type, std::string_view body)
{
    auto error = [](std::string code, std::string description) {
        return token_answer{400, json::object{{"error", std::move(code)}, {"error_description", std::move(description)}}};
    };
    const auto semi = content_type.find(';');
    if (content_type.substr(0, semi) != "application/x-www-form-urlencoded")
        co_return error("invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    auto form = parse_form(body);
    if (!form)
        co_return error("invalid_request", "malformed form body or a repeated parameter");
    auto get = [&](const char* name) -> std::string {
        const auto it = form->find(name);
        return it == form->end() ? std::string() : it->second;
    };
    const auto grant_type = get("grant_type");
    if (grant_type.empty())
        co_return error("invalid_request", "grant_type is required");
    if (grant_type != "client_credentials")
        co_return error("unsupported_grant_type", "only client_credentials is supported");
    if (get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        co_return error("invalid_client", "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    const auto assertion = get("client_assertion");
    const auto scope = get("scope");
    if (assertion.empty() || scope.empty())
        co_return error("invalid_request", "client_assertion and scope are required");

    auto& m = *impl_;
    auto token = assertion.size() <= max_token_bytes ? parse_compact(assertion) : std::nullopt;
    if (!token)
    {
        metrics::count(auth_failure::malformed);
        co_return error("invalid_client", "client_assertion is not a JWT");
    }
    impl::jwt_rules rules;
    rules.audiences.push_back(m.token_url);
    rules.require_iat = false;  // SMART does not require iat in the assertion
    rules.require_sub_equals_iss = true;
    rules.max_exp_ahead = 300;
    auto verified = co_await m.verify_client_jwt(*token, rules);
    if (auto* r = std::get_if<rejection>(&verified))
    {
        metrics::count(r->reason);
        log::warning("token_request_refused", {{"reason", metrics::name_of(r->reason)}, {"detail", r->detail}});
        co_return error("invalid_client", "client authentication failed");
    }
    const auto& who = std::get<identity>(verified);
    const auto& registered = m.clients.at(who.client_id).scopes;
    const auto requested = split_scopes(scope);
    for (const auto& s : requested)
        if (!registered.count(s))
        {
            metrics::count(auth_failure::bad_scope);
            co_return error("invalid_scope", "scope '" + s + "' is not registered for this client");
        }
    const auto now = now_s();
    json::object claims{
        {"iss", m.issuer},
        {"sub", who.client_id},
        {"aud", m.issuer + "/cds-services"},
        {"iat", now},
        {"exp", now + access_token_lifetime_s},
        {"jti", core::new_uuid()},
        {"scope", scope},
    };
    log::info("token_issued", {{"client", who.client_id}, {"scope", scope}});
    co_return token_answer{200, json::object{
        {"access_token", sign_compact(m.own_key, claims)},
        {"token_type", "bearer"},
        {"expires_in", access_token_lifetime_s},
        {"scope", scope},
    }};
}

namespace {
constexpr int pbkdf2_rounds = 210'000;  // OWASP 2023 figure for PBKDF2-HMAC-SHA256

std::string pbkdf2(std::string_view secret, std::string_view salt, int rounds)
{
    std::string out(32, '\0');
    PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(salt.data()),
                      static_cast<int>(salt.size()), rounds, EVP_sha256(), static_cast<int>(out.size()),
                      reinterpret_cast<unsigned char*>(out.data()));
    return out;
}
}  // namespace

std::string hash_secret(std::string_view secret)
{
    std::string salt(16, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
        throw std::runtime_error("no randomness for a salt");
    return "pbkdf2-sha256$" + std::to_string(pbkdf2_rounds) + "$" + base64_encode(salt) + "$" +
           base64_encode(pbkdf2(secret, salt, pbkdf2_rounds));
}

bool secret_matches(std::string_view secret, std::string_view stored)
{
    // pbkdf2-sha256$rounds$salt$hash
    std::vector<std::string_view> parts;
    while (parts.size() < 4)
    {
        const auto d = stored.find('$');
        parts.push_back(stored.substr(0, d));
        if (d == std::string_view::npos)
            break;
        stored.remove_prefix(d + 1);
    }
    int rounds = pbkdf2_rounds;
    std::optional<std::string> salt, expected;
    if (parts.size() == 4 && parts[0] == "pbkdf2-sha256")
    {
        rounds = std::clamp(std::atoi(std::string(parts[1]).c_str()), 1, 10'000'000);
        salt = base64_decode(parts[2]);
        expected = base64_decode(parts[3]);
    }
    // Always spend the work, so a malformed or missing hash costs as much as a real one.
    const auto got = pbkdf2(secret, salt ? *salt : std::string(16, '\0'), rounds);
    if (!salt || !expected || expected->size() != got.size())
        return false;
    return CRYPTO_memcmp(got.data(), expected->data(), got.size()) == 0;
}

}  // namespace crd::auth
