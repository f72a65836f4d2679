#pragma once
// Client-signed JWTs checked against the client's registration: CDS Hooks client JWTs on every
// call (mode A) and SMART Backend Services client assertions at the token endpoint.

#include "client_registry.hpp"

#include <crd/auth/authenticator.hpp>
#include <crd/auth/jose.hpp>
#include <crd/auth/replay_guard.hpp>
#include <crd/core/async.hpp>
#include <crd/core/config.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace crd::auth {

// What differs between a CDS Hooks client JWT and a SMART client assertion.
struct client_jwt_rules
{
    std::vector<std::string> audiences;  // aud must name one; the first is shown in a refusal
    bool require_iat = true;
    bool require_sub_equals_iss = false;
    std::optional<std::int64_t> max_exp_ahead;  // SMART assertion: exp at most 5 minutes ahead
};

class client_jwt_verifier
{
public:
    // `cfg` and `clients` outlive the verifier; `replays` is shared with other generations.
    client_jwt_verifier(const core::config& cfg, client_registry& clients, std::shared_ptr<replay_guard> replays);

    // alg (allowed, never none/HMAC), typ, kid, iss a registered client, NumericDate exp/iat/nbf
    // within the leeway, lifetime, aud, the key (jku only when registered), the signature, and
    // last the jti (only a verified token may take a replay-cache slot; a shared cache that cannot
    // answer under fail_closed is auth_failure::replay_unavailable). Never throws.
    net::awaitable<auth_result> verify(const jws& token, const client_jwt_rules& rules);

private:
    const core::config& cfg_;
    client_registry& clients_;
    std::set<std::string> allowed_algs_;
    std::shared_ptr<replay_guard> replays_;
};

}  // namespace crd::auth
