#pragma once
// The clients registered in auth.clients, as the checks need them: inline keys parsed, JWKS URLs
// (jwks_url and jku_allowlist entries) as key sources, scopes as a set.

#include "jwks_source.hpp"

#include <crd/auth/jose.hpp>
#include <crd/core/config.hpp>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace crd::auth {

struct registered_client
{
    const core::auth_client* registration = nullptr;  // in the configuration the registry was built from
    std::vector<public_key> inline_keys;
    jwks_source* registered_source = nullptr;  // jwks_url
    std::set<std::string> scopes;
};

// Space-separated scopes (RFC 6749 §3.3) as a list.
std::vector<std::string> split_scopes(std::string_view s);

class client_registry
{
public:
    // Parses every registration of `cfg` (which must outlive the registry). Throws
    // std::runtime_error naming the key at fault (e.g. "auth.clients[0].jwks: ...").
    explicit client_registry(const core::config& cfg);
    client_registry(const client_registry&) = delete;
    client_registry& operator=(const client_registry&) = delete;

    // Null when `client_id` is not registered.
    const registered_client* find(std::string_view client_id) const;
    const std::map<std::string, registered_client, std::less<>>& all() const noexcept { return clients_; }

    // Key sources of every registration (jwks_url and jku_allowlist), by URL.
    jwks_sources& key_sources() noexcept { return sources_; }

private:
    jwks_sources sources_;
    std::map<std::string, registered_client, std::less<>> clients_;
};

}  // namespace crd::auth
