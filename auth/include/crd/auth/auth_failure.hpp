#pragma once
// Why a caller is refused: auth's error codes (category "crd.auth"). The same enumerator labels
// crd_auth_failures_total, names the reason in the log, and, through the category, gives the
// caller's answer (core::to_problem: 401 "security"; 503 "transient" when not a verdict on the
// credentials) in the server's own words, never the token's contents.

#include <crd/core/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace crd::auth {

enum class auth_failure : std::uint8_t
{
    missing = 0,
    malformed,
    bad_algorithm,
    unknown_client,
    unknown_key,
    bad_signature,
    bad_audience,
    expired,
    not_yet_valid,
    lifetime_too_long,
    replayed,
    bad_jku,
    bad_scope,
    bad_secret,
    key_fetch_failed,
    busy,              // too many slow (Basic) verifications already running: retry, do not re-key
    keys_unavailable,  // the client's JWKS URL could not be fetched (yet): not an unknown key
    // The shared replay cache (Redis) could not say whether the jti is new, and its policy is
    // fail_closed: 503 with Retry-After, not a verdict on the credentials.
    replay_unavailable,
    count_,
};

// The metrics label and log name ("bad_audience").
std::string_view name_of(auth_failure reason) noexcept;
// The caller-facing explanation of a reason.
std::string explain(auth_failure reason);

const http_error_category& auth_category() noexcept;
// Codes are the enumerator plus one: an error_code of value 0 means success, and missing is 0.
inline error_code make_error_code(auth_failure reason) noexcept
{
    return {static_cast<int>(reason) + 1, auth_category()};
}

}  // namespace crd::auth

template <>
struct boost::system::is_error_code_enum<crd::auth::auth_failure> : std::true_type
{
};
