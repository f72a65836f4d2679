// crd-fake-decision: a stand-in for a payer's decision service, for benchmarks. Answers a CDS
// Hooks request with a fixed CDS Hooks response, and a decisions-protocol request with per-order
// decisions (testing/decision_answers.hpp), after a configurable delay, failing a configurable
// share of calls with 500. One thread, keep-alive: a script on the tests' fake HTTP service
// (testing/), with nothing recorded per request.
//
//   crd-fake-decision --port P [--latency-ms L] [--jitter-ms J] [--error-rate R] [--body FILE] [--fhir 1]
//
// With --fhir 1 it plays the EHR's FHIR server for the prefetch scenarios instead: GET
// .../Patient/{id} and .../Practitioner/{id} answer that resource, .../Coverage?... a searchset
// Bundle with one active Coverage, anything else 404.

#include <crd/testing/decision_answers.hpp>
#include <crd/testing/fake_http_service.hpp>

#include <csignal>
#include <fstream>
#include <iostream>
#include <pthread.h>
#include <string>

namespace {

using crd::testing::http_answer;
using crd::testing::received_request;

struct settings
{
    unsigned short port = 0;
    double latency_ms = 0;
    double jitter_ms = 0;
    double error_rate = 0;
    bool fhir = false;
    std::string body =
        R"({"cards":[{"uuid":"0b7c3f1e-5a2d-4c8e-9f10-3d2e1a0b9c87","summary":"Prior authorization required","indicator":"warning","source":{"label":"Example Health Plan","topic":{"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"coverage-info"}},"links":[{"label":"Submit prior authorization","url":"https://provider.example-health-plan.org/prior-auth","type":"absolute"}]}],"systemActions":[{"type":"update","description":"Coverage information for MedicationRequest/smart-MedicationRequest-103","resource":{"resourceType":"MedicationRequest","id":"smart-MedicationRequest-103","status":"draft","intent":"order","subject":{"reference":"Patient/1288992"},"extension":[{"url":"http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information","extension":[{"url":"coverage","valueReference":{"reference":"Coverage/cov-001"}},{"url":"covered","valueCode":"covered"},{"url":"pa-needed","valueCode":"auth-needed"},{"url":"date","valueDate":"2026-11-22"},{"url":"coverage-assertion-id","valueString":"a1"}]}]}}]})";
};

// A minimal FHIR read/search answer for the resource the target names, under any base path.
http_answer fhir_answer(const received_request& req)
{
    const std::string_view target = req.target;
    auto after = [&](std::string_view type) -> std::string {
        const auto p = target.find("/" + std::string(type) + "/");
        return p == std::string_view::npos ? std::string() : std::string(target.substr(p + type.size() + 2));
    };
    auto found = [](std::string body) { return crd::testing::json_answer(200, std::move(body), "application/fhir+json"); };
    if (auto id = after("Patient"); !id.empty())
        return found(R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"Example"}]})");
    if (auto id = after("Practitioner"); !id.empty())
        return found(R"({"resourceType":"Practitioner","id":")" + id + R"("})");
    if (auto id = after("PractitionerRole"); !id.empty())
        return found(R"({"resourceType":"PractitionerRole","id":")" + id + R"(","practitioner":{"reference":"Practitioner/1"}})");
    if (target.find("/Coverage?") != std::string_view::npos)
        return found(
            R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"cov-bench","status":"active","beneficiary":{"reference":"Patient/bench"},"payor":[{"reference":"Organization/payer"}]}}]})");
    return crd::testing::json_answer(
        404, R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]})", "application/fhir+json");
}

std::chrono::microseconds from_ms(double ms)
{
    return std::chrono::microseconds(static_cast<long>(ms * 1000));
}

}  // namespace

int main(int argc, char** argv)
{
    settings s;
    for (int i = 1; i + 1 < argc; i += 2)
    {
        const std::string a = argv[i];
        const std::string v = argv[i + 1];
        if (a == "--port")
            s.port = static_cast<unsigned short>(std::stoul(v));
        else if (a == "--latency-ms")
            s.latency_ms = std::stod(v);
        else if (a == "--jitter-ms")
            s.jitter_ms = std::stod(v);
        else if (a == "--error-rate")
            s.error_rate = std::stod(v);
        else if (a == "--fhir")
            s.fhir = v == "1";
        else if (a == "--body")
        {
            std::ifstream in(v, std::ios::binary);
            s.body.assign(std::istreambuf_iterator<char>(in), {});
        }
        else
        {
            std::cerr << "usage: crd-fake-decision --port P [--latency-ms L] [--jitter-ms J] [--error-rate R] [--body FILE] [--fhir 1]\n";
            return 2;
        }
    }

    // SIGINT and SIGTERM are blocked before the service's thread starts (it inherits the mask), so
    // only sigwait below receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    crd::testing::service_options options;
    options.port = s.port;
    options.record_requests = false;  // a benchmark's worth of requests would only grow memory
    crd::testing::fake_http_service service(options);

    crd::testing::route_script script;
    if (s.fhir)
        script.answer = fhir_answer;  // injected errors are for the decision service only
    else
    {
        // Both protocols (docs/decision-api.yaml): a DecisionsRequest gets per-order decisions.
        script.answer = [body = s.body](const crd::testing::received_request& r) { return crd::testing::answer_either_protocol(r, body); };
        script.error_rate = s.error_rate;
    }
    script.latency = from_ms(s.latency_ms);
    script.jitter = from_ms(s.jitter_ms);
    service.otherwise(std::move(script));

    int received = 0;
    sigwait(&stop_signals, &received);
}
