#include "client_jwt.hpp"

#include "expiring_cache.hpp"
#include "jwt_claims.hpp"
#include "refusal.hpp"

#include <crd/core/url.hpp>

#include <algorithm>
#include <string_view>

namespace crd::auth {

client_jwt_verifier::client_jwt_verifier(const core::config& cfg, client_registry& clients, std::shared_ptr<replay_guard> replays)
    : cfg_(cfg)
    , clients_(clients)
    , allowed_algs_(cfg.auth.allowed_algs.begin(), cfg.auth.allowed_algs.end())
    , replays_(std::move(replays))
{
}

net::awaitable<auth_result> client_jwt_verifier::verify(const jws& token, const client_jwt_rules& rules)
{
    const auto alg = string_claim(token.header, "alg");
    if (!allowed_algs_.count(alg) || !family_for_alg(alg))
        co_return refuse(auth_failure::bad_algorithm, "alg '" + alg + "' is not accepted");
    if (string_claim(token.header, "typ") != "JWT")
        co_return refuse(auth_failure::malformed, "typ must be JWT");
    const auto kid = string_claim(token.header, "kid");
    if (kid.empty())
        co_return refuse(auth_failure::malformed, "kid is required");
    const auto iss = string_claim(token.payload, "iss");
    const registered_client* found = iss.empty() ? nullptr : clients_.find(iss);
    if (!found)
        co_return refuse(auth_failure::unknown_client, "iss '" + iss + "' is not a registered client");
    const registered_client& client = *found;
    const auto jti = string_claim(token.payload, "jti");
    for (std::string_view claim : {"exp", "iat", "nbf"})
        if (bad_time_claim(token.payload, claim))
            co_return refuse(auth_failure::malformed, std::string(claim) + " must be a NumericDate: whole seconds from 1970 to 9999");
    const auto exp = numeric_claim(token.payload, "exp");
    const auto iat = numeric_claim(token.payload, "iat");
    if (jti.empty() || !exp || (rules.require_iat && !iat) || !token.payload.contains("aud"))
        co_return refuse(auth_failure::malformed, "exp, iat, jti and aud are required");
    if (rules.require_sub_equals_iss && string_claim(token.payload, "sub") != iss)
        co_return refuse(auth_failure::malformed, "sub must equal iss");
    if (!audience_matches(token.payload.if_contains("aud"), rules.audiences))
    {
        // Our own URL, which the caller needs to see (localhost vs 127.0.0.1, http vs https).
        auto refused = refuse(auth_failure::bad_audience, "aud does not name this endpoint");
        refused.explanation += ": expected " + rules.audiences.front() + " (public_base_url plus the path called)";
        co_return refused;
    }
    const auto now = unix_now();
    const auto leeway = static_cast<std::int64_t>(cfg_.auth.clock_leeway_s);
    if (*exp + leeway < now)
        co_return refuse(auth_failure::expired, "expired");
    if (iat && *iat > now + leeway)
        co_return refuse(auth_failure::not_yet_valid, "iat is in the future");
    if (const auto nbf = numeric_claim(token.payload, "nbf"); nbf && *nbf > now + leeway)
        co_return refuse(auth_failure::not_yet_valid, "nbf is in the future");
    const auto max_lifetime =
        static_cast<std::int64_t>(client.registration && client.registration->max_token_lifetime_s ? *client.registration->max_token_lifetime_s
                                                                                                   : cfg_.auth.max_token_lifetime_s);
    if (iat && *exp - *iat > max_lifetime)
    {
        auto refused = refuse(auth_failure::lifetime_too_long, "exp - iat exceeds the client's max_token_lifetime_s");
        refused.explanation += " (at most " + std::to_string(max_lifetime) + " s from iat to exp)";
        co_return refused;
    }
    if (rules.max_exp_ahead && *exp > now + *rules.max_exp_ahead + leeway)
        co_return refuse(auth_failure::lifetime_too_long, "exp is more than 5 minutes ahead");

    // Key: the jku (only a registered URL), else the registered JWKS URL, else the inline set.
    std::optional<public_key> key;
    jwks_source* source = nullptr;  // where the key was looked for, when fetched
    if (token.header.contains("jku"))
    {
        // Both sides canonical (scheme and host case, default port): one URL, one spelling.
        const auto& reg = *client.registration;
        const auto wanted = core::canonical_url(string_claim(token.header, "jku"));
        const bool allowed = !wanted.empty() && ((reg.jwks_url && wanted == reg.jwks_url->origin() + reg.jwks_url->target) ||
                                                    std::any_of(reg.jku_allowlist.begin(), reg.jku_allowlist.end(),
                                                        [&](const std::string& listed) { return core::canonical_url(listed) == wanted; }));
        source = allowed ? clients_.key_sources().find(wanted) : nullptr;
        if (!source)
            co_return refuse(auth_failure::bad_jku, "jku is not registered for this client");
    }
    else
        source = client.registered_source;
    if (source)
        key = co_await source->find_key(kid);
    else
        for (const auto& k : client.inline_keys)
            if (k.kid == kid)
                key = k;
    if (!key && source && source->keys_unavailable())
        co_return refuse(auth_failure::keys_unavailable, "the client's JWK Set could not be fetched");
    if (!key)
        co_return refuse(auth_failure::unknown_key, "no key with this kid");
    if (family_for_alg(alg) != key->family)
        co_return refuse(auth_failure::bad_algorithm, "alg does not fit the key type");
    if (!verify_signature(alg, *key, token.signing_input, token.signature))
        co_return refuse(auth_failure::bad_signature, "signature does not verify");
    // Only a verified token may take a replay-cache slot. Each jti is kept until its token's exp
    // plus the leeway: until then it could still be accepted.
    switch (co_await replays_->claim(iss, jti, *exp + leeway))
    {
    case replay_verdict::first_use: break;
    case replay_verdict::replayed: co_return refuse(auth_failure::replayed, "jti was used before");
    case replay_verdict::unavailable: co_return refuse(auth_failure::replay_unavailable, "the shared replay cache did not answer (fail_closed)");
    }
    co_return identity{iss, jti, string_claim(token.payload, "tenant")};
}

}  // namespace crd::auth
