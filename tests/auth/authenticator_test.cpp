// Caller authentication: every accepted shape, and each way a token must be refused, with the
// refusal reason checked (it is what ops see in crd_auth_failures_total).

#include <crd/auth/authenticator.hpp>
#include <crd/auth/auth_metrics.hpp>
#include <crd/auth/jose.hpp>
#include <crd/core/operation_outcome.hpp>
#include <crd/core/trace_context.hpp>

#include "fake_decision_service.hpp"
#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <limits>
#include <optional>

#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <chrono>

namespace json = boost::json;
using namespace crd;
using auth::auth_failure;
using auth::key_family;

namespace {

constexpr const char* base = "https://crd.example-payer.org";
const std::string sign_aud = std::string(base) + "/cds-services/order-sign-crd";

std::int64_t now_s()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

auth::signing_key with_kid(auth::signing_key k, std::string kid)
{
    k.kid = std::move(kid);
    return k;
}

json::object jwks_of(std::initializer_list<const auth::signing_key*> keys)
{
    json::array list;
    for (const auto* k : keys)
        list.push_back(auth::public_jwk(*k));
    return json::object{{"keys", std::move(list)}};
}

struct keys
{
    auth::signing_key rs = with_kid(auth::generate_signing_key(key_family::rsa), "rs-1");
    auth::signing_key es = with_kid(auth::generate_signing_key(key_family::ec_p384), "es-1");
    auth::signing_key jku = with_kid(auth::generate_signing_key(key_family::ec_p384), "jku-1");
    auth::signing_key other_es = with_kid(auth::generate_signing_key(key_family::ec_p384), "es-1");  // same kid, other key
};

const keys& test_keys()
{
    static const keys k;
    return k;
}

std::string pem_of_public(const auth::signing_key& k)
{
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, k.key.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

// An authenticator with four clients: inline RSA, inline EC (also a SMART client), JWKS by URL, Basic.
struct fixture
{
    test::fake_decision_service jwks_server;  // serves the JWK Set of "ehr-jku"
    core::config cfg;
    std::unique_ptr<auth::authenticator> authn;
    net::io_context ioc;

    fixture()
    {
        const auto& k = test_keys();
        jwks_server.set_body(json::serialize(jwks_of({&k.jku})));
        json::value doc = {
            {"public_base_url", base},
            {"auth",
                {
                    {"required", true},
                    {"clients",
                        json::array{
                            json::object{{"client_id", "ehr-rs"}, {"jwks", jwks_of({&k.rs})}},
                            json::object{{"client_id", "ehr-es"}, {"jwks", jwks_of({&k.es})}, {"scope", "system/Patient.read system/Coverage.read"}},
                            json::object{{"client_id", "ehr-jku"}, {"jwks_url", jwks_server.url("/jwks.json")}},
                            json::object{{"client_id", "tool"}, {"secret_hash", auth::hash_secret("s3cret-for-tests")}},
                        }},
                }},
        };
        auto no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
        cfg = core::parse_config(doc, "", no_env, "");
        authn = std::make_unique<auth::authenticator>(cfg);
    }

    auth::auth_result check(const std::string& authorization, const std::string& path = "/cds-services/order-sign-crd")
    {
        return test::run_coro(ioc, authn->authenticate(authorization, path));
    }
    auth::token_answer token(const std::string& form, const std::string& type = "application/x-www-form-urlencoded")
    {
        return test::run_coro(ioc, authn->token(type, form));
    }
};

json::object claims(const std::string& iss, const json::value& aud = json::value(sign_aud))
{
    static int n = 0;
    const auto now = now_s();
    return json::object{
        {"iss", iss}, {"aud", aud}, {"iat", now}, {"exp", now + 300}, {"jti", "jti-" + std::to_string(++n) + "-" + std::to_string(now)}};
}

json::object header_for(const auth::signing_key& k)
{
    return json::object{{"alg", k.alg}, {"typ", "JWT"}, {"kid", k.kid}};
}

std::string bearer(const std::string& token)
{
    return "Bearer " + token;
}

void expect_refused(const auth::auth_result& r, auth_failure reason)
{
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(auth::name_of(r.error().reason) == auth::name_of(reason));
}

void expect_identity(const auth::auth_result& r, const std::string& client)
{
    if (r.has_error())
        BOOST_FAIL("refused: " << auth::name_of(r.error().reason) << ": " << r.error().detail);
    BOOST_TEST(r.value().client_id == client);
}

std::string form_encode(const std::string& s)
{
    std::string out;
    for (char ch : s)
    {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            out += static_cast<char>(c);
        else
        {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

std::string token_form(const std::string& assertion, const std::string& scope = "system/Patient.read",
    const std::string& grant = "client_credentials", const std::string& type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
{
    return "grant_type=" + form_encode(grant) + "&client_assertion_type=" + form_encode(type) + "&client_assertion=" + form_encode(assertion) +
           "&scope=" + form_encode(scope);
}

std::string assertion(const auth::signing_key& k, std::int64_t exp_in = 240, std::string aud = std::string(base) + "/auth/token")
{
    static int n = 0;
    const auto now = now_s();
    return auth::sign_compact(k, header_for(k),
        json::object{{"iss", "ehr-es"}, {"sub", "ehr-es"}, {"aud", aud}, {"exp", now + exp_in},
            {"jti", "a-" + std::to_string(++n) + "-" + std::to_string(now)}});
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(authenticator_, fixture)

BOOST_AUTO_TEST_CASE(base64url_is_strict)
{
    BOOST_TEST(*auth::base64url_decode("aGk") == "hi");
    BOOST_TEST(!auth::base64url_decode("aGk="));  // padding
    BOOST_TEST(!auth::base64url_decode("aG+k"));  // standard alphabet
    BOOST_TEST(!auth::base64url_decode("aGl"));   // non-zero leftover bits
    BOOST_TEST(!auth::base64url_decode("a"));
    BOOST_TEST(auth::base64url_encode("hi?>") == "aGk_Pg");
}

BOOST_AUTO_TEST_CASE(rs384_and_es384_tokens_are_accepted)
{
    const auto& k = test_keys();
    expect_identity(check(bearer(auth::sign_compact(k.rs, header_for(k.rs), claims("ehr-rs")))), "ehr-rs");
    auto c = claims("ehr-es");
    c["tenant"] = "clinic-7";
    auto r = check(bearer(auth::sign_compact(k.es, header_for(k.es), c)));
    expect_identity(r, "ehr-es");
    BOOST_TEST(r.value().tenant == "clinic-7");
    BOOST_TEST(r.value().jti == std::string(c["jti"].as_string()));
}

BOOST_AUTO_TEST_CASE(keys_are_fetched_from_the_registered_jku)
{
    const auto& k = test_keys();
    auto h = header_for(k.jku);
    h["jku"] = jwks_server.url("/jwks.json");
    expect_identity(check(bearer(auth::sign_compact(k.jku, h, claims("ehr-jku")))), "ehr-jku");
    // Without jku the registered jwks_url is used (and cached: no second fetch).
    expect_identity(check(bearer(auth::sign_compact(k.jku, header_for(k.jku), claims("ehr-jku")))), "ehr-jku");
    BOOST_TEST(jwks_server.requests() == 1U);
}

BOOST_AUTO_TEST_CASE(the_jwks_fetch_is_a_trace_of_its_own)
{
    // W3C Trace Context: the key host's log can be joined to crd-server's jwks_fetch_failed line.
    const auto& k = test_keys();
    expect_identity(check(bearer(auth::sign_compact(k.jku, header_for(k.jku), claims("ehr-jku")))), "ehr-jku");
    const auto sent = core::parse_traceparent(jwks_server.last_header("traceparent"));
    BOOST_TEST_REQUIRE(sent.has_value());
    BOOST_TEST(sent->valid());
    BOOST_TEST(jwks_server.last_header("tracestate").empty());
}

BOOST_AUTO_TEST_CASE(aud_may_be_an_array_containing_the_endpoint)
{
    const auto& k = test_keys();
    expect_identity(
        check(bearer(auth::sign_compact(k.es, header_for(k.es), claims("ehr-es", json::array{"https://other.example", sign_aud})))), "ehr-es");
    // Discovery's aud is the discovery URL.
    expect_identity(check(bearer(auth::sign_compact(k.es, header_for(k.es), claims("ehr-es", json::value(std::string(base) + "/cds-services")))),
                        "/cds-services"),
        "ehr-es");
}

BOOST_AUTO_TEST_CASE(missing_header_is_refused_without_invalid_token)
{
    auto r = check("");
    expect_refused(r, auth_failure::missing);
    BOOST_TEST(!r.error().token_given);
}

BOOST_AUTO_TEST_CASE(garbage_is_refused)
{
    expect_refused(check("Bearer not-a-jwt"), auth_failure::malformed);
    expect_refused(check("Bearer a.b.c"), auth_failure::malformed);
    expect_refused(check("Token abc"), auth_failure::malformed);
    expect_refused(check("Bearer "), auth_failure::malformed);
}

BOOST_AUTO_TEST_CASE(alg_none_is_refused)
{
    const auto c = claims("ehr-es");
    const std::string token =
        auth::base64url_encode(R"({"alg":"none","typ":"JWT","kid":"es-1"})") + "." + auth::base64url_encode(json::serialize(c)) + ".";
    expect_refused(check(bearer(token)), auth_failure::bad_algorithm);
}

BOOST_AUTO_TEST_CASE(hmac_is_refused_even_keyed_with_the_public_key_pem)
{
    const auto& k = test_keys();
    const std::string input =
        auth::base64url_encode(R"({"alg":"HS384","typ":"JWT","kid":"rs-1"})") + "." + auth::base64url_encode(json::serialize(claims("ehr-rs")));
    const auto pem = pem_of_public(k.rs);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha384(), pem.data(), static_cast<int>(pem.size()), reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    const std::string token = input + "." + auth::base64url_encode(std::string(reinterpret_cast<char*>(mac), len));
    expect_refused(check(bearer(token)), auth_failure::bad_algorithm);
}

BOOST_AUTO_TEST_CASE(wrong_audience_other_service_is_refused)
{
    const auto& k = test_keys();
    expect_refused(check(bearer(auth::sign_compact(
                       k.es, header_for(k.es), claims("ehr-es", json::value(std::string(base) + "/cds-services/order-select-crd"))))),
        auth_failure::bad_audience);
}

BOOST_AUTO_TEST_CASE(wrong_audience_other_host_is_refused)
{
    const auto& k = test_keys();
    expect_refused(
        check(bearer(auth::sign_compact(k.es, header_for(k.es), claims("ehr-es", json::value("https://evil.example/cds-services/order-sign-crd"))))),
        auth_failure::bad_audience);
}

BOOST_AUTO_TEST_CASE(expired_is_refused)
{
    const auto& k = test_keys();
    auto c = claims("ehr-es");
    c["iat"] = now_s() - 400;
    c["exp"] = now_s() - 100;  // beyond the 60 s leeway
    expect_refused(check(bearer(auth::sign_compact(k.es, header_for(k.es), c))), auth_failure::expired);
}

BOOST_AUTO_TEST_CASE(lifetime_too_long_is_refused)
{
    const auto& k = test_keys();
    auto c = claims("ehr-es");
    c["exp"] = now_s() + 3600;
    expect_refused(check(bearer(auth::sign_compact(k.es, header_for(k.es), c))), auth_failure::lifetime_too_long);
}

BOOST_AUTO_TEST_CASE(iat_in_the_future_beyond_leeway_is_refused)
{
    const auto& k = test_keys();
    auto c = claims("ehr-es");
    c["iat"] = now_s() + 120;
    c["exp"] = now_s() + 300;
    expect_refused(check(bearer(auth::sign_compact(k.es, header_for(k.es), c))), auth_failure::not_yet_valid);
}

// NumericDate claims before the signature check: anyone who knows a client id reaches this code.
// Each shape below was undefined behaviour (double -> int64 out of range) or overflowed
// (exp + leeway, exp - iat) and one bypassed max_token_lifetime_s; all are malformed now.
BOOST_AUTO_TEST_CASE(time_claims_outside_a_sane_integer_range_are_malformed)
{
    const auto& k = test_keys();
    const auto now = now_s();
    const std::vector<std::pair<const char*, json::value>> bad{
        {"exp", json::value(1e300)},
        {"exp", json::value(std::numeric_limits<std::int64_t>::max())},
        {"exp", json::value(std::numeric_limits<std::uint64_t>::max())},
        {"exp", json::value(static_cast<double>(now) + 100.5)},
        {"exp", json::value(-5)},
        {"exp", json::value(253402300800LL)},  // 10000-01-01T00:00:00Z
        {"exp", json::value("1700000000")},
        {"iat", json::value(std::numeric_limits<std::int64_t>::min())},
        {"iat", json::value(-1e300)},
        {"nbf", json::value(1e300)},
        {"nbf", json::value("soon")},
    };
    for (const auto& [claim, value] : bad)
    {
        BOOST_TEST_CONTEXT(claim << " = " << json::serialize(value))
        {
            auto c = claims("ehr-es");
            c[claim] = value;
            expect_refused(check(bearer(auth::sign_compact(k.es, header_for(k.es), c))), auth_failure::malformed);
        }
    }
    // A signed token ten years long with iat at INT64_MIN was accepted: exp - iat wrapped.
    auto c = claims("ehr-es");
    c["exp"] = now + 10LL * 365 * 24 * 3600;
    c["iat"] = std::numeric_limits<std::int64_t>::min();
    const auto r = check(bearer(auth::sign_compact(k.es, header_for(k.es), c)));
    BOOST_TEST(r.has_error());
    // Whole seconds as a JSON double (some libraries write 1.7e9) are still a NumericDate.
    auto d = claims("ehr-es");
    d["iat"] = static_cast<double>(now);
    d["exp"] = static_cast<double>(now + 200);
    expect_identity(check(bearer(auth::sign_compact(k.es, header_for(k.es), d))), "ehr-es");
}

BOOST_AUTO_TEST_CASE(jku_is_compared_in_canonical_form)
{
    // Registered as http://127.0.0.1:PORT/jwks.json; sent with an upper-case scheme: same URL.
    const auto& k = test_keys();
    auto h = header_for(k.jku);
    std::string jku = jwks_server.url("/jwks.json");
    jku.replace(0, 4, "HTTP");
    h["jku"] = jku;
    expect_identity(check(bearer(auth::sign_compact(k.jku, h, claims("ehr-jku")))), "ehr-jku");
}

BOOST_AUTO_TEST_CASE(unknown_issuer_is_refused)
{
    const auto& k = test_keys();
    expect_refused(check(bearer(auth::sign_compact(k.es, header_for(k.es), claims("stranger")))), auth_failure::unknown_client);
}

BOOST_AUTO_TEST_CASE(unknown_kid_is_refused)
{
    const auto& k = test_keys();
    auto h = header_for(k.es);
    h["kid"] = "nope";
    expect_refused(check(bearer(auth::sign_compact(k.es, h, claims("ehr-es")))), auth_failure::unknown_key);
}

BOOST_AUTO_TEST_CASE(right_kid_with_another_key_is_refused)
{
    const auto& k = test_keys();
    expect_refused(check(bearer(auth::sign_compact(k.other_es, header_for(k.other_es), claims("ehr-es")))), auth_failure::bad_signature);
}

BOOST_AUTO_TEST_CASE(typ_other_than_jwt_is_refused)
{
    const auto& k = test_keys();
    auto h = header_for(k.es);
    h["typ"] = "at+jwt";
    expect_refused(check(bearer(auth::sign_compact(k.es, h, claims("ehr-es")))), auth_failure::malformed);
}

BOOST_AUTO_TEST_CASE(alg_not_fitting_the_key_type_is_refused)
{
    const auto& k = test_keys();
    auto h = header_for(k.es);
    h["alg"] = "RS384";  // the kid names an EC key
    expect_refused(check(bearer(auth::sign_compact(k.es, h, claims("ehr-es")))), auth_failure::bad_algorithm);
}

BOOST_AUTO_TEST_CASE(tampered_payload_is_refused)
{
    const auto& k = test_keys();
    const auto token = auth::sign_compact(k.rs, header_for(k.rs), claims("ehr-rs"));
    const auto d1 = token.find('.');
    const auto d2 = token.rfind('.');
    auto c = claims("ehr-rs");
    c["tenant"] = "someone-else";
    const auto forged = token.substr(0, d1 + 1) + auth::base64url_encode(json::serialize(c)) + token.substr(d2);
    expect_refused(check(bearer(forged)), auth_failure::bad_signature);
}

BOOST_AUTO_TEST_CASE(each_required_claim_missing_is_refused)
{
    const auto& k = test_keys();
    for (const char* claim : {"jti", "exp", "iat", "iss", "aud"})
    {
        BOOST_TEST_CONTEXT(claim)
        {
            auto c = claims("ehr-es");
            c.erase(claim);
            auto r = check(bearer(auth::sign_compact(k.es, header_for(k.es), c)));
            BOOST_TEST_REQUIRE(r.has_error());
            const auto reason = r.error().reason;
            BOOST_TEST((reason == (std::string_view(claim) == "iss" ? auth_failure::unknown_client : auth_failure::malformed)));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_replayed_jti_is_refused)
{
    const auto& k = test_keys();
    const auto token = bearer(auth::sign_compact(k.es, header_for(k.es), claims("ehr-es")));
    expect_identity(check(token), "ehr-es");
    expect_refused(check(token), auth_failure::replayed);
}

BOOST_AUTO_TEST_CASE(an_unregistered_jku_is_refused_and_never_fetched)
{
    const auto& k = test_keys();
    auto h = header_for(k.jku);
    h["jku"] = "https://attacker.example/jwks.json";
    expect_refused(check(bearer(auth::sign_compact(k.jku, h, claims("ehr-jku")))), auth_failure::bad_jku);
    // Another client's registered URL is not this client's either.
    auto h2 = header_for(k.es);
    h2["jku"] = jwks_server.url("/jwks.json");
    expect_refused(check(bearer(auth::sign_compact(k.es, h2, claims("ehr-es")))), auth_failure::bad_jku);
}

BOOST_AUTO_TEST_CASE(basic_is_refused_unless_enabled)
{
    expect_refused(check("Basic " + auth::base64_encode("tool:s3cret-for-tests")), auth_failure::malformed);
}

BOOST_AUTO_TEST_CASE(smart_configuration_describes_the_token_endpoint)
{
    auto c = authn->smart_configuration();
    BOOST_TEST(c.at("token_endpoint").as_string() == std::string(base) + "/auth/token");
    BOOST_TEST(c.at("grant_types_supported").as_array().at(0).as_string() == "client_credentials");
    BOOST_TEST(c.at("token_endpoint_auth_methods_supported").as_array().at(0).as_string() == "private_key_jwt");
    BOOST_TEST(c.at("capabilities").as_array().at(0).as_string() == "client-confidential-asymmetric");
    BOOST_TEST(c.at("scopes_supported").as_array().size() == 2U);
}

BOOST_AUTO_TEST_CASE(a_smart_access_token_is_issued_and_accepted_on_a_hook)
{
    const auto& k = test_keys();
    auto answer = token(token_form(assertion(k.es)));
    BOOST_TEST_REQUIRE(answer.status == 200U, json::serialize(answer.body));
    BOOST_TEST(answer.body.at("token_type").as_string() == "bearer");
    BOOST_TEST(answer.body.at("expires_in").as_int64() <= 300);
    BOOST_TEST(answer.body.at("scope").as_string() == "system/Patient.read");
    const std::string access = std::string(answer.body.at("access_token").as_string());
    expect_identity(check(bearer(access)), "ehr-es");
    expect_identity(check(bearer(access)), "ehr-es");  // reusable until it expires (now from the cache)

    // Altered access tokens are refused: payload (sub changed) or signature.
    const auto d1 = access.find('.');
    const auto d2 = access.rfind('.');
    auto payload = json::parse(*auth::base64url_decode(access.substr(d1 + 1, d2 - d1 - 1))).as_object();
    payload["sub"] = "ehr-rs";
    expect_refused(
        check(bearer(access.substr(0, d1 + 1) + auth::base64url_encode(json::serialize(payload)) + access.substr(d2))), auth_failure::bad_signature);
    auto sig = *auth::base64url_decode(access.substr(d2 + 1));
    sig[5] = static_cast<char>(sig[5] ^ 1);
    expect_refused(check(bearer(access.substr(0, d2 + 1) + auth::base64url_encode(sig))), auth_failure::bad_signature);
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_a_bad_grant_type)
{
    auto a = token(token_form(assertion(test_keys().es), "system/Patient.read", "password"));
    BOOST_TEST(a.status == 400U);
    BOOST_TEST(a.body.at("error").as_string() == "unsupported_grant_type");
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_a_bad_assertion_type)
{
    auto a = token(token_form(assertion(test_keys().es), "system/Patient.read", "client_credentials", "not_an_assertion_type"));
    BOOST_TEST(a.status == 400U);
    BOOST_TEST(a.body.at("error").as_string() == "invalid_client");
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_an_expired_assertion)
{
    auto a = token(token_form(assertion(test_keys().es, -120)));
    BOOST_TEST(a.status == 400U);
    BOOST_TEST(a.body.at("error").as_string() == "invalid_client");
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_an_assertion_too_far_ahead)
{
    auto a = token(token_form(assertion(test_keys().es, 900)));
    BOOST_TEST(a.status == 400U);
    BOOST_TEST(a.body.at("error").as_string() == "invalid_client");
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_a_misaddressed_assertion)
{
    auto a = token(token_form(assertion(test_keys().es, 240, std::string(base) + "/cds-services")));
    BOOST_TEST(a.status == 400U);
    BOOST_TEST(a.body.at("error").as_string() == "invalid_client");
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_a_replayed_assertion)
{
    const auto form = token_form(assertion(test_keys().es));
    BOOST_TEST(token(form).status == 200U);
    auto again = token(form);
    BOOST_TEST(again.status == 400U);
    BOOST_TEST(again.body.at("error").as_string() == "invalid_client");
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_scope_beyond_registration)
{
    auto a = token(token_form(assertion(test_keys().es), "system/Patient.read system/*.write"));
    BOOST_TEST(a.status == 400U);
    BOOST_TEST(a.body.at("error").as_string() == "invalid_scope");
}

BOOST_AUTO_TEST_CASE(token_endpoint_refuses_malformed_requests)
{
    auto wrong_type = token(token_form(assertion(test_keys().es)), "application/json");
    BOOST_TEST(wrong_type.status == 400U);
    BOOST_TEST(wrong_type.body.at("error").as_string() == "invalid_request");
    auto twice = token("grant_type=client_credentials&grant_type=client_credentials");
    BOOST_TEST(twice.body.at("error").as_string() == "invalid_request");
    auto missing = token("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer");
    BOOST_TEST(missing.body.at("error").as_string() == "invalid_request");
}

BOOST_AUTO_TEST_CASE(secret_hashes_verify_only_the_right_secret)
{
    const auto h = auth::hash_secret("correct horse");
    BOOST_TEST(h.rfind("pbkdf2-sha256$", 0) == 0U);
    BOOST_TEST(h.find("correct horse") == std::string::npos);
    BOOST_TEST(auth::secret_matches("correct horse", h));
    BOOST_TEST(!auth::secret_matches("correct horsE", h));
    BOOST_TEST(!auth::secret_matches("correct horse", "plaintext"));
}

BOOST_AUTO_TEST_CASE(bad_registrations_are_refused_naming_the_key)
{
    auto no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
    json::value doc = {{"auth",
        {{"required", true},
            {"clients", json::array{
                            json::object{{"client_id", "x"},
                                {"jwks", json::object{{"keys", json::array{json::object{{"kty", "oct"}, {"kid", "k"}, {"k", "c2VjcmV0"}}}}}}},
                        }}}}};
    auto bad = core::parse_config(doc, "", no_env, "");
    try
    {
        auth::authenticator a(bad);
        BOOST_FAIL("a symmetric key must be refused");
    }
    catch (const std::exception& e)
    {
        BOOST_TEST(std::string(e.what()).find("auth.clients[0].jwks.keys[0]") != std::string::npos, e.what());
    }
    json::value remote = {
        {"auth", {{"required", true}, {"clients", json::array{
                                                      json::object{{"client_id", "x"}, {"jwks_url", "http://keys.example.org/jwks.json"}},
                                                  }}}}};
    auto plain = core::parse_config(remote, "", no_env, "");
    BOOST_CHECK_THROW(auth::authenticator a(plain), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

// HTTP Basic for internal tools: one client, "tool", whose secret is "s3cret".
namespace {

struct basic_fixture
{
    basic_fixture()
    {
        auto no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
        json::value doc = {{"auth", {{"required", true}, {"allow_basic", true},
                                        {"clients", json::array{
                                                        json::object{{"client_id", "tool"}, {"secret_hash", auth::hash_secret("s3cret")}},
                                                    }}}}};
        authn = std::make_unique<auth::authenticator>(core::parse_config(doc, "", no_env, ""));
    }
    std::unique_ptr<auth::authenticator> authn;
    net::io_context ioc;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(basic_auth_)

BOOST_AUTO_TEST_CASE(basic_credentials_when_enabled)
{
    basic_fixture f;
    auto& a = *f.authn;
    auto& ioc = f.ioc;
    expect_identity(test::run_coro(ioc, a.authenticate("Basic " + auth::base64_encode("tool:s3cret"), "/cds-services")), "tool");
    expect_refused(test::run_coro(ioc, a.authenticate("Basic " + auth::base64_encode("tool:wrong"), "/cds-services")), auth_failure::bad_secret);
    expect_refused(
        test::run_coro(ioc, a.authenticate("Basic " + auth::base64_encode("nobody:s3cret"), "/cds-services")), auth_failure::unknown_client);
    expect_refused(test::run_coro(ioc, a.authenticate("Basic !!!", "/cds-services")), auth_failure::malformed);
}

BOOST_AUTO_TEST_CASE(one_source_cannot_take_every_basic_slot)
{
    // 60 bogus attempts from one address used to fill the one global queue, so a legitimate
    // uncached client was refused. Now that source gets half the slots and the client its check.
    basic_fixture f;
    auto& a = *f.authn;
    auto& ioc = f.ioc;
    std::vector<std::string> headers;
    for (int i = 0; i < 60; ++i)
        headers.push_back("Basic " + auth::base64_encode("tool:bogus-" + std::to_string(i)));
    const std::string good = "Basic " + auth::base64_encode("tool:s3cret");
    std::size_t busy = 0, bad_secret = 0;
    std::optional<auth::auth_result> legitimate;
    for (const auto& header : headers)
        net::co_spawn(ioc, a.authenticate(header, "/cds-services", "198.51.100.7"), [&](std::exception_ptr e, auth::auth_result r) {
            BOOST_TEST(!e);
            BOOST_TEST_REQUIRE(r.has_error());
            (r.error().reason == auth_failure::busy ? busy : bad_secret) += 1;
        });
    net::co_spawn(ioc, a.authenticate(good, "/cds-services", "203.0.113.9"), [&](std::exception_ptr e, auth::auth_result r) {
        BOOST_TEST(!e);
        legitimate = std::move(r);
    });
    ioc.run();
    BOOST_TEST(bad_secret == 8U);  // max_basic_checks_in_flight / 2
    BOOST_TEST(busy == 52U);
    BOOST_TEST_REQUIRE(legitimate.has_value());
    expect_identity(*legitimate, "tool");
}

BOOST_AUTO_TEST_CASE(basic_checks_run_off_the_serving_thread_and_are_bounded)
{
    basic_fixture f;
    auto& a = *f.authn;
    auto& ioc = f.ioc;
    // 20 wrong secrets at once on one serving thread: 16 are hashed on the hashing thread while
    // the serving thread goes on, the 4 beyond the bound are refused at once (so they finish first).
    std::vector<auth::auth_result> results;
    std::vector<std::string> headers;  // authenticate() views its argument: keep each alive
    for (int i = 0; i < 20; ++i)
        headers.push_back("Basic " + auth::base64_encode("tool:wrong-" + std::to_string(i)));
    // From four sources, five each: under the per-source bound, so the overall bound of 16 acts.
    const std::array<std::string, 4> sources{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"};
    for (std::size_t i = 0; i < headers.size(); ++i)
        net::co_spawn(ioc, a.authenticate(headers[i], "/cds-services", sources[i % sources.size()]), [&](std::exception_ptr e, auth::auth_result r) {
            BOOST_TEST(!e);
            results.push_back(std::move(r));
        });
    ioc.run();
    BOOST_TEST_REQUIRE(results.size() == 20U);
    for (std::size_t i = 0; i < results.size(); ++i)
        expect_refused(results[i], i < 4 ? auth_failure::busy : auth_failure::bad_secret);

    // A right secret is verified once, then recalled; a wrong one never is.
    expect_identity(test::run_coro(ioc, a.authenticate("Basic " + auth::base64_encode("tool:s3cret"), "/cds-services")), "tool");
    expect_identity(test::run_coro(ioc, a.authenticate("Basic " + auth::base64_encode("tool:s3cret"), "/cds-services")), "tool");
    expect_refused(test::run_coro(ioc, a.authenticate("Basic " + auth::base64_encode("tool:s3cret "), "/cds-services")), auth_failure::bad_secret);
}

BOOST_AUTO_TEST_CASE(a_refusal_is_an_auth_error_code_answered_401_or_503_in_the_servers_words)
{
    const auto refused = core::to_problem({auth_failure::bad_audience});
    BOOST_TEST(refused.status == 401U);
    BOOST_TEST(refused.code == "security");
    BOOST_TEST(refused.diagnostics == auth::explain(auth_failure::bad_audience));
    // Saturated checks are not a verdict on the credentials: retry, do not re-key.
    BOOST_TEST(core::to_problem({auth_failure::busy}).status == 503U);
    // The first enumerator is a failure too: an error_code of value 0 would read as success.
    BOOST_TEST(static_cast<bool>(make_error_code(auth_failure::missing)));
    BOOST_TEST(auth::name_of(auth_failure::keys_unavailable) == "keys_unavailable");
}

BOOST_FIXTURE_TEST_CASE(every_refusal_is_counted_once_by_its_reason, fixture)
{
    auto& failures = auth::auth_metrics::instance().failures;
    const auto missing = failures.value(auth_failure::missing);
    const auto malformed = failures.value(auth_failure::malformed);
    expect_refused(check(""), auth_failure::missing);
    expect_refused(check("Bearer not-a-jwt"), auth_failure::malformed);
    BOOST_TEST(failures.value(auth_failure::missing) == missing + 1);
    BOOST_TEST(failures.value(auth_failure::malformed) == malformed + 1);
}

BOOST_AUTO_TEST_SUITE_END()
