#include <crd/auth/jose.hpp>
#include <crd/core/json_document.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace json = boost::json;

namespace crd::auth {
namespace {

constexpr std::string_view b64url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view b64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::array<int, 256> reverse_table(std::string_view alphabet)
{
    std::array<int, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
    return t;
}

std::optional<std::string> decode(std::string_view in, const std::array<int, 256>& table)
{
    if (in.size() % 4 == 1)
        return std::nullopt;
    std::string out;
    out.reserve(in.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in)
    {
        const int v = table[static_cast<unsigned char>(c)];
        if (v < 0)
            return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8)
        {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    // Leftover bits must be zero: one encoding per byte string (no malleable tokens).
    if (bits > 0 && (acc & ((1U << bits) - 1)) != 0)
        return std::nullopt;
    return out;
}

std::string encode(std::string_view in, std::string_view alphabet, bool pad)
{
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3)
    {
        const auto n =
            (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += alphabet[n & 63];
    }
    if (i + 1 == in.size())
    {
        const auto n = static_cast<unsigned char>(in[i]) << 16;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        if (pad)
            out += "==";
    }
    else if (i + 2 == in.size())
    {
        const auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        if (pad)
            out += '=';
    }
    return out;
}

struct pkey_deleter
{
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
key_ptr wrap(EVP_PKEY* k)
{
    return key_ptr(k, pkey_deleter{});
}

template <class T, void (*Free)(T*)>
struct freer
{
    void operator()(T* p) const noexcept { Free(p); }
};
using bn_ptr = std::unique_ptr<BIGNUM, freer<BIGNUM, BN_free>>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, freer<EVP_MD_CTX, EVP_MD_CTX_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, freer<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using param_bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, freer<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using params_ptr = std::unique_ptr<OSSL_PARAM, freer<OSSL_PARAM, OSSL_PARAM_free>>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, freer<ECDSA_SIG, ECDSA_SIG_free>>;

const char* curve_name(key_family f)
{
    switch (f)
    {
    case key_family::ec_p256: return "prime256v1";
    case key_family::ec_p384: return "secp384r1";
    case key_family::ec_p521: return "secp521r1";
    default: return nullptr;
    }
}

std::size_t coordinate_bytes(key_family f)
{
    switch (f)
    {
    case key_family::ec_p256: return 32;
    case key_family::ec_p384: return 48;
    case key_family::ec_p521: return 66;
    default: return 0;
    }
}

const EVP_MD* digest_for(std::string_view alg)
{
    if (alg.size() != 5)
        return nullptr;
    const auto bits = alg.substr(2);
    if (bits == "256")
        return EVP_sha256();
    if (bits == "384")
        return EVP_sha384();
    if (bits == "512")
        return EVP_sha512();
    return nullptr;
}

std::optional<std::string> string_member(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (!v || !v->is_string())
        return std::nullopt;
    return std::string(v->get_string());
}

std::optional<key_family> family_of(EVP_PKEY* k)
{
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
        return EVP_PKEY_get_bits(k) >= 2048 ? std::optional(key_family::rsa) : std::nullopt;
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
        return std::nullopt;
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
        return std::nullopt;
    const std::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256")
        return key_family::ec_p256;
    if (g == "secp384r1" || g == "P-384")
        return key_family::ec_p384;
    if (g == "secp521r1" || g == "P-521")
        return key_family::ec_p521;
    return std::nullopt;
}

std::string alg_for(key_family f)
{
    switch (f)
    {
    case key_family::rsa: return "RS384";
    case key_family::ec_p256: return "ES256";
    case key_family::ec_p384: return "ES384";
    case key_family::ec_p521: return "ES512";
    }
    return "RS384";
}

std::string bn_bytes(const BIGNUM* bn, std::size_t width = 0)
{
    const auto n = static_cast<std::size_t>(BN_num_bytes(bn));
    std::string out(std::max(n, width), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    return out;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view in)
{
    static const auto table = reverse_table(b64url_alphabet);
    return decode(in, table);
}

std::string base64url_encode(std::string_view in)
{
    return encode(in, b64url_alphabet, false);
}

std::optional<std::string> base64_decode(std::string_view in)
{
    static const auto table = reverse_table(b64_alphabet);
    if (in.size() % 4 != 0)
        return std::nullopt;
    std::size_t pad = 0;
    while (pad < 2 && !in.empty() && in.back() == '=')
    {
        in.remove_suffix(1);
        ++pad;
    }
    return decode(in, table);
}

std::string base64_encode(std::string_view in)
{
    return encode(in, b64_alphabet, true);
}

std::optional<key_family> family_for_alg(std::string_view alg) noexcept
{
    if (alg == "RS256" || alg == "RS384" || alg == "RS512")
        return key_family::rsa;
    if (alg == "ES256")
        return key_family::ec_p256;
    if (alg == "ES384")
        return key_family::ec_p384;
    if (alg == "ES512")
        return key_family::ec_p521;
    return std::nullopt;
}

std::optional<public_key> parse_jwk(const json::object& jwk, std::string& error)
{
    const auto kty = string_member(jwk, "kty");
    const auto kid = string_member(jwk, "kid");
    if (!kty || !kid || kid->empty())
    {
        error = "a JWK needs string kty and kid";
        return std::nullopt;
    }
    if (auto use = string_member(jwk, "use"); use && *use != "sig")
    {
        error = "JWK " + *kid + " is not for signatures (use=" + *use + ")";
        return std::nullopt;
    }
    param_bld_ptr bld(OSSL_PARAM_BLD_new());
    const char* type = nullptr;
    key_family family{};
    bn_ptr n, e;
    std::string point;
    if (*kty == "RSA")
    {
        const auto nb = string_member(jwk, "n");
        const auto eb = string_member(jwk, "e");
        const auto nd = nb ? base64url_decode(*nb) : std::nullopt;
        const auto ed = eb ? base64url_decode(*eb) : std::nullopt;
        if (!nd || !ed || nd->empty() || ed->empty())
        {
            error = "RSA JWK " + *kid + " needs base64url n and e";
            return std::nullopt;
        }
        n.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(nd->data()), static_cast<int>(nd->size()), nullptr));
        e.reset(BN_bin2bn(reinterpret_cast<const unsigned char*>(ed->data()), static_cast<int>(ed->size()), nullptr));
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
        type = "RSA";
        family = key_family::rsa;
    }
    else if (*kty == "EC")
    {
        const auto crv = string_member(jwk, "crv");
        if (crv == "P-256")
            family = key_family::ec_p256;
        else if (crv == "P-384")
            family = key_family::ec_p384;
        else if (crv == "P-521")
            family = key_family::ec_p521;
        else
        {
            error = "EC JWK " + *kid + " has an unsupported crv";
            return std::nullopt;
        }
        const auto xb = string_member(jwk, "x");
        const auto yb = string_member(jwk, "y");
        const auto x = xb ? base64url_decode(*xb) : std::nullopt;
        const auto y = yb ? base64url_decode(*yb) : std::nullopt;
        const auto width = coordinate_bytes(family);
        if (!x || !y || x->size() != width || y->size() != width)
        {
            error = "EC JWK " + *kid + " needs base64url x and y of " + std::to_string(width) + " bytes";
            return std::nullopt;
        }
        point = "\x04" + *x + *y;  // uncompressed SEC1 point
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve_name(family), 0);
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
        type = "EC";
    }
    else
    {
        error = "JWK " + *kid + " has kty '" + *kty + "'; only RSA and EC keys are accepted";
        return std::nullopt;
    }

    params_ptr params(OSSL_PARAM_BLD_to_param(bld.get()));
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 || EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    {
        error = "JWK " + *kid + " is not a valid " + *kty + " public key";
        return std::nullopt;
    }
    auto key = wrap(raw);
    // The point must lie on the curve (invalid-curve attacks); RSA must be at least 2048 bits.
    pkey_ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1 || !family_of(key.get()))
    {
        error = "JWK " + *kid + " failed the public key check (RSA keys need 2048 bits or more)";
        return std::nullopt;
    }
    return public_key{*kid, family, std::move(key)};
}

std::optional<jws> parse_compact(std::string_view token)
{
    const auto d1 = token.find('.');
    if (d1 == std::string_view::npos)
        return std::nullopt;
    const auto d2 = token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
        return std::nullopt;
    const auto h = base64url_decode(token.substr(0, d1));
    const auto p = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    auto s = base64url_decode(token.substr(d2 + 1));
    if (!h || !p || !s)
        return std::nullopt;
    boost::system::error_code ec;
    constexpr std::size_t jose_depth = 16;
    auto hv = core::parse_json(*h, ec, jose_depth);
    if (ec || !hv.is_object())
        return std::nullopt;
    auto pv = core::parse_json(*p, ec, jose_depth);
    if (ec || !pv.is_object())
        return std::nullopt;
    jws out;
    out.header = std::move(hv.get_object());
    out.payload = std::move(pv.get_object());
    out.signing_input = std::string(token.substr(0, d2));
    out.signature = std::move(*s);
    return out;
}

bool verify_signature(std::string_view alg, const public_key& key, std::string_view input, std::string_view signature)
{
    const auto family = family_for_alg(alg);
    const EVP_MD* md = digest_for(alg);
    if (!family || !md || *family != key.family)
        return false;
    std::string der;
    if (key.family != key_family::rsa)
    {
        // JOSE ECDSA signatures are R||S, each the curve's width; OpenSSL wants DER.
        const auto width = coordinate_bytes(key.family);
        if (signature.size() != 2 * width)
            return false;
        ecdsa_sig_ptr sig(ECDSA_SIG_new());
        BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), static_cast<int>(width), nullptr);
        BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data() + width), static_cast<int>(width), nullptr);
        if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1)
        {
            BN_free(r);
            BN_free(s);
            return false;
        }
        unsigned char* buf = nullptr;
        const int len = i2d_ECDSA_SIG(sig.get(), &buf);
        if (len <= 0)
            return false;
        der.assign(reinterpret_cast<char*>(buf), static_cast<std::size_t>(len));
        OPENSSL_free(buf);
        signature = der;
    }
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.key.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
               reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

boost::json::object public_jwk(const signing_key& key)
{
    json::object jwk;
    if (key.family == key_family::rsa)
    {
        BIGNUM* n = nullptr;
        BIGNUM* e = nullptr;
        EVP_PKEY_get_bn_param(key.key.get(), OSSL_PKEY_PARAM_RSA_N, &n);
        EVP_PKEY_get_bn_param(key.key.get(), OSSL_PKEY_PARAM_RSA_E, &e);
        jwk["kty"] = "RSA";
        jwk["e"] = base64url_encode(bn_bytes(e));
        jwk["n"] = base64url_encode(bn_bytes(n));
        BN_free(n);
        BN_free(e);
    }
    else
    {
        BIGNUM* x = nullptr;
        BIGNUM* y = nullptr;
        EVP_PKEY_get_bn_param(key.key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
        EVP_PKEY_get_bn_param(key.key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
        const auto width = coordinate_bytes(key.family);
        jwk["kty"] = "EC";
        jwk["crv"] = key.family == key_family::ec_p256 ? "P-256" : key.family == key_family::ec_p384 ? "P-384" : "P-521";
        jwk["x"] = base64url_encode(bn_bytes(x, width));
        jwk["y"] = base64url_encode(bn_bytes(y, width));
        BN_free(x);
        BN_free(y);
    }
    if (!key.kid.empty())
        jwk["kid"] = key.kid;
    return jwk;
}

namespace {

// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
std::string thumbprint(const signing_key& key)
{
    auto jwk = public_jwk(key);
    std::string canonical;
    if (key.family == key_family::rsa)
        canonical = R"({"e":")" + std::string(jwk["e"].as_string()) + R"(","kty":"RSA","n":")" + std::string(jwk["n"].as_string()) + "\"}";
    else
        canonical = R"({"crv":")" + std::string(jwk["crv"].as_string()) + R"(","kty":"EC","x":")" + std::string(jwk["x"].as_string()) + R"(","y":")" +
                    std::string(jwk["y"].as_string()) + "\"}";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(canonical.data(), canonical.size(), digest, &len, EVP_sha256(), nullptr);
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

signing_key finish(key_ptr key)
{
    const auto family = family_of(key.get());
    if (!family)
        throw std::runtime_error("the key must be RSA (2048 bits or more) or EC P-256/P-384/P-521");
    signing_key k{alg_for(*family), "", *family, std::move(key)};
    k.kid = thumbprint(k);
    return k;
}

}  // namespace

public_key signing_key::verifier() const
{
    return public_key{kid, family, key};
}

signing_key load_signing_key(const std::string& pem_path)
{
    FILE* f = std::fopen(pem_path.c_str(), "r");
    if (!f)
        throw std::runtime_error("auth.signing_key '" + pem_path + "' cannot be opened");
    EVP_PKEY* raw = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!raw)
        throw std::runtime_error("auth.signing_key '" + pem_path + "' is not a PEM private key");
    try
    {
        return finish(wrap(raw));
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error("auth.signing_key '" + pem_path + "': " + e.what());
    }
}

signing_key generate_signing_key(key_family family)
{
    EVP_PKEY* raw = family == key_family::rsa ? EVP_RSA_gen(2048) : EVP_EC_gen(curve_name(family));
    if (!raw)
        throw std::runtime_error("cannot generate a signing key");
    return finish(wrap(raw));
}

std::string sign_compact(const signing_key& key, const json::object& payload)
{
    return sign_compact(key, json::object{{"alg", key.alg}, {"typ", "JWT"}, {"kid", key.kid}}, payload);
}

std::string sign_compact(const signing_key& key, const json::object& header, const json::object& payload)
{
    std::string input = base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(payload));
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    const EVP_MD* md = digest_for(key.alg);
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        throw std::runtime_error("signing failed");
    std::string sig(len, '\0');
    if (EVP_DigestSign(
            ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        throw std::runtime_error("signing failed");
    sig.resize(len);
    if (key.family != key_family::rsa)
    {
        const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
        ecdsa_sig_ptr parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
        if (!parsed)
            throw std::runtime_error("signing failed");
        const auto width = coordinate_bytes(key.family);
        sig = bn_bytes(ECDSA_SIG_get0_r(parsed.get()), width) + bn_bytes(ECDSA_SIG_get0_s(parsed.get()), width);
    }
    return input + "." + base64url_encode(sig);
}

}  // namespace crd::auth
