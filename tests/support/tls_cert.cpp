#include "tls_cert.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <unistd.h>

namespace crd::test {
namespace {

void add_extension(X509* cert, int nid, const char* value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext)
        throw std::runtime_error("X509V3_EXT_conf_nid failed");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

tls_files make()
{
    char dir_template[] = "/tmp/crd-test-tls-XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    if (!dir)
        throw std::runtime_error("mkdtemp failed");
    tls_files files{std::string(dir) + "/cert.pem", std::string(dir) + "/key.pem"};

    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    add_extension(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_extension(cert, NID_basic_constraints, "critical,CA:TRUE");
    if (!X509_sign(cert, key, EVP_sha256()))
        throw std::runtime_error("X509_sign failed");

    FILE* c = std::fopen(files.certificate.c_str(), "w");
    FILE* k = std::fopen(files.private_key.c_str(), "w");
    if (!c || !k)
        throw std::runtime_error("cannot write the test certificate");
    PEM_write_X509(c, cert);
    PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(c);
    std::fclose(k);
    X509_free(cert);
    EVP_PKEY_free(key);
    return files;
}

}  // namespace

const tls_files& localhost_certificate()
{
    static const tls_files files = make();
    return files;
}

}  // namespace crd::test
