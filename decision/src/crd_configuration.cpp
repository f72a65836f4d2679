#include <crd/decision/crd_configuration.hpp>

#include <crd/decision/rules.hpp>
#include <crd/decision/rules_engine.hpp>

#include <algorithm>
#include <vector>

namespace json = boost::json;

namespace crd::decision {
namespace {

constexpr std::string_view config_path = "extension.davinci-crd.configuration.";

int severity(const json::value& card)
{
    const json::value* ind = card.is_object() ? card.get_object().if_contains("indicator") : nullptr;
    return ind && ind->is_string() ? card_severity(ind->get_string()) : 2;
}

std::string_view topic_code(const json::value& card)
{
    if (!card.is_object())
        return {};
    const json::value* source = card.get_object().if_contains("source");
    const json::value* topic = source && source->is_object() ? source->get_object().if_contains("topic") : nullptr;
    const json::value* code = topic && topic->is_object() ? topic->get_object().if_contains("code") : nullptr;
    return code && code->is_string() ? std::string_view(code->get_string()) : std::string_view{};
}

bool carries_coverage_information(const json::value& action)
{
    if (!action.is_object())
        return false;
    const json::value* resource = action.get_object().if_contains("resource");
    const json::value* ext = resource && resource->is_object() ? resource->get_object().if_contains("extension") : nullptr;
    if (!ext || !ext->is_array())
        return false;
    return std::any_of(ext->get_array().begin(), ext->get_array().end(), is_coverage_information);
}

}  // namespace

json::array configuration_options(const std::vector<std::string>& card_types)
{
    json::array options;
    for (const auto& type : card_types)
    {
        const auto& names = crd_card_types();
        const auto it = names.find(type);
        const std::string name = it == names.end() ? type : it->second;
        json::object o;
        o["code"] = type;
        o["type"] = "boolean";
        o["name"] = name;
        o["description"] = type == "coverage-info"
                               ? "Return coverage information (coverage, prior authorization and documentation needs) for each order."
                               : "Return " + name + " cards.";
        o["default"] = true;
        options.push_back(std::move(o));
    }
    json::object max_cards;
    max_cards["code"] = "max-cards";
    max_cards["type"] = "integer";
    max_cards["name"] = "Maximum cards";
    max_cards["description"] = "The most cards to return; the most severe are kept.";
    max_cards["default"] = default_max_cards;
    options.push_back(std::move(max_cards));
    return options;
}

result<crd_options, error> read_options(const json::object* configuration, const std::vector<std::string>& card_types)
{
    crd_options out;
    if (!configuration)
        return out;
    for (const auto& kv : *configuration)
    {
        const std::string key(kv.key());
        const std::string path = std::string(config_path) + key;
        if (key == "max-cards")
        {
            const auto& v = kv.value();
            if (v.is_uint64() || (v.is_int64() && v.get_int64() >= 0))
                out.max_cards = static_cast<std::size_t>(v.to_number<std::uint64_t>());
            else
                return error{core::request_errc::bad_value, path + " must be a non-negative integer", path};
        }
        else if (key == "coverage-info" || std::find(card_types.begin(), card_types.end(), key) != card_types.end())
        {
            if (!kv.value().is_bool())
                return error{core::request_errc::bad_value, path + " must be true or false", path};
            if (key == "coverage-info")
                out.coverage_info = kv.value().get_bool();
            if (!kv.value().get_bool())
                out.disabled_card_types.insert(key);
        }
        // Anything else is an option this service does not offer: ignored, as CRD requires.
    }
    return out;
}

int card_severity(std::string_view indicator) noexcept
{
    if (indicator == "critical")
        return 0;
    if (indicator == "warning")
        return 1;
    return 2;
}

bool card_budget::admits(std::string_view indicator) const noexcept
{
    return at_least_as_severe_[static_cast<std::size_t>(card_severity(indicator))] < max_cards_;
}

void card_budget::add(std::string_view indicator) noexcept
{
    for (auto s = static_cast<std::size_t>(card_severity(indicator)); s < at_least_as_severe_.size(); ++s)
        ++at_least_as_severe_[s];
}

bool apply_options(json::object& response, const crd_options& options)
{
    bool changed = false;
    if (json::value* cards = response.if_contains("cards"); cards && cards->is_array())
    {
        auto& arr = cards->get_array();
        // The most severe first, in their order within one severity, at most max-cards of them:
        // three severities, so a pass per severity over the cards' severities (each read once)
        // instead of a sort that reads two cards' indicators per comparison.
        std::vector<int> severities(arr.size(), -1);  // -1: a disabled type, left out
        std::size_t count[3] = {0, 0, 0};
        bool in_order = true;
        int last = 0;
        for (std::size_t i = 0; i < arr.size(); ++i)
            if (options.disabled_card_types.empty() || !options.disabled_card_types.count(topic_code(arr[i])))
            {
                const int s = severity(arr[i]);
                severities[i] = s;
                ++count[s];
                in_order = in_order && s >= last;
                last = s;
            }
        const std::size_t enabled = count[0] + count[1] + count[2];
        if (!in_order || enabled != arr.size() || enabled > options.max_cards)  // otherwise nothing to leave out or move
        {
            // In the response's own memory resource, so cards move instead of being copied twice.
            json::array kept(arr.storage());
            kept.reserve(std::min(enabled, options.max_cards));
            for (int s = 0; s < 3 && kept.size() < options.max_cards; ++s)
                for (std::size_t i = 0; i < arr.size() && kept.size() < options.max_cards; ++i)
                    if (severities[i] == s)
                        kept.push_back(std::move(arr[i]));
            arr = std::move(kept);
            changed = true;
        }
    }
    if (!options.coverage_info)
    {
        if (json::value* actions = response.if_contains("systemActions"); actions && actions->is_array())
        {
            json::array kept(actions->storage());
            for (auto& a : actions->get_array())
                if (!carries_coverage_information(a))
                    kept.push_back(std::move(a));
            changed = changed || kept.size() != actions->get_array().size();
            if (kept.empty())
            {
                response.erase("systemActions");
                changed = true;
            }
            else
                actions->get_array() = std::move(kept);
        }
    }
    return changed;
}

}  // namespace crd::decision
