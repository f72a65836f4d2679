#include <crd/decision/response_normaliser.hpp>

#include <crd/core/ids.hpp>
#include <crd/core/url.hpp>
#include <crd/decision/rules.hpp>

#include <boost/json/array.hpp>

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
void prune_empty(json::value& v)
{
    if (v.is_object())
    {
        auto& o = v.get_object();
        for (auto it = o.begin(); it != o.end();)
        {
            prune_empty(it->value());
            const auto& x = it->value();
            const bool empty = x.is_null() || (x.is_string() && x.get_string().empty()) || (x.is_array() && x.get_array().empty()) ||
                               (x.is_object() && x.get_object().empty());
            it = empty ? o.erase(it) : std::next(it);
        }
    }
    else if (v.is_array())
        for (auto& x : v.get_array())
            prune_empty(x);
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

// Returns false when the action must be dropped; repairs a missing description.
bool check_action(json::value& v, normalise_report& report, const std::string& where)
{
    if (!v.is_object())
        return false;
    auto& a = v.get_object();
    const auto type = str(a, "type");
    if (type != "create" && type != "update" && type != "delete")
    {
        report.notes.push_back(where + ": action type '" + std::string(type) + "' is not create, update or delete");
        return false;
    }
    const json::value* resource = a.if_contains("resource");
    const bool has_resource = resource && resource->is_object() && non_empty_string(resource->get_object().if_contains("resourceType"));
    if ((type == "create" || type == "update") && !has_resource)
    {
        report.notes.push_back(where + ": " + std::string(type) + " action without a resource");
        return false;
    }
    if (type == "delete" && !has_resource && !non_empty_string(a.if_contains("resourceId")))
    {
        report.notes.push_back(where + ": delete action without resourceId");
        return false;
    }
    if (!non_empty_string(a.if_contains("description")))
    {
        std::string target = has_resource ? std::string(str(resource->get_object(), "resourceType")) : std::string(str(a, "resourceId"));
        a["description"] = std::string(type == "create" ? "Create " : type == "update" ? "Update " : "Delete ") + target;
        ++report.actions_repaired;
        report.notes.push_back(where + ": description added");
    }
    return true;
}

bool check_link(json::value& v)
{
    if (!v.is_object())
        return false;
    auto& l = v.get_object();
    const auto type = str(l, "type");
    if (str(l, "label").empty() || (type != "absolute" && type != "smart") || !core::parse_http_url(str(l, "url")))
        return false;
    if (type == "absolute")
        l.erase("appContext");  // only meaningful for SMART links
    return true;
}

// Returns false when the card must be dropped.
bool check_card(json::value& v, normalise_report& report, std::size_t index)
{
    const std::string where = "cards[" + std::to_string(index) + "]";
    if (!v.is_object())
    {
        report.notes.push_back(where + ": not an object");
        return false;
    }
    auto& card = v.get_object();
    const auto summary = str(card, "summary");
    const auto indicator = str(card, "indicator");
    json::value* source = card.if_contains("source");
    if (summary.empty() || (indicator != "info" && indicator != "warning" && indicator != "critical") || !source || !source->is_object() ||
        !non_empty_string(source->get_object().if_contains("label")))
    {
        report.notes.push_back(where + ": dropped (summary, indicator or source.label missing or invalid)");
        return false;
    }

    bool repaired = false;
    if (summary.size() > 139)
    {
        // Written through the member itself: operator[] may rehash even for an existing key.
        *card.if_contains("summary") = cut_summary(summary);
        report.notes.push_back(where + ": summary cut to 139 characters");
        repaired = true;
    }
    // Note: operator[] may rehash the card and move its members, so pointers into it (source,
    // links, suggestions) are only used before any operator[] on the card, or looked up again.
    auto& src = source->get_object();
    const json::value* topic = src.if_contains("topic");
    if (!topic || !topic->is_object() || !non_empty_string(topic->get_object().if_contains("code")))
    {
        // CRD: Card.source.topic SHALL be populated.
        src["topic"] = json::object{{"system", crd_card_type_system}, {"code", "coverage-info"}, {"display", "Coverage Information"}};
        report.notes.push_back(where + ": source.topic set to coverage-info");
        repaired = true;
    }

    if (json::value* links = card.if_contains("links"))
    {
        json::array kept(v.storage());  // the response's arena: moves stay moves
        if (links->is_array())
            for (auto& l : links->get_array())
                if (check_link(l))
                    kept.push_back(std::move(l));
        if (!links->is_array() || kept.size() != links->get_array().size())
        {
            report.notes.push_back(where + ": invalid links dropped");
            repaired = true;
        }
        *links = std::move(kept);
    }

    if (json::value* suggestions = card.if_contains("suggestions"))
    {
        json::array kept(v.storage());  // the response's arena: moves stay moves
        if (suggestions->is_array())
        {
            std::size_t i = 0;
            for (auto& s : suggestions->get_array())
            {
                const std::string sw = where + ".suggestions[" + std::to_string(i++) + "]";
                if (!s.is_object() || !non_empty_string(s.get_object().if_contains("label")))
                {
                    report.notes.push_back(sw + ": dropped (no label)");
                    repaired = true;
                    continue;
                }
                auto& sug = s.get_object();
                if (!non_empty_string(sug.if_contains("uuid")))
                {
                    sug["uuid"] = core::new_uuid();  // CRD: every suggestion SHALL have a uuid
                    repaired = true;
                }
                if (json::value* actions = sug.if_contains("actions"))
                {
                    json::array kept_actions(v.storage());
                    if (actions->is_array())
                    {
                        std::size_t k = 0;
                        for (auto& a : actions->get_array())
                        {
                            const unsigned before = report.actions_repaired;
                            if (check_action(a, report, sw + ".actions[" + std::to_string(k++) + "]"))
                            {
                                repaired = repaired || report.actions_repaired != before;
                                kept_actions.push_back(std::move(a));
                            }
                            else
                                ++report.actions_dropped;
                        }
                    }
                    *actions = std::move(kept_actions);
                }
                kept.push_back(std::move(s));
            }
        }
        *suggestions = std::move(kept);
        const auto behaviour = str(card, "selectionBehavior");
        if (!suggestions->get_array().empty() && behaviour != "at-most-one" && behaviour != "any")
        {
            card["selectionBehavior"] = "at-most-one";
            report.notes.push_back(where + ": selectionBehavior set to at-most-one");
            repaired = true;
        }
    }
    if (!non_empty_string(card.if_contains("uuid")))
    {
        card["uuid"] = core::new_uuid();  // feedback needs it to name the card
        repaired = true;
    }
    prune_empty(v);
    if (repaired)
        ++report.cards_repaired;
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

    // New containers share the response's memory resource, so every move below is a move.
    json::array kept(body.storage());
    std::size_t i = 0;
    for (auto& c : cards->get_array())
    {
        if (check_card(c, report, i++))
            kept.push_back(std::move(c));
        else
            ++report.cards_dropped;
    }

    json::object out(body.storage());
    out["cards"] = std::move(kept);
    if (json::value* actions = obj.if_contains("systemActions"))
    {
        json::array kept_actions(body.storage());
        if (actions->is_array())
        {
            std::size_t k = 0;
            for (auto& a : actions->get_array())
            {
                if (check_action(a, report, "systemActions[" + std::to_string(k++) + "]"))
                {
                    prune_empty(a);
                    kept_actions.push_back(std::move(a));
                }
                else
                    ++report.actions_dropped;
            }
        }
        else
            report.notes.push_back("systemActions: not an array, dropped");
        if (!kept_actions.empty())
            out["systemActions"] = std::move(kept_actions);
    }
    return out;
}

}  // namespace crd::decision
