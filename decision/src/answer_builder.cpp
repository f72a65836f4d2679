#include "answer_builder.hpp"

#include <crd/core/ids.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/decision/rules_engine.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <optional>

namespace json = boost::json;

namespace crd::decision::answer {
namespace {

// The summary a card gets when its rule gives none, in parts: [lead, payer, ": " or "", what].
std::array<std::string_view, 4> generated_summary(const determination& d, std::string_view what, std::string_view payer)
{
    if (d.covered == "not-covered")
        return {"Not covered by ", payer, ": ", what};
    if (d.pa_needed == "auth-needed")
        return {"Prior authorization required: ", {}, {}, what};
    if (d.pa_needed == "performpa")
        return {"Performer must obtain prior authorization: ", {}, {}, what};
    if (!d.doc_needed.empty())
        return {"Documentation required: ", {}, {}, what};
    return {"Coverage information: ", {}, {}, what};
}

// The parts joined, cut as fit_summary cuts, written once into the answer's memory.
// The parts joined into one JSON string in the answer's memory: sized once, each part copied once.
json::string joined(std::initializer_list<std::string_view> parts, const json::storage_ptr& sp)
{
    std::size_t size = 0;
    for (const auto part : parts)
        size += part.size();
    json::string s(size, '\0', sp);
    char* at = s.data();
    for (const auto part : parts)
        at = std::copy(part.begin(), part.end(), at);
    return s;
}

// Where a summary over CDS Hooks' limit (under 140 characters) is cut, on a UTF-8 character
// boundary and leaving room for the ellipsis; nullopt when it fits.
constexpr std::string_view ellipsis = "\xE2\x80\xA6";  // "…", 3 bytes in UTF-8
std::optional<std::size_t> summary_cut(std::string_view s)
{
    constexpr std::size_t max_bytes = 139;
    if (s.size() <= max_bytes)
        return std::nullopt;
    std::size_t cut = max_bytes - ellipsis.size();
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U)
        --cut;
    return cut;
}

// The parts joined, cut as fit_summary cuts.
json::string fitted_summary(std::initializer_list<std::string_view> parts, const json::storage_ptr& sp)
{
    json::string s = joined(parts, sp);
    if (const auto cut = summary_cut(s))
    {
        s.resize(*cut);
        s.append(ellipsis);
    }
    return s;
}

// What the update's description says of the assertion, after "... (Type/id): ".
std::string description_tail(const coverage_assertion& a)
{
    std::string s = a.covered;
    if (!a.pa_needed.empty())
        s.append("; prior authorization: ").append(a.pa_needed);
    for (std::size_t i = 0; i < a.doc_needed.size(); ++i)
        s.append(i == 0 ? "; documentation: " : ", ").append(a.doc_needed[i]);
    return s;
}

// "Coverage information for <what> (<reference>): <tail>", written once into the answer's memory.
json::string action_description(std::string_view tail, std::string_view what, std::string_view reference, const json::storage_ptr& sp)
{
    return joined({"Coverage information for ", what, " (", reference, "): ", tail}, sp);
}

std::string_view derived_indicator(const determination& d)
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

// For order-dispatch when the order is neither in prefetch nor fetched: the smallest resource
// that names the order, so the EHR can still apply the update to its own copy.
json::object minimal_resource(const core::request_item& item, const core::hook_request& request, const json::storage_ptr& sp)
{
    json::object r(sp);
    r["resourceType"] = item.resource_type;
    r["id"] = item.id;
    const std::string patient = "Patient/" + std::string(request.patient_id);
    const auto type = item.resource_type;
    if (type == "NutritionOrder" || type == "VisionPrescription")
        r["patient"] = json::object({{"reference", patient}}, sp);
    else if (type == "Task")
        r["for"] = json::object({{"reference", patient}}, sp);
    else
        r["subject"] = json::object({{"reference", patient}}, sp);
    if (type == "ServiceRequest" || type == "MedicationRequest" || type == "DeviceRequest" || type == "NutritionOrder" || type == "Task")
        r["intent"] = "order";
    r["status"] = "active";
    return r;
}

// A card's members in the order CDS Hooks examples give them; summary, indicator, the associated
// reference and (External Reference cards) the detail are placeholders each card fills in.
// Positions of the members a card fills in:
constexpr std::size_t card_uuid = 0, card_summary = 1, card_indicator = 2, card_extension = 4, card_detail = 5;

json::object card_skeleton(
    json::object source, core::crd_version version, std::optional<std::string_view> detail, const rule* links, const json::storage_ptr& sp)
{
    json::object card(7, sp);
    card.emplace("uuid", json::string(36, '0', sp));
    card.emplace("summary", json::string(sp));
    card.emplace("indicator", "info");
    card.emplace("source", std::move(source));
    // CRD: cards about some of several orders say which, for people and for software. 2.0 wrote
    // the reference as a string; 2.1 and 2.2 (their CRDServiceResponse examples) as a Reference.
    json::array associated(sp);
    if (version == core::crd_version::v2_0)
        associated.emplace_back(json::string(sp));
    else
    {
        json::object reference(1, sp);
        reference.emplace("reference", json::string(sp));
        associated.emplace_back(std::move(reference));
    }
    json::object extension(1, sp);
    extension.emplace("davinci-crd.associated-resource", std::move(associated));
    card.emplace("extension", std::move(extension));
    if (detail)
        card.emplace("detail", *detail);
    if (links != nullptr)
    {
        // External Reference card (CRD cards.md): links are absolute and also listed in Card.links.
        json::array list(sp);
        list.reserve(links->links.size());
        for (const auto& l : links->links)
        {
            json::object link(3, sp);
            link.emplace("label", l.label);
            link.emplace("url", l.url);
            link.emplace("type", "absolute");
            list.emplace_back(std::move(link));
        }
        card.emplace("links", std::move(list));
    }
    return card;
}

// A copy of `skeleton` with this card's uuid, summary, indicator and item reference.
json::object card_from(
    const json::object& skeleton, json::string summary, std::string_view indicator, std::string_view item_ref, const json::storage_ptr& sp)
{
    json::object card(skeleton, sp);
    const auto member = [&card](std::size_t at) -> json::value& { return (card.begin() + static_cast<std::ptrdiff_t>(at))->value(); };
    json::string& uuid = member(card_uuid).get_string();
    core::write_uuid(std::span<char, 36>(uuid.data(), 36));
    member(card_summary) = std::move(summary);
    member(card_indicator) = indicator;
    json::value& associated = member(card_extension).get_object().begin()->value().get_array()[0];
    if (associated.is_string())
        associated = item_ref;
    else
        associated.get_object().begin()->value() = item_ref;
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

}  // namespace

std::string fit_summary(std::string s)
{
    if (const auto cut = summary_cut(s))
    {
        s.resize(*cut);
        s += ellipsis;
    }
    return s;
}

json::object card_source(std::string_view label, std::string_view url, std::string_view topic, core::crd_version version, json::storage_ptr sp)
{
    json::object source(3, sp);
    source.emplace("label", label);
    if (!url.empty())
        source.emplace("url", url);
    source.emplace("topic", card_topic(topic, version, sp));
    return source;
}

std::vector<answered_item> items_of(const core::hook_request& request, core::request_item& encounter_slot)
{
    std::vector<answered_item> items;
    items.reserve(request.items.size() + 1);
    for (const auto& item : request.items)
        if (item.selected)
        {
            std::string reference;
            reference.reserve(item.resource_type.size() + 1 + item.id.size());
            reference.append(item.resource_type).append(1, '/').append(item.id);
            items.push_back({&item, item.resource, std::move(reference)});
        }
    // Encounter hooks carry no orders: the encounter itself (from prefetch) is what is decided on.
    const auto kind = request.service->kind;
    if (kind == core::hook_kind::encounter_start || kind == core::hook_kind::encounter_discharge)
    {
        const std::string ref = "Encounter/" + std::string(request.encounter_id);
        if (const json::object* enc = request.find_prefetched(ref))
        {
            encounter_slot = {"Encounter", request.encounter_id, enc, true, {}};
            items.push_back({&encounter_slot, enc, ref});
        }
    }
    return items;
}

bool carries_coverage_information(const core::hook_request& request, const answered_item& item)
{
    return request.service->primary && item.item->resource_type != "Encounter";
}

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
    a.satisfied_pa_id = d.satisfied_pa_id;
    a.date = core::today_utc();
    if (!d.expiry_date.empty())
        a.expiry_date = d.expiry_date;
    else if (d.valid_days)
        a.expiry_date = date_after(a.date, *d.valid_days);
    a.assertion_id = core::new_uuid();
    return a;
}

coverage_assertion base_assertion(const coverage_ref& cov)
{
    coverage_assertion a;
    a.coverage_reference = cov.reference;
    a.date = core::today_utc();
    a.assertion_id = core::new_uuid();
    return a;
}

coverage_assertion undetermined_assertion(const coverage_ref& cov, core::crd_version version, std::string why)
{
    coverage_assertion a = base_assertion(cov);
    if (version >= core::crd_version::v2_1)
    {
        // 2.1 has no indeterminate: the renderer says it as conditional, keeping the reason.
        a.covered = "indeterminate";
        a.reasons.push_back(crd_reason(reason_code::technical, std::move(why)));
    }
    else
    {
        a.covered = "conditional";
        a.pa_needed = "conditional";
        a.info_needed = {"OTH"};
        a.reasons.push_back({{}, {}, {}, std::move(why)});
    }
    return a;
}

namespace {

// The update action for `item` with `coverage_information` and `description`; its resource is
// put in place later (place_resources) when `deferred` is given, copied from the request now otherwise.
void append_update_action(json::array& actions, const core::hook_request& request, const core::request_item& item, json::string description,
    json::object coverage_information, const json::storage_ptr& sp, std::vector<deferred_resource>* deferred)
{
    const json::object* target = update_target(item, request);
    json::object action(3, sp);
    action.emplace("type", "update");
    action.emplace("description", std::move(description));
    if (deferred == nullptr)
    {
        json::object resource = target ? json::object(*target, sp) : minimal_resource(item, request, sp);
        action.emplace("resource", with_coverage_information(std::move(resource), std::move(coverage_information)));
        actions.push_back(std::move(action));
        return;
    }
    action.emplace("resource", nullptr);
    // Both objects are move-constructed in `sp`: assigning them into default-constructed members
    // would deep-copy them onto the heap (Boost.JSON copies across memory resources).
    deferred_resource later{actions.size(), target, target ? json::object(sp) : minimal_resource(item, request, sp), std::move(coverage_information),
        target != nullptr && target == item.resource ? item.text : std::string_view()};
    actions.push_back(std::move(action));
    deferred->push_back(std::move(later));
}

}  // namespace

void append_update(json::array& actions, const core::hook_request& request, const core::request_item& item, coverage_assertion a,
    std::string_view what, std::string_view reference, json::storage_ptr sp, std::vector<deferred_resource>* deferred)
{
    rendering_report report;
    json::string description = action_description(description_tail(a), what, reference, sp);
    json::object coverage_information = render_coverage_information(std::move(a), request.version, report, sp);
    count_rendering(report);
    append_update_action(actions, request, item, std::move(description), std::move(coverage_information), sp, deferred);
}

rendered_coverage render_once(coverage_assertion a, core::crd_version version, json::storage_ptr sp)
{
    std::string tail = description_tail(a);
    rendering_report report;
    // Move-constructed into the result, never assigned: assigning it into a default-constructed
    // object would deep-copy it onto the heap (Boost.JSON copies across memory resources).
    json::object extension = render_coverage_information(std::move(a), version, report, std::move(sp));
    std::size_t id_at = 0;
    const auto& elements = extension.at("extension").as_array();
    for (std::size_t i = 0; i < elements.size(); ++i)
        if (const json::value* url = elements[i].as_object().if_contains("url");
            url && url->is_string() && url->get_string() == "coverage-assertion-id")
            id_at = i;
    return rendered_coverage{std::move(extension), id_at, std::move(tail), std::move(report), std::nullopt};
}

void append_update(json::array& actions, const core::hook_request& request, const core::request_item& item, rendered_coverage& r,
    std::string_view what, std::string_view reference, const json::storage_ptr& sp, std::vector<deferred_resource>* deferred)
{
    count_rendering(r.report);
    json::string description = action_description(r.description_tail, what, reference, sp);
    if (deferred != nullptr && !r.held_by_deferred)
    {
        // The first order takes the rendering itself, id and all: a call with one order copies nothing.
        r.held_by_deferred = deferred->size();  // append_update_action adds exactly one deferred update
        append_update_action(actions, request, item, std::move(description), std::move(r.extension), sp, deferred);
        return;
    }
    const json::object& rendered = r.held_by_deferred ? (*deferred)[*r.held_by_deferred].coverage_information : r.extension;
    json::object coverage_information(rendered, sp);
    // The rendering puts "url" first and "extension" second, and the id element's value second.
    json::array& elements = (coverage_information.begin() + 1)->value().get_array();
    json::string& id = (elements[r.id_at].get_object().begin() + 1)->value().get_string();
    if (id.size() == 36)
        core::write_uuid(std::span<char, 36>(id.data(), 36));  // over the copied id, in place
    else
        id = core::new_uuid();
    append_update_action(actions, request, item, std::move(description), std::move(coverage_information), sp, deferred);
}

void place_resources(json::array& actions, std::vector<deferred_resource>& deferred, json::storage_ptr sp)
{
    // A target two updates echo (two Appointments basedOn one ServiceRequest, from CRD 2.1) is
    // copied for each; every other one is moved, which in the same memory resource is a swap.
    std::vector<const json::object*> targets;
    targets.reserve(deferred.size());
    for (const auto& d : deferred)
        if (d.target != nullptr)
            targets.push_back(d.target);
    std::sort(targets.begin(), targets.end());
    const auto shared = [&targets](const json::object* t) {
        const auto [first, last] = std::equal_range(targets.begin(), targets.end(), t);
        return last - first > 1;
    };
    for (auto& d : deferred)
    {
        json::object resource(sp);
        if (d.target == nullptr)
            resource = std::move(d.minimal);
        else if (shared(d.target) || d.target->storage() != sp)
            resource = json::object(*d.target, sp);
        else
            // The request document is the caller's to give (rules_engine::evaluate's non-const
            // overload) and nothing reads its orders once the answer is built.
            resource = std::move(const_cast<json::object&>(*d.target));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
        // The order as sent and then its coverage information: the writer may copy the caller's
        // bytes for the first part. Not when the order had an extension member, which
        // with_coverage_information rewrites in place (the member count then stays the same).
        const std::size_t members_as_sent = resource.size();
        json::value& slot = actions[d.action].as_object()["resource"];
        slot = with_coverage_information(std::move(resource), std::move(d.coverage_information));
        if (!d.target_text.empty() && d.target != nullptr && slot.get_object().size() == members_as_sent + 1)
        {
            d.placed_members = slot.get_object().begin();
            d.members_as_sent = members_as_sent;
        }
    }
}

void collect_verbatim(const std::vector<deferred_resource>& deferred, std::vector<core::verbatim_object>& out)
{
    out.reserve(out.size() + deferred.size());
    for (const auto& d : deferred)
        if (d.placed_members != nullptr)
            out.push_back({d.placed_members, d.members_as_sent, d.target_text});
}

card_parts::card_parts(const card_origin& origin, core::crd_version version, json::storage_ptr sp)
    : origin_(origin)
    , version_(version)
    , sp_(std::move(sp))
{
}

const json::object& card_parts::skeleton(const rule& advice, bool instructions, bool with_detail)
{
    for (const auto& b : cards_)
        if (b.advice == &advice && b.instructions == instructions && b.with_detail == with_detail)
            return b.card;
    json::object source = card_source(origin_.label, origin_.url, advice.topic, version_, sp_);
    // The Instructions card's detail is the rule's instructions; the other card's is per item.
    json::object card =
        instructions ? card_skeleton(std::move(source), version_, advice.instructions, nullptr, sp_)
                     : card_skeleton(std::move(source), version_, with_detail ? std::optional<std::string_view>("") : std::nullopt, &advice, sp_);
    return cards_.emplace_back(built{&advice, instructions, with_detail, std::move(card)}).card;
}

void append_cards(json::array& cards, const card_origin& origin, card_budget& budget, const rule& advice, const determination& d,
    std::string_view what, std::string_view reference, bool several, core::crd_version version, json::storage_ptr sp)
{
    if (advice.links.empty() && advice.instructions.empty())
        return;
    card_parts parts(origin, version, sp);
    append_cards(cards, parts, budget, advice, d, what, reference, several, sp);
}

void append_cards(json::array& cards, card_parts& parts, card_budget& budget, const rule& advice, const determination& d, std::string_view what,
    std::string_view reference, bool several, const json::storage_ptr& sp)
{
    if (advice.links.empty() && advice.instructions.empty())
        return;
    const std::string_view indicator = advice.indicator.empty() ? derived_indicator(d) : std::string_view(advice.indicator);
    if (!advice.links.empty() && budget.admits(indicator))
    {
        const auto generated = generated_summary(d, what, parts.origin().label);
        json::string summary = advice.summary.empty() ? fitted_summary({generated[0], generated[1], generated[2], generated[3]}, sp)
                                                      : fitted_summary({advice.summary}, sp);
        // The rule's reason and, when the answer covers several items, which one this is.
        const std::string_view reason = advice.reason;
        const bool with_detail = several || !reason.empty();
        json::object card = card_from(parts.skeleton(advice, false, with_detail), std::move(summary), indicator, reference, sp);
        if (several)
        {
            const std::string_view gap = reason.empty() ? "" : "\n\n";
            (card.begin() + card_detail)->value() = joined({reason, gap, "Applies to ", what, " (", reference, ")."}, sp);
        }
        else if (with_detail)
            (card.begin() + card_detail)->value() = reason;
        cards.push_back(std::move(card));
        budget.add(indicator);
    }
    if (!advice.instructions.empty() && budget.admits("info"))
    {
        // Instructions card: text only, no links or suggestions.
        cards.push_back(card_from(parts.skeleton(advice, true, true), fitted_summary({"Instructions: ", what}, sp), "info", reference, sp));
        budget.add("info");
    }
}

}  // namespace crd::decision::answer
