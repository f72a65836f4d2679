#include "smart_token_endpoint.hpp"

#include "jwt_claims.hpp"
#include "refusal.hpp"

#include <crd/core/ids.hpp>
#include <crd/core/log.hpp>
#include <crd/auth/auth_metrics.hpp>

#include <boost/json/array.hpp>

#include <cctype>
#include <map>
#include <set>

namespace json = boost::json;

namespace crd::auth {
namespace {

constexpr std::size_t max_verified_access_tokens = 10'000;
constexpr std::int64_t access_token_lifetime_s = 300;

// application/x-www-form-urlencoded; nullopt on bad escapes or duplicated names (RFC 6749 §3.2).
std::optional<std::map<std::string, std::string>> parse_form(std::string_view body)
{
    auto unescape = [](std::string_view in) -> std::optional<std::string> {
        std::string out;
        for (std::size_t i = 0; i < in.size(); ++i)
        {
            if (in[i] == '+')
                out += ' ';
            else if (in[i] == '%')
            {
                if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
                    !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
                    return std::nullopt;
                out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
                i += 2;
            }
            else
                out += in[i];
        }
        return out;
    };
    std::map<std::string, std::string> out;
    while (!body.empty())
    {
        const auto amp = body.find('&');
        const auto pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        if (pair.empty())
            continue;
        const auto eq = pair.find('=');
        auto name = unescape(pair.substr(0, eq));
        auto value = unescape(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!name || !value || !out.emplace(std::move(*name), std::move(*value)).second)
            return std::nullopt;
    }
    return out;
}

}  // namespace

signing_key smart_token_endpoint::load_own_key(const core::config& cfg)
{
    if (cfg.auth.signing_key)
        return load_signing_key(*cfg.auth.signing_key);
    auto key = generate_signing_key();
    if (cfg.auth.required)
        log::warning(
            "signing_key_generated", {{"detail", "auth.signing_key is not set: access tokens are signed with a key generated at start-up, so they "
                                                 "stop working on restart and on other instances"}});
    return key;
}

smart_token_endpoint::smart_token_endpoint(
    const core::config& cfg, signing_key own_key, const client_registry& clients, client_jwt_verifier& client_jwts)
    : cfg_(cfg)
    , issuer_(cfg.public_base_url)
    , token_url_(cfg.public_base_url + "/auth/token")
    , access_token_audience_(cfg.public_base_url + "/cds-services")
    , own_key_(std::move(own_key))
    , own_verifier_(own_key_.verifier())
    , clients_(clients)
    , client_jwts_(client_jwts)
    , verified_access_tokens_(max_verified_access_tokens)
{
}

json::object smart_token_endpoint::configuration() const
{
    json::array scopes;
    std::set<std::string> all;
    for (const auto& [id, c] : clients_.all())
        all.insert(c.scopes.begin(), c.scopes.end());
    for (const auto& s : all)
        scopes.emplace_back(s);
    json::array algs;
    for (const auto& a : cfg_.auth.allowed_algs)
        algs.emplace_back(a);
    return json::object{
        {"issuer", issuer_},
        {"token_endpoint", token_url_},
        {"grant_types_supported", json::array{"client_credentials"}},
        {"token_endpoint_auth_methods_supported", json::array{"private_key_jwt"}},
        {"token_endpoint_auth_signing_alg_values_supported", std::move(algs)},
        {"scopes_supported", std::move(scopes)},
        {"capabilities", json::array{"client-confidential-asymmetric"}},
        {"code_challenge_methods_supported", json::array{"S256"}},
    };
}

net::awaitable<token_answer> smart_token_endpoint::token(std::string_view content_type, std::string_view body)
{
    auto error = [](std::string code, std::string description) {
        return token_answer{400, json::object{{"error", std::move(code)}, {"error_description", std::move(description)}}};
    };
    const auto semi = content_type.find(';');
    if (content_type.substr(0, semi) != "application/x-www-form-urlencoded")
        co_return error("invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    auto form = parse_form(body);
    if (!form)
        co_return error("invalid_request", "malformed form body or a repeated parameter");
    auto get = [&](const char* name) -> std::string {
        const auto it = form->find(name);
        return it == form->end() ? std::string() : it->second;
    };
    const auto grant_type = get("grant_type");
    if (grant_type.empty())
        co_return error("invalid_request", "grant_type is required");
    if (grant_type != "client_credentials")
        co_return error("unsupported_grant_type", "only client_credentials is supported");
    if (get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        co_return error("invalid_client", "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    const auto assertion = get("client_assertion");
    const auto scope = get("scope");
    if (assertion.empty() || scope.empty())
        co_return error("invalid_request", "client_assertion and scope are required");

    auto token = assertion.size() <= max_token_bytes ? parse_compact(assertion) : std::nullopt;
    if (!token)
    {
        auth_metrics::instance().failures.add(auth_failure::malformed);
        co_return error("invalid_client", "client_assertion is not a JWT");
    }
    client_jwt_rules rules;
    rules.audiences.push_back(token_url_);
    rules.require_iat = false;  // SMART does not require iat in the assertion
    rules.require_sub_equals_iss = true;
    rules.max_exp_ahead = 300;
    auto verified = co_await client_jwts_.verify(*token, rules);
    if (verified.has_error())
    {
        const auto& r = verified.error();
        auth_metrics::instance().failures.add(r.reason);
        log::warning("token_request_refused", {{"reason", name_of(r.reason)}, {"detail", r.detail}});
        if (r.reason == auth_failure::replay_unavailable)  // not a verdict on the client: retry shortly
            co_return token_answer{503, json::object{{"error", "temporarily_unavailable"}, {"error_description", explain(r.reason)}}};
        co_return error("invalid_client", "client authentication failed");
    }
    const auto& who = *verified;
    const auto& registered = clients_.find(who.client_id)->scopes;  // verify() found it registered
    const auto requested = split_scopes(scope);
    for (const auto& s : requested)
        if (!registered.count(s))
        {
            auth_metrics::instance().failures.add(auth_failure::bad_scope);
            co_return error("invalid_scope", "scope '" + s + "' is not registered for this client");
        }
    const auto now = unix_now();
    json::object claims{
        {"iss", issuer_},
        {"sub", who.client_id},
        {"aud", access_token_audience_},
        {"iat", now},
        {"exp", now + access_token_lifetime_s},
        {"jti", core::new_uuid()},
        {"scope", scope},
    };
    log::info("token_issued", {{"client", who.client_id}, {"scope", scope}});
    co_return token_answer{200, json::object{
                                    {"access_token", sign_compact(own_key_, claims)},
                                    {"token_type", "bearer"},
                                    {"expires_in", access_token_lifetime_s},
                                    {"scope", scope},
                                }};
}

// A token past its expiry is not recalled: it is verified again, and refused with its own log line.
std::optional<identity> smart_token_endpoint::recall_access_token(std::string_view text)
{
    return verified_access_tokens_.find(std::string(text), unix_now());
}

auth_result smart_token_endpoint::verify_access_token(std::string_view text, const jws& token)
{
    if (string_claim(token.header, "alg") != own_key_.alg || string_claim(token.header, "kid") != own_key_.kid)
        return refuse(auth_failure::unknown_key, "access token not signed with our current key");
    if (!verify_signature(own_key_.alg, own_verifier_, token.signing_input, token.signature))
        return refuse(auth_failure::bad_signature, "access token signature does not verify");
    const auto exp = numeric_claim(token.payload, "exp");
    const auto leeway = static_cast<std::int64_t>(cfg_.auth.clock_leeway_s);
    if (!exp || *exp + leeway < unix_now())
        return refuse(auth_failure::expired, "access token expired");
    if (!audience_matches(token.payload.if_contains("aud"), {access_token_audience_}))
        return refuse(auth_failure::bad_audience, "access token audience");
    const auto sub = string_claim(token.payload, "sub");
    if (!clients_.find(sub))
        return refuse(auth_failure::unknown_client, "access token for a client no longer registered");
    identity who{sub, string_claim(token.payload, "jti"), ""};
    verified_access_tokens_.insert(std::string(text), who, *exp + leeway, unix_now());
    return who;
}

}  // namespace crd::auth
