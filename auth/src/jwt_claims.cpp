#include "jwt_claims.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>

namespace json = boost::json;

namespace crd::auth {

std::optional<std::int64_t> numeric_claim(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (!v)
        return std::nullopt;
    if (v->is_int64())
    {
        const auto n = v->get_int64();
        return n >= 0 && n <= max_numeric_date ? std::optional<std::int64_t>(n) : std::nullopt;
    }
    if (v->is_uint64())
        return v->get_uint64() <= static_cast<std::uint64_t>(max_numeric_date)
                   ? std::optional<std::int64_t>(static_cast<std::int64_t>(v->get_uint64()))
                   : std::nullopt;
    if (v->is_double())
    {
        const double d = v->get_double();
        if (!(d >= 0.0 && d <= static_cast<double>(max_numeric_date)) || d != std::floor(d))
            return std::nullopt;
        return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

bool bad_time_claim(const json::object& o, std::string_view key)
{
    return o.contains(key) && !numeric_claim(o, key);
}

std::string string_claim(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool audience_matches(const json::value* aud, const std::vector<std::string>& accepted)
{
    if (!aud)
        return false;
    auto one = [&](const json::value& v) {
        return v.is_string() && std::find(accepted.begin(), accepted.end(), std::string_view(v.get_string())) != accepted.end();
    };
    if (aud->is_string())
        return one(*aud);
    if (aud->is_array())
        return std::any_of(aud->get_array().begin(), aud->get_array().end(), one);
    return false;
}

}  // namespace crd::auth
