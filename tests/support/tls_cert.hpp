#pragma once
// A throwaway self-signed certificate for "localhost" (EC P-256), written as PEM files, so TLS
// tests need no files from outside the test run.

#include <string>

namespace crd::test {

struct tls_files
{
    std::string certificate;  // PEM; also the CA file clients trust
    std::string private_key;  // PEM
};

// Creates the pair under a fresh temporary directory (once per process).
const tls_files& localhost_certificate();

}  // namespace crd::test
