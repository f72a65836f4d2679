#pragma once
// Client keys fetched from JWKS URLs (a client's registered jwks_url, or a jku its allowlist
// names): fetched over the pooled upstream client, cached for the set's max-age, refetched
// (rate-limited) when a kid is unknown, retried with backoff while the host fails, and kept
// fresh by a background loop.

#include <crd/auth/jose.hpp>
#include <crd/core/async.hpp>
#include <crd/core/task_group.hpp>
#include <crd/core/url.hpp>
#include <crd/upstream/http_client.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crd::auth {

// Keys from one JWKS URL, shared by every thread.
class jwks_source
{
public:
    // Resolves the host now (a failure is logged: the fetch retries it).
    explicit jwks_source(const core::url& u);
    jwks_source(const jwks_source&) = delete;
    jwks_source& operator=(const jwks_source&) = delete;

    // origin + target: the source's name in the registry and in logs.
    const std::string& url_text() const noexcept { return url_text_; }

    // Fetches the JWK Set unless the cached one is fresh; keeps the old keys when the fetch fails.
    // `forced`: a kid was unknown (rate-limited, see the body).
    net::awaitable<void> refresh(bool forced);

    // How long the background loop may sleep before this source wants fetching again.
    std::chrono::milliseconds until_next_fetch(std::chrono::milliseconds at_most);

    // The key with `kid`: from the cached set, else after waiting briefly for a fetch in progress,
    // else after one rate-limited refetch (the client may have rotated its keys).
    net::awaitable<std::optional<public_key>> find_key(const std::string& kid);

    // No key could be found because the keys themselves could not be had, not because the kid is
    // wrong: there are none and the last fetch failed.
    bool keys_unavailable();

private:
    upstream::http_client client_for(const net::any_io_executor& ex);
    std::optional<public_key> find_cached(const std::string& kid);
    bool fetch_in_progress();

    using sys_clock = std::chrono::system_clock;

    const core::url url_;
    const std::string url_text_;
    std::shared_ptr<upstream::endpoint_cache> endpoints_;
    std::shared_ptr<upstream::tls_context> tls_;  // https only
    std::mutex mutex_;
    std::vector<public_key> keys_;                      // guarded by mutex_
    sys_clock::time_point expires_{};                   // guarded by mutex_
    sys_clock::time_point last_attempt_{};              // guarded by mutex_
    sys_clock::time_point last_unknown_kid_refetch_{};  // guarded by mutex_: a forced fetch that got keys
    bool fetching_ = false;                             // guarded by mutex_
    // The last fetch failed (the EHR's key host not up yet, a network blip): retried after
    // `backoff_`, doubling from 1 s to 30 s, without using up the unknown-kid refetch.
    bool failing_ = false;             // guarded by mutex_
    std::chrono::seconds backoff_{1};  // guarded by mutex_
};

// Every JWKS URL the client registrations name, one source each.
class jwks_sources
{
public:
    // The source for `u`, added on first mention. Throws std::runtime_error naming `where` (the
    // configuration key) unless `u` is https or on loopback.
    jwks_source* add(const core::url& u, const std::string& where);

    // The source registered under `url_text` (canonical origin + target); null when none is.
    jwks_source* find(std::string_view url_text) const;

    // Fetches every source now and keeps it fresh, every `every` (sooner after a failure), as
    // tasks of `group`. The group's owner ends and joins them before these sources are destroyed.
    void start_refreshing(core::task_group& group, std::chrono::milliseconds every);

private:
    std::map<std::string, std::unique_ptr<jwks_source>, std::less<>> by_url_;
};

}  // namespace crd::auth
