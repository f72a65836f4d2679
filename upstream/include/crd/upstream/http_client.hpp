#pragma once
// A pooled async HTTP/1.1 client for the services crd-server calls (the decision service, EHR FHIR
// servers, JWKS endpoints): http and https (OpenSSL, peer verification and SNI on), one bounded
// keep-alive pool per origin and shard, one deadline per request. Beast stays in the .cpp files.

#include <crd/core/async.hpp>
#include <crd/core/error.hpp>
#include <crd/core/metrics.hpp>
#include <crd/core/trace_context.hpp>
#include <crd/core/url.hpp>
#include <crd/upstream/pool_metrics.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crd::upstream {

struct header
{
    std::string name;
    std::string value;
};

struct request
{
    std::string method = "POST";
    std::string target;  // path and query on the origin
    std::string body;
    std::string content_type = "application/json";
    std::vector<header> headers;
};

// W3C Trace Context for a call made within `parent` (crd-server's span of a request): adds
// traceparent naming a new child span (same trace id, new span id) and tracestate when there is
// one, and returns that child span. Adds nothing, and returns `parent`, when `parent` is invalid.
core::trace_context add_trace_headers(request& req, const core::trace_context& parent);

struct response
{
    unsigned status = 0;
    std::string body;
    std::string content_type;
    std::string cache_control;
    std::string location;
};

struct client_config
{
    core::url origin;
    std::size_t max_connections = 16;  // per shard
    std::size_t max_pending = 256;     // callers waiting for a connection before new ones fail fast
    // Idle connections older than this are closed instead of reused; keep it below the upstream's
    // keep-alive timeout (Node.js defaults to 5 s) so we never write into a connection it is closing.
    std::chrono::milliseconds idle_ttl{4000};
    std::size_t max_response_bytes = 4 * 1024 * 1024;
    std::optional<std::string> ca_file;  // PEM bundle for a private CA; default: the system store
    // The crd_upstream_* series this pool adds to: pool_gauges_for(<name chosen by the creator>).
    // Null: counted, but not published (a pool made by a test).
    pool_gauges* gauges = nullptr;
};

struct pool_stats
{
    std::size_t open = 0;
    std::size_t idle = 0;
    std::size_t waiting = 0;
    std::uint64_t connects = 0;  // connections opened
    std::uint64_t reuses = 0;    // requests served on a pooled connection
    std::uint64_t retries = 0;   // stale pooled connections retried once
};

// The resolved addresses of one origin, shared by every shard. The resolver cannot be cancelled on
// Boost 1.81, so names are resolved at start-up and refreshed in the background, never per request.
class endpoint_cache
{
public:
    explicit endpoint_cache(core::url origin);
    ~endpoint_cache();

    const core::url& origin() const noexcept;

    // Blocking; start-up only. On failure the cache stays empty and requests fail fast.
    error_code resolve_now();

    // Re-resolves every `interval` on `ex` until the cache is destroyed; keeps the old addresses
    // when a refresh fails. Thread safety: readers on any thread, one refresher.
    void start_refresh(net::any_io_executor ex, std::chrono::milliseconds interval);

    bool resolved() const;

    struct impl;
    // For this library's client only.
    const std::shared_ptr<impl>& internals() const noexcept { return impl_; }

private:
    std::shared_ptr<impl> impl_;
};

// TLS settings shared by the pools of one origin (an OpenSSL SSL_CTX).
class tls_context
{
public:
    // Throws std::runtime_error naming the CA file when it cannot be loaded.
    explicit tls_context(const std::optional<std::string>& ca_file);
    ~tls_context();

    struct impl;
    impl& get() noexcept { return *impl_; }

private:
    std::unique_ptr<impl> impl_;
};

// One origin's pool on one shard. Copies share the pool.
// Thread safety: use from the executor's thread only (one io_context per shard).
class http_client
{
public:
    http_client(net::any_io_executor ex, client_config cfg, std::shared_ptr<const endpoint_cache> endpoints,
        std::shared_ptr<tls_context> tls  // required for https origins
    );

    // Sends one request and reads its response, all before `deadline`. Completes with the response
    // (any status) or an error: errc::upstream_timeout, errc::pool_exhausted,
    // errc::response_too_large, errc::upstream_unresolved, or the connection's error. A pooled
    // connection that fails before any response byte is retried once on a fresh one, within the
    // deadline. Cancellation: none beyond the deadline; the connection is discarded on failure.
    net::awaitable<result<response>> send(request req, clock::time_point deadline);

    pool_stats stats() const noexcept;

    struct state;

private:
    std::shared_ptr<state> state_;
};

}  // namespace crd::upstream
