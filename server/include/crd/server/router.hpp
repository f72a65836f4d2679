#pragma once
// Method + path -> discovery, hook call, health or CORS preflight. Works on a plain view of the
// request so that it has no Beast in its interface and can be tested without sockets.

#include <crd/auth/authenticator.hpp>
#include <crd/core/async.hpp>
#include <crd/core/decision.hpp>
#include <crd/core/hook.hpp>
#include <crd/core/trace_context.hpp>
#include <crd/decision/feedback_forwarder.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crd::server {

struct http_request_view
{
    std::string_view method;  // "GET", "POST", ...
    std::string_view target;  // origin-form, may carry a query
    std::string_view content_type;
    std::string_view origin;  // CORS: empty when the header is absent
    std::string_view body;
    clock::time_point received;
    std::string_view authorization = {};   // never logged
    std::string_view remote_address = {};  // the peer's IP, for per-source limits
    // Set when the caller was authenticated on its header already (Expect: 100-continue): the
    // token is not checked twice (its jti would read as a replay).
    const core::request_context* authenticated = nullptr;
    // Any request header by (case-insensitive) name; empty when absent. Set by the listener.
    std::function<std::string_view(std::string_view)> header = {};
    // crd-server's span of this request (W3C Trace Context), made by the listener from the
    // caller's traceparent/tracestate; an invalid (default) one makes the router start a trace.
    core::trace_context trace = {};
};

struct http_response
{
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

class audit_log;

// Which listener a router serves. The public one answers EHRs; the admin one (loopback by
// default) answers Prometheus and the load balancer's checks with what a prober must not see.
enum class surface
{
    public_api,  // hooks, discovery, feedback, token, /health and a bare /ready
    admin,       // /metrics, a detailed /ready, /health; nothing else
};

struct router_settings
{
    std::vector<std::string> cors_allowed_origins{"*"};
    std::size_t max_json_depth = 64;
    const core::decision_service* decision = nullptr;  // for GET /ready; null: always ready
    audit_log* audit = nullptr;                        // null: no audit file
    const auth::authenticator_slot* auth = nullptr;    // null: callers are not authenticated
    const auth::replay_guard* replays = nullptr;       // for GET /ready (a shared cache that is down); null: none
    const std::atomic<bool>* draining = nullptr;       // for GET /ready: true once the server is stopping
    // For the admin GET /ready: what every instance must share, hashed; null: not shown.
    const std::atomic<std::shared_ptr<const std::string>>* config_fingerprint = nullptr;
    bool protect_discovery = true;                     // discovery needs authentication too
    decision::feedback_forwarder* feedback = nullptr;  // null: feedback is only audited
    // How long a request waits for room in a full audit queue before it is refused with 503.
    std::chrono::milliseconds audit_wait{1'000};
    unsigned max_in_flight = 4'096;  // hook and feedback calls being processed; more get 503
    std::string version = "0";       // for crd_build_info
    enum surface surface = surface::public_api;
    bool terse_auth_errors = false;                  // auth.terse_errors: a 401 does not say why
    std::vector<std::string> required_headers = {};  // requests.required_headers, lower case
    std::vector<std::string> forward_headers = {};   // decision.forward_headers, lower case
};

// What the router learnt about a request, for metrics, the access log and the audit record.
struct request_info;

class router
{
public:
    router(const core::hook_registry& registry, router_settings settings);

    // Never throws: a handler's exception becomes a 500 with a generic body (details in the log).
    // Thread safety: const and stateless per call; shared by every server thread.
    net::awaitable<http_response> dispatch(const http_request_view& request) const;

    // For a request that asked "Expect: 100-continue", before its body is read: the final answer
    // when it would be refused anyway (unknown route, wrong method or media type, failed
    // authentication), so the body is never sent; nullopt when the body is wanted. On success
    // `authenticated` holds the caller, for the request view's `authenticated`.
    net::awaitable<std::optional<http_response>> before_body(const http_request_view& head, core::request_context& authenticated) const;

private:
    // What GET /ready says: the decision source's and the shared replay cache's readiness, or
    // draining (stop() was called). /metrics exports the same as crd_ready.
    struct readiness_state
    {
        core::readiness state;
        bool draining = false;
    };
    readiness_state readiness() const;

    // What a request needs: an answer known at once, or one of the calls that must be awaited.
    struct routed;
    // Every route, its listeners, label and a handler per method (router.cpp); 404, 405 and
    // Allow follow from it.
    struct route_table;
    // Plain function, not a coroutine: its many per-route locals never live in a coroutine frame
    // while a call waits on the decision service (thousands of such calls may be waiting).
    routed route(const http_request_view& request, request_info& info) const;
    net::awaitable<http_response> token_call(const http_request_view& request) const;
    net::awaitable<http_response> discovery_call(const http_request_view& request, request_info& info) const;
    net::awaitable<http_response> feedback_call(core::hook_handler& handler, const http_request_view& request, request_info& info) const;
    net::awaitable<http_response> hook_call(core::hook_handler& handler, const http_request_view& request, request_info& info) const;
    // Authenticates the caller of `path`; on failure returns the 401 to send.
    net::awaitable<std::optional<http_response>> authenticate(
        const http_request_view& request, std::string_view path, request_info& info, core::request_context& ctx) const;
    void add_cors_headers(const http_request_view& request, http_response& response) const;
    // CORS, metrics and the access-log line of an answered request.
    void finish(const http_request_view& request, const request_info& info, http_response& response) const;
    bool origin_allowed(std::string_view origin) const;

    const core::hook_registry& registry_;
    router_settings settings_;
    std::string discovery_body_;  // serialized once: discovery never changes while running
};

// True for application/json and application/*+json, with or without parameters.
bool is_json_media_type(std::string_view content_type) noexcept;

}  // namespace crd::server
