#pragma once
// SMART Backend Services (mode B): POST /auth/token (client_credentials + private_key_jwt) issues
// access tokens signed with our own key; a call bearing one is verified here, and remembered
// until it expires. GET /.well-known/smart-configuration describes the endpoint.

#include "client_jwt.hpp"
#include "client_registry.hpp"
#include "expiring_cache.hpp"

#include <crd/auth/authenticator.hpp>
#include <crd/auth/jose.hpp>
#include <crd/core/async.hpp>
#include <crd/core/config.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crd::auth {

class smart_token_endpoint
{
public:
    // auth.signing_key, or a key generated now (with a warning when auth is required). Throws
    // std::runtime_error naming the file. The authenticator loads it before the registrations are
    // parsed, so a bad key file is the first error named.
    static signing_key load_own_key(const core::config& cfg);

    // `cfg`, `clients` and `client_jwts` outlive the endpoint.
    smart_token_endpoint(const core::config& cfg, signing_key own_key, const client_registry& clients, client_jwt_verifier& client_jwts);

    // Our own issuer (public_base_url): a token with this iss is one of our access tokens.
    const std::string& issuer() const noexcept { return issuer_; }
    const std::string& token_url() const noexcept { return token_url_; }

    // GET /.well-known/smart-configuration
    boost::json::object configuration() const;

    // POST /auth/token with a form body: client_credentials + private_key_jwt. Never throws.
    net::awaitable<token_answer> token(std::string_view content_type, std::string_view body);

    // An access token already verified and not yet expired, by its whole text: a token that
    // differs in any byte is verified afresh.
    std::optional<identity> recall_access_token(std::string_view text);

    // Verifies an access token we issued (`token` is `text` parsed) and remembers it when valid.
    auth_result verify_access_token(std::string_view text, const jws& token);

private:
    const core::config& cfg_;
    const std::string issuer_;
    const std::string token_url_;
    const std::string access_token_audience_;  // what our access tokens are for: the CDS services
    const signing_key own_key_;
    const public_key own_verifier_;
    const client_registry& clients_;
    client_jwt_verifier& client_jwts_;

    // Access tokens we issued and have verified once. An EHR reuses one for every call of its
    // (at most 5-minute) life, and an ES384 verification costs about 0.7 ms of CPU. A reload builds
    // a new authenticator, so a client removed from the registry loses its cached tokens with it.
    expiring_cache<identity> verified_access_tokens_;  // until exp + leeway
};

}  // namespace crd::auth
