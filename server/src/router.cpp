#include <crd/server/router.hpp>

#include <crd/core/feedback.hpp>
#include <crd/core/hook_request.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/log.hpp>
#include <crd/core/metrics.hpp>
#include <crd/core/text.hpp>
#include <crd/server/audit_log.hpp>
#include <crd/server/http_errors.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <exception>

namespace json = boost::json;

namespace crd::server {
namespace {

constexpr std::string_view services_prefix = "/cds-services";

http_response json_response(unsigned status, const json::value& body)
{
    http_response r;
    r.status = status;
    r.body = json::serialize(body);
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
            (where.empty() ? std::string("a number") : where) + " is outside the range of a double: numbers must be finite",
            where});
    }
    return problem_response(error{core::request_errc::not_json, "request body is not valid JSON: " + ec.message()});
}

http_response method_not_allowed(std::string_view method, std::string_view path, std::string allow)
{
    auto r = problem_response(error{http_errc::method_not_allowed, "method " + std::string(method) + " is not allowed on " + std::string(path)});
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
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
            return problem_response(error{http_errc::missing_header, "the request header " + name + " is required (requests.required_headers)", name});
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
    metrics::route route = metrics::route::other;
    const core::service_definition* service = nullptr;  // hook calls
    std::string hook_instance;
    std::string client;
};

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
    : registry_(registry), settings_(std::move(settings)), discovery_body_(json::serialize(registry.discovery()))
{
}

bool router::origin_allowed(std::string_view origin) const
{
    return std::any_of(settings_.cors_allowed_origins.begin(), settings_.cors_allowed_origins.end(), [&](const std::string& allowed) {
        return allowed == "*" || core::iequals(allowed, origin);
    });
}

void router::add_cors_headers(const http_request_view& request, http_response& response) const
{
    if (request.origin.empty() || !origin_allowed(request.origin))
        return;
    const bool wildcard = std::find(settings_.cors_allowed_origins.begin(), settings_.cors_allowed_origins.end(), "*") !=
                          settings_.cors_allowed_origins.end();
    response.headers.emplace_back("Access-Control-Allow-Origin", wildcard ? std::string("*") : std::string(request.origin));
    // A browser app (the CDS Hooks Sandbox) may read why it was refused and when to retry.
    response.headers.emplace_back("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After");
    if (!wildcard)
        response.headers.emplace_back("Vary", "Origin");
}

struct router::routed
{
    enum step_kind { answer, hook, feedback, token, discovery } step = answer;
    http_response response;                 // for answer
    core::hook_handler* handler = nullptr;  // for hook and feedback

    routed(http_response r) : response(std::move(r)) {}  // NOLINT: an answer converts implicitly
    routed(step_kind s, core::hook_handler* h = nullptr) : step(s), handler(h) {}
};

net::awaitable<http_response> router::dispatch(const http_request_view& request) const
{
    http_response response;
    request_info info;
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
    metrics::count_request(info.route, response.status);
    if (info.service)
        metrics::global().request_seconds[catalogue_index(*info.service)].observe(elapsed);
    if (log::enabled(core::log_level::info))
    {
        json::object line{
            {"method", request.method},
            {"path", request.target.substr(0, request.target.find('?'))},  // a query could carry anything
            {"status", response.status},
            {"latency_ms", std::chrono::duration<double, std::milli>(elapsed).count()},
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

router::routed router::route(const http_request_view& request, request_info& info) const
{
    const std::string_view path = request.target.substr(0, request.target.find('?'));
    const std::string_view method = request.method;

    if (settings_.surface == surface::admin && path != "/health" && path != "/ready" && path != "/metrics")
        return problem_response({404, "not-found", "the admin listener serves /health, /ready and /metrics only", ""});

    if (path == "/health")
    {
        info.route = metrics::route::health;
        if (method != "GET" && method != "HEAD")
            return method_not_allowed(method, path, "GET, HEAD");
        return json_response(200, json::object{{"status", "ok"}});
    }

    if (path == "/metrics" && settings_.surface == surface::admin)
    {
        info.route = metrics::route::metrics;
        if (method != "GET" && method != "HEAD")
            return method_not_allowed(method, path, "GET, HEAD");
        http_response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = metrics::render_prometheus(settings_.version);
        return r;
    }

    if (path == "/.well-known/smart-configuration")
    {
        info.route = metrics::route::smart_configuration;
        const auto authn = settings_.auth ? settings_.auth->load() : nullptr;
        if (!authn)
            return problem_response({404, "not-found", "authentication is not enabled on this server", ""});
        if (method != "GET" && method != "HEAD")
            return method_not_allowed(method, path, "GET, HEAD");
        return json_response(200, authn->smart_configuration());
    }

    if (path == "/auth/token")
    {
        info.route = metrics::route::token;
        const auto authn = settings_.auth ? settings_.auth->load() : nullptr;
        if (!authn)
            return problem_response({404, "not-found", "authentication is not enabled on this server", ""});
        if (method != "POST")
            return method_not_allowed(method, path, "POST");
        return routed::token;
    }

    if (path == "/ready")
    {
        info.route = metrics::route::ready;
        if (method != "GET" && method != "HEAD")
            return method_not_allowed(method, path, "GET, HEAD");
        // Ready when the configuration and rules are loaded (they are, or we would not be serving)
        // and the decision source can take calls.
        const auto state = settings_.decision ? settings_.decision->ready() : core::readiness{};
        if (state.ready)
            return json_response(200, json::object{{"status", "ready"}});
        // Why, only on the admin listener: the reason names the decision service's origin.
        if (settings_.surface == surface::admin)
            return json_response(503, json::object{{"status", "not-ready"}, {"reason", state.reason}});
        return json_response(503, json::object{{"status", "not-ready"}});
    }

    if (path.substr(0, services_prefix.size()) != services_prefix ||
        (path.size() > services_prefix.size() && path[services_prefix.size()] != '/'))
        return problem_response({404, "not-found", "no resource at " + std::string(path), ""});

    // The service id, or empty for discovery itself ("/cds-services" or "/cds-services/").
    std::string_view id = path.substr(std::min(path.size(), services_prefix.size() + 1));

    if (method == "OPTIONS")
    {
        info.route = metrics::route::preflight;
        // CORS preflight (CDS Hooks 2.0 §CORS): answer for allowed origins only.
        if (!request.origin.empty() && !origin_allowed(request.origin))
            return problem_response({403, "forbidden", "origin " + std::string(request.origin) + " is not allowed", ""});
        http_response r;
        r.status = 204;
        r.content_type.clear();
        r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
        r.headers.emplace_back("Access-Control-Max-Age", "600");
        r.headers.emplace_back("Allow", id.empty() ? "GET, OPTIONS" : "POST, OPTIONS");
        return r;
    }

    if (id.empty())
    {
        info.route = metrics::route::discovery;
        if (method != "GET")
            return method_not_allowed(method, path, "GET, OPTIONS");
        if (settings_.protect_discovery)
            return routed::discovery;
        http_response r;
        r.body = discovery_body_;
        return r;
    }

    constexpr std::string_view feedback_suffix = "/feedback";
    if (id.size() > feedback_suffix.size() && id.substr(id.size() - feedback_suffix.size()) == feedback_suffix &&
        id.find('/') == id.size() - feedback_suffix.size())
    {
        info.route = metrics::route::feedback;
        const auto service_id = id.substr(0, id.size() - feedback_suffix.size());
        core::hook_handler* target = registry_.find(service_id);
        if (!target)
            return problem_response({404, "not-found", "no CDS service '" + std::string(service_id) + "' is offered here", ""});
        if (method != "POST")
            return method_not_allowed(method, path, "POST, OPTIONS");
        return {routed::feedback, target};
    }
    if (id.find('/') != std::string_view::npos)
        return problem_response({404, "not-found", "no resource at " + std::string(path), ""});
    core::hook_handler* handler = registry_.find(id);
    if (!handler)
        return problem_response({404, "not-found", "no CDS service '" + std::string(id) + "' is offered here", ""});
    info.route = metrics::route_of_service(catalogue_index(handler->service()));
    info.service = &handler->service();
    if (method != "POST")
        return method_not_allowed(method, path, "POST, OPTIONS");
    return {routed::hook, handler};
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
    // The log has the detail; the caller gets the reason in the server's own words (RFC 6750
    // error_description), never the token's contents, unless auth.terse_errors.
    log::warning("auth_failed", {{"path", path}, {"reason", info.auth_failure}, {"detail", why.detail}});
    const bool terse = settings_.terse_auth_errors;
    auto r = problem_response(core::to_problem(
        {why.reason, terse ? std::string("authentication is required: a valid bearer token for this endpoint") : why.explanation}));
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
    auto& m = metrics::global();
    metrics::gauge_guard in_flight(m.in_flight);
    if (m.in_flight.load(std::memory_order_relaxed) > static_cast<std::int64_t>(settings_.max_in_flight))
    {
        metrics::add(m.overload_in_flight);
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
        settings_.feedback->forward(co_await net::this_coro::executor, std::string(handler.service().id), std::string(request.body));
    co_return json_response(200, json::object{});
}

net::awaitable<http_response> router::hook_call(core::hook_handler& handler, const http_request_view& request, request_info& info) const
{
    // Overload: refuse early and cheaply rather than queue without bound.
    auto& m = metrics::global();
    metrics::gauge_guard in_flight(m.in_flight);
    if (m.in_flight.load(std::memory_order_relaxed) > static_cast<std::int64_t>(settings_.max_in_flight))
    {
        metrics::add(m.overload_in_flight);
        co_return overloaded("the server is at its limit of requests in flight; retry shortly");
    }

    core::request_context ctx;
    ctx.received = request.received;
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
        auto document = core::parse_document(request.body, settings_.max_json_depth, ec);
        if (!document)
            response = invalid_json(request.body, ec, settings_.max_json_depth);
        else
        {
            try
            {
                core::api_response answer = co_await handler.handle(std::move(document), std::move(ctx));
                info.hook_instance = answer.hook_instance;
                record.decision = std::move(answer.decision);
                response = json_response(answer.status, answer.body);
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
