#include "jwks_source.hpp"

#include <crd/core/json_document.hpp>
#include <crd/core/log.hpp>
#include <crd/core/trace_context.hpp>
#include <crd/auth/auth_metrics.hpp>
#include <crd/upstream/pool_registry.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>

#include <algorithm>
#include <stdexcept>

namespace json = boost::json;

namespace crd::auth {
namespace {

constexpr auto jwks_floor = std::chrono::minutes(1);            // never refetch more often than this on expiry
constexpr auto jwks_ceiling = std::chrono::hours(24);           // and never keep keys longer than this
constexpr auto unknown_kid_refetch = std::chrono::seconds(30);  // rate limit for "kid not found" refetches

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

// One source's refresh loop; a terminal cancellation of its task group ends the wait.
net::awaitable<void> keep_fresh(jwks_source& source, std::chrono::milliseconds every)
{
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;)
    {
        co_await source.refresh(false);
        if ((co_await net::this_coro::cancellation_state).cancelled() != net::cancellation_type::none)
            co_return;
        timer.expires_after(source.until_next_fetch(every));  // sooner after a failure
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec)
            co_return;
    }
}

}  // namespace

jwks_source::jwks_source(const core::url& u) : url_(u), url_text_(u.origin() + u.target), endpoints_(std::make_shared<upstream::endpoint_cache>(u))
{
    if (auto ec = endpoints_->resolve_now())
        log::warning("jwks_host_unresolved", {{"url", url_text_}, {"error", ec.message()}});
    if (u.is_https())
        tls_ = std::make_shared<upstream::tls_context>(std::nullopt);
}

// The client on the context `ex` runs on (a shard, or the control thread).
upstream::http_client jwks_source::client_for(const net::any_io_executor& ex)
{
    std::function<std::shared_ptr<upstream::http_client>()> make = [&] {
        upstream::client_config c;
        c.origin = url_;
        c.max_connections = 2;
        c.max_pending = 16;
        c.max_response_bytes = 256 * 1024;
        c.gauges = &auth_metrics::instance().jwks_pool;
        return std::make_shared<upstream::http_client>(ex, c, endpoints_, tls_);
    };
    return *upstream::pool_registry::of(ex).get_or_create("jwks " + url_text_, make);
}

net::awaitable<void> jwks_source::refresh(bool forced)
{
    {
        std::lock_guard lock(mutex_);
        const auto now = sys_clock::now();
        if (fetching_)
            co_return;
        // Forced (a kid is unknown): once per 30 s after keys were had; while fetches fail,
        // every 250 ms at most, so keys that arrive late are picked up by the next call.
        if (forced && (failing_ ? now - last_attempt_ < std::chrono::milliseconds(250) : now - last_unknown_kid_refetch_ < unknown_kid_refetch))
            co_return;
        if (!forced && now < expires_)
            co_return;
        fetching_ = true;
        last_attempt_ = now;
    }
    auto ex = co_await net::this_coro::executor;
    upstream::request req;
    req.method = "GET";
    req.target = url_.target;
    // A trace of its own: one fetch serves every caller waiting for the keys, and most fetches are
    // the background refresh, which has no caller. Its id is in the failure log line below.
    const auto span = upstream::add_trace_headers(req, core::start_trace());
    auto client = client_for(ex);
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
                    log::debug("jwk_skipped", {{"url", url_text_}, {"error", error}});
            }
        if (auto age = max_age(got->cache_control))
            lifetime = *age;
    }
    lifetime = std::clamp<std::chrono::seconds>(lifetime, jwks_floor, jwks_ceiling);
    std::lock_guard lock(mutex_);
    fetching_ = false;
    if (!problem.empty())
    {
        auth_metrics::instance().failures.add(auth_failure::key_fetch_failed);
        log::warning(
            "jwks_fetch_failed", {{"url", url_text_}, {"error", problem}, {"trace_id", span.trace_id_hex()}, {"span_id", span.span_id_hex()}});
        // Keep the old keys; retry soon, backing off.
        failing_ = true;
        expires_ = sys_clock::now() + backoff_;
        backoff_ = std::min<std::chrono::seconds>(backoff_ * 2, std::chrono::seconds(30));
        co_return;
    }
    if (forced)
        last_unknown_kid_refetch_ = sys_clock::now();
    failing_ = false;
    backoff_ = std::chrono::seconds(1);
    keys_ = std::move(keys);
    expires_ = sys_clock::now() + lifetime;
}

std::chrono::milliseconds jwks_source::until_next_fetch(std::chrono::milliseconds at_most)
{
    std::lock_guard lock(mutex_);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(expires_ - sys_clock::now());
    return std::clamp<std::chrono::milliseconds>(left, std::chrono::milliseconds(200), at_most);
}

bool jwks_source::keys_unavailable()
{
    std::lock_guard lock(mutex_);
    return failing_ && keys_.empty();
}

std::optional<public_key> jwks_source::find_cached(const std::string& kid)
{
    std::lock_guard lock(mutex_);
    for (const auto& k : keys_)
        if (k.kid == kid)
            return k;
    return std::nullopt;
}

bool jwks_source::fetch_in_progress()
{
    std::lock_guard lock(mutex_);
    return fetching_;
}

net::awaitable<std::optional<public_key>> jwks_source::find_key(const std::string& kid)
{
    co_await refresh(false);  // no-op while the cached set is fresh
    auto k = find_cached(kid);
    if (!k && fetch_in_progress())
    {
        // Another caller is fetching the set (e.g. the first one after start-up): wait for it
        // briefly rather than refuse a valid token.
        net::steady_timer wait(co_await net::this_coro::executor);
        for (int i = 0; i < 300 && fetch_in_progress(); ++i)
        {
            wait.expires_after(std::chrono::milliseconds(10));
            co_await wait.async_wait(use_tuple);
        }
        k = find_cached(kid);
    }
    if (!k)
    {
        co_await refresh(true);  // rotated keys: one rate-limited refetch
        k = find_cached(kid);
    }
    co_return k;
}

jwks_source* jwks_sources::add(const core::url& u, const std::string& where)
{
    const auto text = u.origin() + u.target;
    if (auto it = by_url_.find(text); it != by_url_.end())
        return it->second.get();
    // Keys decide who may call: fetch them over TLS, except from this host (tests, sidecars).
    if (!u.is_https() && !is_loopback_host(u.host))
        throw std::runtime_error(where + " must be an https URL (http is allowed only on loopback)");
    auto src = std::make_unique<jwks_source>(u);
    auto* raw = src.get();
    by_url_.emplace(text, std::move(src));
    return raw;
}

jwks_source* jwks_sources::find(std::string_view url_text) const
{
    const auto it = by_url_.find(url_text);
    return it == by_url_.end() ? nullptr : it->second.get();
}

void jwks_sources::start_refreshing(core::task_group& group, std::chrono::milliseconds every)
{
    for (auto& [url, source] : by_url_)
        group.spawn(keep_fresh(*source, every));
}

}  // namespace crd::auth
