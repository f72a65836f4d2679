#include <crd/decision/rules_engine.hpp>

#include <crd/core/ids.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/decision/fhir_codes.hpp>

#include <boost/json/array.hpp>

#include <algorithm>
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

// CDS Hooks: "summary ... <140 characters". Cut at a UTF-8 boundary and mark the cut.
std::string fit_summary(std::string s)
{
    constexpr std::size_t max_bytes = 139;
    if (s.size() <= max_bytes)
        return s;
    std::size_t cut = max_bytes - 3;  // room for "…" (3 bytes in UTF-8)
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        --cut;
    s.resize(cut);
    s += "\xE2\x80\xA6";
    return s;
}

std::string generated_summary(const determination& d, std::string_view what, std::string_view payer)
{
    if (d.covered == "not-covered")
        return "Not covered by " + std::string(payer) + ": " + std::string(what);
    if (d.pa_needed == "auth-needed")
        return "Prior authorization required: " + std::string(what);
    if (d.pa_needed == "performpa")
        return "Performer must obtain prior authorization: " + std::string(what);
    if (!d.doc_needed.empty())
        return "Documentation required: " + std::string(what);
    return "Coverage information: " + std::string(what);
}

std::string action_description(const coverage_assertion& a, std::string_view what, std::string_view reference)
{
    std::string s = "Coverage information for " + std::string(what) + " (" + std::string(reference) + "): " + a.covered;
    if (!a.pa_needed.empty())
        s += "; prior authorization: " + a.pa_needed;
    for (std::size_t i = 0; i < a.doc_needed.size(); ++i)
        s += (i == 0 ? "; documentation: " : ", ") + a.doc_needed[i];
    return s;
}

std::string derived_indicator(const determination& d)
{
    // CRD cards.md: payment issues are usually warnings; plain coverage information is info.
    if (d.covered == "not-covered" || d.pa_needed == "auth-needed" || d.pa_needed == "performpa")
        return "warning";
    return "info";
}

// "YYYY-MM-DD" + days, in the proleptic Gregorian calendar.
std::string date_after(const std::string& ymd, unsigned days)
{
    using namespace std::chrono;
    int y = 0;
    unsigned m = 0, d = 0;
    if (std::sscanf(ymd.c_str(), "%d-%u-%u", &y, &m, &d) != 3)
        return {};
    const year_month_day later{sys_days{year{y} / month{m} / day{d}} + std::chrono::days{days}};
    char out[16];
    std::snprintf(
        out, sizeof out, "%04d-%02u-%02u", static_cast<int>(later.year()), static_cast<unsigned>(later.month()), static_cast<unsigned>(later.day()));
    return out;
}

// The assertion for one order: the rule's (or the fallback's) determination about this coverage.
coverage_assertion assertion_of(const determination& d, const coverage_ref& cov, std::string reason_text, bool coverage_known)
{
    coverage_assertion a;
    if (coverage_known)
        a.coverage_reference = cov.reference;
    a.covered = d.covered;
    a.pa_needed = d.pa_needed;
    a.doc_needed = d.doc_needed;
    a.doc_purpose = d.doc_purpose;
    a.info_needed = d.info_needed;
    a.billing_codes = d.billing_codes;
    a.reasons = d.reason_codes;
    if (!reason_text.empty())
    {
        // One reason with the rule's words: on its first code when it has one, alone otherwise.
        if (a.reasons.empty())
            a.reasons.push_back({{}, {}, {}, std::move(reason_text)});
        else if (a.reasons.front().text.empty())
            a.reasons.front().text = std::move(reason_text);
    }
    a.details = d.details;
    a.questionnaires = d.questionnaire;
    a.contacts = d.contacts;
    a.date = core::today_utc();
    if (d.valid_days)
        a.expiry_date = date_after(a.date, *d.valid_days);
    a.assertion_id = core::new_uuid();
    return a;
}

// For order-dispatch when the order is neither in prefetch nor fetched: the smallest resource
// that names the order, so the EHR can still apply the update to its own copy.
json::object minimal_resource(const core::request_item& item, const core::hook_request& request)
{
    json::object r;
    r["resourceType"] = item.resource_type;
    r["id"] = item.id;
    const std::string patient = "Patient/" + std::string(request.patient_id);
    const auto type = item.resource_type;
    if (type == "NutritionOrder" || type == "VisionPrescription")
        r["patient"] = json::object{{"reference", patient}};
    else if (type == "Task")
        r["for"] = json::object{{"reference", patient}};
    else
        r["subject"] = json::object{{"reference", patient}};
    if (type == "ServiceRequest" || type == "MedicationRequest" || type == "DeviceRequest" || type == "NutritionOrder" || type == "Task")
        r["intent"] = "order";
    r["status"] = "active";
    return r;
}

json::object card_source(std::string_view label, std::string_view url, std::string_view topic, core::crd_version version)
{
    json::object source;
    source["label"] = label;
    if (!url.empty())
        source["url"] = url;
    source["topic"] = card_topic(topic, version);
    return source;
}

json::object base_card(
    const rule_set& rules, const rule& r, std::string summary, std::string_view indicator, std::string_view item_ref, core::crd_version version)
{
    json::object card;
    card["uuid"] = core::new_uuid();
    card["summary"] = fit_summary(std::move(summary));
    card["indicator"] = indicator;
    card["source"] = card_source(rules.payer_name, rules.payer_url, r.topic, version);
    // CRD: cards about some of several orders say which, for people and for software. 2.0 wrote
    // the reference as a string; 2.1 and 2.2 (their CRDServiceResponse examples) as a Reference.
    json::value associated =
        version == core::crd_version::v2_0 ? json::value(json::string(item_ref)) : json::value(json::object{{"reference", item_ref}});
    card["extension"] = json::object{{"davinci-crd.associated-resource", json::array{std::move(associated)}}};
    return card;
}

// What carries an order's coverage information: the order itself, except (CRD 2.1+ cards.md, the
// appointment-no-order profile) an Appointment basedOn a ServiceRequest, whose ServiceRequest
// carries it; that ServiceRequest must be in the request (prefetch) to be echoed as sent,
// otherwise the Appointment carries it as in 2.0. Inferno 2.2.1 still looks for Appointment
// updates (docs/crd-versions.md).
const json::object* update_target(const core::request_item& item, const core::hook_request& request)
{
    if (request.version < core::crd_version::v2_1 || item.resource_type != "Appointment" || !item.resource)
        return item.resource;
    if (const json::value* based_on = item.resource->if_contains("basedOn"); based_on && based_on->is_array())
        for (const auto& ref : based_on->get_array())
            if (ref.is_object())
                if (const json::value* r = ref.get_object().if_contains("reference"); r && r->is_string())
                    if (std::string_view(r->get_string()).find("ServiceRequest/") != std::string_view::npos)
                        if (const json::object* sr = request.find_prefetched(r->get_string()))
                            return sr;
    return item.resource;
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
        const auto cov = coverage_for(item.resource, request);
        coverage_assertion a = make(cov);
        rendering_report report;
        const json::object* target = update_target(item, request);
        json::object resource = target ? *target : minimal_resource(item, request);
        json::object action;
        action["type"] = "update";
        action["description"] = action_description(a, ref, ref);
        action["resource"] = with_coverage_information(std::move(resource), render_coverage_information(std::move(a), request.version, report));
        count_rendering(report);
        actions.push_back(std::move(action));
    }
    return actions;
}

coverage_assertion base_assertion(const coverage_ref& cov)
{
    coverage_assertion a;
    a.coverage_reference = cov.reference;
    a.date = core::today_utc();
    a.assertion_id = core::new_uuid();
    return a;
}

struct evaluated_item
{
    const core::request_item* item;
    const json::object* resource;  // may be null (order-dispatch, not prefetched)
    std::string reference;         // "Type/id"
};

}  // namespace

json::object card_topic(std::string_view code, core::crd_version version)
{
    const auto& types = crd_card_types();
    const auto it = types.find(code);
    return json::object{
        {"system", version >= core::crd_version::v2_2 ? cdshooks_card_type_system : crd_card_type_system},
        {"code", code},
        {"display", it == types.end() ? std::string(code) : it->second},
    };
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
        coverage_assertion a = base_assertion(cov);
        if (technical)
        {
            // 2.1 has no indeterminate: the renderer says it as conditional, keeping the reason.
            a.covered = "indeterminate";
            a.reasons.push_back(crd_reason(reason_code::technical, "Coverage could not be determined because of a technical issue at the payer."));
        }
        else
        {
            a.covered = "conditional";
            a.pa_needed = "conditional";
            a.info_needed = {"OTH"};
            a.reasons.push_back({{}, {}, {}, "Coverage could not be determined at this time."});
        }
        return a;
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
        card["source"] = card_source(source_label, "", "coverage-info", request.version);
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
        coverage_assertion a = base_assertion(cov);
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
    const auto& service = *request.service;
    const auto rules_now = rules();
    const rule_set& rs = *rules_now;  // this call's snapshot
    std::vector<evaluated_item> items;
    for (const auto& item : request.items)
        if (item.selected)  // order-select: advice only for the selected orders (CRD hooks.md)
            items.push_back({&item, item.resource, std::string(item.resource_type) + "/" + std::string(item.id)});

    // Encounter hooks carry no orders: the encounter itself (from prefetch) is what rules match.
    core::request_item encounter_item;
    if (service.kind == core::hook_kind::encounter_start || service.kind == core::hook_kind::encounter_discharge)
    {
        const std::string ref = "Encounter/" + std::string(request.encounter_id);
        if (const json::object* enc = request.find_prefetched(ref))
        {
            encounter_item = {"Encounter", request.encounter_id, enc, true};
            items.push_back({&encounter_item, enc, ref});
        }
    }

    // The answer is built in the request document's memory resource: the orders echoed in
    // coverage information are copied from it once, straight into place, and never freed node
    // by node (an arena-held document frees in one piece; the caller keeps it until the answer
    // is serialised, see core::api_response).
    const json::storage_ptr sp = request.document ? request.document->storage() : json::storage_ptr();
    json::array cards(sp);
    json::array actions(sp);
    for (const auto& e : items)
    {
        const auto codings = e.resource ? service_codings(*e.resource, request) : std::vector<coding>{};
        const auto cov = coverage_for(e.resource, request);
        const auto perf = performers(e.resource, request);

        const rule* matched = nullptr;
        for (const auto& r : rs.rules)  // sorted most specific first
        {
            if (!applies_to_hook(r, service.hook))
                continue;
            if (!r.payers.empty() && std::none_of(cov.payers.begin(), cov.payers.end(), [&](const std::string& p) { return contains(r.payers, p); }))
                continue;
            if (!r.performers.empty() && std::none_of(perf.begin(), perf.end(), [&](const std::string& p) { return contains(r.performers, p); }))
                continue;
            const bool code_match = std::any_of(codings.begin(), codings.end(), [&](const coding& c) {
                const auto system = rs.canonical_system(c.system);
                return std::any_of(r.codes.begin(), r.codes.end(), [&](const coded_value& v) { return v.code == c.code && v.system == system; });
            });
            if (code_match)
            {
                matched = &r;
                break;
            }
        }

        const std::string what = e.resource ? describe(*e.resource, codings) : e.reference;
        determination d = matched ? matched->result : rs.fallback;
        std::string reason = matched ? matched->reason : std::string{};
        const bool coverage_known = !cov.reference.empty();
        const bool unknown_coverage_in_2_0 = !coverage_known && request.version == core::crd_version::v2_0;
        if (unknown_coverage_in_2_0)
        {
            // Without the member's coverage the plan cannot be confirmed: say so in the
            // determination itself rather than guess (crd-ci-q3 allows info-needed only when conditional).
            d.covered = "conditional";
            if (d.pa_needed.empty())
                d.pa_needed = "conditional";
            if (std::find(d.info_needed.begin(), d.info_needed.end(), "OTH") == d.info_needed.end())
                d.info_needed.push_back("OTH");
            std::string coverage_reason = "The request did not identify the patient's coverage; send the active Coverage to confirm.";
            if (!reason.empty())
                coverage_reason.append(" ").append(reason);
            reason = std::move(coverage_reason);
        }

        // Only primary hooks carry coverage information: the assertion is built for them alone.
        if (service.primary && e.item->resource_type != "Encounter")
        {
            coverage_assertion assertion;
            if (!unknown_coverage_in_2_0 && request.version >= core::crd_version::v2_1 && (!coverage_known || !cov.active))
            {
                // 2.1+: a determination (CRD 2.2 cards.md): not covered, because no coverage was found
                // or none is active. The rule's cards still say what the order would need.
                assertion = base_assertion(cov);
                assertion.covered = "not-covered";
                assertion.reasons.push_back(
                    coverage_known ? crd_reason(reason_code::no_active_coverage, "The patient's coverage with this payer is not active.")
                                   : crd_reason(reason_code::coverage_not_found, "No coverage with this payer was found for the patient."));
            }
            else
                assertion = assertion_of(d, cov, std::move(reason), coverage_known);

            rendering_report report;
            const json::object* target = update_target(*e.item, request);
            json::object resource = target ? json::object(*target, sp) : json::object(minimal_resource(*e.item, request), sp);
            json::object action(sp);
            action["type"] = "update";
            action["description"] = action_description(assertion, what, e.reference);
            action["resource"] =
                with_coverage_information(std::move(resource), render_coverage_information(std::move(assertion), request.version, report, sp));
            count_rendering(report);
            actions.push_back(std::move(action));
        }

        if (!matched)
            continue;
        const std::string summary = matched->summary.empty() ? generated_summary(d, what, rs.payer_name) : matched->summary;
        const std::string indicator = matched->indicator.empty() ? derived_indicator(d) : matched->indicator;
        std::string detail = matched->reason.empty() ? std::string{} : matched->reason;
        if (items.size() > 1)
            detail += (detail.empty() ? "" : "\n\n") + std::string("Applies to ") + what + " (" + e.reference + ").";

        if (!matched->links.empty())
        {
            // External Reference card (CRD cards.md): links are absolute and also listed in Card.links.
            json::object card(base_card(rs, *matched, summary, indicator, e.reference, request.version), sp);
            if (!detail.empty())
                card["detail"] = detail;
            json::array links;
            for (const auto& l : matched->links)
                links.push_back(json::object{{"label", l.label}, {"url", l.url}, {"type", "absolute"}});
            card["links"] = std::move(links);
            cards.push_back(std::move(card));
        }
        if (!matched->instructions.empty())
        {
            // Instructions card: text only, no links or suggestions.
            json::object card(base_card(rs, *matched, "Instructions: " + what, "info", e.reference, request.version), sp);
            card["detail"] = matched->instructions;
            cards.push_back(std::move(card));
        }
    }

    json::object response(sp);
    response["cards"] = std::move(cards);
    if (!actions.empty())  // CDS Hooks: optional members with no value are omitted
        response["systemActions"] = std::move(actions);
    return response;
}

}  // namespace crd::decision
