#pragma once
// A scripted FHIR server for prefetch tests: answers GETs by exact target ("/fhir/Patient/1"),
// 404 otherwise, optionally after a delay; records what was asked and with which Authorization.
// Plain HTTP on 127.0.0.1, its own thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace crd::test {

struct fhir_answer
{
    unsigned status = 200;
    std::string body;
    std::string location;  // for redirects
};

struct fhir_request_seen
{
    std::string target;
    std::string authorization;
};

class fake_fhir_server
{
public:
    fake_fhir_server();
    ~fake_fhir_server();

    std::uint16_t port() const noexcept;
    std::string base() const;  // http://127.0.0.1:P/fhir

    void answer(const std::string& target, fhir_answer a);  // target includes /fhir
    void set_delay(std::chrono::milliseconds d);
    std::vector<fhir_request_seen> requests() const;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace crd::test
