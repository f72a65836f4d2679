#include <crd/decision/decisions_protocol.hpp>

#include "answer_builder.hpp"

#include <crd/core/ids.hpp>
#include <crd/core/json_arena.hpp>
#include <crd/core/url.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/decision/fhir_codes.hpp>
#include <crd/decision/rules.hpp>

#include <boost/json/array.hpp>
#include <crd/core/json_document.hpp>

#include <algorithm>
#include <map>

namespace json = boost::json;

namespace crd::decision {
namespace {

// The compact request is built in one arena (`sp`, freed with the body) and serialised once: no
// allocation per node.

// A member the compact request copies as FHIR has it (a date, a Period, a Quantity).
void copy_if_present(const json::object& from, std::string_view key, json::object& to, std::string_view as = {})
{
    if (const json::value* v = from.if_contains(key))
        to[as.empty() ? key : as] = *v;  // copied into `to`'s arena
}

std::string_view string_at(const json::object& o, std::string_view key)
{
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

json::object identifier_of(const json::object& id, const json::storage_ptr& sp)
{
    return json::object({{"system", string_at(id, "system")}, {"value", string_at(id, "value")}}, sp);
}

// The member's coverages as the payer's systems know them: which plan, which member, paid by whom.
json::object coverage_summary(const json::object& coverage, const json::storage_ptr& sp)
{
    json::object out(sp);
    std::string reference = "Coverage/";
    reference += string_at(coverage, "id");
    out["reference"] = reference;
    copy_if_present(coverage, "status", out);
    copy_if_present(coverage, "subscriberId", out);
    copy_if_present(coverage, "period", out);
    if (const json::value* ids = coverage.if_contains("identifier"); ids && ids->is_array())
    {
        json::array identifiers(sp);
        for (const auto& id : ids->get_array())
            if (id.is_object() && !string_at(id.get_object(), "value").empty())
                identifiers.push_back(identifier_of(id.get_object(), sp));
        if (!identifiers.empty())
            out["identifiers"] = std::move(identifiers);
    }
    json::array payers(sp);
    if (const json::value* payors = coverage.if_contains("payor"); payors && payors->is_array())
        for (const auto& p : payors->get_array())
        {
            if (!p.is_object())
                continue;
            json::object payer(sp);
            if (const auto ref = string_at(p.get_object(), "reference"); !ref.empty())
                payer["reference"] = relative_reference(ref);
            if (const json::value* id = p.get_object().if_contains("identifier"); id && id->is_object())
                payer["identifier"] = identifier_of(id->get_object(), sp);
            if (const auto display = string_at(p.get_object(), "display"); !display.empty())
                payer["display"] = display;
            if (!payer.empty())
                payers.push_back(std::move(payer));
        }
    out["payers"] = std::move(payers);
    // Coverage.class: group, plan, rxbin, ... (the plan is what benefit rules key on).
    if (const json::value* classes = coverage.if_contains("class"); classes && classes->is_array())
    {
        json::array plan(sp);
        for (const auto& c : classes->get_array())
        {
            if (!c.is_object())
                continue;
            const auto& cls = c.get_object();
            std::string_view type;
            if (const json::value* t = cls.if_contains("type"); t && t->is_object())
                if (const json::value* codings = t->get_object().if_contains("coding");
                    codings && codings->is_array() && !codings->get_array().empty() && codings->get_array().front().is_object())
                    type = string_at(codings->get_array().front().get_object(), "code");
            json::object entry({{"type", type}, {"value", string_at(cls, "value")}}, sp);
            if (const auto name = string_at(cls, "name"); !name.empty())
                entry["name"] = name;
            plan.push_back(std::move(entry));
        }
        if (!plan.empty())
            out["classes"] = std::move(plan);
    }
    return out;
}

// Every Coverage in prefetch (Bundles opened), in document order: the first is the primary one.
json::array coverages_of(const core::hook_request& request, const json::storage_ptr& sp)
{
    constexpr std::size_t max_coverages = 16;  // a member has a handful; the request is bounded anyway
    json::array out(sp);
    if (!request.prefetch)
        return out;
    auto add = [&](const json::value& v) {
        if (out.size() < max_coverages && v.is_object() && string_at(v.get_object(), "resourceType") == "Coverage")
            out.push_back(coverage_summary(v.get_object(), sp));
    };
    for (const auto& kv : *request.prefetch)
    {
        if (!kv.value().is_object())
            continue;
        const auto& resource = kv.value().get_object();
        if (string_at(resource, "resourceType") == "Bundle")
        {
            if (const json::value* entries = resource.if_contains("entry"); entries && entries->is_array())
                for (const auto& e : entries->get_array())
                    if (e.is_object())
                        if (const json::value* r = e.get_object().if_contains("resource"))
                            add(*r);
        }
        else
            add(kv.value());
    }
    return out;
}

// How much was ordered: ServiceRequest.quantity[x], MedicationRequest.dispenseRequest.
void add_quantity(const json::object& resource, json::object& order)
{
    copy_if_present(resource, "quantityQuantity", order, "quantity");
    copy_if_present(resource, "quantityRatio", order, "quantityRatio");
    copy_if_present(resource, "quantityRange", order, "quantityRange");
    if (const json::value* dispense = resource.if_contains("dispenseRequest"); dispense && dispense->is_object())
    {
        copy_if_present(dispense->get_object(), "quantity", order);
        copy_if_present(dispense->get_object(), "numberOfRepeatsAllowed", order, "repeatsAllowed");
        copy_if_present(dispense->get_object(), "expectedSupplyDuration", order, "supplyDuration");
    }
}

// When: the order's dates as FHIR names them (authoredOn, occurrence[x], Appointment start/end, ...).
void add_dates(const json::object& resource, json::object& order, const json::storage_ptr& sp)
{
    json::object dates(sp);
    for (std::string_view key : {"authoredOn", "occurrenceDateTime", "occurrencePeriod", "start", "end", "dateTime", "period", "requestedPeriod"})
        copy_if_present(resource, key, dates);
    if (const json::value* dispense = resource.if_contains("dispenseRequest"); dispense && dispense->is_object())
        copy_if_present(dispense->get_object(), "validityPeriod", dates);
    if (!dates.empty())
        order["dates"] = std::move(dates);
}

json::object order_summary(const core::request_item& item, const core::hook_request& request, const json::storage_ptr& sp)
{
    json::object order(12, sp);  // room for every member: no growth
    std::string reference(item.resource_type);
    reference += '/';
    reference += item.id;
    order["reference"] = reference;
    order["resourceType"] = item.resource_type;
    order["selected"] = item.selected;
    if (!item.resource)
        return order;  // order-dispatch: only referenced, and not fetched
    const auto& resource = *item.resource;
    copy_if_present(resource, "status", order);
    copy_if_present(resource, "intent", order);
    const auto codings = service_codings(resource, request);
    json::array codes(sp);
    for (const auto& c : codings)
    {
        json::object code({{"system", c.system}, {"code", c.code}}, sp);
        if (!c.display.empty())
            code["display"] = c.display;
        codes.push_back(std::move(code));
    }
    order["codes"] = std::move(codes);
    order["description"] = describe(resource, codings);
    add_quantity(resource, order);
    json::array performer_refs(sp);
    for (const auto& p : performers(&resource, request))
        performer_refs.emplace_back(p);
    order["performers"] = std::move(performer_refs);
    if (const auto cov = coverage_for(&resource, request); !cov.reference.empty())
        order["coverage"] = cov.reference;
    add_dates(resource, order, sp);
    return order;
}

// A decision's `order`, read before (and whatever) the rest of it says, so that a decision with
// a bad value still says which order it was about.
std::string order_of(const json::value& decision)
{
    if (!decision.is_object())
        return {};
    return std::string(string_at(decision.get_object(), "order"));
}

// An informational card of the answer (DecisionsResponse.cards): {summary, detail?, indicator?,
// topic?, links?, order?}. Throws rules_error naming the field.
json::object read_card(const json::value& v, const std::string& path, const std::map<std::string, const answer::answered_item*, std::less<>>& items,
    std::string_view label, core::crd_version version, const json::storage_ptr& sp)
{
    auto fail = [&](const std::string& field, const std::string& what) { throw rules_error("decision field '" + path + field + "' " + what); };
    if (!v.is_object())
        fail("", "must be an object {summary, detail?, indicator?, topic?, links?, order?}");
    const auto& c = v.get_object();
    for (const auto& kv : c)
        if (kv.key() != "summary" && kv.key() != "detail" && kv.key() != "indicator" && kv.key() != "topic" && kv.key() != "links" &&
            kv.key() != "order")
            fail("." + std::string(kv.key()), "is not a card field (summary, detail, indicator, topic, links, order)");
    auto text = [&](std::string_view key, bool required) {
        const json::value* t = c.if_contains(key);
        if (!t)
        {
            if (required)
                fail("." + std::string(key), "is required");
            return std::string();
        }
        if (!t->is_string() || t->get_string().empty())
            fail("." + std::string(key), "must be a non-empty string");
        return std::string(t->get_string());
    };
    json::object card(sp);
    card["uuid"] = core::new_uuid();
    const std::string summary = text("summary", true);
    if (summary.size() > 139)
        fail(".summary", "must be shorter than 140 characters (CDS Hooks card summary)");
    card["summary"] = summary;
    if (auto detail = text("detail", false); !detail.empty())
        card["detail"] = detail;
    std::string indicator = text("indicator", false);
    if (indicator.empty())
        indicator = "info";
    else if (indicator != "info" && indicator != "warning" && indicator != "critical")
        fail(".indicator", "must be one of info, warning, critical (got '" + core::quote_for_diagnostics(indicator) + "')");
    card["indicator"] = indicator;
    std::string topic = text("topic", false);
    if (topic.empty())
        topic = "coverage-info";
    else if (!crd_card_types().count(topic))
        fail(".topic", "must be a CRD card type code such as coverage-info, network or claim");
    card["source"] = answer::card_source(label, "", topic, version);
    if (const json::value* links = c.if_contains("links"))
    {
        if (!links->is_array())
            fail(".links", "must be an array of {label, url}");
        json::array out;
        for (std::size_t i = 0; i < links->get_array().size(); ++i)
        {
            const auto& l = links->get_array()[i];
            const std::string at = ".links[" + std::to_string(i) + "]";
            if (!l.is_object() || string_at(l.get_object(), "label").empty() || !core::is_http_url(string_at(l.get_object(), "url")))
                fail(at, "must be {label, url} with an absolute http(s) url");
            out.push_back(
                json::object{{"label", string_at(l.get_object(), "label")}, {"url", string_at(l.get_object(), "url")}, {"type", "absolute"}});
        }
        card["links"] = std::move(out);
    }
    if (auto order = text("order", false); !order.empty())
    {
        if (!items.count(order))
            fail(".order", "names no order of the request ('" + core::quote_for_diagnostics(order) + "')");
        json::value associated =
            version == core::crd_version::v2_0 ? json::value(json::string(order)) : json::value(json::object{{"reference", order}});
        card["extension"] = json::object{{"davinci-crd.associated-resource", json::array{std::move(associated)}}};
    }
    return card;
}

void repair(decisions_report& report, decision_repair kind, std::string note)
{
    ++report.repairs[static_cast<std::size_t>(kind)];
    report.notes.push_back(std::move(note));
}

}  // namespace

bool decisions_report::changed() const noexcept
{
    return std::any_of(repairs.begin(), repairs.end(), [](unsigned n) { return n != 0; });
}

std::string decisions_request_body(const core::hook_request& request, bool include_prefetch)
{
    // A few KB per order; the arena grows by itself for large calls.
    core::json_arena arena(2048 + 1024 * request.items.size());
    const json::storage_ptr sp(&arena);
    // Room for every member up front: each growth of a Boost.JSON object moves its members.
    json::object body(12, sp);
    body["protocol"] = decisions_protocol_id;
    body["hook"] = request.service->hook;
    body["service"] = request.service->id;
    body["hookInstance"] = request.hook_instance;
    body["crdVersion"] = core::to_string(request.version);
    std::string patient_reference = "Patient/";
    patient_reference += request.patient_id;
    json::object patient({{"reference", patient_reference}}, sp);
    if (const json::object* p = request.first_prefetched("Patient"))
    {
        copy_if_present(*p, "birthDate", patient);
        copy_if_present(*p, "gender", patient);
    }
    body["patient"] = std::move(patient);
    if (!request.user_id.empty())
        body["user"] = request.user_id;
    if (!request.encounter_id.empty())
    {
        std::string encounter = "Encounter/";
        encounter += request.encounter_id;
        body["encounter"] = encounter;
    }
    if (!request.performer.empty())
        body["performer"] = request.performer;
    body["coverages"] = coverages_of(request, sp);
    json::array orders(sp);
    for (const auto& item : request.items)
        orders.push_back(order_summary(item, request, sp));
    // Encounter hooks carry no orders: the encounter is what is decided on.
    core::request_item encounter_slot;
    if (request.items.empty())
        for (const auto& e : answer::items_of(request, encounter_slot))
            orders.push_back(order_summary(*e.item, request, sp));
    body["orders"] = std::move(orders);
    std::string text = core::serialize_json(body);
    if (include_prefetch && request.prefetch)
    {
        // Written from the request's own tree after the other members, not copied into the body
        // first (a deep copy of every prefetched resource, only to be written out).
        text.pop_back();  // the body's closing brace
        text += R"(,"prefetch":)";
        core::append_json(text, *request.prefetch);
        text += '}';
    }
    return text;
}

namespace {

// answer_from_decisions; with `deferred`, each update action's resource is put in place at the end
// (answer::place_resources, moved from the request) rather than copied when its action is made.
result<json::object> build_from_decisions(const json::value& answer, const core::hook_request& request, std::string_view source_label,
    decisions_report& report, std::vector<answer::deferred_resource>* deferred)
{
    const json::object* root = answer.if_object();
    const json::value* list = root ? root->if_contains("decisions") : nullptr;
    if (!list || !list->is_array())
        return error_code(errc::decision_bad_response);
    for (const auto& kv : *root)
        if (kv.key() != "decisions" && kv.key() != "cards")
            report.ignored_fields.push_back(std::string(kv.key()));

    core::request_item encounter_slot;
    const auto items = answer::items_of(request, encounter_slot);
    std::map<std::string, const answer::answered_item*, std::less<>> by_reference;
    for (const auto& e : items)
        by_reference.emplace(e.reference, &e);

    // decisions[i] by order: the first for each order stands.
    std::map<std::string, order_decision, std::less<>> decided;
    std::map<std::string, std::string, std::less<>> invalid;  // order -> why its decision was refused
    const auto& decisions = list->get_array();
    for (std::size_t i = 0; i < decisions.size(); ++i)
    {
        const std::string path = "decisions[" + std::to_string(i) + "]";
        const std::string order = order_of(decisions[i]);
        if (!order.empty() && (decided.count(order) || invalid.count(order)))
        {
            repair(report, decision_repair::duplicate_order, path + " repeats order '" + core::quote_for_diagnostics(order) + "': left out");
            continue;
        }
        if (!order.empty() && !by_reference.count(order))
        {
            repair(report, decision_repair::unknown_order,
                path + " is about '" + core::quote_for_diagnostics(order) + "', which is not an order the request asks about: left out");
            continue;
        }
        try
        {
            auto d = parse_order_decision(decisions[i], path);
            for (const auto& f : d.ignored_fields)
            {
                std::string field = path;
                field.append(".").append(f);
                report.ignored_fields.push_back(std::move(field));
            }
            decided.emplace(order, std::move(d));
        }
        catch (const rules_error& e)
        {
            repair(report, decision_repair::invalid_decision, e.what());
            if (!order.empty())
                invalid.emplace(order, e.what());
        }
    }

    const json::storage_ptr sp = request.document ? request.document->storage() : json::storage_ptr();
    const answer::card_origin origin{source_label, {}};
    json::array cards(sp);
    json::array actions(sp);
    // The service's own extra cards (below) come after these, so they cannot make one kept that
    // the budget left out.
    card_budget budget(request.cards_kept);
    for (const auto& e : items)
    {
        const auto codings = e.resource ? service_codings(*e.resource, request) : std::vector<coding>{};
        const std::string what = e.resource ? describe(*e.resource, codings) : e.reference;
        const auto cov = coverage_for(e.resource, request);
        const auto found = decided.find(e.reference);
        if (found == decided.end())
        {
            if (!answer::carries_coverage_information(request, e))
                continue;  // order-select and encounter hooks: a service may have nothing to say
            if (!invalid.count(e.reference))
                repair(report, decision_repair::missing_order, "no decision for " + e.reference + ": answered as undetermined");
            answer::append_update(actions, request, *e.item,
                answer::undetermined_assertion(cov, request.version, "The payer's decision service gave no usable decision for this order."), what,
                e.reference, sp, deferred);
            continue;
        }
        const rule& advice = found->second.advice;
        if (answer::carries_coverage_information(request, e))
            answer::append_update(actions, request, *e.item, answer::assertion_of(advice.result, cov, advice.reason, !cov.reference.empty()), what,
                e.reference, sp, deferred);
        answer::append_cards(cards, origin, budget, advice, advice.result, what, e.reference, items.size() > 1, request.version, sp);
    }

    if (const json::value* extra = root->if_contains("cards"))
    {
        if (!extra->is_array())
            repair(report, decision_repair::invalid_card, "decision field 'cards' must be an array of cards: left out");
        else
            for (std::size_t i = 0; i < extra->get_array().size(); ++i)
                try
                {
                    cards.push_back(
                        read_card(extra->get_array()[i], "cards[" + std::to_string(i) + "]", by_reference, source_label, request.version, sp));
                }
                catch (const rules_error& e)
                {
                    repair(report, decision_repair::invalid_card, std::string(e.what()) + ": left out");
                }
    }

    // Every decision and card has been read: the deferred updates may now take the orders.
    if (deferred != nullptr)
        answer::place_resources(actions, *deferred, sp);
    json::object response(2, sp);
    response.emplace("cards", std::move(cards));
    if (!actions.empty())
        response.emplace("systemActions", std::move(actions));
    return response;
}

}  // namespace

result<json::object> answer_from_decisions(
    const json::value& answer, const core::hook_request& request, std::string_view source_label, decisions_report& report)
{
    return build_from_decisions(answer, request, source_label, report, nullptr);
}

result<json::object> answer_from_decisions(
    const json::value& answer, core::hook_request& request, std::string_view source_label, decisions_report& report)
{
    std::vector<answer::deferred_resource> deferred;
    auto built = build_from_decisions(answer, request, source_label, report, &deferred);
    if (built)
        answer::collect_verbatim(deferred, request.verbatim);
    if (!deferred.empty())
    {
        // As rules_engine::evaluate: the index would point at emptied objects.
        request.prefetch_resources.clear();
        request.first_of_type.clear();
    }
    return built;
}

void count_repairs(const decisions_report& report) noexcept
{
    if (!report.changed())
        return;
    auto& counted = decision_metrics::instance().decisions_repaired;
    for (std::size_t i = 0; i < report.repairs.size(); ++i)
        counted.add(static_cast<decision_repair>(i), report.repairs[i]);
}

}  // namespace crd::decision
