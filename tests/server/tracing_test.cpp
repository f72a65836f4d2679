// A trace crosses from the EHR through crd-server into the decision and FHIR calls (W3C Trace
// Context), and the access log line and the audit record carry its id.

#include <crd/core/log.hpp>
#include <crd/core/text.hpp>
#include <crd/core/trace_context.hpp>

#include "fake_decision_service.hpp"
#include "fake_fhir_server.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;

namespace {

const std::string ehr_trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string ehr_parent_id = "00f067aa0ba902b7";
const std::string ehr_traceparent = "00-" + ehr_trace_id + "-" + ehr_parent_id + "-01";
const std::string ehr_tracestate = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

// A decimal with exactly 3 places: what every duration in a log or audit line looks like.
const std::regex latency_field(R"("latency_ms":[0-9]+\.[0-9]{3}[,}])");

// The EHR, crd-server (auditing, fetching missing prefetch) and the services it calls.
struct traced_call
{
    test::temp_dir dir{"crd-trace"};
    test::fake_fhir_server fhir;
    test::fake_decision_service decision;
    std::optional<test::running_application> app;

    explicit traced_call(std::vector<std::string> forward_headers = {})
    {
        auto cfg = test::test_config();
        cfg.decision.endpoint = *core::parse_http_url(decision.url());
        cfg.decision.forward_headers = std::move(forward_headers);
        cfg.prefetch.allow_http = true;  // the fake FHIR server is plain HTTP on loopback
        cfg.audit.path = (dir / "audit.jsonl").string();
        cfg.audit.fsync_interval = 10ms;
        app.emplace(std::move(cfg));
        // The access log line is at info, the default; a reload test may have left the level higher.
        log::set_level(core::log_level::info);
        fhir.answer("/fhir/Patient/pat015", {200, R"({"resourceType":"Patient","id":"pat015"})", ""});
        fhir.answer("/fhir/Coverage?patient=pat015&status=active",
            {200,
                R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"cov015","status":"active"}}]})",
                ""});
        fhir.answer("/fhir/Practitioner/pra1234", {200, R"({"resourceType":"Practitioner","id":"pra1234"})", ""});
    }

    // order-sign with no prefetch: crd-server fetches three resources, then calls the decision service.
    test::http_result post(test::header_list trace_headers)
    {
        auto doc = test::load_fixture("crd-order-sign-5.json");
        auto& o = doc.as_object();
        o["fhirServer"] = fhir.base();
        o["fhirAuthorization"].as_object()["access_token"] = "ehr-access-token";
        o.erase("prefetch");
        trace_headers.emplace_back("Content-Type", "application/json");
        test::http_client c(app->port());
        return c.request("POST", "/cds-services/order-sign-crd", json::serialize(doc), std::move(trace_headers));
    }

    // The same call written by hand: a field given twice stays twice (http_client::request sets each
    // field, so a second one would replace the first).
    test::http_result post_raw(const test::header_list& trace_headers)
    {
        auto doc = test::load_fixture("crd-order-sign-5.json");
        auto& o = doc.as_object();
        o["fhirServer"] = fhir.base();
        o["fhirAuthorization"].as_object()["access_token"] = "ehr-access-token";
        o.erase("prefetch");
        const std::string body = json::serialize(doc);
        std::string head = "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
        for (const auto& [name, value] : trace_headers)
            head += name + ": " + value + "\r\n";
        test::http_client c(app->port());
        c.send_raw(head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
        return c.read_response();
    }

    // Stops the server (the audit log is flushed) and returns the audit file.
    std::string audit_text()
    {
        app->stop();
        std::ifstream in(dir / "audit.jsonl");
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    std::vector<std::string> decision_header(const std::string& lower_name) const
    {
        std::vector<std::string> values;
        if (auto r = decision.last_request())
            for (const auto& [name, value] : r->headers)
                if (name == lower_name)
                    values.push_back(value);
        return values;
    }
};

std::string text_of(const json::value& v)
{
    return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

// The access log line of the hook call among the captured log lines.
json::object access_line(const std::string& log_text)
{
    std::istringstream lines(log_text);
    std::string line;
    while (std::getline(lines, line))
    {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (!ec && v.is_object() && text_of(v.at("event")) == "request" && text_of(v.at("path")) == "/cds-services/order-sign-crd")
        {
            BOOST_TEST(std::regex_search(line, latency_field), line);
            return v.as_object();
        }
    }
    BOOST_FAIL("no access log line for the hook call in: " + log_text);
    return {};
}

json::object audit_record(const std::string& audit_text)
{
    BOOST_TEST_REQUIRE(!audit_text.empty());
    BOOST_TEST(std::regex_search(audit_text, latency_field), audit_text);
    return json::parse(audit_text.substr(0, audit_text.find('\n'))).as_object();
}

core::trace_context parsed(const std::string& traceparent)
{
    auto t = core::parse_traceparent(traceparent);
    BOOST_TEST_REQUIRE(t.has_value(), "not a valid traceparent: '" << traceparent << "'");
    return *t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tracing_)

BOOST_AUTO_TEST_CASE(the_ehrs_trace_reaches_the_decision_and_fhir_calls_as_child_spans)
{
    traced_call call;
    test::stderr_capture log;
    const auto r = call.post({{"traceparent", ehr_traceparent}, {"tracestate", ehr_tracestate}});
    const auto log_text = log.text();
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);

    // The decision service: one traceparent, crd-server's child span in the EHR's trace.
    const auto sent = call.decision_header("traceparent");
    BOOST_TEST_REQUIRE(sent.size() == 1U);
    const auto decision_span = parsed(sent[0]);
    BOOST_TEST(decision_span.trace_id_hex() == ehr_trace_id);
    BOOST_TEST(decision_span.span_id_hex() != ehr_parent_id);
    BOOST_TEST(decision_span.sampled());
    BOOST_TEST((call.decision_header("tracestate") == std::vector<std::string>{ehr_tracestate}));

    // The FHIR server: each fetch a span of its own in the same trace.
    const auto fetches = call.fhir.requests();
    BOOST_TEST_REQUIRE(fetches.size() == 3U);
    std::set<std::string> spans{ehr_parent_id, decision_span.span_id_hex()};
    for (const auto& f : fetches)
    {
        const auto span = parsed(f.traceparent);
        BOOST_TEST(span.trace_id_hex() == ehr_trace_id);
        BOOST_TEST(spans.insert(span.span_id_hex()).second, "span id used twice: " << span.span_id_hex());
        BOOST_TEST(f.tracestate == ehr_tracestate);
    }

    // The access log line and the audit record join the trace, with crd-server's own span.
    const auto access = access_line(log_text);
    BOOST_TEST(text_of(access.at("trace_id")) == ehr_trace_id);
    BOOST_TEST(access.at("span_id").as_string().size() == 16U);
    BOOST_TEST(spans.count(text_of(access.at("span_id"))) == 0U);
    BOOST_TEST(text_of(audit_record(call.audit_text()).at("trace_id")) == ehr_trace_id);
    BOOST_TEST(r.header("traceparent").empty());
}

BOOST_AUTO_TEST_CASE(the_decision_services_failure_lines_join_the_trace)
{
    traced_call call;
    call.decision.set_mode(test::fake_mode::server_error);
    test::stderr_capture log;
    const auto r = call.post({{"traceparent", ehr_traceparent}});
    const auto log_text = log.text();
    BOOST_TEST(r.status == 502U, r.body);
    std::set<std::string> traced;  // events of the call's warning lines that carry its trace id
    std::istringstream lines(log_text);
    std::string line;
    while (std::getline(lines, line))
    {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (ec || !v.is_object())
            continue;
        const auto& o = v.as_object();
        if (o.contains("trace_id") && text_of(o.at("trace_id")) == ehr_trace_id)
            traced.insert(text_of(o.at("event")));
    }
    BOOST_TEST(traced.count("decision_call_failed") == 1U, log_text);
    BOOST_TEST(traced.count("decision_failed") == 1U, log_text);
    BOOST_TEST(traced.count("request") == 1U, log_text);
}

BOOST_AUTO_TEST_CASE(a_malformed_traceparent_starts_a_new_trace_and_is_never_echoed)
{
    // Upper-case hex is invalid (W3C Trace Context §3.2.2.3); its tracestate is then not read either.
    const std::string bad_trace = "4BF92F3577B34DA6A3CE929D0E0E4736";
    const std::string bad = "00-" + bad_trace + "-00F067AA0BA902B7-01";
    const std::string state = "rojo=private-marker";
    traced_call call;
    test::stderr_capture log;
    const auto r = call.post({{"traceparent", bad}, {"tracestate", state}});
    const auto log_text = log.text();
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);

    const auto sent = call.decision_header("traceparent");
    BOOST_TEST_REQUIRE(sent.size() == 1U);
    const auto fresh = parsed(sent[0]);
    const auto fresh_id = fresh.trace_id_hex();
    BOOST_TEST(core::to_lower(fresh_id) != core::to_lower(bad_trace));
    BOOST_TEST(call.decision_header("tracestate").empty());
    for (const auto& f : call.fhir.requests())
    {
        BOOST_TEST(parsed(f.traceparent).trace_id_hex() == fresh_id);
        BOOST_TEST(f.tracestate.empty());
    }
    BOOST_TEST(text_of(access_line(log_text).at("trace_id")) == fresh_id);
    const auto audit = call.audit_text();
    BOOST_TEST(text_of(audit_record(audit).at("trace_id")) == fresh_id);

    // Nowhere: not in the log, the audit record, the answer or anything sent on.
    auto everything = log_text + audit + r.body + call.decision.last_body();
    for (const auto& [name, value] : r.headers)
        everything += value;
    const auto sent_on = call.decision.last_request();
    BOOST_TEST_REQUIRE(sent_on.has_value());
    for (const auto& [name, value] : sent_on->headers)
        everything += value;
    for (const auto& f : call.fhir.requests())
        everything += f.traceparent + f.tracestate;
    const auto folded = core::to_lower(everything);
    BOOST_TEST(folded.find(core::to_lower(bad_trace)) == std::string::npos);
    BOOST_TEST(folded.find("private-marker") == std::string::npos);
}

// The listener finds its header fields in one walk (issue 19): by name in any case, the tracestate
// lines joined in the order sent, a traceparent given twice taken as none (W3C Trace Context §3.2.1:
// several traceparent values cannot be told apart), and a field in another case is the same field.
BOOST_AUTO_TEST_CASE(trace_fields_are_read_in_any_case_and_tracestate_lines_join_in_order)
{
    traced_call call;
    const auto r = call.post_raw({{"TraceParent", ehr_traceparent}, {"TRACESTATE", "rojo=00f067aa0ba902b7"}, {"tracestate", "congo=t61rcWkgMzE"}});
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    const auto sent = call.decision_header("traceparent");
    BOOST_TEST_REQUIRE(sent.size() == 1U);
    BOOST_TEST(parsed(sent[0]).trace_id_hex() == ehr_trace_id);
    BOOST_TEST((call.decision_header("tracestate") == std::vector<std::string>{ehr_tracestate}));
}

BOOST_AUTO_TEST_CASE(a_traceparent_given_twice_starts_a_new_trace)
{
    traced_call call;
    const auto r = call.post_raw({{"traceparent", ehr_traceparent}, {"Traceparent", ehr_traceparent}, {"tracestate", ehr_tracestate}});
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    const auto sent = call.decision_header("traceparent");
    BOOST_TEST_REQUIRE(sent.size() == 1U);
    BOOST_TEST(parsed(sent[0]).trace_id_hex() != ehr_trace_id);
    BOOST_TEST(call.decision_header("tracestate").empty());
}

BOOST_AUTO_TEST_CASE(without_a_traceparent_crd_server_starts_the_trace)
{
    traced_call call;
    test::stderr_capture log;
    const auto r = call.post({});
    const auto log_text = log.text();
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);

    const auto sent = call.decision_header("traceparent");
    BOOST_TEST_REQUIRE(sent.size() == 1U);
    const auto trace_id = parsed(sent[0]).trace_id_hex();
    for (const auto& f : call.fhir.requests())
        BOOST_TEST(parsed(f.traceparent).trace_id_hex() == trace_id);
    BOOST_TEST(text_of(access_line(log_text).at("trace_id")) == trace_id);
    BOOST_TEST(text_of(audit_record(call.audit_text()).at("trace_id")) == trace_id);
}

BOOST_AUTO_TEST_CASE(forwarded_trace_headers_are_replaced_by_crd_servers_span)
{
    // An operator who listed the trace headers in decision.forward_headers (before crd-server
    // propagated them itself) still gets one traceparent: crd-server's child, not the EHR's own.
    traced_call call({"traceparent", "tracestate", "x-correlation-id"});
    const auto r = call.post({{"traceparent", ehr_traceparent}, {"tracestate", ehr_tracestate}, {"X-Correlation-Id", "c-1"}});
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    const auto sent = call.decision_header("traceparent");
    BOOST_TEST_REQUIRE(sent.size() == 1U);
    BOOST_TEST(parsed(sent[0]).trace_id_hex() == ehr_trace_id);
    BOOST_TEST(parsed(sent[0]).span_id_hex() != ehr_parent_id);
    BOOST_TEST((call.decision_header("tracestate") == std::vector<std::string>{ehr_tracestate}));
    BOOST_TEST((call.decision_header("x-correlation-id") == std::vector<std::string>{"c-1"}));
}

BOOST_AUTO_TEST_SUITE_END()
