#include <crd/decision/rules_engine.hpp>

#include "answer_builder.hpp"

#include <crd/core/ids.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/decision/fhir_codes.hpp>

#include <boost/json/array.hpp>

#include <algorithm>
#include <optional>
#include <set>

namespace json = boost::json;

namespace crd::decision {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view value)
{
    return std::find(list.begin(), list.end(), value) != list.end();
}

bool applies_to_hook(const rule& r, std::string_view hook)
{
    return r.hooks.empty() || contains(r.hooks, hook);
}

// One coverage-information update per order or appointment of a primary hook, each with `make`'s
// assertion about it, rendered in the caller's version; for the failure and no-coverage answers.
template <class MakeAssertion>
json::array updates_for_every_item(const core::hook_request& request, MakeAssertion make)
{
    json::array actions;
    for (const auto& item : request.items)
    {
        const std::string ref = std::string(item.resource_type) + "/" + std::string(item.id);
        answer::append_update(actions, request, item, make(coverage_for(item.resource, request)), ref, ref);
    }
    return actions;
}

// Without the member's coverage the plan cannot be confirmed: the determination says so itself
// rather than guess (crd-ci-q3 allows info-needed only when conditional); reason_for says why.
determination conditional_without_coverage(determination d)
{
    d.covered = "conditional";
    if (d.pa_needed.empty())
        d.pa_needed = "conditional";
    if (std::find(d.info_needed.begin(), d.info_needed.end(), "OTH") == d.info_needed.end())
        d.info_needed.emplace_back("OTH");
    return d;
}

// The text of an assertion's first reason: the rule's, after why coverage is unknown if it is.
std::string reason_for(const rule* matched, bool unknown_coverage_in_2_0)
{
    std::string reason = matched ? matched->reason : std::string{};
    if (!unknown_coverage_in_2_0)
        return reason;
    std::string coverage_reason = "The request did not identify the patient's coverage; send the active Coverage to confirm.";
    if (!reason.empty())
        coverage_reason.append(" ").append(reason);
    return coverage_reason;
}

}  // namespace

json::object card_topic(std::string_view code, core::crd_version version, json::storage_ptr sp)
{
    const auto& types = crd_card_types();
    const auto it = types.find(code);
    json::object topic(3, sp);
    topic.emplace("system", version >= core::crd_version::v2_2 ? cdshooks_card_type_system : crd_card_type_system);
    topic.emplace("code", code);
    topic.emplace("display", it == types.end() ? code : std::string_view(it->second));
    return topic;
}

json::object undetermined_response(const core::hook_request& request, std::string_view source_label)
{
    json::object response;
    json::array cards;
    if (!request.service->primary)
    {
        response["cards"] = std::move(cards);
        return response;
    }
    const bool technical = request.version >= core::crd_version::v2_1;
    json::array actions = updates_for_every_item(request, [&](const coverage_ref& cov) {
        return answer::undetermined_assertion(cov, request.version,
            technical ? "Coverage could not be determined because of a technical issue at the payer."
                      : "Coverage could not be determined at this time.");
    });
    // 2.2: coverage information travels only as systemActions (cards.md); the reason says why.
    if (request.version < core::crd_version::v2_2)
    {
        json::object card;
        card["uuid"] = core::new_uuid();
        card["summary"] = "Coverage could not be determined right now";
        card["detail"] = "The coverage decision service did not answer in time. Check coverage requirements again "
                         "before the order is fulfilled, or contact the plan.";
        card["indicator"] = "info";
        card["source"] = answer::card_source(source_label, "", "coverage-info", request.version);
        cards.push_back(std::move(card));
    }
    response["cards"] = std::move(cards);
    if (!actions.empty())
        response["systemActions"] = std::move(actions);
    return response;
}

json::object no_coverage_response(const core::hook_request& request, std::string_view, std::string_view coverage_reason)
{
    json::object response;
    response["cards"] = json::array();
    if (!request.service->primary)
        return response;
    json::array actions = updates_for_every_item(request, [&](const coverage_ref& cov) {
        coverage_assertion a = answer::base_assertion(cov);
        a.covered = "not-covered";
        a.reasons.push_back(crd_reason(coverage_reason, coverage_reason == reason_code::no_active_coverage
                                                            ? "The patient has no active coverage with this payer."
                                                            : "No coverage with this payer was found for the patient."));
        return a;
    });
    if (!actions.empty())
        response["systemActions"] = std::move(actions);
    return response;
}

rules_engine::rules_engine(rule_set rules) : rules_(std::make_shared<const rule_set>(std::move(rules))) {}

void rules_engine::reload(const core::config& cfg)
{
    // Loaded in full before the swap: a file that does not load leaves the running rules.
    rules_.store(std::make_shared<const rule_set>(load_rules(cfg.decision.rules_path)), std::memory_order_release);
}

bool is_with_payer(const core::hook_request& request, const rule_set& rules)
{
    if (rules.payer_references.empty() && rules.payer_identifiers.empty())
        return true;  // the operator did not say who we are: every Coverage is taken as ours
    if (!request.first_prefetched("Coverage"))
        return true;  // no Coverage to judge: answered as coverage not found
    const auto cov = coverage_for(nullptr, request);
    for (const auto& payer : cov.payers)
        if (std::find(rules.payer_references.begin(), rules.payer_references.end(), payer) != rules.payer_references.end())
            return true;
    for (const auto& [system, value] : cov.payer_identifiers)
        for (const auto& ours : rules.payer_identifiers)
            if (ours.code == value && ours.system == system)
                return true;
    return false;
}

net::awaitable<result<json::object>> rules_engine::decide(core::hook_request& request, clock::time_point)
{
    // CRD hooks.md: a primary Coverage of another payer is the caller's error (400), in every version.
    if (!is_with_payer(request, *rules()))
        co_return error_code(core::request_errc::other_payer);
    co_return evaluate(request);
}

std::vector<std::string> rules_engine::card_types(const core::service_definition& service) const
{
    std::set<std::string> types;
    if (service.primary)
        types.insert("coverage-info");
    const auto rules_now = rules();
    for (const auto& r : rules_now->rules)
        if (applies_to_hook(r, service.hook) && (!r.links.empty() || !r.instructions.empty()))
            types.insert(r.topic);
    return {types.begin(), types.end()};
}

json::object rules_engine::evaluate(const core::hook_request& request) const
{
    return build_answer(request, nullptr);
}

json::object rules_engine::evaluate(core::hook_request& request) const
{
    std::vector<answer::deferred_resource> deferred;
    auto answer = build_answer(request, &deferred);
    answer::collect_verbatim(deferred, request.verbatim);
    // Orders (and prefetched resources an answer echoes) have been moved into the answer: the
    // request's indexes would point at emptied objects, and their keys into tables the answer may
    // have reallocated (freed, outside an arena). Nothing looks them up after this; make it so.
    request.prefetch_resources.clear();
    request.first_of_type.clear();
    return answer;
}

json::object rules_engine::build_answer(const core::hook_request& request, std::vector<answer::deferred_resource>* deferred) const
{
    const auto& service = *request.service;
    const auto rules_now = rules();
    const rule_set& rs = *rules_now;  // this call's snapshot
    core::request_item encounter_slot;
    const auto items = answer::items_of(request, encounter_slot);
    const answer::card_origin origin{rs.payer_name, rs.payer_url};

    // The answer is built in the request document's memory resource: the orders echoed in
    // coverage information are copied from it once, straight into place, and never freed node
    // by node (an arena-held document frees in one piece; the caller keeps it until the answer
    // is serialised, see core::api_response).
    const json::storage_ptr sp = request.document ? request.document->storage() : json::storage_ptr();
    json::array cards(sp);
    json::array actions(sp);
    if (deferred != nullptr)
        deferred->reserve(items.size());
    answer::card_parts card_parts(origin, request.version, sp);
    card_budget budget(request.cards_kept);  // the caller's max-cards
    // Orders with the same rule and the same coverage get the same assertion (but its id): it is
    // rendered once per call, and each order's update copies it (issue 19). A call has few of these.
    struct same_assertion
    {
        const rule* matched;
        std::string coverage_reference;
        bool coverage_active;
        answer::rendered_coverage rendered;
    };
    std::vector<same_assertion> rendered;
    coverage_memo coverages;
    // Per order, kept across orders so that their memory is reused.
    std::vector<coding> codings;
    std::vector<std::string_view> systems;
    std::string what_built;
    for (const auto& e : items)
    {
        if (e.resource)
            service_codings(*e.resource, request, codings);
        else
            codings.clear();
        const coverage_ref& cov = coverages.of(e.resource, request);
        // Each coding's system in canonical form, once per order rather than once per rule.
        systems.clear();
        for (const auto& c : codings)
            systems.push_back(rs.canonical_system(c.system));
        // The performers are read only when a rule that names some matches the order otherwise.
        std::optional<std::vector<std::string>> perf;

        const rule* matched = nullptr;
        for (const auto& r : rs.rules)  // sorted most specific first
        {
            if (!applies_to_hook(r, service.hook))
                continue;
            if (!r.payers.empty() && std::none_of(cov.payers.begin(), cov.payers.end(), [&](const std::string& p) { return contains(r.payers, p); }))
                continue;
            bool code_match = false;
            for (std::size_t i = 0; i < codings.size() && !code_match; ++i)
                code_match = std::any_of(
                    r.codes.begin(), r.codes.end(), [&](const coded_value& v) { return v.code == codings[i].code && v.system == systems[i]; });
            if (!code_match)
                continue;
            if (!r.performers.empty())
            {
                if (!perf)
                    perf = performers(e.resource, request);
                if (std::none_of(perf->begin(), perf->end(), [&](const std::string& p) { return contains(r.performers, p); }))
                    continue;
            }
            matched = &r;
            break;
        }

        const std::string_view what = e.resource ? describe(*e.resource, codings, what_built) : std::string_view(e.reference);
        const bool coverage_known = !cov.reference.empty();
        const bool unknown_coverage_in_2_0 = !coverage_known && request.version == core::crd_version::v2_0;
        // The rule's determination itself unless it must be changed (copied only then).
        const std::optional<determination> changed =
            unknown_coverage_in_2_0 ? std::optional(conditional_without_coverage(matched ? matched->result : rs.fallback)) : std::nullopt;
        const determination& d = changed ? *changed : matched ? matched->result : rs.fallback;

        // Only primary hooks carry coverage information: the assertion is built for them alone.
        if (answer::carries_coverage_information(request, e))
        {
            const auto same = std::find_if(rendered.begin(), rendered.end(), [&](const same_assertion& r) {
                return r.matched == matched && r.coverage_active == cov.active && r.coverage_reference == cov.reference;
            });
            if (same != rendered.end())
            {
                answer::append_update(actions, request, *e.item, same->rendered, what, e.reference, sp, deferred);
                if (matched)
                    answer::append_cards(cards, card_parts, budget, *matched, d, what, e.reference, items.size() > 1, sp);
                continue;
            }
            coverage_assertion assertion;
            if (!unknown_coverage_in_2_0 && request.version >= core::crd_version::v2_1 && (!coverage_known || !cov.active))
            {
                // 2.1+: a determination (CRD 2.2 cards.md): not covered, because no coverage was found
                // or none is active. The rule's cards still say what the order would need.
                assertion = answer::base_assertion(cov);
                assertion.covered = "not-covered";
                assertion.reasons.push_back(
                    coverage_known ? crd_reason(reason_code::no_active_coverage, "The patient's coverage with this payer is not active.")
                                   : crd_reason(reason_code::coverage_not_found, "No coverage with this payer was found for the patient."));
            }
            else
                assertion = answer::assertion_of(d, cov, reason_for(matched, unknown_coverage_in_2_0), coverage_known);
            auto& added = rendered.emplace_back(
                same_assertion{matched, cov.reference, cov.active, answer::render_once(std::move(assertion), request.version, sp)});
            answer::append_update(actions, request, *e.item, added.rendered, what, e.reference, sp, deferred);
        }

        if (matched)
            answer::append_cards(cards, card_parts, budget, *matched, d, what, e.reference, items.size() > 1, sp);
    }

    // Every order has been read: the deferred updates may now take them.
    if (deferred != nullptr)
        answer::place_resources(actions, *deferred, sp);
    json::object response(sp);
    response["cards"] = std::move(cards);
    if (!actions.empty())  // CDS Hooks: optional members with no value are omitted
        response["systemActions"] = std::move(actions);
    return response;
}

}  // namespace crd::decision
