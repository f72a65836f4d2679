#include <crd/decision/crd_service.hpp>

#include <crd/core/log.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/decision/remote_decision.hpp>
#include <crd/decision/rules_engine.hpp>

#include <boost/json/array.hpp>

#include <algorithm>

namespace json = boost::json;

namespace crd::decision {
namespace {

// Only CDS Hooks 2.0 prefetch tokens (root-level primitive context fields), checklist §2.4.
json::object prefetch_templates(const core::service_definition& service)
{
    json::object p;
    p["patient"] = "Patient/{{context.patientId}}";
    p["coverage"] = "Coverage?patient={{context.patientId}}&status=active";
    switch (service.kind)
    {
    case core::hook_kind::order_sign:
    case core::hook_kind::order_select:
    case core::hook_kind::appointment_book: p["user"] = "{{context.userId}}"; break;
    case core::hook_kind::order_dispatch:
        p["performer"] = "{{context.performer}}";
        p["order"] = "{{context.order}}";  // order-dispatch 1.0; 1.1 clients omit the key
        break;
    case core::hook_kind::encounter_start:
    case core::hook_kind::encounter_discharge:
        p["user"] = "{{context.userId}}";
        p["encounter"] = "Encounter/{{context.encounterId}}";
        break;
    }
    return p;
}

std::string outcome_name(const error_code& ec)
{
    if (ec == errc::decision_timeout)
        return "timeout";
    if (ec == errc::decision_circuit_open)
        return "breaker_open";
    if (is_decision_refusal(ec))
        return "rejected";
    return "error";
}

}  // namespace

core::api_response crd_service::answered(core::hook_request&& request, json::object response, const crd_options& options, std::string decision) const
{
    // An answer relayed unread was checked against these options already (answer_relay.hpp): it
    // has no tree to apply them to, and they change nothing in it.
    const bool text_only = decision == "ok" && core::is_text_only(request.answer_document);
    const bool options_changed = !text_only && apply_options(response, options);
    // Initialised, not assigned: json::value's move assignment deep-copies an answer held in
    // another memory resource (the request document's arena), where its move constructor keeps it.
    std::string hook_instance(request.hook_instance);  // a view into the document: copied before it moves
    const std::string_view answer_text = decision == "ok" && !options_changed ? core::exact_text_of(request.answer_document) : std::string_view();
    core::api_response r(200, std::move(request.document), std::move(request.answer_document), boost::json::value(std::move(response)));
    if (text_only)
        r.body = nullptr;  // the text is the answer (api_response::body_text)
    // Only the decision's own answer holds the objects they name.
    else if (decision == "ok")
        r.verbatim = std::move(request.verbatim);
    // The decision service's answer, unchanged: its own bytes, not the tree written again (issue
    // 19). The root is the first object the writer meets. The moves above kept its members where
    // they were, which the writer checks.
    if (!text_only && !answer_text.empty())
    {
        const auto& root = r.body.get_object();
        r.verbatim.insert(r.verbatim.begin(), core::verbatim_object{root.begin(), root.size(), answer_text, true});
    }
    r.hook_instance = std::move(hook_instance);
    r.decision = std::move(decision);
    r.crd_version = std::string(core::to_string(request.version));
    return r;
}

crd_service::crd_service(const core::service_definition& service, core::decision_service& decision, std::chrono::milliseconds timeout,
    prefetch_fulfiller* prefetch, double prefetch_share, core::request_limits limits, core::failure_policy on_failure, std::string failure_label)
    : service_(service)
    , decision_(decision)
    , timeout_(timeout)
    , prefetch_(prefetch)
    , prefetch_share_(prefetch_share)
    , limits_(limits)
    , on_failure_(on_failure)
    , failure_label_(std::move(failure_label))
    , card_types_(decision.card_types(service))
    , echoes_request_orders_(decision.echoes_request_orders(service))
{
    discovery_["hook"] = service_.hook;
    discovery_["id"] = service_.id;
    discovery_["title"] = service_.title;
    discovery_["description"] = service_.description;
    discovery_["usageRequirements"] = "Send the patient's active Coverage in prefetch, or fhirServer with fhirAuthorization, so the payer can "
                                      "identify the plan. Orders need codes (CPT/HCPCS, RxNorm, SNOMED CT or LOINC) for a determination.";
    discovery_["prefetch"] = prefetch_templates(service_);
    // CRD 2.2 deviations.md (dev-1, dev-2): every version a service answers in, "major.minor".
    json::array versions;
    for (const auto v : core::served_crd_versions)
        versions.emplace_back(core::to_string(v));
    discovery_["extension"] = json::object{
        {"davinci-crd.version", std::move(versions)},
        {"davinci-crd.configuration-options", configuration_options(card_types_)},
    };
}

net::awaitable<core::api_response> crd_service::handle(core::document_ptr body, core::request_context ctx)
{
    // A key given twice is refused: Boost.JSON kept the last one silently, and whoever reads the
    // caller's bytes instead of our tree (a decision service sent them, a dispute over the audit
    // record) could take the first, one we never validated.
    core::text_and_tree text;
    if (!ctx.body.empty() && body)
    {
        text = core::compare_text_to_document(ctx.body, body, "fhirAuthorization");
        if (text.repeated_key)
            co_return core::api_response::from(core::to_problem(error{
                core::request_errc::not_json, *text.repeated_key + " is given twice in one object: each key may appear once", *text.repeated_key}));
    }
    auto validated = core::validate_hook_request(service_, std::move(body), limits_);
    if (validated.has_error())
        co_return core::api_response::from(core::to_problem(validated.error()));
    if (text.same_members)
    {
        validated->source_text = ctx.body;
        validated->fhir_authorization_bytes = text.cut;
        core::locate_item_texts(*validated);
    }
    validated->trace = ctx.trace;  // before prefetch: its FHIR calls are child spans too
    if (prefetch_)
    {
        // Missing prefetch is fetched within a share of the budget, leaving the rest to the decision.
        const auto share = std::chrono::duration_cast<clock::duration>(timeout_ * prefetch_share_);
        const auto& templates = discovery_.at("prefetch").as_object();
        if (auto completed = co_await prefetch_->complete(*validated, templates, ctx.received + share); completed.has_error())
            co_return core::api_response::from(core::to_problem(completed.error()));
    }
    auto& request = *validated;
    request.forward_headers = std::move(ctx.forward_headers);
    request.client_id = std::move(ctx.client_id);
    const auto version = request.version;
    decision_metrics::instance().responses_by_version.add(version);

    auto options = read_options(request.configuration, card_types_);
    if (options.has_error())
    {
        auto r = core::api_response::from(core::to_problem(options.error()));
        r.hook_instance = request.hook_instance;
        co_return r;
    }
    // The decision source need not build cards max-cards would drop; with a card type disabled,
    // which cards count toward max-cards is known only once they are built.
    if (options->disabled_card_types.empty())
        request.cards_kept = options->max_cards;
    // An answer may then be relayed unread when it has at most that many cards, most severe first
    // (remote_decision): nothing else in these options changes one.
    request.answer_may_be_relayed_unread = options->disabled_card_types.empty() && options->coverage_info;

    // CRD 2.2 (cards.md; Inferno's technical-issues tests): the EHR's FHIR server failed us while
    // the Coverage was still missing: a determination ("indeterminate", reason technical), not a
    // guess from what we have and not an error. 2.0 keeps deciding on what it has, as it always did.
    if (version >= core::crd_version::v2_1 && !request.prefetch_failures.empty() && !request.first_prefetched("Coverage"))
    {
        log::warning("decision_technical",
            {{"service", service_.id}, {"hookInstance", std::string(request.hook_instance)}, {"trace_id", request.trace.trace_id_hex()},
                {"detail", "the EHR's FHIR server failed while the patient's Coverage was missing"}});
        decision_metrics::instance().degraded.add();
        auto response = undetermined_response(request, failure_label_);
        co_return answered(std::move(request), std::move(response), *options, "technical");
    }

    // One deadline per request, counted from its arrival: queueing before us is spent too.
    // The decision may release the request once sent, unless a failure is answered from it.
    const auto deadline = ctx.received + timeout_;
    std::string hook_instance(request.hook_instance);
    const core::trace_context trace = request.trace;  // the decision source may release the request
    request.keep_for_failure_answer = version >= core::crd_version::v2_1 || on_failure_ == core::failure_policy::conditional;
    request.relay_upstream_outcome = on_failure_ == core::failure_policy::relay;
    auto decided = co_await decision_.decide(request, deadline);
    if (!decided)
    {
        const error_code failure = decided.error();
        const bool callers_fault = &failure.category() == &core::request_category() || is_decision_refusal(failure);
        log::warning("decision_failed", {
                                            {"service", service_.id},
                                            {"hookInstance", hook_instance},
                                            {"trace_id", trace.trace_id_hex()},
                                            {"error", failure.message()},
                                        });
        // decision.on_failure "relay": the service's own OperationOutcome and status. A 2.0 caller
        // hears every one; a 2.1+ caller only a refusal of its own request (its version wants a
        // technical determination for the service's failures, below).
        if (request.upstream_outcome && (version == core::crd_version::v2_0 || is_decision_refusal(failure)))
        {
            decision_metrics::instance().relayed.add();
            core::api_response r;
            r.status = request.upstream_outcome->status;
            r.body = std::move(request.upstream_outcome->outcome);
            r.hook_instance = std::move(hook_instance);
            r.decision = callers_fault ? "rejected" : outcome_name(failure);
            r.crd_version = core::to_string(version);
            co_return r;
        }
        // Failures of ours become a determination: 2.1+ always ("technical"), 2.0 when
        // decision.on_failure is "conditional". The caller's own errors stay errors.
        if (!callers_fault && request.document && (version >= core::crd_version::v2_1 || on_failure_ == core::failure_policy::conditional))
        {
            decision_metrics::instance().degraded.add();
            auto response = undetermined_response(request, failure_label_);
            auto r = answered(std::move(request), std::move(response), *options, version >= core::crd_version::v2_1 ? "technical" : "conditional");
            r.hook_instance = std::move(hook_instance);
            co_return r;
        }
        auto r = core::api_response::from(core::to_problem({failure}));
        r.hook_instance = std::move(hook_instance);
        r.decision = callers_fault ? "rejected" : outcome_name(failure);
        r.crd_version = core::to_string(version);
        co_return r;
    }
    auto r = answered(std::move(request), std::move(*decided), *options, "ok");
    r.hook_instance = std::move(hook_instance);
    co_return r;
}

std::chrono::milliseconds decision_timeout(const core::config& cfg, const core::service_definition& service)
{
    if (const auto it = cfg.decision.services.find(service.id); it != cfg.decision.services.end() && it->second.timeout)
        return *it->second.timeout;
    if (cfg.decision.timeout)
        return *cfg.decision.timeout;
    return service.default_timeout;
}

core::request_limits request_limits_of(const core::config& cfg)
{
    return {cfg.limits.max_orders, cfg.limits.max_selections};
}

core::hook_registry make_registry(const core::config& cfg, core::decision_service& decision, prefetch_fulfiller* prefetch)
{
    core::hook_registry registry;
    for (const auto& service : core::service_catalog())
    {
        if (cfg.enabled_services)
        {
            const auto& enabled = *cfg.enabled_services;
            if (std::find(enabled.begin(), enabled.end(), service.id) == enabled.end())
                continue;
        }
        registry.add(std::make_unique<crd_service>(service, decision, decision_timeout(cfg, service), prefetch, cfg.prefetch.deadline_share,
            request_limits_of(cfg), cfg.decision.on_failure, cfg.decision.source_label));
    }
    return registry;
}

}  // namespace crd::decision
