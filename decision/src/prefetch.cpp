#include <crd/decision/prefetch.hpp>
#include <crd/decision/crd_service.hpp>

#include <algorithm>

#include <crd/core/json_document.hpp>
#include <crd/core/log.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/upstream/http_client.hpp>
#include <crd/upstream/pool_registry.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>

#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace json = boost::json;

namespace crd::decision {
namespace {

// Distinct EHR FHIR servers kept resolved and pooled; the least recently used is evicted beyond it,
// so callers naming many origins cost memory, never the service of the next EHR.
constexpr std::size_t max_fhir_origins = 256;

std::optional<std::string> primitive_text(const json::value& v)
{
    if (v.is_string())
        return std::string(v.get_string());
    if (v.is_int64())
        return std::to_string(v.get_int64());
    if (v.is_uint64())
        return std::to_string(v.get_uint64());
    if (v.is_bool())
        return v.get_bool() ? "true" : "false";
    return std::nullopt;
}

// Ids of resources of `type` in a Bundle, a resource list, or a list of "Type/id" references.
std::optional<std::string> ids_of_type(const json::value& holder, std::string_view type)
{
    std::vector<std::string> ids;
    auto consider_resource = [&](const json::value& r) {
        if (!r.is_object())
            return;
        const auto* rt = r.get_object().if_contains("resourceType");
        const auto* id = r.get_object().if_contains("id");
        if (rt && rt->is_string() && rt->get_string() == type && id && id->is_string())
            ids.emplace_back(id->get_string());
    };
    auto consider_reference = [&](std::string_view ref) {
        const auto slash = ref.find('/');
        if (slash != std::string_view::npos && ref.substr(0, slash) == type && ref.find('/', slash + 1) == std::string_view::npos)
            ids.emplace_back(ref.substr(slash + 1));
    };
    if (holder.is_object())
    {
        const auto& o = holder.get_object();
        if (const auto* entries = o.if_contains("entry"); entries && entries->is_array())
            for (const auto& e : entries->get_array())
                if (e.is_object())
                    if (const auto* r = e.get_object().if_contains("resource"))
                        consider_resource(*r);
        consider_resource(holder);
    }
    else if (holder.is_array())
        for (const auto& item : holder.get_array())
        {
            if (item.is_string())
                consider_reference(item.get_string());
            else if (item.is_object())
            {
                if (const auto* ref = item.get_object().if_contains("reference"); ref && ref->is_string())
                    consider_reference(ref->get_string());
                else
                    consider_resource(item);
            }
        }
    else if (holder.is_string())
        consider_reference(holder.get_string());
    if (ids.empty())
        return std::nullopt;
    std::string out;
    for (const auto& id : ids)
        out += (out.empty() ? "" : ",") + id;
    return out;
}

std::optional<std::string> resolve_token(std::string_view token, const json::object& context)
{
    auto user_id_of = [&](std::string_view type) -> std::optional<std::string> {
        const auto* u = context.if_contains("userId");
        if (!u || !u->is_string())
            return std::nullopt;
        const std::string_view ref = u->get_string();
        const auto slash = ref.find('/');
        if (slash == std::string_view::npos || ref.substr(0, slash) != type)
            return std::nullopt;
        return std::string(ref.substr(slash + 1));
    };
    if (token == "userPractitionerId")
        return user_id_of("Practitioner");
    if (token == "userPractitionerRoleId")
        return user_id_of("PractitionerRole");
    if (token == "userPatientId")
        return user_id_of("Patient");
    if (token == "userRelatedPersonId")
        return user_id_of("RelatedPerson");

    constexpr std::string_view prefix = "context.";
    if (token.substr(0, prefix.size()) != prefix)
        return std::nullopt;
    token.remove_prefix(prefix.size());
    const auto dot = token.find('.');
    const auto* field = context.if_contains(token.substr(0, dot));
    if (!field)
        return std::nullopt;
    if (dot == std::string_view::npos)
        return primitive_text(*field);
    // CRD: context.<key>.<Type>.id
    const auto rest = token.substr(dot + 1);
    const auto dot2 = rest.find('.');
    if (dot2 == std::string_view::npos || rest.substr(dot2 + 1) != "id")
        return std::nullopt;
    return ids_of_type(*field, rest.substr(0, dot2));
}

bool is_ip_literal(const std::string& host)
{
    boost::system::error_code ec;
    (void)net::ip::make_address(host, ec);
    return !ec;
}

// One FHIR origin: resolved once (off the shard thread for host names), pooled per shard.
struct fhir_origin
{
    core::url url;
    std::shared_ptr<upstream::endpoint_cache> endpoints;
    std::atomic<bool> resolving{false};
    std::atomic<bool> resolved{false};
    // After a failed lookup, calls for this origin skip prefetch at once until then (steady clock
    // ticks): an EHR naming a host that does not resolve must not cost every call half its budget.
    std::atomic<clock::rep> failed_until{0};
    std::atomic<clock::rep> last_used{0};  // for least-recently-used eviction
};

// A shard's pools, one per FHIR origin. Each holds its fhir_origin alive, so a pool is only ever
// found again for the very origin object it was made for, even after that one was evicted.
struct shard_fhir_pools
{
    struct entry
    {
        std::shared_ptr<fhir_origin> origin;
        std::shared_ptr<upstream::http_client> client;
    };
    std::map<std::string, entry, std::less<>> by_origin;
};

constexpr auto failed_lookup_backoff = std::chrono::seconds(30);

struct fetch_job
{
    std::string key;
    std::string query;  // relative to the FHIR base
    std::optional<json::object> result;
    // The FHIR server failed us (refused the token, an error status, a timeout, not FHIR), as
    // opposed to answering that the data does not exist (404, an empty search).
    bool failed = false;
};

std::string join_target(const core::url& base, std::string_view query)
{
    std::string path = base.target;
    const auto q = path.find('?');
    if (q != std::string::npos)
        path.resize(q);
    if (path.empty() || path.back() != '/')
        path += '/';
    while (!query.empty() && query.front() == '/')
        query.remove_prefix(1);
    return path + std::string(query);
}

bool is_operation_outcome(const json::value& v)
{
    if (!v.is_object())
        return false;
    const auto* rt = v.get_object().if_contains("resourceType");
    return rt && rt->is_string() && rt->get_string() == "OperationOutcome";
}

struct fetch_progress
{
    std::size_t next = 0;
    std::size_t running = 0;
    net::steady_timer done;
    explicit fetch_progress(net::any_io_executor e) : done(e, clock::time_point::max()) {}
};

}  // namespace

std::optional<std::string> resolve_template(std::string_view tmpl, const json::object& context)
{
    std::string out;
    std::size_t pos = 0;
    for (;;)
    {
        const auto open = tmpl.find("{{", pos);
        if (open == std::string_view::npos)
        {
            out.append(tmpl.substr(pos));
            return out;
        }
        const auto close = tmpl.find("}}", open + 2);
        if (close == std::string_view::npos)
            return std::nullopt;
        out.append(tmpl.substr(pos, open - pos));
        auto token = tmpl.substr(open + 2, close - open - 2);
        while (!token.empty() && token.front() == ' ')
            token.remove_prefix(1);
        while (!token.empty() && token.back() == ' ')
            token.remove_suffix(1);
        auto value = resolve_token(token, context);
        if (!value || value->empty())
            return std::nullopt;
        out += *value;
        pos = close + 2;
    }
}

struct prefetch_fulfiller::impl
{
    const core::config& cfg;
    std::shared_ptr<upstream::tls_context> tls = std::make_shared<upstream::tls_context>(std::nullopt);
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<fhir_origin>, std::less<>> origins;  // guarded by mutex

    const std::vector<std::string> required_keys = core::required_prefetch_keys(cfg);

    explicit impl(const core::config& c) : cfg(c) {}

    bool origin_allowed(const core::url& u) const
    {
        const auto& allowed = cfg.prefetch.allowed_origins;
        return !allowed || std::find(allowed->begin(), allowed->end(), u.origin()) != allowed->end();
    }

    std::shared_ptr<fhir_origin> origin_for(const core::url& u)
    {
        const auto key = u.origin();
        const auto now = clock::now().time_since_epoch().count();
        std::lock_guard lock(mutex);
        if (auto it = origins.find(key); it != origins.end())
        {
            it->second->last_used.store(now, std::memory_order_relaxed);
            return it->second;
        }
        if (origins.size() >= max_fhir_origins)
        {
            auto oldest = std::min_element(origins.begin(), origins.end(), [](const auto& a, const auto& b) {
                return a.second->last_used.load(std::memory_order_relaxed) < b.second->last_used.load(std::memory_order_relaxed);
            });
            log::info("prefetch_origin_evicted", {{"origin", oldest->first}, {"detail", "least recently used of prefetch's FHIR origins"}});
            origins.erase(oldest);  // calls using it keep their shared_ptr
        }
        auto o = std::make_shared<fhir_origin>();
        o->url = u;
        o->endpoints = std::make_shared<upstream::endpoint_cache>(u);
        o->last_used.store(now, std::memory_order_relaxed);
        origins.emplace(key, o);
        return o;
    }

    // Host names are resolved on a thread of their own (the 1.81 resolver cannot be cancelled and
    // must not block a shard); the caller waits at most until its deadline.
    net::awaitable<bool> ensure_resolved(std::shared_ptr<fhir_origin> origin, clock::time_point deadline)
    {
        fhir_origin& o = *origin;
        if (o.resolved)
            co_return true;
        if (clock::now().time_since_epoch().count() < o.failed_until.load(std::memory_order_relaxed))
            co_return false;
        if (is_ip_literal(o.url.host))
        {
            o.resolved = !o.endpoints->resolve_now();
            co_return o.resolved.load();
        }
        if (!o.resolving.exchange(true))
        {
            std::thread([keep = origin] {
                if (!keep->endpoints->resolve_now())
                    keep->resolved = true;
                else
                    keep->failed_until = (clock::now() + failed_lookup_backoff).time_since_epoch().count();
                keep->resolving = false;
            }).detach();
        }
        net::steady_timer wait(co_await net::this_coro::executor);
        while (!o.resolved && o.resolving && clock::now() < deadline)
        {
            wait.expires_after(std::chrono::milliseconds(5));
            co_await wait.async_wait(use_tuple);
        }
        co_return o.resolved.load();
    }

    upstream::http_client client_for(const std::shared_ptr<fhir_origin>& o, const net::any_io_executor& ex)
    {
        auto make = [&] {
            upstream::client_config c;
            c.origin = o->url;
            // Per shard and EHR origin; each request uses at most prefetch.max_concurrency of them.
            c.max_connections = 64;
            c.max_pending = 1024;
            c.max_response_bytes = cfg.prefetch.max_response_bytes;
            c.gauges = &decision_metrics::instance().fhir_pool;
            return std::make_shared<upstream::http_client>(ex, c, o->endpoints, tls);
        };
        auto pools = upstream::pool_registry::of(ex).get_or_create(
            "fhir prefetch", std::function<std::shared_ptr<shard_fhir_pools>()>([] { return std::make_shared<shard_fhir_pools>(); }));
        const auto key = o->url.origin();
        auto& table = pools->by_origin;
        if (auto it = table.find(key); it != table.end())
        {
            if (it->second.origin == o)
                return *it->second.client;
            table.erase(it);  // made for an evicted origin object: start afresh with this one
        }
        if (table.size() >= max_fhir_origins)
            table.erase(std::min_element(table.begin(), table.end(), [](const auto& a, const auto& b) {
                return a.second.origin->last_used.load(std::memory_order_relaxed) < b.second.origin->last_used.load(std::memory_order_relaxed);
            }));
        auto client = make();
        table.emplace(key, shard_fhir_pools::entry{o, client});
        return *client;
    }

    net::awaitable<void> fetch_one(std::shared_ptr<fhir_origin> origin, const std::string& access_token, fetch_job& job,
        std::string_view hook_instance, const core::trace_context& trace, clock::time_point deadline)
    {
        const auto started = clock::now();
        upstream::request req;
        req.method = "GET";
        req.target = join_target(origin->url, job.query);
        req.headers.push_back({"Authorization", "Bearer " + access_token});
        req.headers.push_back({"Accept", "application/fhir+json"});
        const auto span = upstream::add_trace_headers(req, trace);
        auto ex = co_await net::this_coro::executor;
        auto client = client_for(origin, ex);
        auto got = co_await client.send(std::move(req), deadline);
        decision_metrics::instance().prefetch_seconds.observe(clock::now() - started);
        std::string problem;
        prefetch_outcome outcome = prefetch_outcome::error;
        if (!got)
        {
            problem = got.error().message();
            if (got.error() == errc::upstream_timeout || got.error() == errc::pool_wait_timeout)
                outcome = prefetch_outcome::timeout;
        }
        else if (got->status >= 300 && got->status < 400)
            problem = "HTTP " + std::to_string(got->status) + " redirect not followed (the access token stays with the fhirServer origin)";
        else if (got->status == 404)
        {
            problem = "HTTP 404";
            outcome = prefetch_outcome::not_found;
        }
        else if (got->status != 200)
            problem = "HTTP " + std::to_string(got->status);
        else
        {
            boost::system::error_code ec;
            auto doc = core::parse_json(got->body, ec);
            const auto* rt = (!ec && doc.is_object()) ? doc.get_object().if_contains("resourceType") : nullptr;
            if (!rt || !rt->is_string() || rt->get_string() == "OperationOutcome")
                problem = "not a FHIR resource";
            else
            {
                job.result = std::move(doc.get_object());
                outcome = prefetch_outcome::fetched;
            }
        }
        decision_metrics::instance().prefetch_fetches.add(outcome);
        job.failed = outcome == prefetch_outcome::error || outcome == prefetch_outcome::timeout;
        if (!problem.empty())
            log::warning("prefetch_fetch_failed", {{"hookInstance", hook_instance}, {"key", job.key}, {"origin", origin->url.origin()},
                                                      {"error", problem}, {"trace_id", span.trace_id_hex()}, {"span_id", span.span_id_hex()}});
    }
};

namespace {

// A free function rather than a coroutine lambda (GCC 12 mishandles captures in those). The
// references stay valid: complete() waits for every worker before it returns. A worker is counted
// as done by its completion handler (worker_ended), not here, so that it is counted however it ends.
net::awaitable<void> fetch_worker(prefetch_fulfiller::impl& self, std::shared_ptr<fetch_progress> state, std::shared_ptr<fhir_origin> origin,
    const std::string& access_token, std::vector<fetch_job>& jobs, const std::string& hook_instance, const core::trace_context& trace,
    clock::time_point deadline)
{
    while (state->next < jobs.size())
    {
        auto& job = jobs[state->next++];
        try
        {
            co_await self.fetch_one(origin, access_token, job, hook_instance, trace, deadline);
        }
        catch (const std::exception& e)
        {
            // One job's failure is that key's: the worker goes on with the next.
            job.failed = true;
            decision_metrics::instance().prefetch_fetches.add(prefetch_outcome::error);
            log::error("prefetch_fetch_exception", {{"key", job.key}, {"error", e.what()}});
        }
    }
}

// Every worker ends here, normally or by an exception that escaped it (one that is not a
// std::exception, or thrown while reporting one): the exception is logged, never dropped, and the
// worker is counted as done, or complete() would wait for it forever.
//
// Ownership: the workers are not detached from their caller. They refer to complete()'s locals
// (the jobs, the token, the hook instance, the request's trace) and to the fulfiller by reference, and complete() does
// not return until this handler has run for each of them; `state` is shared so that the count
// and the timer it cancels outlive the last worker whichever finishes first. If the io_context is
// destroyed with complete() suspended, the worker frames are destroyed with it without running
// again and this handler is never called.
struct worker_ended
{
    std::shared_ptr<fetch_progress> state;

    void operator()(std::exception_ptr e) const
    {
        if (--state->running == 0)
            state->done.cancel();
        log::exception("prefetch_worker_failed", e);
    }
};

}  // namespace

prefetch_fulfiller::prefetch_fulfiller(const core::config& cfg) : impl_(std::make_unique<impl>(cfg)) {}
prefetch_fulfiller::~prefetch_fulfiller() = default;

net::awaitable<result<void, error>> prefetch_fulfiller::complete(
    core::hook_request& request, const json::object& templates, clock::time_point deadline)
{
    const auto& doc = request.document->get_object();
    const json::object empty_context;
    const auto* ctx_value = doc.if_contains("context");
    const json::object& context = ctx_value && ctx_value->is_object() ? ctx_value->get_object() : empty_context;

    // What is missing: absent keys and OperationOutcomes; null means "no data" and is respected.
    std::vector<fetch_job> jobs;
    std::vector<std::string> missing_required;
    for (const auto& [key, tmpl] : templates)
    {
        const json::value* have = request.prefetch ? request.prefetch->if_contains(key) : nullptr;
        if (have && !is_operation_outcome(*have))
            continue;
        if (!tmpl.is_string())
            continue;
        auto query = resolve_template(tmpl.get_string(), context);
        if (!query)
            continue;  // the context has no value for a token: nothing to ask for
        const auto& required = impl_->required_keys;
        if (std::find(required.begin(), required.end(), std::string_view(key)) != required.end())
            missing_required.emplace_back(key);
        jobs.push_back({std::string(key), std::move(*query), std::nullopt});
    }
    // order-dispatch: orders referenced but not sent are fetched too.
    if (request.service->kind == core::hook_kind::order_dispatch)
        for (const auto& item : request.items)
            if (!item.resource)
                jobs.push_back({"crd-order-" + std::string(item.resource_type) + "-" + std::string(item.id),
                    std::string(item.resource_type) + "/" + std::string(item.id), std::nullopt});
    if (jobs.empty())
        co_return result<void, error>();

    // FHIR access: fhirServer plus a token, over https unless prefetch.allow_http.
    const json::value* auth = doc.if_contains("fhirAuthorization");
    const json::value* token = auth && auth->is_object() ? auth->get_object().if_contains("access_token") : nullptr;
    auto server = request.fhir_server.empty() ? std::nullopt : core::parse_http_url(request.fhir_server);
    const bool usable = server && token && token->is_string() && (server->is_https() || impl_->cfg.prefetch.allow_http);
    if (!usable)
    {
        for (std::size_t i = 0; i < jobs.size(); ++i)
            decision_metrics::instance().prefetch_fetches.add(prefetch_outcome::skipped);
        if (!missing_required.empty())
            co_return error{core::request_errc::prefetch_incomplete,
                "prefetch." + missing_required.front() + " is missing and cannot be fetched: send it in prefetch, or fhirServer " +
                    (impl_->cfg.prefetch.allow_http ? "" : "(https) ") + "with fhirAuthorization",
                "prefetch." + missing_required.front()};
        co_return result<void, error>();
    }

    // prefetch.allowed_origins: the payer's list of EHR FHIR servers. Any other is never called (a
    // caller-chosen fhirServer would make us a request-forgery relay with a token in hand).
    if (!impl_->origin_allowed(*server))
    {
        decision_metrics::instance().prefetch_origin_refused.add();
        log::warning("prefetch_origin_not_allowed", {{"hookInstance", std::string(request.hook_instance)}, {"origin", server->origin()},
                                                        {"detail", "not in prefetch.allowed_origins: nothing is fetched from it"}});
        for (std::size_t i = 0; i < jobs.size(); ++i)
            decision_metrics::instance().prefetch_fetches.add(prefetch_outcome::skipped);
        if (!missing_required.empty())
            co_return error{core::request_errc::prefetch_incomplete,
                "prefetch." + missing_required.front() + " is missing and fhirServer is not a FHIR server this payer calls: send it in prefetch",
                "prefetch." + missing_required.front()};
        co_return result<void, error>();
    }

    auto origin = impl_->origin_for(*server);
    const std::string access_token(token->get_string());
    const std::string hook_instance(request.hook_instance);
    if (!origin || !co_await impl_->ensure_resolved(origin, deadline))
    {
        log::warning("prefetch_fhir_unreachable", {{"hookInstance", hook_instance}, {"origin", server->origin()}});
        for (const auto& job : jobs)
        {
            decision_metrics::instance().prefetch_fetches.add(prefetch_outcome::error);
            request.prefetch_failures.push_back(job.key);
        }
        co_return result<void, error>();
    }

    // Parallel fetches, at most prefetch.max_concurrency at a time, all within the deadline.
    auto ex = co_await net::this_coro::executor;
    auto state = std::make_shared<fetch_progress>(ex);
    const std::size_t workers = std::min<std::size_t>(jobs.size(), std::max(1U, impl_->cfg.prefetch.max_concurrency));
    state->running = workers;
    for (std::size_t w = 0; w < workers; ++w)
        net::co_spawn(ex, fetch_worker(*impl_, state, origin, access_token, jobs, hook_instance, request.trace, deadline), worker_ended{state});
    // Every fetch ends by the deadline (the client enforces it), so this wait is bounded too; the
    // jobs and token it refers to outlive the workers.
    while (state->running > 0)
        co_await state->done.async_wait(use_tuple);

    // Merge and validate again: the document changes, so every view into it is rebuilt. The new
    // request has no source_text: the caller's bytes no longer say what the document says, and a
    // decision service is sent the merged tree, re-serialised.
    auto document = std::move(request.document);
    auto& root = document->as_object();
    if (!root.contains("prefetch") || !root["prefetch"].is_object())
        root["prefetch"] = json::object();
    auto& prefetch = root["prefetch"].as_object();
    std::size_t merged = 0;
    for (auto& job : jobs)
        if (job.result)
        {
            prefetch[job.key] = std::move(*job.result);
            ++merged;
        }
    log::debug("prefetch_completed", {{"hookInstance", hook_instance}, {"fetched", merged}, {"wanted", jobs.size()}});
    const auto version = request.version;
    auto completed = core::validate_hook_request(*request.service, std::move(document), request_limits_of(impl_->cfg));
    if (!completed)
    {
        // The request's views pointed into the document just refused: none is left dangling.
        const auto* service = request.service;
        request = core::hook_request{};
        request.service = service;
        co_return completed.error();
    }
    completed->version = version;
    completed->trace = std::move(request.trace);
    for (const auto& job : jobs)
        if (job.failed)
            completed->prefetch_failures.push_back(job.key);
    request = std::move(*completed);
    co_return result<void, error>();
}

}  // namespace crd::decision
