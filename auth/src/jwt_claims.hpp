#pragma once
// Reading JWT claims the way every token check here does: NumericDate rules (RFC 7519 §2),
// string claims, and aud matching. Shared by client JWTs and our own access tokens.

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crd::auth {

// A token longer than this is refused without being parsed (Bearer credentials, SMART assertions).
inline constexpr std::size_t max_token_bytes = 16 * 1024;

// The last second of year 9999: no NumericDate we accept is larger, so sums and differences of
// two of them (plus a leeway) stay far inside int64.
inline constexpr std::int64_t max_numeric_date = 253'402'300'799;

// A NumericDate claim as whole seconds from 1970 to the end of 9999; nullopt when absent or
// anything else. Doubles are range-checked before any conversion (1e300, inf and NaN would be
// undefined behaviour to cast) and must be whole: these run before the signature check.
std::optional<std::int64_t> numeric_claim(const boost::json::object& o, std::string_view key);

// A time claim that is present but not a NumericDate: the token is malformed, whatever it says.
bool bad_time_claim(const boost::json::object& o, std::string_view key);

// The claim when it is a string, else empty.
std::string string_claim(const boost::json::object& o, std::string_view key);

// aud (a string or an array of them) names one of `accepted`.
bool audience_matches(const boost::json::value* aud, const std::vector<std::string>& accepted);

}  // namespace crd::auth
