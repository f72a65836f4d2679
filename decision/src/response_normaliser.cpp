#include <crd/decision/response_normaliser.hpp>

#include <crd/core/ids.hpp>
#include <crd/core/url.hpp>
#include <crd/decision/rules.hpp>

#include <boost/json/array.hpp>

#include <optional>
#include <vector>

namespace json = boost::json;

namespace crd::decision {
namespace {

bool non_empty_string(const json::value* v)
{
    return v && v->is_string() && !v->get_string().empty();
}

std::string_view str(const json::object& o, std::string_view key)
{
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// CDS Hooks: optional members with no value are omitted, never null, "" or [] (cards: [] excepted).
bool is_empty_value(const json::value& x) noexcept
{
    switch (x.kind())
    {
    case json::kind::null: return true;
    case json::kind::string: return x.get_string().empty();
    case json::kind::array: return x.get_array().empty();
    case json::kind::object: return x.get_object().empty();
    default: return false;
    }
}

// Only containers are descended into: most members of an answer are scalars, and this runs over
// every node of every card and action. True when anything was removed.
bool prune_empty(json::value& v)
{
    bool pruned = false;
    if (json::object* o = v.if_object())
    {
        for (auto it = o->begin(); it != o->end();)
        {
            json::value& x = it->value();
            if (x.is_structured())
                pruned = prune_empty(x) || pruned;
            // erase moves the last member into this place: the loop looks at it next.
            if (is_empty_value(x))
            {
                it = o->erase(it);
                pruned = true;
            }
            else
                ++it;
        }
    }
    else if (json::array* a = v.if_array())
        for (auto& x : *a)
            if (x.is_structured())
                pruned = prune_empty(x) || pruned;
    return pruned;
}

// Keeps the elements of `a` for which keep(element, index) is true, in order, in place: a list
// with nothing to drop (the usual answer) costs no new array, and one with many costs one pass
// (the kept move forward, the tail goes at once). `index` is the element's original position.
// True when any was dropped.
template <class Keep>
bool keep_if(json::array& a, Keep keep)
{
    std::size_t kept = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (keep(a[i], i))
        {
            if (kept != i)
                a[kept] = std::move(a[i]);  // one array, one memory resource: a move
            ++kept;
        }
    const bool dropped = kept != a.size();
    a.erase(a.begin() + static_cast<std::ptrdiff_t>(kept), a.end());
    return dropped;
}

std::string cut_summary(std::string_view s)
{
    constexpr std::size_t max_bytes = 139;
    if (s.size() <= max_bytes)
        return std::string(s);
    std::size_t cut = max_bytes - 3;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
        --cut;
    return std::string(s.substr(0, cut)) + "\xE2\x80\xA6";
}

std::string indexed(std::string_view prefix, std::size_t i)
{
    return std::string(prefix) + "[" + std::to_string(i) + "]";
}

// Returns false when the action must be dropped; repairs a missing description. `where()` names
// the action in a note: it is only called when there is one to write.
template <class Where>
bool check_action(json::value& v, normalise_report& report, const Where& where)
{
    if (!v.is_object())
        return false;
    auto& a = v.get_object();
    const auto type = str(a, "type");
    if (type != "create" && type != "update" && type != "delete")
    {
        report.notes.push_back(where() + ": action type '" + std::string(type) + "' is not create, update or delete");
        return false;
    }
    const json::value* resource = a.if_contains("resource");
    const bool has_resource = resource && resource->is_object() && non_empty_string(resource->get_object().if_contains("resourceType"));
    if ((type == "create" || type == "update") && !has_resource)
    {
        report.notes.push_back(where() + ": " + std::string(type) + " action without a resource");
        return false;
    }
    if (type == "delete" && !has_resource && !non_empty_string(a.if_contains("resourceId")))
    {
        report.notes.push_back(where() + ": delete action without resourceId");
        return false;
    }
    if (!non_empty_string(a.if_contains("description")))
    {
        std::string target = has_resource ? std::string(str(resource->get_object(), "resourceType")) : std::string(str(a, "resourceId"));
        a["description"] = std::string(type == "create" ? "Create " : type == "update" ? "Update " : "Delete ") + target;
        ++report.actions_repaired;
        report.edited = true;
        report.notes.push_back(where() + ": description added");
    }
    return true;
}

// `edited` is set when a kept link loses a member.
bool check_link(json::value& v, bool& edited)
{
    if (!v.is_object())
        return false;
    auto& l = v.get_object();
    const auto type = str(l, "type");
    if (str(l, "label").empty() || (type != "absolute" && type != "smart") || !core::is_http_url(str(l, "url")))
        return false;
    if (type == "absolute" && l.erase("appContext") != 0)  // only meaningful for SMART links
        edited = true;
    return true;
}

// The card's members the checks read, found in one pass over the card.
struct card_members
{
    json::value* summary = nullptr;
    json::value* indicator = nullptr;
    json::value* source = nullptr;
    json::value* links = nullptr;
    json::value* suggestions = nullptr;
    json::value* uuid = nullptr;
    json::value* selection_behavior = nullptr;

    explicit card_members(json::object& card)
    {
        for (auto& member : card)
        {
            const std::string_view key = member.key();
            json::value* value = &member.value();
            if (key == "summary")
                summary = value;
            else if (key == "indicator")
                indicator = value;
            else if (key == "source")
                source = value;
            else if (key == "links")
                links = value;
            else if (key == "suggestions")
                suggestions = value;
            else if (key == "uuid")
                uuid = value;
            else if (key == "selectionBehavior")
                selection_behavior = value;
        }
    }
};

std::string_view string_of(const json::value* v)
{
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// Returns false when the card must be dropped.
bool check_card(json::value& v, normalise_report& report, std::size_t index)
{
    const auto where = [index] { return indexed("cards", index); };
    if (!v.is_object())
    {
        report.notes.push_back(where() + ": not an object");
        return false;
    }
    auto& card = v.get_object();
    // Pointers into the card stay valid until a member is added to it (operator[] may rehash and
    // move its members): every one is used before the first addition below, or not after it.
    const card_members m(card);
    const auto summary = string_of(m.summary);
    const auto indicator = string_of(m.indicator);
    json::value* source = m.source;
    if (summary.empty() || (indicator != "info" && indicator != "warning" && indicator != "critical") || !source || !source->is_object() ||
        !non_empty_string(source->get_object().if_contains("label")))
    {
        report.notes.push_back(where() + ": dropped (summary, indicator or source.label missing or invalid)");
        return false;
    }

    bool repaired = false;
    bool reshaped = false;  // changed without being counted a repair (report.edited)
    if (summary.size() > 139)
    {
        *m.summary = cut_summary(summary);
        report.notes.push_back(where() + ": summary cut to 139 characters");
        repaired = true;
    }
    auto& src = source->get_object();
    const json::value* topic = src.if_contains("topic");
    if (!topic || !topic->is_object() || !non_empty_string(topic->get_object().if_contains("code")))
    {
        // CRD: Card.source.topic SHALL be populated.
        src["topic"] = json::object{{"system", crd_card_type_system}, {"code", "coverage-info"}, {"display", "Coverage Information"}};
        report.notes.push_back(where() + ": source.topic set to coverage-info");
        repaired = true;
    }

    if (json::value* links = m.links)
    {
        bool dropped = !links->is_array();
        if (links->is_array())
            keep_if(links->get_array(), [&](json::value& l, std::size_t) {
                const bool valid = check_link(l, reshaped);
                dropped = dropped || !valid;
                return valid;
            });
        else
            *links = json::array(v.storage());
        if (dropped)
        {
            report.notes.push_back(where() + ": invalid links dropped");
            repaired = true;
        }
    }

    const bool has_uuid = non_empty_string(m.uuid);
    if (json::value* suggestions = m.suggestions)
    {
        if (suggestions->is_array())
            keep_if(suggestions->get_array(), [&](json::value& s, std::size_t i) {
                const auto sw = [&] { return where() + indexed(".suggestions", i); };
                if (!s.is_object() || !non_empty_string(s.get_object().if_contains("label")))
                {
                    report.notes.push_back(sw() + ": dropped (no label)");
                    repaired = true;
                    return false;
                }
                auto& sug = s.get_object();
                if (!non_empty_string(sug.if_contains("uuid")))
                {
                    sug["uuid"] = core::new_uuid();  // CRD: every suggestion SHALL have a uuid
                    repaired = true;
                }
                if (json::value* actions = sug.if_contains("actions"))
                {
                    if (actions->is_array())
                        reshaped = keep_if(actions->get_array(), [&](json::value& a, std::size_t k) {
                            const unsigned before = report.actions_repaired;
                            if (check_action(a, report, [&] { return sw() + indexed(".actions", k); }))
                            {
                                repaired = repaired || report.actions_repaired != before;
                                return true;
                            }
                            ++report.actions_dropped;
                            return false;
                        }) || reshaped;
                    else
                    {
                        *actions = json::array(v.storage());
                        reshaped = true;
                    }
                }
                return true;
            });
        else
        {
            *suggestions = json::array(v.storage());
            reshaped = true;
        }
        const auto behaviour = string_of(m.selection_behavior);
        if (!suggestions->get_array().empty() && behaviour != "at-most-one" && behaviour != "any")
        {
            card["selectionBehavior"] = "at-most-one";
            report.notes.push_back(where() + ": selectionBehavior set to at-most-one");
            repaired = true;
        }
    }
    if (!has_uuid)
    {
        card["uuid"] = core::new_uuid();  // feedback needs it to name the card
        repaired = true;
    }
    reshaped = prune_empty(v) || reshaped;
    if (repaired)
        ++report.cards_repaired;
    if (repaired || reshaped)
        report.edited = true;
    return true;
}

}  // namespace

result<json::object> normalise_response(json::value body, normalise_report& report)
{
    if (!body.is_object())
        return error_code(errc::decision_bad_response);
    auto& obj = body.get_object();
    json::value* cards = obj.if_contains("cards");
    if (!cards || !cards->is_array())
        return error_code(errc::decision_bad_response);

    if (keep_if(cards->get_array(), [&](json::value& card, std::size_t i) {
            if (check_card(card, report, i))
                return true;
            ++report.cards_dropped;
            return false;
        }))
        report.edited = true;
    json::value* actions = obj.if_contains("systemActions");
    if (actions && actions->is_array())
    {
        if (keep_if(actions->get_array(), [&](json::value& action, std::size_t k) {
                if (!check_action(action, report, [k] { return indexed("systemActions", k); }))
                {
                    ++report.actions_dropped;
                    return false;
                }
                if (prune_empty(action))
                    report.edited = true;
                return true;
            }))
            report.edited = true;
    }
    else if (actions)
        report.notes.push_back("systemActions: not an array, dropped");

    const bool keep_actions = actions && actions->is_array() && !actions->get_array().empty();
    // The usual answer, {"cards": ...} or {"cards": ..., "systemActions": ...}, is already in the
    // shape relayed: it goes as it is, with a dropped systemActions (its last member) erased.
    const auto member_is = [&](std::size_t i, std::string_view key) { return (obj.begin() + i)->key() == key; };
    if (obj.size() <= 2 && member_is(0, "cards") && (obj.size() == 1 || member_is(1, "systemActions")))
    {
        if (actions && !keep_actions)
        {
            obj.erase(obj.begin() + 1);
            report.edited = true;
        }
        return std::move(obj);
    }
    report.edited = true;  // other members left out, or the two in another order
    // The answer's own memory resource, so both moves are moves.
    json::object out(body.storage());
    out.reserve(2);
    out.emplace("cards", std::move(*cards));
    if (keep_actions)
        out.emplace("systemActions", std::move(*actions));
    return out;
}

namespace {

// The request's order with this "Type/id", when the request still holds it.
const json::object* order_as_sent(const core::hook_request& request, std::string_view type, std::string_view id)
{
    for (const auto& item : request.items)
        if (item.resource && item.resource_type == type && item.id == id)
            return item.resource;
    return nullptr;
}

// The extensions of `resource` other than coverage information, in order; none when it has no
// "extension" member. nullopt when that member is not an array.
std::optional<std::vector<const json::value*>> other_extensions(const json::object& resource)
{
    std::vector<const json::value*> out;
    const json::value* extensions = resource.if_contains("extension");
    if (!extensions)
        return out;
    if (!extensions->is_array())
        return std::nullopt;
    for (const auto& e : extensions->get_array())
        if (!is_coverage_information(e))
            out.push_back(&e);
    return out;
}

// a == b as Boost.JSON compares values (objects regardless of member order), trying each member
// of `a` at the same position in `b` before searching for it: an echoed order keeps the order of
// its members, so the search (a hash or a scan per member in Boost's operator==) is rarely needed.
bool same_json(const json::value& a, const json::value& b)
{
    if (a.is_object() && b.is_object())
    {
        const auto& x = a.get_object();
        const auto& y = b.get_object();
        if (x.size() != y.size())
            return false;
        auto at = y.begin();
        for (const auto& member : x)
        {
            const json::value* theirs = nullptr;
            if (at->key() == member.key())
                theirs = &at->value();
            else
                theirs = y.if_contains(member.key());
            ++at;
            if (!theirs || !same_json(member.value(), *theirs))
                return false;
        }
        return true;
    }
    if (a.is_array() && b.is_array())
    {
        const auto& x = a.get_array();
        const auto& y = b.get_array();
        if (x.size() != y.size())
            return false;
        for (std::size_t i = 0; i < x.size(); ++i)
            if (!same_json(x[i], y[i]))
                return false;
        return true;
    }
    return a == b;
}

// Whether the service's `resource` is the order as `sent`, apart from the coverage information
// each carries: what a correct update action holds, so it is not counted as repaired. Compared
// in place: a copy of the order per action was the cost of every relayed answer.
bool same_apart_from_coverage_information(const json::object& resource, const json::object& sent)
{
    std::size_t compared = 0;
    for (const auto& member : resource)
    {
        if (member.key() == "extension")
            continue;
        const json::value* theirs = sent.if_contains(member.key());
        if (!theirs || !same_json(member.value(), *theirs))
            return false;
        ++compared;
    }
    if (compared != sent.size() - (sent.contains("extension") ? 1 : 0))
        return false;
    const auto ours = other_extensions(resource);
    const auto as_sent = other_extensions(sent);
    if (!ours || !as_sent || ours->size() != as_sent->size())
        return false;
    for (std::size_t i = 0; i < ours->size(); ++i)
        if (!same_json(*(*ours)[i], *(*as_sent)[i]))
            return false;
    return true;
}

// Re-renders the coverage information of one resource in `version`. False when the resource
// carried coverage information that cannot be read: the action is dropped (the resource may then
// have been re-rendered in part, and is not used). `where()` names the action in a note, only
// written when there is one (most answers need none).
template <class Where>
bool rerender_resource(json::object& resource, const core::hook_request& request, core::crd_version version, rendering_report& rendering,
    normalise_report& report, const Where& where)
{
    json::value* extensions = resource.if_contains("extension");
    if (!extensions || !extensions->is_array())
        return true;
    // Each re-rendered where it is: one the service already said in this version stays as it is.
    std::size_t found = 0;
    bool at_the_end = true;  // no other extension after coverage information: nothing to move
    for (auto& e : extensions->get_array())
    {
        if (!is_coverage_information(e))
        {
            at_the_end = found == 0;
            continue;
        }
        coverage_assertion a;
        if (!read_coverage_information(e.get_object(), a, rendering))
        {
            report.notes.push_back(where() + ": coverage information without covered, dropped");
            return false;
        }
        if (rerender_coverage_information(e.get_object(), std::move(a), version, rendering))
            report.edited = true;
        ++found;
    }
    if (found == 0)
        return true;
    // 2.1+: the order as the EHR sent it, plus the extension; nothing else changed.
    if (version >= core::crd_version::v2_1)
        if (const json::object* sent = order_as_sent(request, str(resource, "resourceType"), str(resource, "id")))
            if (!same_apart_from_coverage_information(resource, *sent))
            {
                json::array rendered(resource.storage());
                rendered.reserve(found);
                for (auto& e : extensions->get_array())
                    if (is_coverage_information(e))
                        rendered.push_back(std::move(e));  // one memory resource: a move
                resource = json::object(*sent, resource.storage());
                report.notes.push_back(where() + ": resource replaced by the order as sent (only the coverage information may change)");
                ++report.actions_repaired;
                json::array kept(resource.storage());
                if (json::value* existing = resource.if_contains("extension"); existing && existing->is_array())
                    for (auto& e : existing->get_array())
                        if (!is_coverage_information(e))
                            kept.push_back(std::move(e));
                for (auto& r : rendered)
                    kept.push_back(std::move(r));
                resource["extension"] = std::move(kept);
                report.edited = true;
                return true;
            }
    if (at_the_end)
        return true;
    report.edited = true;
    // Every other extension first, in order, then the coverage information. (What the first pass
    // moves leaves null, which the second does not take for coverage information.)
    auto& list = extensions->get_array();
    json::array kept(resource.storage());
    kept.reserve(list.size());
    for (auto& e : list)
        if (!is_coverage_information(e))
            kept.push_back(std::move(e));
    for (auto& e : list)
        if (is_coverage_information(e))
            kept.push_back(std::move(e));
    *extensions = std::move(kept);
    return true;
}

bool carries_coverage_information(const json::value& action)
{
    const json::value* resource = action.is_object() ? action.get_object().if_contains("resource") : nullptr;
    const json::value* extensions = resource && resource->is_object() ? resource->get_object().if_contains("extension") : nullptr;
    if (!extensions || !extensions->is_array())
        return false;
    for (const auto& e : extensions->get_array())
        if (is_coverage_information(e))
            return true;
    return false;
}

}  // namespace

void render_in_version(
    json::object& response, const core::hook_request& request, core::crd_version version, normalise_report& report, rendering_report& rendering)
{
    const json::storage_ptr sp = response.storage();
    json::array moved(sp);  // 2.1+: coverage information taken out of cards
    if (json::value* cards = response.if_contains("cards"); cards && cards->is_array())
    {
        std::size_t c = 0;
        for (auto& card_value : cards->get_array())
        {
            const std::size_t card_index = c++;
            const auto where = [card_index] { return indexed("cards", card_index); };
            auto& card = card_value.get_object();
            if (json::value* source = card.if_contains("source"); source && source->is_object())
                if (json::value* topic = source->get_object().if_contains("topic"); topic && topic->is_object())
                    if (const auto code = str(topic->get_object(), "code"); crd_card_types().count(code) == 1)
                    {
                        const auto system = str(topic->get_object(), "system");
                        const auto wanted = version >= core::crd_version::v2_2 ? cdshooks_card_type_system : crd_card_type_system;
                        if ((system == crd_card_type_system || system == cdshooks_card_type_system || system.empty()) && system != wanted)
                        {
                            topic->get_object()["system"] = wanted;
                            report.edited = true;
                        }
                    }
            json::value* suggestions = card.if_contains("suggestions");
            if (!suggestions || !suggestions->is_array())
                continue;
            for (auto& suggestion : suggestions->get_array())
            {
                json::value* actions = suggestion.get_object().if_contains("actions");
                if (!actions || !actions->is_array())
                    continue;
                json::array kept(sp);
                for (auto& action : actions->get_array())
                {
                    if (!carries_coverage_information(action))
                    {
                        kept.push_back(std::move(action));
                        continue;
                    }
                    auto& resource = action.get_object()["resource"].get_object();
                    if (!rerender_resource(resource, request, version, rendering, report, where))
                    {
                        ++report.actions_dropped;
                        report.edited = true;
                        continue;
                    }
                    if (version >= core::crd_version::v2_1)
                    {
                        report.notes.push_back(where() + ": coverage information moved from a card suggestion to systemActions");
                        ++report.actions_repaired;
                        report.edited = true;
                        moved.push_back(std::move(action));
                    }
                    else
                        kept.push_back(std::move(action));
                }
                *actions = std::move(kept);
            }
            // A suggestion left with no action has nothing to offer.
            json::array kept_suggestions(sp);
            for (auto& suggestion : suggestions->get_array())
                if (const json::value* actions = suggestion.get_object().if_contains("actions");
                    !actions || !actions->is_array() || !actions->get_array().empty())
                    kept_suggestions.push_back(std::move(suggestion));
            if (kept_suggestions.empty())
            {
                card.erase("suggestions");
                card.erase("selectionBehavior");
                report.edited = true;
            }
            else
            {
                if (kept_suggestions.size() != suggestions->get_array().size())
                    report.edited = true;
                *suggestions = std::move(kept_suggestions);
            }
        }
    }
    // The service's systemActions stay where they are, those that cannot be read dropped in place;
    // the list is only rebuilt when actions moved out of cards join it.
    json::value* existing = response.if_contains("systemActions");
    if (existing && existing->is_array())
    {
        if (keep_if(existing->get_array(), [&](json::value& action, std::size_t i) {
                if (carries_coverage_information(action) && !rerender_resource(action.get_object()["resource"].get_object(), request, version,
                                                                rendering, report, [i] { return indexed("systemActions", i); }))
                {
                    ++report.actions_dropped;
                    return false;
                }
                return true;
            }))
            report.edited = true;
    }
    if (!moved.empty())
    {
        report.edited = true;
        if (!existing || !existing->is_array())
        {
            response["systemActions"] = std::move(moved);
            return;
        }
        for (auto& m : moved)
            existing->get_array().push_back(std::move(m));
    }
    if (existing && (!existing->is_array() || existing->get_array().empty()))
    {
        response.erase("systemActions");
        report.edited = true;
    }
}

}  // namespace crd::decision
