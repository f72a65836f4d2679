#include "fake_fhir_server.hpp"

namespace crd::test {

namespace {

testing::route_script fhir_script(const fhir_answer& a, std::chrono::milliseconds delay)
{
    auto answer = testing::json_answer(a.status, a.body, "application/fhir+json");
    if (!a.location.empty())
        answer.headers.emplace_back("Location", a.location);
    auto s = testing::route_script::fixed(std::move(answer));
    s.latency = delay;
    return s;
}

}  // namespace

fake_fhir_server::fake_fhir_server()
{
    script();
}

void fake_fhir_server::answer(const std::string& target, fhir_answer a)
{
    answers_[target] = std::move(a);
    script();
}

void fake_fhir_server::set_delay(std::chrono::milliseconds d)
{
    delay_ = d;
    script();
}

void fake_fhir_server::script()
{
    for (const auto& [target, a] : answers_)
        service_.on("", target, fhir_script(a, delay_));
    service_.otherwise(fhir_script({404, R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]})", ""}, delay_));
}

std::vector<fhir_request_seen> fake_fhir_server::requests() const
{
    std::vector<fhir_request_seen> out;
    for (const auto& r : service_.requests())
        out.push_back({r.target, r.header("authorization"), r.header("traceparent"), r.header("tracestate")});
    return out;
}

}  // namespace crd::test
