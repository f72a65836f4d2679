// crd-bench-tokens: pre-generated CDS Hooks client JWTs for the auth benchmarks, so the load
// generator spends nothing on signing and every request carries a fresh jti.
//
//   crd-bench-tokens --alg ES384|RS384 --count N --aud URL --out DIR [--token-url URL]
//
// Writes DIR/tokens.txt (one "Bearer <jwt>" per line) and DIR/client.json (the auth.clients entry
// with the public key, client_id "bench-<alg>", scope "system/*.read"). With --token-url, also
// DIR/assertion.txt: one SMART Backend Services client assertion (iss = sub = client, aud = that
// URL) to trade at the token endpoint for an access token.

#include <crd/auth/jose.hpp>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

namespace json = boost::json;

int main(int argc, char** argv)
{
    std::string alg = "ES384", aud, out, token_url;
    long count = 0;
    for (int i = 1; i + 1 < argc; i += 2)
    {
        const std::string a = argv[i];
        if (a == "--alg")
            alg = argv[i + 1];
        else if (a == "--count")
            count = std::stol(argv[i + 1]);
        else if (a == "--aud")
            aud = argv[i + 1];
        else if (a == "--out")
            out = argv[i + 1];
        else if (a == "--token-url")
            token_url = argv[i + 1];
    }
    if ((alg != "ES384" && alg != "RS384") || count <= 0 || aud.empty() || out.empty())
    {
        std::cerr << "usage: crd-bench-tokens --alg ES384|RS384 --count N --aud URL --out DIR [--token-url URL]\n";
        return 2;
    }
    auto key = crd::auth::generate_signing_key(alg == "RS384" ? crd::auth::key_family::rsa : crd::auth::key_family::ec_p384);
    const std::string client = "bench-" + alg;
    std::ofstream client_file(out + "/client.json");
    client_file << json::serialize(
        json::object{{"client_id", client}, {"scope", "system/*.read"}, {"jwks", json::object{{"keys", json::array{crd::auth::public_jwk(key)}}}}});
    std::ofstream tokens(out + "/tokens.txt");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (long i = 0; i < count; ++i)
        tokens << "Bearer "
               << crd::auth::sign_compact(key, json::object{{"iss", client}, {"aud", aud}, {"iat", now}, {"exp", now + 290},
                                                   {"jti", alg + "-" + std::to_string(now) + "-" + std::to_string(i)}})
               << "\n";
    if (!token_url.empty())
        std::ofstream(out + "/assertion.txt") << crd::auth::sign_compact(
            key, json::object{
                     {"iss", client}, {"sub", client}, {"aud", token_url}, {"exp", now + 240}, {"jti", alg + "-assertion-" + std::to_string(now)}});
    return 0;
}
