// Target: JOSE and JWT handling (auth/jose.hpp, auth/authenticator.hpp) against a fixed test key.
// The first byte selects a mode (byte % 5); the rest is the input:
//   0  a compact JWS as a caller sends it: strict base64url segments, parse_compact, signature
//      verification with the fixed key, and authenticate("Bearer ...") on a service path;
//   1  a token endpoint form body (SMART Backend Services, application/x-www-form-urlencoded);
//   2  a JOSE header and a claims set, one JSON object per line, signed with the fixed key (the
//      header's "kid" "@own" becomes the server's own key id), then sent as a Bearer token and
//      as a token endpoint client assertion: this reaches the claim checks (exp, iat, nbf, aud,
//      lifetime, replay) that only signed tokens reach;
//   3  as 2, with integer exp/iat/nbf within ±2^40 taken as seconds from now;
//   4  a JWK (parse_jwk).
// The authenticator has one client, "client-1", with the fixed key as "k1", and the same key as
// its own signing key; public_base_url is http://127.0.0.1:8080.
// Properties: no memory or UB error (the NumericDate claims once cast a double to int64 and
// overflowed exp + leeway and exp - iat: known defects, fixed by range checks); strict base64url
// round-trips; a token we sign parses back to what was signed; a token that is accepted is not
// expired, not from the future and, for a client JWT, lives at most auth.max_token_lifetime_s.

#include "fuzz_common.hpp"

#include <crd/auth/authenticator.hpp>
#include <crd/auth/jose.hpp>
#include <crd/core/config.hpp>
#include <crd/core/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cmath>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include <unistd.h>

namespace json = boost::json;
namespace net = boost::asio;
using crd::fuzz::broken;

namespace {

constexpr const char* issuer = "http://127.0.0.1:8080";
constexpr const char* service_path = "/cds-services/order-sign-crd";
// The harness's configuration sets both (below): the properties must not follow the defaults,
// which moved once (max_token_lifetime_s 300 -> 900 for Epic's 15-minute client JWTs) and left a
// stale constant here that reported a legitimate 480 s token as a defect.
constexpr long double leeway_s = 60;         // auth.clock_leeway_s
constexpr long double max_lifetime_s = 300;  // auth.max_token_lifetime_s
constexpr long double slack_s = 5;           // the clock moves between our check and the server's

// A fixed EC P-384 test key (generated for this harness; it protects nothing).
constexpr const char* test_key_pem = "-----BEGIN PRIVATE KEY-----\n"
                                     "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDD/QgRYbpZkJcHJHLH8\n"
                                     "XWvfVQT7Bs55NfdMGUxo1uxciNJkk0aaVwnypu8OvEC5sEGhZANiAATLoEvfIHFg\n"
                                     "6wL2OE+Ws+FlRIyMVKHvdSTK7rnl8CLBeb6iTHLm4b6M9PCh/oitybyzjBB1lS38\n"
                                     "nWdYSZI0e9Vqs1j/8GS1ORmZuKSYQ7A3kovgi8yLbctL6jjSPr6RFN4=\n"
                                     "-----END PRIVATE KEY-----\n";

struct harness
{
    crd::auth::signing_key key;  // kid "k1"
    std::string own_kid;         // the authenticator's own kid: the key's RFC 7638 thumbprint
    crd::auth::public_key verifier;
    std::unique_ptr<crd::auth::authenticator> authn;
    net::io_context ioc;
};

harness* h = nullptr;

template <class T>
T run(net::awaitable<T> op)
{
    std::optional<T> out;
    std::exception_ptr error;
    net::co_spawn(h->ioc, std::move(op), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e)
            out.emplace(std::move(value));
    });
    h->ioc.restart();
    h->ioc.run();
    if (error)
        std::rethrow_exception(error);  // authenticate() and token() promise never to throw
    return std::move(*out);
}

long double now_s()
{
    return static_cast<long double>(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::optional<long double> number(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (!v)
        return std::nullopt;
    if (v->is_int64())
        return static_cast<long double>(v->get_int64());
    if (v->is_uint64())
        return static_cast<long double>(v->get_uint64());
    if (v->is_double())
        return std::trunc(static_cast<long double>(v->get_double()));
    return std::nullopt;
}

bool has_nonfinite(const json::value& v)
{
    if (v.is_double())
        return !std::isfinite(v.get_double());
    if (v.is_array())
        for (const auto& e : v.get_array())
            if (has_nonfinite(e))
                return true;
    if (v.is_object())
        for (const auto& kv : v.get_object())
            if (has_nonfinite(kv.value()))
                return true;
    return false;
}

// What an accepted token's claims must satisfy, whatever path accepted it.
void check_accepted(const json::object& claims, bool client_jwt, bool assertion, std::string_view what)
{
    const auto now = now_s();
    const std::string detail = std::string(what) + ": " + json::serialize(claims);
    const auto exp = number(claims, "exp");
    if (!exp)
        broken("a token without a numeric exp was accepted", detail);
    if (*exp + leeway_s + slack_s < now)
        broken("an expired token was accepted", detail);
    if (!client_jwt)
        return;
    const auto iat = number(claims, "iat");
    if (!iat && !assertion)
        broken("a client JWT without iat was accepted", detail);
    if (iat && *iat > now + leeway_s + slack_s)
        broken("a client JWT issued in the future was accepted", detail);
    if (iat && *exp - *iat > max_lifetime_s)
        broken("a client JWT living longer than auth.max_token_lifetime_s was accepted (known defect: exp - iat overflow)", detail);
    if (const auto nbf = number(claims, "nbf"); nbf && *nbf > now + leeway_s + slack_s)
        broken("a client JWT not yet valid (nbf) was accepted", detail);
    if (assertion && *exp > now + 300 + leeway_s + slack_s)
        broken("a client assertion more than 5 minutes from expiry was accepted", detail);
}

void authenticate_bearer(const std::string& token, const json::object* claims)
{
    const auto result = run(h->authn->authenticate("Bearer " + token, service_path));
    if (result.has_value() && claims)
    {
        const auto* iss = claims->if_contains("iss");
        const bool access_token = iss && iss->is_string() && iss->get_string() == issuer;
        check_accepted(*claims, !access_token, false, "Bearer");
    }
}

std::string assertion_form(const std::string& token)
{
    return "grant_type=client_credentials"
           "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
           "&client_assertion=" +
           token + "&scope=system%2FCoverage.read";
}

void token_endpoint(const std::string& form, const json::object* claims)
{
    const auto answer = run(h->authn->token("application/x-www-form-urlencoded", form));
    if (answer.status != 200)
        return;
    if (!answer.body.contains("access_token"))
        broken("a token answer without access_token", json::serialize(answer.body));
    if (claims)
        check_accepted(*claims, true, true, "token endpoint");
}

void raw_token(std::string_view token)
{
    // Strict base64url: whatever decodes encodes back to the same text.
    std::string_view rest = token;
    for (;;)
    {
        const auto dot = rest.find('.');
        const auto segment = rest.substr(0, dot);
        if (const auto bytes = crd::auth::base64url_decode(segment); bytes && crd::auth::base64url_encode(*bytes) != segment)
            broken("base64url_decode accepted a non-canonical segment", segment);
        if (dot == std::string_view::npos)
            break;
        rest.remove_prefix(dot + 1);
    }
    (void)crd::auth::base64_decode(token);

    const auto jws = crd::auth::parse_compact(token);
    if (jws)
    {
        if (token.substr(0, token.rfind('.')) != jws->signing_input)
            broken("parse_compact's signing input is not the token's first two segments", token);
        const auto* alg = jws->header.if_contains("alg");
        if (alg && alg->is_string())
            (void)crd::auth::verify_signature(alg->get_string(), h->verifier, jws->signing_input, jws->signature);
    }
    authenticate_bearer(std::string(token), jws ? &jws->payload : nullptr);
}

void signed_claims(std::string_view input, bool relative)
{
    const auto newline = input.find('\n');
    if (newline == std::string_view::npos)
        return;
    boost::system::error_code ec;
    json::value header = json::parse(input.substr(0, newline), ec);
    if (ec || !header.is_object())
        return;
    json::value claims = json::parse(input.substr(newline + 1), ec);
    if (ec || !claims.is_object() || has_nonfinite(header) || has_nonfinite(claims))
        return;  // non-finite numbers are the json_document target's business
    if (auto* kid = header.get_object().if_contains("kid"); kid && *kid == "@own")
        *kid = h->own_kid;
    if (relative)
    {
        const auto now = static_cast<std::int64_t>(now_s());
        for (const char* name : {"exp", "iat", "nbf"})
            if (auto* v = claims.get_object().if_contains(name); v && v->is_int64())
            {
                const auto n = v->get_int64();
                if (n >= -(std::int64_t{1} << 40) && n <= (std::int64_t{1} << 40))
                    *v = n + now;
            }
    }
    const std::string token = crd::auth::sign_compact(h->key, header.get_object(), claims.get_object());
    // (parse_compact may refuse what we signed: deeper than its depth limit, or a number it refuses.)
    if (const auto back = crd::auth::parse_compact(token); back && !crd::fuzz::same_document(back->payload, claims))
        broken("a token signed by sign_compact parses to other claims", token);
    authenticate_bearer(token, &claims.get_object());
    token_endpoint(assertion_form(token), &claims.get_object());
}

void jwk(std::string_view input)
{
    boost::system::error_code ec;
    const json::value v = json::parse(input, ec);
    if (ec || !v.is_object())
        return;
    std::string error;
    const auto key = crd::auth::parse_jwk(v.get_object(), error);
    if (!key && error.empty())
        broken("parse_jwk refused a key without saying why", input);
    if (key && !key->key)
        broken("parse_jwk returned a key without an OpenSSL key", input);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    crd::log::set_level(crd::core::log_level::error);
    h = new harness;
    char path[] = "/tmp/crd-fuzz-key-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0 || ::write(fd, test_key_pem, std::char_traits<char>::length(test_key_pem)) < 0 || ::close(fd) != 0)
        broken("cannot write the test key");
    h->key = crd::auth::load_signing_key(path);
    h->own_kid = h->key.kid;
    h->key.kid = "k1";
    h->verifier = h->key.verifier();
    json::value doc = {
        {"public_base_url", issuer},
        {"auth",
            {
                {"required", true},
                {"signing_key", path},
                {"clock_leeway_s", static_cast<std::int64_t>(leeway_s)},
                {"max_token_lifetime_s", static_cast<std::int64_t>(max_lifetime_s)},
                {"clients", json::array{json::object{
                                {"client_id", "client-1"},
                                {"jwks", {{"keys", json::array{crd::auth::public_jwk(h->key)}}}},
                                {"scope", "system/Coverage.read system/Patient.read"},
                            }}},
            }},
    };
    const crd::core::env_lookup no_environment = [](const char*) -> std::optional<std::string> { return std::nullopt; };
    const auto cfg = crd::core::parse_config(doc, "", no_environment, "");
    h->authn = std::make_unique<crd::auth::authenticator>(cfg);
    ::unlink(path);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const auto input = crd::fuzz::as_text(data + 1, size - 1);
    switch (data[0] % 5)
    {
    case 0: raw_token(input); break;
    case 1: token_endpoint(std::string(input), nullptr); break;
    case 2: signed_claims(input, false); break;
    case 3: signed_claims(input, true); break;
    default: jwk(input); break;
    }
    return 0;
}
