#include "fake_decision_service.hpp"

#include "tls_cert.hpp"

#include <crd/testing/decision_answers.hpp>

namespace crd::test {

namespace {

testing::service_options options_for(bool tls)
{
    testing::service_options options;
    if (tls)
    {
        options.tls_certificate_chain = localhost_certificate().certificate;
        options.tls_private_key = localhost_certificate().private_key;
    }
    return options;
}

}  // namespace

fake_decision_service::fake_decision_service(bool tls) : service_(options_for(tls))
{
    script();
}

void fake_decision_service::set_mode(fake_mode m)
{
    mode_ = m;
    script();
}

void fake_decision_service::set_delay(std::chrono::milliseconds d)
{
    delay_ = d;
    script();
}

void fake_decision_service::set_body(std::string body)
{
    body_ = std::move(body);
    script();
}

void fake_decision_service::set_oversized_bytes(std::size_t n)
{
    oversized_bytes_ = n;
    script();
}

void fake_decision_service::set_answer(unsigned status, std::string body, testing::header_fields headers)
{
    mode_ = fake_mode::answer;
    status_ = status;
    body_ = std::move(body);
    headers_ = std::move(headers);
    script();
}

void fake_decision_service::script()
{
    using testing::delivery;
    using testing::json_answer;
    // Both protocols: a DecisionsRequest gets per-order decisions, anything else `body_`.
    testing::route_script s;
    s.answer = [body = body_](const testing::received_request& r) { return testing::answer_either_protocol(r, body); };
    switch (mode_)
    {
    case fake_mode::normal: break;
    case fake_mode::slow: s.latency = delay_; break;
    case fake_mode::server_error: s = testing::route_script::fixed(json_answer(500, R"({"error": "boom"})")); break;
    case fake_mode::client_error:
        s = testing::route_script::fixed(json_answer(
            400, R"({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid", "diagnostics": "unknown plan"}]})"));
        break;
    case fake_mode::not_json: s = testing::route_script::fixed(json_answer(200, "<html>gateway error</html>", "text/html")); break;
    case fake_mode::reset_mid_response: s.how = delivery::reset_mid_response; break;
    case fake_mode::close_before_answer: s.how = delivery::close_without_answer; break;
    case fake_mode::oversized:
        s = testing::route_script::fixed(json_answer(200, "{\"cards\": [], \"pad\": \"" + std::string(oversized_bytes_, 'x') + "\"}"));
        break;
    case fake_mode::close_after_response: s.how = delivery::close_after_response; break;
    case fake_mode::answer:
    {
        auto a = json_answer(status_, body_);
        a.headers.insert(a.headers.end(), headers_.begin(), headers_.end());
        s = testing::route_script::fixed(std::move(a));
        break;
    }
    }
    service_.otherwise(std::move(s));  // every method and path: /decide, /feedback, /jwks.json
}

std::string fake_decision_service::last_body() const
{
    const auto last = service_.last_request();
    return last ? last->body : std::string{};
}

std::string fake_decision_service::last_header(const std::string& lower_name) const
{
    const auto last = service_.last_request();
    return last ? last->header(lower_name) : std::string{};
}

std::string fake_decision_service::default_body()
{
    return R"({
      "cards": [{
        "uuid": "6e0a6b3e-1c1b-4f0e-9d0a-2b0c7f5e9a11",
        "summary": "Prior authorization required for the hospital bed",
        "indicator": "warning",
        "source": {"label": "Remote Plan", "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "coverage-info"}},
        "links": [{"label": "Submit", "url": "https://plan.example/pa", "type": "absolute"}]
      }],
      "systemActions": [{
        "type": "update",
        "description": "Coverage information",
        "resource": {"resourceType": "DeviceRequest", "id": "devreq-015-e0250",
          "extension": [{"url": "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information",
                         "extension": [{"url": "covered", "valueCode": "covered"}]}]}
      }]
    })";
}

}  // namespace crd::test
