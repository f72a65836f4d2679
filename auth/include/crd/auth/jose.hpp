#pragma once
// JOSE primitives on OpenSSL 3: strict base64url, JWKs as OpenSSL key objects, compact JWS
// parsing, verification and signing (RS256/384/512, ES256/384/512; never "none" or HMAC).

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace crd::auth {

// Strict RFC 7515 base64url: the URL-safe alphabet, no padding, no whitespace, no stray bits.
std::optional<std::string> base64url_decode(std::string_view in);
std::string base64url_encode(std::string_view in);
// Standard base64 (RFC 4648 §4) with padding, for HTTP Basic and stored hashes.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

// A parsed public or private key, shared and immutable once built.
using key_ptr = std::shared_ptr<EVP_PKEY>;

enum class key_family
{
    rsa,
    ec_p256,
    ec_p384,
    ec_p521,
};

struct public_key
{
    std::string kid;
    key_family family;
    key_ptr key;
};

// Builds an OpenSSL key from a public JWK (RSA: n, e, at least 2048 bits; EC: crv P-256/P-384/
// P-521, x, y on the curve). Returns nullopt and sets `error` for anything else.
std::optional<public_key> parse_jwk(const boost::json::object& jwk, std::string& error);

// The key family an algorithm needs; nullopt for algorithms we never accept.
std::optional<key_family> family_for_alg(std::string_view alg) noexcept;

struct jws
{
    boost::json::object header;
    boost::json::object payload;
    std::string signing_input;  // base64url(header) "." base64url(payload)
    std::string signature;      // raw bytes (ECDSA: R||S as JOSE defines it)
};

// Splits and decodes a compact JWS; header and payload must be JSON objects. nullopt on any defect.
std::optional<jws> parse_compact(std::string_view token);

// Verifies `signature` over `input` with `alg` (which must fit the key's family).
bool verify_signature(std::string_view alg, const public_key& key, std::string_view input, std::string_view signature);

// A private key of ours for signing access tokens (ES384 for EC P-384, RS384 for RSA).
struct signing_key
{
    std::string alg;
    std::string kid;  // RFC 7638 thumbprint of the public key
    key_family family;
    key_ptr key;
    public_key verifier() const;
};

// Loads a PEM private key (EC P-384 or RSA >= 2048); throws std::runtime_error naming the file.
signing_key load_signing_key(const std::string& pem_path);
// Generates a key: EC P-384 by default (used when auth.signing_key is not configured); RSA 2048
// or another curve for tests and tools.
signing_key generate_signing_key(key_family family = key_family::ec_p384);

// header.payload.signature, signed with `key` (header gets alg, typ JWT and kid).
std::string sign_compact(const signing_key& key, const boost::json::object& payload);
// The same with a header given whole; the signature is still made with the key's own algorithm.
std::string sign_compact(const signing_key& key, const boost::json::object& header, const boost::json::object& payload);

// Test helper and client tooling: a private key's public JWK ({"kty", "kid", ...}).
boost::json::object public_jwk(const signing_key& key);

}  // namespace crd::auth
