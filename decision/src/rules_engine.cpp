#include <crd/decision/rules_engine.hpp>

#include <crd/core/ids.hpp>
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

std::string action_description(const determination& d, std::string_view what, std::string_view reference)
{
    std::string s = "Coverage information for " + std::string(what) + " (" + std::string(reference) + "): " + d.covered;
    if (!d.pa_needed.empty())
        s += "; prior authorization: " + d.pa_needed;
    if (!d.doc_needed.empty())
        s += "; documentation: " + d.doc_needed;
    return s;
}

std::string derived_indicator(const determination& d)
{
    // CRD cards.md: payment issues are usually warnings; plain coverage information is info.
    if (d.covered == "not-covered" || d.pa_needed == "auth-needed" || d.pa_needed == "performpa")
        return "warning";
    return "info";
}

json::object value_ext(std::string_view url, std::string_view value_key, json::value value)
{
    json::object e;
    e["url"] = url;
    e[value_key] = std::move(value);
    return e;
}

json::object coverage_extension(const determination& d, const coverage_ref& cov, const std::string& reason, bool coverage_known)
{
    json::array ext;
    json::object ref;
    if (coverage_known)
        ref["reference"] = cov.reference;
    else
        ref["display"] = "No coverage was identified in the request";
    ext.push_back(value_ext("coverage", "valueReference", std::move(ref)));
    ext.push_back(value_ext("covered", "valueCode", json::string(d.covered)));
    if (!d.pa_needed.empty())
        ext.push_back(value_ext("pa-needed", "valueCode", json::string(d.pa_needed)));
    if (!d.doc_needed.empty())
        ext.push_back(value_ext("doc-needed", "valueCode", json::string(d.doc_needed)));
    for (const auto& p : d.doc_purpose)
        ext.push_back(value_ext("doc-purpose", "valueCode", json::string(p)));
    for (const auto& i : d.info_needed)
        ext.push_back(value_ext("info-needed", "valueCode", json::string(i)));
    if (!reason.empty())
        ext.push_back(value_ext("reason", "valueCodeableConcept", json::object{{"text", reason}}));
    for (const auto& q : d.questionnaire)
        ext.push_back(value_ext("questionnaire", "valueCanonical", json::string(q)));
    ext.push_back(value_ext("date", "valueDate", json::string(core::today_utc())));
    ext.push_back(value_ext("coverage-assertion-id", "valueString", json::string(core::new_uuid())));
    json::object out;
    out["url"] = coverage_information_url;
    out["extension"] = std::move(ext);
    return out;
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

json::object with_coverage_information(json::object resource, json::object extension)
{
    // Replace any coverage information the EHR already holds for this order with the current one.
    json::array extensions(resource.storage());
    if (json::value* existing = resource.if_contains("extension"); existing && existing->is_array())
        for (auto& e : existing->get_array())
            if (!is_coverage_information(e))
                extensions.push_back(std::move(e));
    extensions.push_back(std::move(extension));
    resource["extension"] = std::move(extensions);
    return resource;
}

json::object card_source(std::string_view label, std::string_view url, std::string_view topic)
{
    json::object source;
    source["label"] = label;
    if (!url.empty())
        source["url"] = url;
    const auto& types = crd_card_types();
    const auto it = types.find(topic);
    source["topic"] = json::object{
        {"system", crd_card_type_system},
        {"code", topic},
        {"display", it == types.end() ? std::string(topic) : it->second},
    };
    return source;
}

json::object base_card(const rule_set& rules, const rule& r, std::string summary, std::string_view indicator, std::string_view item_ref)
{
    json::object card;
    card["uuid"] = core::new_uuid();
    card["summary"] = fit_summary(std::move(summary));
    card["indicator"] = indicator;
    card["source"] = card_source(rules.payer_name, rules.payer_url, r.topic);
    // CRD: cards about some of several orders say which, for people and for software.
    card["extension"] = json::object{{"davinci-crd.associated-resource", json::array{json::string(item_ref)}}};
    return card;
}

struct evaluated_item
{
    const core::request_item* item;
    const json::object* resource;  // may be null (order-dispatch, not prefetched)
    std::string reference;         // "Type/id"
};

}  // namespace

bool is_coverage_information(const json::value& extension) noexcept
{
    const json::value* url = extension.is_object() ? extension.get_object().if_contains("url") : nullptr;
    return url && url->is_string() && url->get_string() == coverage_information_url;
}

json::object undetermined_response(const core::hook_request& request, std::string_view source_label)
{
    json::object response;
    json::array cards;
    if (request.service->primary)
    {
        json::array actions;
        determination d;
        d.covered = "conditional";
        d.pa_needed = "conditional";
        d.info_needed = {"OTH"};
        const std::string reason = "Coverage could not be determined at this time.";
        for (const auto& item : request.items)
        {
            const std::string ref = std::string(item.resource_type) + "/" + std::string(item.id);
            const auto cov = coverage_for(item.resource, request);
            json::object resource = item.resource ? *item.resource : minimal_resource(item, request);
            json::object action;
            action["type"] = "update";
            action["description"] = action_description(d, ref, ref);
            action["resource"] = with_coverage_information(std::move(resource), coverage_extension(d, cov, reason, !cov.reference.empty()));
            actions.push_back(std::move(action));
        }
        json::object card;
        card["uuid"] = core::new_uuid();
        card["summary"] = "Coverage could not be determined right now";
        card["detail"] = "The coverage decision service did not answer in time. Check coverage requirements again "
                         "before the order is fulfilled, or contact the plan.";
        card["indicator"] = "info";
        card["source"] = card_source(source_label, "", "coverage-info");
        cards.push_back(std::move(card));
        response["cards"] = std::move(cards);
        if (!actions.empty())
            response["systemActions"] = std::move(actions);
        return response;
    }
    response["cards"] = std::move(cards);
    return response;
}

rules_engine::rules_engine(rule_set rules) : rules_(std::make_shared<const rule_set>(std::move(rules))) {}

void rules_engine::reload(const core::config& cfg)
{
    // Loaded in full before the swap: a file that does not load leaves the running rules.
    rules_.store(std::make_shared<const rule_set>(load_rules(cfg.decision.rules_path)), std::memory_order_release);
}

net::awaitable<result<json::object>> rules_engine::decide(core::hook_request& request, clock::time_point)
{
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
        if (!coverage_known)
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

        if (service.primary && e.item->resource_type != "Encounter")
        {
            json::object resource = e.resource ? json::object(*e.resource, sp) : json::object(minimal_resource(*e.item, request), sp);
            json::object action(sp);
            action["type"] = "update";
            action["description"] = action_description(d, what, e.reference);
            action["resource"] = with_coverage_information(std::move(resource), coverage_extension(d, cov, reason, coverage_known));
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
            json::object card(base_card(rs, *matched, summary, indicator, e.reference), sp);
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
            json::object card(base_card(rs, *matched, "Instructions: " + what, "info", e.reference), sp);
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
