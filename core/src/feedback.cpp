#include <crd/core/feedback.hpp>

#include <cctype>
#include <string>

namespace json = boost::json;

namespace crd::core {
namespace {

error invalid(std::string path, std::string what)
{
    auto detail = path + " " + what;
    return {request_errc::invalid, std::move(detail), std::move(path)};
}

bool digits(std::string_view s, std::size_t at, std::size_t n)
{
    if (at + n > s.size())
        return false;
    for (std::size_t i = at; i < at + n; ++i)
        if (!std::isdigit(static_cast<unsigned char>(s[i])))
            return false;
    return true;
}

int number(std::string_view s, std::size_t at, std::size_t n)
{
    return std::stoi(std::string(s.substr(at, n)));
}

const json::string* string_member(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? &v->get_string() : nullptr;
}

result<void, error> check_coding(const json::value& v, const std::string& path)
{
    if (!v.is_object())
        return invalid(path, "must be a Coding object");
    const auto& o = v.get_object();
    for (const char* key : {"code", "system"})
    {
        const auto* s = string_member(o, key);
        if (!s || s->empty())
            return invalid(path + "." + key, "is required and must be a non-empty string");
    }
    if (o.contains("display") && !o.at("display").is_string())
        return invalid(path + ".display", "must be a string");
    return {};
}

result<void, error> check_item(const json::value& v, const std::string& path)
{
    if (!v.is_object())
        return invalid(path, "must be an object");
    const auto& item = v.get_object();
    const auto* card = string_member(item, "card");
    if (!card || card->empty())
        return invalid(path + ".card", "is required: the uuid of the card the feedback is about");
    const auto* outcome = string_member(item, "outcome");
    if (!outcome || (*outcome != "accepted" && *outcome != "overridden"))
        return invalid(path + ".outcome", "must be \"accepted\" or \"overridden\"");
    const auto* stamp = string_member(item, "outcomeTimestamp");
    if (!stamp || !is_rfc3339_date_time(*stamp))
        return invalid(path + ".outcomeTimestamp", "is required and must be an RFC 3339 date-time with a time zone");

    const auto* accepted = item.if_contains("acceptedSuggestions");
    if (*outcome == "accepted" && !accepted)
        return invalid(path + ".acceptedSuggestions", "is required when outcome is \"accepted\"");
    if (accepted)
    {
        if (!accepted->is_array())
            return invalid(path + ".acceptedSuggestions", "must be an array");
        std::size_t i = 0;
        for (const auto& s : accepted->get_array())
        {
            const std::string p = path + ".acceptedSuggestions[" + std::to_string(i++) + "]";
            const auto* id = s.is_object() ? string_member(s.get_object(), "id") : nullptr;
            if (!id || id->empty())
                return invalid(p + ".id", "is required: the uuid of the accepted suggestion");
        }
    }
    if (const auto* reason = item.if_contains("overrideReason"))
    {
        const std::string p = path + ".overrideReason";
        if (*outcome != "overridden")
            return invalid(p, "is only allowed when outcome is \"overridden\"");
        if (!reason->is_object())
            return invalid(p, "must be an object");
        const auto& r = reason->get_object();
        if (!r.contains("reason") && !r.contains("userComment"))
            return invalid(p, "needs a reason Coding, a userComment, or both");
        if (r.contains("reason"))
            if (auto bad = check_coding(r.at("reason"), p + ".reason"); bad.has_error())
                return bad;
        if (r.contains("userComment") && !r.at("userComment").is_string())
            return invalid(p + ".userComment", "must be a string");
    }
    return {};
}

}  // namespace

bool is_rfc3339_date_time(std::string_view s) noexcept
{
    // YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)
    if (!digits(s, 0, 4) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s, 11, 2) || s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2))
        return false;
    const int month = number(s, 5, 2), day = number(s, 8, 2), hour = number(s, 11, 2), minute = number(s, 14, 2), second = number(s, 17, 2);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return false;
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.')
    {
        const auto start = ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
            ++i;
        if (i == start)
            return false;
    }
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == s.size();
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
        return i + 6 == s.size() && digits(s, i + 1, 2) && s[i + 3] == ':' && digits(s, i + 4, 2) && number(s, i + 1, 2) <= 23 &&
               number(s, i + 4, 2) <= 59;
    return false;
}

result<void, error> validate_feedback(const json::value& body)
{
    if (!body.is_object())
        return invalid("(body)", "must be a JSON object with a \"feedback\" array");
    const auto* list = body.get_object().if_contains("feedback");
    if (!list || !list->is_array())
        return invalid("feedback", "is required and must be an array");
    if (list->get_array().empty())
        return invalid("feedback", "must not be empty");
    std::size_t i = 0;
    for (const auto& item : list->get_array())
        if (auto bad = check_item(item, "feedback[" + std::to_string(i++) + "]"); bad.has_error())
            return bad;
    return {};
}

}  // namespace crd::core
