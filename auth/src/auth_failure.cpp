#include <crd/auth/auth_failure.hpp>

#include <array>

namespace crd::auth {
namespace {

constexpr std::array<std::string_view, static_cast<std::size_t>(auth_failure::count_)> names{"missing", "malformed", "bad_algorithm",
    "unknown_client", "unknown_key", "bad_signature", "bad_audience", "expired", "not_yet_valid", "lifetime_too_long", "replayed", "bad_jku",
    "bad_scope", "bad_secret", "key_fetch_failed", "busy", "keys_unavailable", "replay_unavailable"};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // error_category has a protected non-virtual dtor
class auth_category_impl final : public http_error_category
{
public:
    const char* name() const noexcept override { return "crd.auth"; }
    std::string message(int ev) const override { return explain(reason_of(ev)); }
    http_answer answer(int ev) const override
    {
        const auto reason = reason_of(ev);
        // Not verdicts on the credentials: the checks are saturated or the client's keys are late.
        if (reason == auth_failure::busy || reason == auth_failure::replay_unavailable)
            return {503, "transient", explain(reason)};
        return {401, "security", explain(reason)};
    }

private:
    static auth_failure reason_of(int ev) noexcept
    {
        return ev >= 1 && ev <= static_cast<int>(auth_failure::count_) ? static_cast<auth_failure>(ev - 1) : auth_failure::count_;
    }
};
#pragma GCC diagnostic pop

}  // namespace

std::string_view name_of(auth_failure reason) noexcept
{
    const auto i = static_cast<std::size_t>(reason);
    return i < names.size() ? names[i] : "unknown";
}

std::string explain(auth_failure reason)
{
    switch (reason)
    {
    case auth_failure::missing: return "authentication is required: send Authorization: Bearer <token>";
    case auth_failure::malformed:
        return "the token is malformed: a JWS compact JWT with typ JWT, kid, and iss, aud, exp, iat, jti claims (NumericDate as whole seconds)";
    case auth_failure::bad_algorithm: return "the token's alg is not accepted here, or does not fit its key";
    case auth_failure::unknown_client: return "the token's iss is not a client registered with this server";
    case auth_failure::unknown_key: return "no key of this client has the token's kid";
    case auth_failure::bad_signature: return "the token's signature does not verify";
    case auth_failure::bad_audience: return "the token's aud does not name this endpoint";
    case auth_failure::expired: return "the token has expired";
    case auth_failure::not_yet_valid: return "the token is not valid yet (iat or nbf in the future)";
    case auth_failure::lifetime_too_long: return "the token lives too long";
    case auth_failure::replayed: return "the token's jti was used before: send a fresh token with each call";
    case auth_failure::bad_jku: return "the token's jku is neither the client's jwks_url nor in its jku_allowlist";
    case auth_failure::bad_scope: return "the requested scope exceeds the client's registration";
    case auth_failure::bad_secret: return "the client credentials are not valid";
    case auth_failure::key_fetch_failed: return "the client's keys could not be fetched";
    case auth_failure::busy: return "authentication is busy; retry shortly";
    case auth_failure::keys_unavailable: return "the client's keys are unavailable (its JWKS URL could not be fetched yet); retry shortly";
    case auth_failure::replay_unavailable: return "the replay check is unavailable for a moment; retry shortly with a fresh token";
    case auth_failure::count_: break;
    }
    return "authentication failed";
}

const http_error_category& auth_category() noexcept
{
    static const auth_category_impl instance;
    return instance;
}

}  // namespace crd::auth
