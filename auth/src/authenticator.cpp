// The facade: owns the pieces and sends each Authorization header to the one it belongs to.
//   client_registry.cpp       auth.clients parsed: inline keys, JWKS URLs, scopes
//   jwks_source.cpp           keys fetched from JWKS URLs, cached, refreshed in the background
//   client_jwt.cpp            CDS Hooks client JWTs and SMART client assertions
//   smart_token_endpoint.cpp  POST /auth/token, our access tokens, smart-configuration
//   basic_auth.cpp            HTTP Basic (PBKDF2), bounded per source
//   refusal.cpp               why a caller is refused, in the server's words

#include <crd/auth/authenticator.hpp>

#include "basic_auth.hpp"
#include "client_jwt.hpp"
#include "client_registry.hpp"
#include "jwt_claims.hpp"
#include "refusal.hpp"
#include "smart_token_endpoint.hpp"

#include <crd/auth/auth_metrics.hpp>
#include <crd/core/text.hpp>

namespace crd::auth {

struct authenticator::impl
{
    const core::config cfg;  // a copy: a reload builds a new authenticator from the new file
    // Loaded before the registrations are parsed, so a bad key file is the first error named.
    signing_key own_key = smart_token_endpoint::load_own_key(cfg);
    client_registry clients{cfg};
    client_jwt_verifier client_jwts;
    smart_token_endpoint smart{cfg, own_key, clients, client_jwts};
    basic_auth basic{cfg, clients};

    impl(const core::config& c, std::shared_ptr<replay_guard> shared_replays)
        : cfg(c)
        , client_jwts(cfg, clients, shared_replays ? std::move(shared_replays) : std::make_shared<local_replay_guard>())
    {
    }
};

authenticator::authenticator(const core::config& cfg, std::shared_ptr<replay_guard> replays) : impl_(std::make_unique<impl>(cfg, std::move(replays)))
{
}
authenticator::~authenticator() = default;

void authenticator::start_background(core::task_group& group, std::chrono::milliseconds refresh)
{
    impl_->clients.key_sources().start_refreshing(group, refresh);
}

net::awaitable<auth_result> authenticator::authenticate(std::string_view authorization, std::string_view path, std::string_view source)
{
    auto verified = co_await verify(authorization, path, source);
    if (verified.has_error())
        auth_metrics::instance().failures.add(verified.error().reason);
    co_return verified;
}

net::awaitable<auth_result> authenticator::verify(std::string_view authorization, std::string_view path, std::string_view source)
{
    auto& m = *impl_;
    if (authorization.empty())
        co_return refuse(auth_failure::missing, "no Authorization header", false);
    const auto space = authorization.find(' ');
    const auto scheme = authorization.substr(0, space);
    auto credentials = space == std::string_view::npos ? std::string_view{} : authorization.substr(space + 1);
    while (!credentials.empty() && credentials.front() == ' ')
        credentials.remove_prefix(1);
    using core::iequals;
    if (iequals(scheme, "Basic"))
        co_return co_await m.basic.verify(credentials, source);
    if (!iequals(scheme, "Bearer") || credentials.empty() || credentials.size() > max_token_bytes)
        co_return refuse(auth_failure::malformed, "not a Bearer token", !credentials.empty());
    if (auto known = m.smart.recall_access_token(credentials))
        co_return *known;
    auto token = parse_compact(credentials);
    if (!token)
        co_return refuse(auth_failure::malformed, "not a compact JWS");
    const auto& issuer = m.smart.issuer();
    if (string_claim(token->payload, "iss") == issuer && !issuer.empty())
        co_return m.smart.verify_access_token(credentials, *token);

    client_jwt_rules rules;
    rules.audiences.push_back(issuer + std::string(path));
    // Feedback: CDS Hooks leaves its aud open; accept the service URL as well.
    constexpr std::string_view feedback_suffix = "/feedback";
    if (path.size() > feedback_suffix.size() && path.substr(path.size() - feedback_suffix.size()) == feedback_suffix)
        rules.audiences.push_back(issuer + std::string(path.substr(0, path.size() - feedback_suffix.size())));
    co_return co_await m.client_jwts.verify(*token, rules);
}

void throw_exception_from_error(const rejection& r, const boost::source_location& where)
{
    boost::throw_exception(boost::system::system_error(make_error_code(r.reason), r.detail), where);
}

boost::json::object authenticator::smart_configuration() const
{
    return impl_->smart.configuration();
}

std::string authenticator::token_endpoint() const
{
    return impl_->smart.token_url();
}

net::awaitable<token_answer> authenticator::token(std::string_view content_type, std::string_view body)
{
    return impl_->smart.token(content_type, body);
}

}  // namespace crd::auth
