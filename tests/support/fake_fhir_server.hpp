#pragma once
// A scripted FHIR server for prefetch tests: the fake HTTP service answering by exact target
// ("/fhir/Patient/1"), 404 otherwise, optionally after a delay; it records what was asked and with
// which Authorization. Plain HTTP on 127.0.0.1. Set it up from one thread.

#include <crd/testing/fake_http_service.hpp>

#include <chrono>
#include <cstdint>
#include <map>
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
    std::string traceparent;  // W3C Trace Context headers, "" when absent
    std::string tracestate;
};

class fake_fhir_server
{
public:
    fake_fhir_server();

    std::uint16_t port() const noexcept { return service_.port(); }
    std::string base() const { return service_.url("/fhir"); }  // http://127.0.0.1:P/fhir

    void answer(const std::string& target, fhir_answer a);  // target includes /fhir
    void set_delay(std::chrono::milliseconds d);
    std::vector<fhir_request_seen> requests() const;

private:
    void script();  // puts every answer, and the 404 for the rest, on the service with the delay

    std::map<std::string, fhir_answer> answers_;
    std::chrono::milliseconds delay_{0};
    testing::fake_http_service service_;
};

}  // namespace crd::test
