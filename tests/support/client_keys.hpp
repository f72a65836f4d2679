#pragma once
// Client credentials for JWT tests (crd_test_auth: needs crd::auth).

#include <crd/auth/jose.hpp>

#include <cstdint>
#include <string>

namespace crd::test {

// Seconds since 1970: JWT iat/exp.
std::int64_t unix_now();

// A P-384 signing key made once per process per kid (key generation is slow); for client JWTs.
const auth::signing_key& client_key(const std::string& kid);

}  // namespace crd::test
