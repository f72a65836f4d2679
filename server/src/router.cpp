#include <crd/server/router.hpp>

#include <crd/core/feedback.hpp>
#include <crd/core/hook_request.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/log.hpp>
#include <crd/core/metrics.hpp>
#include <crd/core/text.hpp>
#include <crd/server/audit_log.hpp>
#include <crd/server/http_errors.hpp>
#include <crd/server/server_metrics.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <memory>
#include <optional>
#include <span>

namespace json = boost::json;

namespace crd::server {
namespace {

constexpr std::string_view services_prefix = "/cds-services";

// Room for most answers at once; a hook call's answer grows with its request (every order comes
// back in a systemAction), so it reserves answer_room_for(request) instead: a 184 KB request
// answered into 16 KB grew the text five times, copying half a megabyte.
constexpr std::size_t default_answer_room = 16 * 1024;

// At most a megabyte: max_body_bytes may be far larger, and an answer's room is held until it is
// written; a larger answer grows from there.
constexpr std::size_t largest_answer_room = 1024 * 1024;

std::size_t answer_room_for(std::string_view request_body)
{
    return std::clamp(2 * request_body.size(), default_answer_room, largest_answer_room);
}

http_response json_response(
    unsigned status, const json::value& body, std::size_t room = default_answer_room, std::span<const core::verbatim_object> verbatim = {})
{
    http_response r;
    r.status = status;
    r.body = core::serialize_json(body, room, verbatim);
    return r;
}

http_response problem_response(const core::problem& p)
{
    return json_response(p.status, core::to_operation_outcome(p));
}

http_response problem_response(const error& e)
{
    return problem_response(core::to_problem(e));
}

// 400 for a body that is not JSON we can take, naming where a too-large number sits.
http_response invalid_json(std::string_view body, const boost::system::error_code& ec, std::size_t max_depth)
{
    if (ec == errc::json_number_out_of_range)
    {
        // Found again only on this failure path: the parse itself does not track paths.
        json::parse_options options;
        options.max_depth = max_depth;
        boost::system::error_code ignored;
        const auto where = core::first_nonfinite_number(json::parse(body, ignored, {}, options)).value_or("");
        return problem_response(error{core::request_errc::not_json,
            (where.empty() ? std::string("a number") : where) + " is outside the range of a double: numbers must be finite", where});
    }
    return problem_response(error{core::request_errc::not_json, "request body is not valid JSON: " + ec.message()});
}

http_response method_not_allowed(std::string_view method, std::string_view path, std::string allow)
{
    auto r = problem_response(error{http_errc::method_not_allowed, "method " + std::string(method) + " is not allowed on " + std::string(path)});
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
}

http_response no_resource(std::string_view path)
{
    return problem_response(error{http_errc::not_found, "no resource at " + std::string(path)});
}

http_response not_on_admin_listener()
{
    return problem_response(error{http_errc::not_found, "the admin listener serves /health, /ready and /metrics only"});
}

http_response authentication_not_enabled()
{
    return problem_response(error{http_errc::not_found, "authentication is not enabled on this server"});
}

http_response no_such_service(std::string_view id)
{
    return problem_response(error{http_errc::not_found, "no CDS service '" + std::string(id) + "' is offered here"});
}

http_response origin_not_allowed(std::string_view origin)
{
    return problem_response(error{http_errc::origin_forbidden, "origin " + std::string(origin) + " is not allowed"});
}

http_response unsupported_media_type(std::string_view content_type)
{
    return problem_response(error{http_errc::unsupported_media_type,
        content_type.empty() ? std::string("Content-Type is required and must be application/json")
                             : "Content-Type must be application/json, got '" + core::quote_for_diagnostics(content_type) + "'"});
}

// requests.required_headers: the first one missing or blank, as the 400 to send.
std::optional<http_response> missing_required_header(const http_request_view& request, const std::vector<std::string>& required)
{
    for (const auto& name : required)
    {
        std::string_view value = request.header ? request.header(name) : std::string_view{};
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        if (value.empty())
            return problem_response(
                error{http_errc::missing_header, "the request header " + name + " is required (requests.required_headers)", name});
    }
    return std::nullopt;
}

// The values of `names` the request carries, for the audit record or the decision service.
std::vector<std::pair<std::string, std::string>> header_values(const http_request_view& request, const std::vector<std::string>& names)
{
    std::vector<std::pair<std::string, std::string>> out;
    if (!request.header)
        return out;
    for (const auto& name : names)
        if (auto value = request.header(name); !value.empty())
            out.emplace_back(name, std::string(value));
    return out;
}

http_response overloaded(std::string detail)
{
    auto r = problem_response(error{http_errc::overloaded, std::move(detail)});
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

std::size_t catalogue_index(const core::service_definition& service)
{
    return static_cast<std::size_t>(&service - core::service_catalog().data());
}

}  // namespace

struct request_info
{
    std::string auth_failure;  // reason label, for the access log
    route_label route = route_label::other;
    const core::service_definition* service = nullptr;  // hook calls
    std::string hook_instance;
    std::string client;
    core::trace_context trace;  // crd-server's span of this request
};

namespace {

// The listener's span for the request, or a new trace for a view made without one (tests).
core::trace_context trace_of(const http_request_view& request)
{
    return request.trace.valid() ? request.trace : core::start_trace();
}

}  // namespace

bool is_json_media_type(std::string_view content_type) noexcept
{
    const auto semi = content_type.find(';');
    std::string_view type = content_type.substr(0, semi);
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
        type.remove_suffix(1);
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t'))
        type.remove_prefix(1);
    const auto eq = core::iequals;
    if (eq(type, "application/json"))
        return true;
    constexpr std::string_view prefix = "application/";
    constexpr std::string_view suffix = "+json";
    return type.size() > prefix.size() + suffix.size() && eq(type.substr(0, prefix.size()), prefix) &&
           eq(type.substr(type.size() - suffix.size()), suffix);
}

router::router(const core::hook_registry& registry, router_settings settings)
    : registry_(registry)
    , settings_(std::move(settings))
    , discovery_body_(json::serialize(registry.discovery()))
{
}

bool router::origin_allowed(std::string_view origin) const
{
    return std::any_of(settings_.cors_allowed_origins.begin(), settings_.cors_allowed_origins.end(),
        [&](const std::string& allowed) { return allowed == "*" || core::iequals(allowed, origin); });
}

void router::add_cors_headers(const http_request_view& request, http_response& response) const
{
    if (request.origin.empty() || !origin_allowed(request.origin))
        return;
    const bool wildcard =
        std::find(settings_.cors_allowed_origins.begin(), settings_.cors_allowed_origins.end(), "*") != settings_.cors_allowed_origins.end();
    response.headers.emplace_back("Access-Control-Allow-Origin", wildcard ? std::string("*") : std::string(request.origin));
    // A browser app (the CDS Hooks Sandbox) may read why it was refused and when to retry.
    response.headers.emplace_back("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After");
    if (!wildcard)
        response.headers.emplace_back("Vary", "Origin");
}

struct router::routed
{
    enum step_kind
    {
        answer,
        hook,
        feedback,
        token,
        discovery
    } step = answer;
    http_response response;                 // for answer
    core::hook_handler* handler = nullptr;  // for hook and feedback

    routed(http_response r) : response(std::move(r)) {}  // NOLINT: an answer converts implicitly
    routed(step_kind s, core::hook_handler* h = nullptr) : step(s), handler(h) {}
};

net::awaitable<http_response> router::dispatch(const http_request_view& request) const
{
    http_response response;
    request_info info;
    info.trace = trace_of(request);
    try
    {
        auto next = route(request, info);
        switch (next.step)
        {
        case routed::answer: response = std::move(next.response); break;
        case routed::hook: response = co_await hook_call(*next.handler, request, info); break;
        case routed::feedback: response = co_await feedback_call(*next.handler, request, info); break;
        case routed::token: response = co_await token_call(request); break;
        case routed::discovery: response = co_await discovery_call(request, info); break;
        }
    }
    catch (const std::exception& e)
    {
        // Never disclose internals to the caller; the log has the detail.
        log::error("request_failed", {{"method", request.method}, {"path", request.target.substr(0, request.target.find('?'))}, {"error", e.what()}});
        response = problem_response(error{http_errc::internal});
    }
    finish(request, info, response);
    co_return response;
}

net::awaitable<std::optional<http_response>> router::before_body(const http_request_view& head, core::request_context& authenticated) const
{
    request_info info;
    info.trace = trace_of(head);
    std::optional<http_response> refused;
    auto next = route(head, info);
    if (next.step == routed::answer)
        refused = std::move(next.response);
    else if (next.step == routed::hook || next.step == routed::feedback)
    {
        const std::string_view path = head.target.substr(0, head.target.find('?'));
        if (!is_json_media_type(head.content_type))
            refused = unsupported_media_type(head.content_type);
        else if (auto failed = co_await authenticate(head, path, info, authenticated))
            refused = std::move(failed);
        else if (auto missing = missing_required_header(head, settings_.required_headers))
            refused = std::move(missing);
    }
    if (refused)
        finish(head, info, *refused);
    co_return refused;
}

void router::finish(const http_request_view& request, const request_info& info, http_response& response) const
{
    add_cors_headers(request, response);

    const auto elapsed = clock::now() - request.received;
    auto& m = server_metrics::instance();
    m.requests.add(info.route, response.status);
    if (info.service)
        m.request_seconds.observe(catalogue_index(*info.service), elapsed);
    if (log::enabled(core::log_level::info))
    {
        json::object line{
            {"method", request.method},
            {"path", request.target.substr(0, request.target.find('?'))},  // a query could carry anything
            {"status", response.status},
            {"latency_ms", std::chrono::duration<double, std::milli>(elapsed).count()},
            {"trace_id", info.trace.trace_id_hex()},
            {"span_id", info.trace.span_id_hex()},
        };
        if (!info.hook_instance.empty())
            line["hookInstance"] = info.hook_instance;
        if (!info.client.empty())
            line["client"] = info.client;
        if (!info.auth_failure.empty())
            line["auth_failure"] = info.auth_failure;
        log::write(core::log_level::info, "request", std::move(line));
    }
}

net::awaitable<http_response> router::token_call(const http_request_view& request) const
{
    const auto authn = settings_.auth->load();
    auto answer = co_await authn->token(request.content_type, request.body);
    auto r = json_response(answer.status, answer.body);
    r.headers.emplace_back("Pragma", "no-cache");  // RFC 6749 §5.1 (Cache-Control: no-store is always set)
    if (answer.status == 503)
        r.headers.emplace_back("Retry-After", "1");  // the shared replay cache, for a moment
    co_return r;
}

net::awaitable<http_response> router::discovery_call(const http_request_view& request, request_info& info) const
{
    core::request_context ctx;
    if (auto refused = co_await authenticate(request, services_prefix, info, ctx))
        co_return std::move(*refused);
    http_response r;
    r.body = discovery_body_;
    co_return r;
}

// The route table. Every route the server has is one entry here: its path, the listeners that
// serve it, its metrics label, whether the configuration enables it, whether its caller needs a
// token, and a handler per method. 404, 405 and the Allow header follow from the entries alone.
struct router::route_table
{
    // How an entry's path matches a request's.
    enum class path_shape
    {
        exact,             // the path itself
        collection,        // the path, with or without a trailing '/' ("/cds-services/")
        service,           // path + "/{id}": one of the registry's CDS services
        service_feedback,  // path + "/{id}/feedback"
    };

    enum class served_on
    {
        public_api,
        admin,
        both
    };

    // When the configuration gives a route at all; otherwise it is a 404 that says why.
    enum class enabled_when
    {
        always,
        auth_enabled
    };

    // Who must present a token, when authentication is on. Checked by the awaited call, after the
    // method: a wrong method is 405 before it is 401, on every route.
    enum class caller_auth
    {
        none,
        bearer,
        bearer_if_discovery_protected
    };

    // What a handler gets: the request and what routing learnt about it.
    struct call
    {
        const http_request_view& request;
        request_info& info;
        core::hook_handler* service = nullptr;  // the {id} of a service route, resolved; null elsewhere
        // Set on routes enabled only with authentication; loaded once, as a reload may swap it.
        std::shared_ptr<auth::authenticator> authn = nullptr;
        bool authenticate = false;  // the entry's caller_auth under this configuration: the call checks a token
    };
    using handler = routed (*)(const router&, const call&);

    struct entry
    {
        std::string_view path = {};
        path_shape shape = path_shape::exact;
        served_on surfaces = served_on::public_api;
        // crd_http_requests_total's route label; nullopt: the resolved service's own label (and
        // latency histogram), "other" when the id names no service.
        std::optional<route_label> label = route_label::other;
        enabled_when enabled = enabled_when::always;
        caller_auth authentication = caller_auth::none;
        bool cors_preflight = false;  // OPTIONS is answered as a CORS preflight
        handler get = nullptr;        // also serves HEAD (the listener sends the header only)
        handler post = nullptr;
    };

    // The entry serving `path` on `on`, and the {id} it names (empty for routes without one).
    struct match
    {
        const entry* route = nullptr;
        std::string_view service_id;
    };
    static match find(std::string_view path, surface on);
    static std::optional<std::string_view> matches(const entry& e, std::string_view path);
    static std::string allowed_methods(const entry& e);
    static handler handler_for(const entry& e, std::string_view method);

    static routed health(const router&, const call&);
    static routed ready(const router& self, const call&);
    static routed metrics_text(const router& self, const call&);
    static routed smart_configuration(const router&, const call& c);
    static routed token(const router&, const call&);
    static routed discovery(const router& self, const call& c);
    static routed hook(const router&, const call& c);
    static routed feedback(const router&, const call& c);
    static routed preflight(const router& self, const http_request_view& request, request_info& info, std::string allow);

    static const std::array<entry, 8> entries;
};

const std::array<router::route_table::entry, 8> router::route_table::entries{{
    {.path = "/health", .surfaces = served_on::both, .label = route_label::health, .get = health},
    {.path = "/ready", .surfaces = served_on::both, .label = route_label::ready, .get = ready},
    // Failure counts by reason would help a prober: the admin listener only.
    {.path = "/metrics", .surfaces = served_on::admin, .label = route_label::metrics, .get = metrics_text},
    {.path = "/.well-known/smart-configuration",
        .label = route_label::smart_configuration,
        .enabled = enabled_when::auth_enabled,
        .get = smart_configuration},
    {.path = "/auth/token", .label = route_label::token, .enabled = enabled_when::auth_enabled, .post = token},
    {.path = services_prefix,
        .shape = path_shape::collection,
        .label = route_label::discovery,
        .authentication = caller_auth::bearer_if_discovery_protected,
        .cors_preflight = true,
        .get = discovery},
    {.path = services_prefix,
        .shape = path_shape::service,
        .label = std::nullopt,
        .authentication = caller_auth::bearer,
        .cors_preflight = true,
        .post = hook},
    {.path = services_prefix,
        .shape = path_shape::service_feedback,
        .label = route_label::feedback,
        .authentication = caller_auth::bearer,
        .cors_preflight = true,
        .post = feedback},
}};

std::optional<std::string_view> router::route_table::matches(const entry& e, std::string_view path)
{
    if (path.substr(0, e.path.size()) != e.path)
        return std::nullopt;
    const std::string_view rest = path.substr(e.path.size());
    switch (e.shape)
    {
    case path_shape::exact: return rest.empty() ? std::optional<std::string_view>("") : std::nullopt;
    case path_shape::collection: return rest.empty() || rest == "/" ? std::optional<std::string_view>("") : std::nullopt;
    case path_shape::service:
    case path_shape::service_feedback:
    {
        if (rest.empty() || rest.front() != '/')
            return std::nullopt;
        std::string_view id = rest.substr(1);
        if (e.shape == path_shape::service_feedback)
        {
            constexpr std::string_view feedback_suffix = "/feedback";
            if (id.size() < feedback_suffix.size() || id.substr(id.size() - feedback_suffix.size()) != feedback_suffix)
                return std::nullopt;
            id.remove_suffix(feedback_suffix.size());
        }
        if (id.empty() || id.find('/') != std::string_view::npos)
            return std::nullopt;
        return id;
    }
    }
    return std::nullopt;
}

router::route_table::match router::route_table::find(std::string_view path, surface on)
{
    for (const auto& e : entries)
    {
        const bool served = e.surfaces == served_on::both || (e.surfaces == served_on::admin) == (on == surface::admin);
        if (!served)
            continue;
        if (auto id = matches(e, path))
            return {&e, *id};
    }
    return {};
}

// The Allow header: the entry's methods, HEAD wherever GET is, OPTIONS where preflight is answered.
std::string router::route_table::allowed_methods(const entry& e)
{
    std::string allow;
    const auto add = [&](std::string_view method) {
        if (!allow.empty())
            allow += ", ";
        allow += method;
    };
    if (e.get)
    {
        add("GET");
        add("HEAD");
    }
    if (e.post)
        add("POST");
    if (e.cors_preflight)
        add("OPTIONS");
    return allow;
}

router::route_table::handler router::route_table::handler_for(const entry& e, std::string_view method)
{
    if (method == "GET" || method == "HEAD")
        return e.get;
    if (method == "POST")
        return e.post;
    return nullptr;
}

router::routed router::route_table::health(const router&, const call&)
{
    return json_response(200, json::object{{"status", "ok"}});
}

router::readiness_state router::readiness() const
{
    // Ready when the configuration and rules are loaded (they are, or we would not be serving)
    // and the decision source can take calls.
    if (settings_.draining && settings_.draining->load())
        return {{false, "draining"}, true};
    auto state = settings_.decision ? settings_.decision->ready() : core::readiness{};
    // A shared replay cache that is down under fail_closed refuses every authenticated call: the
    // balancer should send them elsewhere meanwhile.
    if (state.ready && settings_.replays)
        state = settings_.replays->ready();
    return {std::move(state), false};
}

router::routed router::route_table::ready(const router& self, const call&)
{
    const bool admin = self.settings_.surface == surface::admin;
    // On the admin listener, the fingerprint of what every instance must share: ops compare hosts.
    auto answer = [&](unsigned status, json::object body) {
        if (admin && self.settings_.config_fingerprint)
            if (auto fingerprint = self.settings_.config_fingerprint->load())
                body["config"] = *fingerprint;
        return json_response(status, std::move(body));
    };
    const auto [state, draining] = self.readiness();
    if (draining)
        return answer(503, json::object{{"status", "draining"}});
    if (state.ready)
        return answer(200, json::object{{"status", "ready"}});
    // Why, only on the admin listener: the reason names the decision service's origin.
    if (admin)
        return answer(503, json::object{{"status", "not-ready"}, {"reason", state.reason}});
    return json_response(503, json::object{{"status", "not-ready"}});
}

router::routed router::route_table::metrics_text(const router& self, const call&)
{
    server_metrics::instance().ready.set(self.readiness().state.ready ? 1 : 0);
    http_response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = render_metrics(self.settings_.version);
    return r;
}

router::routed router::route_table::smart_configuration(const router&, const call& c)
{
    return json_response(200, c.authn->smart_configuration());
}

router::routed router::route_table::token(const router&, const call&)
{
    return routed::token;
}

router::routed router::route_table::discovery(const router& self, const call& c)
{
    if (c.authenticate)
        return routed::discovery;
    http_response r;
    r.body = self.discovery_body_;
    return r;
}

router::routed router::route_table::hook(const router&, const call& c)
{
    return {routed::hook, c.service};
}

router::routed router::route_table::feedback(const router&, const call& c)
{
    return {routed::feedback, c.service};
}

// CORS preflight (CDS Hooks 2.0 §CORS): answered for allowed origins only.
router::routed router::route_table::preflight(const router& self, const http_request_view& request, request_info& info, std::string allow)
{
    info.route = route_label::preflight;
    if (!request.origin.empty() && !self.origin_allowed(request.origin))
        return origin_not_allowed(request.origin);
    http_response r;
    r.status = 204;
    r.content_type.clear();
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
}

router::routed router::route(const http_request_view& request, request_info& info) const
{
    const std::string_view path = request.target.substr(0, request.target.find('?'));
    const std::string_view method = request.method;

    const auto [entry, service_id] = route_table::find(path, settings_.surface);
    if (!entry)
        return settings_.surface == surface::admin ? not_on_admin_listener() : no_resource(path);
    info.route = entry->label.value_or(route_label::other);

    // Loaded only for the routes that exist with authentication (not on the hook calls' path).
    std::shared_ptr<auth::authenticator> authn;
    if (entry->enabled == route_table::enabled_when::auth_enabled)
    {
        authn = settings_.auth ? settings_.auth->load() : nullptr;
        if (!authn)
            return authentication_not_enabled();
    }
    // Before the {id} is looked up: a browser app then gets to read the 404 of its actual call.
    if (method == "OPTIONS" && entry->cors_preflight)
        return route_table::preflight(*this, request, info, route_table::allowed_methods(*entry));

    core::hook_handler* service = nullptr;
    if (entry->shape == route_table::path_shape::service || entry->shape == route_table::path_shape::service_feedback)
    {
        service = registry_.find(service_id);
        if (!service)
            return no_such_service(service_id);
        if (!entry->label)
        {
            info.route = route_of_service(catalogue_index(service->service()));
            info.service = &service->service();
        }
    }
    const auto handler = route_table::handler_for(*entry, method);
    if (!handler)
        return method_not_allowed(method, path, route_table::allowed_methods(*entry));
    // With authentication off, the awaited call's check lets everyone through.
    const bool authenticate = entry->authentication == route_table::caller_auth::bearer ||
                              (entry->authentication == route_table::caller_auth::bearer_if_discovery_protected && settings_.protect_discovery);
    return handler(*this, {request, info, service, std::move(authn), authenticate});
}

net::awaitable<std::optional<http_response>> router::authenticate(
    const http_request_view& request, std::string_view path, request_info& info, core::request_context& ctx) const
{
    if (request.authenticated)
    {
        // Checked on the header already (Expect: 100-continue); once is all a token gets.
        ctx.client_id = request.authenticated->client_id;
        ctx.jti = request.authenticated->jti;
        ctx.tenant = request.authenticated->tenant;
        info.client = ctx.client_id;
        co_return std::nullopt;
    }
    const auto authn = settings_.auth ? settings_.auth->load() : nullptr;
    if (!authn)
        co_return std::nullopt;
    auto result = co_await authn->authenticate(request.authorization, path, request.remote_address);
    if (result.has_value())
    {
        ctx.client_id = std::move(result->client_id);
        ctx.jti = std::move(result->jti);
        ctx.tenant = std::move(result->tenant);
        info.client = ctx.client_id;
        co_return std::nullopt;
    }
    const auto& why = result.error();  // counted by the authenticator
    info.auth_failure = auth::name_of(why.reason);
    if (why.reason == auth::auth_failure::busy)
    {
        // Not a verdict on the credentials: the checks are saturated. Retry, do not re-key.
        log::warning("auth_busy", {{"path", path}, {"detail", why.detail}});
        co_return overloaded("authentication is busy; retry shortly");
    }
    if (why.reason == auth::auth_failure::replay_unavailable)
    {
        // Not a verdict either: the shared replay cache did not answer (fail_closed).
        log::warning("auth_replay_unavailable", {{"path", path}, {"detail", why.detail}});
        co_return overloaded(why.explanation);
    }
    // The log has the detail; the caller gets the reason in the server's own words (RFC 6750
    // error_description), never the token's contents, unless auth.terse_errors.
    log::warning("auth_failed", {{"path", path}, {"reason", info.auth_failure}, {"detail", why.detail}});
    const bool terse = settings_.terse_auth_errors;
    auto r = problem_response(
        core::to_problem({why.reason, terse ? std::string("authentication is required: a valid bearer token for this endpoint") : why.explanation}));
    std::string challenge = "Bearer";
    if (why.token_given)
    {
        challenge += R"( error="invalid_token")";
        if (!terse)
        {
            std::string quoted;
            for (char c : why.explanation)
                if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f)
                    quoted.push_back(c);
            challenge += R"(, error_description=")" + quoted + "\"";
        }
    }
    r.headers.emplace_back("WWW-Authenticate", std::move(challenge));
    co_return r;
}

net::awaitable<http_response> router::feedback_call(core::hook_handler& handler, const http_request_view& request, request_info& info) const
{
    auto& m = server_metrics::instance();
    metrics::gauge_guard in_flight(m.in_flight);
    if (m.in_flight.value() > static_cast<std::int64_t>(settings_.max_in_flight))
    {
        m.overload.add(overload_limit::max_in_flight);
        co_return overloaded("the server is at its limit of requests in flight; retry shortly");
    }
    core::request_context ctx;
    ctx.received = request.received;
    const std::string_view path = request.target.substr(0, request.target.find('?'));
    if (auto refused = co_await authenticate(request, path, info, ctx))
        co_return std::move(*refused);
    if (auto missing = missing_required_header(request, settings_.required_headers))
        co_return std::move(*missing);
    if (!is_json_media_type(request.content_type))
        co_return unsupported_media_type(request.content_type);
    boost::system::error_code ec;
    const json::value body = core::parse_json(request.body, ec, settings_.max_json_depth);
    if (ec)
        co_return invalid_json(request.body, ec, settings_.max_json_depth);
    if (auto checked = core::validate_feedback(body); checked.has_error())
        co_return problem_response(core::to_problem(checked.error()));

    // Durable before the answer: the 200 means the report is on disk (fsync'd).
    if (settings_.audit)
    {
        audit_record record;
        record.kind = "feedback";
        record.time = std::chrono::system_clock::now();
        record.trace_id = info.trace.trace_id_hex();
        record.service = handler.service().id;
        record.client = ctx.client_id;
        record.jti = ctx.jti;
        record.tenant = ctx.tenant;
        record.headers = header_values(request, settings_.required_headers);
        record.status = 200;
        record.latency = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - request.received);
        record.request_body = std::string(request.body);
        record.response_body = "{}";
        if (!co_await settings_.audit->append_durable(std::move(record), clock::now() + settings_.audit_wait))
            co_return overloaded("the feedback could not be recorded; retry shortly");
    }
    if (settings_.feedback && settings_.feedback->enabled())
        settings_.feedback->forward(co_await net::this_coro::executor, std::string(handler.service().id), std::string(request.body), info.trace);
    co_return json_response(200, json::object{});
}

net::awaitable<http_response> router::hook_call(core::hook_handler& handler, const http_request_view& request, request_info& info) const
{
    // Overload: refuse early and cheaply rather than queue without bound.
    auto& m = server_metrics::instance();
    metrics::gauge_guard in_flight(m.in_flight);
    if (m.in_flight.value() > static_cast<std::int64_t>(settings_.max_in_flight))
    {
        m.overload.add(overload_limit::max_in_flight);
        co_return overloaded("the server is at its limit of requests in flight; retry shortly");
    }

    core::request_context ctx;
    ctx.received = request.received;
    ctx.trace = info.trace;
    ctx.body = request.body;  // the handler may forward these bytes (core::hook_request::source_text)
    const std::string_view path = request.target.substr(0, request.target.find('?'));
    auto refused = co_await authenticate(request, path, info, ctx);
    audit_record record;  // every call whose body was read gets one, whatever happens below
    if (settings_.audit)
    {
        record.client = ctx.client_id;
        record.jti = ctx.jti;
        record.tenant = ctx.tenant;
        record.headers = header_values(request, settings_.required_headers);
    }
    if (!refused)
        refused = missing_required_header(request, settings_.required_headers);
    for (auto& [name, value] : header_values(request, settings_.forward_headers))
        // The caller's trace headers are never passed on as they came: the decision call carries
        // crd-server's own child span of them (ctx.trace), so crd-server's span is its parent.
        if (name != "traceparent" && name != "tracestate")
            ctx.forward_headers.emplace_back(std::move(name), std::move(value));

    http_response response;
    if (refused)
        response = std::move(*refused);
    else if (!is_json_media_type(request.content_type))
        response = unsupported_media_type(request.content_type);
    else
    {
        // The parsed document lives in one arena freed with the request: no per-node allocations.
        boost::system::error_code ec;
        auto document = core::parse_document(
            request.body, settings_.max_json_depth, ec, handler.echoes_request_orders() ? core::entry_placing::on : core::entry_placing::off);
        if (!document)
            response = invalid_json(request.body, ec, settings_.max_json_depth);
        else
        {
            try
            {
                core::api_response answer = co_await handler.handle(std::move(document), std::move(ctx));
                info.hook_instance = answer.hook_instance;
                record.decision = std::move(answer.decision);
                record.crd_version = std::move(answer.crd_version);
                if (const std::string_view as_written = answer.body_text(); !as_written.empty())
                {
                    response.status = answer.status;  // relayed as the decision service wrote it
                    response.body.assign(as_written);
                }
                else
                    response = json_response(answer.status, answer.body, answer_room_for(request.body), answer.verbatim);
            }
            catch (const std::exception& e)
            {
                // Answered 500 like any escaped error, but recorded first: the audit must show
                // that this call was made and what it got.
                log::error("hook_failed", {{"service", handler.service().id}, {"error", e.what()}});
                record.decision = "error";
                response = problem_response(error{http_errc::internal});
            }
        }
    }

    if (settings_.audit)
    {
        record.kind = "hook";
        record.time = std::chrono::system_clock::now();
        record.trace_id = info.trace.trace_id_hex();
        record.service = handler.service().id;
        record.hook_instance = info.hook_instance;
        record.status = response.status;
        record.latency = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - request.received);
        record.request_body = std::string(request.body);
        record.response_body = response.body;
        // CRD-62: an answer that cannot be kept for disputes is not given.
        if (!co_await settings_.audit->append(std::move(record), clock::now() + settings_.audit_wait))
            co_return overloaded("the audit log cannot take the record of this call; retry shortly");
    }
    co_return response;
}

}  // namespace crd::server
