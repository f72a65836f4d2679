#include <crd/decision/remote_decision.hpp>

#include <crd/core/json_document.hpp>
#include <crd/decision/answer_relay.hpp>

#include <boost/asio/error.hpp>
#include <crd/core/log.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/decision/decisions_protocol.hpp>
#include <crd/decision/response_normaliser.hpp>
#include <crd/decision/rules.hpp>
#include <crd/decision/rules_engine.hpp>
#include <crd/upstream/http_client.hpp>
#include <crd/upstream/pool_registry.hpp>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <optional>

namespace json = boost::json;

namespace crd::decision {

// --- remote decision ---------------------------------------------------------------------------

struct remote_decision::origin
{
    origin(core::url u, unsigned breaker_failures, std::chrono::milliseconds breaker_cooldown)
        : url(std::move(u))
        , endpoints(std::make_shared<upstream::endpoint_cache>(url))
        , breaker(breaker_failures, breaker_cooldown)
    {
    }
    core::url url;
    std::shared_ptr<upstream::endpoint_cache> endpoints;
    std::shared_ptr<upstream::tls_context> tls;
    circuit_breaker breaker;
    // The last call could not connect at all (refused, unreachable, unresolved) and none has
    // connected since: /ready says not ready at once, before the breaker has counted enough.
    std::atomic<bool> last_connect_failed{false};
    // Whether its answers are tried in one pass before the tree (answer_relay.hpp).
    relay_pass_backoff relay_pass;
};

// The pools of one shard, one per origin: they hold that shard's sockets.
struct remote_decision::shard_clients
{
    std::vector<upstream::http_client> clients;
};

namespace {

upstream::client_config client_config_for(const core::config& cfg, const core::url& url)
{
    upstream::client_config c;
    c.origin = url;
    c.max_connections = cfg.decision.pool_size;
    c.max_pending = cfg.decision.max_pending;
    c.idle_ttl = cfg.decision.idle_ttl;
    c.max_response_bytes = cfg.decision.max_response_bytes;
    c.ca_file = cfg.decision.ca_file;
    c.gauges = &decision_metrics::instance().decision_pool;
    return c;
}

// The request as the decision service sees it: the validated CDS Hooks request, without the
// EHR's FHIR access token unless the operator chose to forward it. The caller's own bytes when
// they still say what the tree says (hook_request::source_text: no repeated key, nothing merged
// in), minus the fhirAuthorization member; otherwise the tree, serialised member by member so
// the (possibly large) document is never copied.
std::string decision_body(const core::hook_request& request, bool forward_fhir_authorization)
{
    if (!request.source_text.empty())
    {
        const std::string_view text = request.source_text;
        const core::byte_range cut = forward_fhir_authorization ? core::byte_range{} : request.fhir_authorization_bytes;
        std::string out;
        out.reserve(text.size() - cut.size());
        out.append(text.substr(0, cut.begin));
        out.append(text.substr(cut.end));
        return out;
    }
    const auto& doc = request.document->get_object();
    std::string out = "{";
    bool first = true;
    for (const auto& kv : doc)
    {
        if (!forward_fhir_authorization && kv.key() == "fhirAuthorization")
            continue;
        if (!first)
            out += ',';
        first = false;
        core::append_json_string(out, kv.key());
        out += ':';
        core::append_json(out, kv.value());
    }
    out += '}';
    return out;
}

// 4xx answers that say the request itself was wrong: the caller's answer, relayed with its status;
// they say nothing about the decision service's health. 401/403/407 mean our own credentials are
// wrong and 429 that it is overloaded: those are its (or our configuration's) failures.
bool refuses_the_request(unsigned status)
{
    return status >= 400 && status < 500 && status != 401 && status != 403 && status != 407 && status != 408 && status != 429;
}

error_code classify(const result<upstream::response>& r)
{
    if (!r)
    {
        if (r.error() == errc::upstream_timeout || r.error() == errc::pool_wait_timeout)
            return errc::decision_timeout;
        if (r.error() == errc::response_too_large)
            return errc::decision_bad_response;
        return errc::decision_unavailable;
    }
    if (r->status >= 500)
        return errc::decision_unavailable;
    if (refuses_the_request(r->status))
        return decision_refused(r->status);
    if (r->status < 200 || r->status > 299)
        return errc::decision_bad_response;
    return {};
}

// Whether a failed call counts against the decision service's breaker: only its own failures
// (connect errors, 5xx, an exchange that timed out, garbage). Our load (no pooled connection
// free, or the deadline spent waiting for one), our refusal to send (an unsafe header) and the
// caller's bad request (4xx) do not: any caller could otherwise open the breaker for everyone.
bool is_connect_failure(const error_code& e)
{
    return e == net::error::connection_refused || e == net::error::host_unreachable || e == net::error::network_unreachable ||
           e == net::error::network_down || e == errc::upstream_unresolved;
}

// FHIR R4 OperationOutcome: resourceType and at least one issue (issue is 1..*), each an object.
bool is_operation_outcome(const json::value& v)
{
    const auto* o = v.if_object();
    if (!o)
        return false;
    const auto* type = o->if_contains("resourceType");
    const auto* issues = o->if_contains("issue");
    if (!type || !type->is_string() || type->get_string() != "OperationOutcome" || !issues || !issues->is_array())
        return false;
    const auto& list = issues->get_array();
    return !list.empty() && std::all_of(list.begin(), list.end(), [](const json::value& i) { return i.is_object(); });
}

// decision.on_failure "relay": the service's own error answer, when it is an OperationOutcome.
// Re-serialised from the parse (never its raw bytes), which max_response_bytes already bounded.
std::optional<core::upstream_failure> relayable_outcome(const upstream::response& r)
{
    if (r.status < 400 || r.status > 599)
        return std::nullopt;
    error_code ec;
    auto parsed = core::parse_json(r.body, ec);
    if (ec || !is_operation_outcome(parsed))
        return std::nullopt;
    return core::upstream_failure{r.status, std::move(parsed.get_object())};
}

bool counts_against_upstream(const result<upstream::response>& sent, const error_code& failure)
{
    if (is_decision_refusal(failure))
        return false;
    if (sent.has_error())
    {
        const auto& e = sent.error();
        return e != errc::pool_exhausted && e != errc::pool_wait_timeout && e != errc::header_value_invalid;
    }
    return true;
}

// CRD 2.1+ with the orders still held: an answer's coverage information updates them (CRD 2.1+
// says it so), and each update is compared with its order as sent on the tree
// (render_in_version), which the one pass leaves to the tree path. Not tried then: it would read
// most of the answer only to say no.
bool compares_orders_as_sent(const core::hook_request& request, core::crd_version version) noexcept
{
    if (version < core::crd_version::v2_1)
        return false;
    return std::any_of(request.items.begin(), request.items.end(), [](const core::request_item& item) { return item.resource != nullptr; });
}

}  // namespace

remote_decision::remote_decision(const core::config& cfg) : cfg_(cfg)
{
    auto add_origin = [&](const core::url& url) -> std::size_t {
        for (std::size_t i = 0; i < origins_.size(); ++i)
            if (origins_[i]->url.origin() == url.origin() && origins_[i]->url.target == url.target)
                return i;
        auto o = std::make_unique<origin>(url, cfg.decision.breaker_failures, cfg.decision.breaker_cooldown);
        if (url.is_https())
            o->tls = std::make_shared<upstream::tls_context>(cfg.decision.ca_file);
        if (auto ec = o->endpoints->resolve_now())
            log::warning("decision_resolve_failed", {{"origin", url.origin()}, {"error", ec.message()}});
        origins_.push_back(std::move(o));
        return origins_.size() - 1;
    };
    for (const auto& service : core::service_catalog())
    {
        const auto it = cfg.decision.services.find(service.id);
        const bool overridden = it != cfg.decision.services.end();
        protocol_of_service_.emplace(std::string(service.id), overridden && it->second.protocol ? *it->second.protocol : cfg.decision.protocol);
        if (overridden && it->second.endpoint)
            origin_of_service_.emplace(std::string(service.id), add_origin(*it->second.endpoint));
        else if (cfg.decision.endpoint)
            origin_of_service_.emplace(std::string(service.id), add_origin(*cfg.decision.endpoint));
    }
    if (origins_.empty())
        throw std::logic_error("remote_decision needs decision.url or a per-service url");
    pools_key_ = "decision";
    for (const auto& o : origins_)
        pools_key_ += " " + o->url.origin() + o->url.target;
}

remote_decision::~remote_decision() = default;

void remote_decision::start_background(net::any_io_executor ex)
{
    for (auto& o : origins_)
        o->endpoints->start_refresh(ex, cfg_.decision.resolve_interval);
}

core::readiness remote_decision::ready() const
{
    for (const auto& o : origins_)
    {
        if (!o->endpoints->resolved())
            return {false, "decision service host " + o->url.host + " does not resolve"};
        if (o->breaker.is_open())
            return {false, "decision service " + o->url.origin() + " is failing (circuit breaker open)"};
        if (o->last_connect_failed.load(std::memory_order_relaxed))
            return {false, "decision service " + o->url.origin() + " refused or could not be reached on the last call"};
    }
    return {};
}

std::vector<std::string> remote_decision::card_types(const core::service_definition&) const
{
    std::vector<std::string> out;
    for (const auto& [code, name] : crd_card_types())
        out.push_back(code);
    return out;
}

result<json::object> remote_decision::normalise_and_render(json::value body, const core::hook_request& request, core::crd_version version,
    std::string_view service_id, std::string_view hook_instance, const core::trace_context& trace, bool& edited)
{
    normalise_report report;
    auto normalised = normalise_response(std::move(body), report);
    if (!normalised)
        return normalised;
    // In the caller's CRD version, whatever version the service answered in.
    rendering_report rendering;
    render_in_version(*normalised, request, version, report, rendering);
    count_rendering(rendering);
    for (auto& n : rendering.notes)
        report.notes.push_back(std::move(n));
    edited = report.edited;
    if (report.changed())
    {
        counters_.cards_dropped.fetch_add(report.cards_dropped, std::memory_order_relaxed);
        counters_.cards_repaired.fetch_add(report.cards_repaired, std::memory_order_relaxed);
        counters_.actions_dropped.fetch_add(report.actions_dropped, std::memory_order_relaxed);
        counters_.actions_repaired.fetch_add(report.actions_repaired, std::memory_order_relaxed);
        auto& counted = decision_metrics::instance().normalised;
        counted.add(normalisation::card_dropped, report.cards_dropped);
        counted.add(normalisation::card_repaired, report.cards_repaired);
        counted.add(normalisation::action_dropped, report.actions_dropped);
        counted.add(normalisation::action_repaired, report.actions_repaired);
        json::array notes;
        for (auto& n : report.notes)
            notes.emplace_back(n);
        log::warning("decision_response_repaired", {
                                                       {"service", service_id},
                                                       {"hookInstance", hook_instance},
                                                       {"trace_id", trace.trace_id_hex()},
                                                       {"cards_dropped", report.cards_dropped},
                                                       {"cards_repaired", report.cards_repaired},
                                                       {"actions_dropped", report.actions_dropped},
                                                       {"actions_repaired", report.actions_repaired},
                                                       {"notes", std::move(notes)},
                                                   });
    }
    return normalised;
}

result<json::object> remote_decision::render_decisions(const json::value& body, core::hook_request& request, std::string_view service_id,
    std::string_view hook_instance, const core::trace_context& trace)
{
    decisions_report repairs;
    auto rendered = answer_from_decisions(body, request, cfg_.decision.source_label, repairs);
    count_repairs(repairs);
    if (repairs.changed() || !repairs.ignored_fields.empty())
    {
        json::array notes;
        json::array ignored;
        for (auto& n : repairs.notes)
            notes.emplace_back(std::move(n));
        for (auto& f : repairs.ignored_fields)
            ignored.emplace_back(std::move(f));
        log::warning("decision_response_repaired", {
                                                       {"service", service_id},
                                                       {"hookInstance", hook_instance},
                                                       {"trace_id", trace.trace_id_hex()},
                                                       {"protocol", "decisions"},
                                                       {"notes", std::move(notes)},
                                                       {"ignored_fields", std::move(ignored)},
                                                   });
    }
    return rendered;
}

bool remote_decision::uses_decisions_protocol(std::string_view service_id) const noexcept
{
    const auto it = protocol_of_service_.find(service_id);
    return it != protocol_of_service_.end() && it->second == core::decision_protocol::decisions;
}

bool remote_decision::echoes_request_orders(const core::service_definition& service) const noexcept
{
    return uses_decisions_protocol(service.id);
}

net::awaitable<result<json::object>> remote_decision::decide(core::hook_request& request, clock::time_point deadline)
{
    const auto service_it = origin_of_service_.find(request.service->id);
    if (service_it == origin_of_service_.end())
        co_return error_code(errc::decision_unavailable);
    const std::size_t index = service_it->second;
    origin& o = *origins_[index];
    // Kept apart from the request, which is released once sent (see core::decision_service).
    const std::string service_id(request.service->id);
    const std::string hook_instance(request.hook_instance);
    // Joins these log lines to the access log's; its hex is written only when a line is.
    const core::trace_context trace = request.trace;
    const auto version = request.version;  // the answer is said in it, after the request is released
    const bool relay_outcome = request.relay_upstream_outcome;
    const bool per_order = uses_decisions_protocol(request.service->id);
    // Read before the request may be released: whether the caller's options allow an answer to go
    // unread (see below), and how many cards they keep.
    const bool may_relay_unread = request.answer_may_be_relayed_unread && !per_order;
    const std::size_t cards_kept = request.cards_kept;

    // The pools of the context this call runs on (a shard's, created on first use).
    auto ex = co_await net::this_coro::executor;
    auto make_clients = [&]() {
        auto sc = std::make_shared<shard_clients>();
        for (const auto& each : origins_)
            sc->clients.emplace_back(ex, client_config_for(cfg_, each->url), each->endpoints, each->tls);
        return sc;
    };
    std::shared_ptr<shard_clients> clients =
        upstream::pool_registry::of(ex).get_or_create(pools_key_, std::function<std::shared_ptr<shard_clients>()>(make_clients));

    error_code failure;
    // Optional, not default-constructed: assigning an answer in another memory resource to a
    // default one would deep-copy it, where move construction keeps the response's arena.
    // The arena the answer is parsed into (see below): declared first, so it outlives the answer.
    core::document_ptr answer_document;
    std::optional<json::object> answer;
    auto permit = o.breaker.admit();
    if (!permit)
    {
        failure = errc::decision_circuit_open;
        counters_.breaker_open.fetch_add(1, std::memory_order_relaxed);
        decision_metrics::instance().calls.add(decision_outcome::breaker_open);
    }
    else
    {
        upstream::request req;
        req.target = o.url.target;
        req.body = per_order ? decisions_request_body(request, cfg_.decision.send_prefetch)
                             : decision_body(request, cfg_.decision.forward_fhir_authorization);
        for (const auto& h : cfg_.decision.headers)
            req.headers.push_back({h.name, h.value});
        req.headers.push_back({"X-CDS-Hook-Instance", hook_instance});
        // Who authenticated (never their token), so the service can tell EHRs apart. Checked for
        // CR/LF/NUL by the client with every other header: an unsafe one is never sent.
        if (!request.client_id.empty())
            req.headers.push_back({"X-CDS-Client", request.client_id});
        for (auto& [name, value] : request.forward_headers)
            req.headers.push_back({std::move(name), std::move(value)});
        upstream::add_trace_headers(req, request.trace);
        // The decision service has all it needs in req.body: free the parsed request while we
        // wait, unless the handler will answer a failure from it, or the answer is re-rendered
        // against the orders as sent (CRD 2.1+, see below), or per-order decisions are rendered
        // into the orders (decisions protocol).
        if (!request.keep_for_failure_answer && !per_order)
        {
            const auto* service = request.service;
            request = core::hook_request{};
            request.service = service;
        }

        const auto started = clock::now();
        auto sent = co_await clients->clients[index].send(std::move(req), deadline);
        decision_metrics::instance().call_seconds.observe(clock::now() - started);
        failure = classify(sent);
        if (!failure)
        {
            error_code parse_error;
            // The usual answer, said in the caller's version with nothing to repair, is read once
            // and relayed as the service wrote it, with no tree built (answer_relay.hpp). Any
            // other takes the tree path below, which repairs, counts and logs.
            bool relayable = false;
            if (may_relay_unread && !compares_orders_as_sent(request, version) && o.relay_pass.should_try())
            {
                relayable = relayable_as_written(sent->body, request, version, cards_kept).relayable;
                o.relay_pass.record(relayable);
                if (!relayable)
                    decision_metrics::instance().relay_pass_refused.add();
            }
            if (relayable)
            {
                answer_document = core::text_only_document(std::move(sent->body));
                decision_metrics::instance().relayed_unread.add();
                answer.emplace();  // no tree: the text is the answer (crd_service::answered)
            }
            else
            {
                // One arena per response, as for the request: the nodes point into it without owning
                // it (no reference count per node, and no walk over them to free the answer), and the
                // request carries it to the response (api_response) until the answer is serialised.
                // Declared before `body`, so whatever this call leaves in the arena goes first.
                // The document keeps the text: an answer nothing is changed in is relayed as it came.
                answer_document =
                    core::parse_document_keeping_text(std::move(sent->body), core::max_json_depth, parse_error, core::entry_placing::off);
                json::value body = answer_document ? std::move(*answer_document) : json::value();
                if (parse_error == errc::json_number_out_of_range)
                {
                    // Relayed, inf would reach the EHR as "Infinity": not JSON. Counted, then a 502.
                    decision_metrics::instance().nonfinite_numbers.add();
                    log::warning("decision_response_nonfinite",
                        {{"service", service_id}, {"hookInstance", hook_instance}, {"trace_id", trace.trace_id_hex()}});
                }
                if (parse_error)
                    failure = errc::decision_bad_response;
                else if (per_order)
                {
                    core::mark_tree_changed(answer_document);  // the answer is built from it, not it
                    auto rendered = render_decisions(body, request, service_id, hook_instance, trace);
                    if (!rendered)
                        failure = rendered.error();
                    else
                        answer.emplace(std::move(*rendered));
                }
                else
                {
                    bool edited = true;
                    auto normalised = normalise_and_render(std::move(body), request, version, service_id, hook_instance, trace, edited);
                    if (!normalised)
                        failure = normalised.error();
                    else
                    {
                        answer.emplace(std::move(*normalised));
                        if (edited)
                            core::mark_tree_changed(answer_document);
                    }
                }
            }
        }
        else
        {
            if (sent && relay_outcome)
                request.upstream_outcome = relayable_outcome(*sent);
            log::warning("decision_call_failed", {
                                                     {"service", service_id},
                                                     {"hookInstance", hook_instance},
                                                     {"trace_id", trace.trace_id_hex()},
                                                     {"origin", o.url.origin()},
                                                     {"error", sent ? "HTTP " + std::to_string(sent->status) : sent.error().message()},
                                                 });
        }

        // No verdict otherwise: the permit's destructor gives a probe slot back.
        if (!failure || is_decision_refusal(failure))
            permit.succeeded();  // it answered, and sanely
        else if (counts_against_upstream(sent, failure))
            permit.failed();
        o.last_connect_failed.store(sent.has_error() && is_connect_failure(sent.error()), std::memory_order_relaxed);
    }

    if (!failure)
    {
        request.answer_document = std::move(answer_document);
        counters_.ok.fetch_add(1, std::memory_order_relaxed);
        decision_metrics::instance().calls.add(decision_outcome::ok);
        co_return std::move(*answer);
    }
    if (is_decision_refusal(failure))
    {
        // The caller's own answer, relayed: never degraded to "conditional", never the service's failure.
        decision_metrics::instance().calls.add(decision_outcome::rejected);
        co_return failure;
    }
    (failure == errc::decision_timeout ? counters_.timeout : counters_.error).fetch_add(1, std::memory_order_relaxed);
    if (failure == errc::decision_timeout)
        decision_metrics::instance().calls.add(decision_outcome::timeout);
    else if (failure != errc::decision_circuit_open)
        decision_metrics::instance().calls.add(decision_outcome::error);
    // The handler answers failures of ours as a determination where the caller's version or
    // decision.on_failure says so (crd_service), from the request it asked us to keep.
    co_return failure;
}

}  // namespace crd::decision
