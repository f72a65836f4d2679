// What real EHRs hit on day one: required routing headers, keys that arrive late, refusals that
// say why, and a 413 that a client still writing its body can read.

#include <crd/auth/jose.hpp>

#include "fake_decision_service.hpp"
#include "client_keys.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;
using test::fake_decision_service;
using test::fake_mode;

namespace {

std::int64_t now_s()
{
    return test::unix_now();
}

const auth::signing_key& client_key()
{
    return test::client_key("interop-key-1");
}

const std::string base = "https://crd.example-payer.org";

std::string sign_body()
{
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    return json::serialize(doc);
}

std::string hook_token(const std::string& aud = base + "/cds-services/order-sign-crd")
{
    static int n = 0;
    const auto now = now_s();
    return "Bearer " + auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"aud", aud}, {"iat", now}, {"exp", now + 300},
                                                            {"jti", "i" + std::to_string(++n) + "-" + std::to_string(now)}});
}

// The test's settings plus loopback listeners, the public URL and an audit file.
json::object with_listeners(json::object doc, const test::temp_dir& dir)
{
    doc["listen"] = {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 1}};
    doc["admin"] = {{"port", 0}};
    doc["public_base_url"] = base;
    doc["audit"] = {{"path", (dir / "audit.jsonl").string()}, {"fsync_ms", 20}};
    doc["log"] = {{"level", "error"}};
    return doc;
}

struct server_with
{
    test::temp_dir dir{"crd-interop"};
    test::running_application app;

    explicit server_with(json::object doc) : app(json::value(with_listeners(std::move(doc), dir))) {}

    std::string audit() const
    {
        std::ifstream in(dir / "audit.jsonl");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

json::object inline_client()
{
    return {{"required", true},
        {"clients", json::array{json::object{{"client_id", "ehr"}, {"jwks", json::object{{"keys", json::array{auth::public_jwk(client_key())}}}}}}}};
}

std::string diagnostics(const test::http_result& r)
{
    return std::string(json::parse(r.body).at("issue").at(0).at("diagnostics").as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ehr_interop_)

BOOST_AUTO_TEST_CASE(required_headers_are_enforced_audited_and_forwarded)
{
    fake_decision_service decision;
    server_with s({{"auth", {{"required", false}}}, {"requests", {{"required_headers", json::array{"X-Client-Id"}}}},
        {"decision", {{"url", decision.url()}, {"forward_headers", json::array{"x-client-id"}}}}});
    test::http_client c(s.app.port());
    auto missing = c.request("POST", "/cds-services/order-sign-crd", sign_body());
    BOOST_TEST(missing.status == 400U);
    BOOST_TEST(diagnostics(missing).find("x-client-id") != std::string::npos);
    BOOST_TEST(decision.requests() == 0U);  // before any decision work
    auto blank = c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"X-Client-Id", "  "}});
    BOOST_TEST(blank.status == 400U);
    BOOST_TEST(c.request("POST", "/cds-services/order-sign-crd/feedback", R"({"feedback": []})").status == 400U);
    BOOST_TEST(c.request("GET", "/cds-services").status == 200U);  // discovery is not gated

    auto ok = c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"x-CLIENT-id", "payer-gw-7"}});
    BOOST_TEST(ok.status == 200U);
    BOOST_TEST(decision.last_header("x-client-id") == "payer-gw-7");
    for (int i = 0; i < 100 && s.audit().find("payer-gw-7") == std::string::npos; ++i)
        std::this_thread::sleep_for(20ms);
    BOOST_TEST(s.audit().find(R"("headers":{"x-client-id":"payer-gw-7"})") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_chunked_bodys_trailer_neither_supplies_a_required_header_nor_is_forwarded)
{
    // RFC 9110 §6.5.1: trailer fields are not header fields. A required header sent only after the
    // body does not satisfy requests.required_headers, and a trailer never reaches the decision
    // service in place of (or beside) the header's own value.
    fake_decision_service decision;
    server_with s({{"auth", {{"required", false}}}, {"requests", {{"required_headers", json::array{"X-Client-Id"}}}},
        {"decision", {{"url", decision.url()}, {"forward_headers", json::array{"x-client-id", "x-tenant"}}}}});
    const auto body = sign_body();
    std::ostringstream size;
    size << std::hex << body.size();
    const std::string chunked = size.str() + "\r\n" + body + "\r\n0\r\n";
    const std::string head = "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n";
    {
        test::http_client c(s.app.port());
        c.send_raw(head + "\r\n" + chunked + "X-Client-Id: payer-gw-7\r\n\r\n");
        const auto r = c.read_response();
        BOOST_TEST(r.status == 400U);
        BOOST_TEST(diagnostics(r).find("x-client-id") != std::string::npos);
        BOOST_TEST(decision.requests() == 0U);
    }
    {
        test::http_client c(s.app.port());
        c.send_raw(head + "X-Client-Id: payer-gw-7\r\n\r\n" + chunked + "X-Client-Id: from-the-trailer\r\nX-Tenant: t-9\r\n\r\n");
        BOOST_TEST(c.read_response().status == 200U);
        BOOST_TEST(decision.last_header("x-client-id") == "payer-gw-7");
        BOOST_TEST(decision.last_header("x-tenant") == "");
    }
    {
        // A trailer repeating an earlier header's name goes into the list beside that name, before
        // the header section's last field: the header fields after it are still the request's. And
        // a trailer "Connection: close" does not close the connection the header kept alive.
        test::http_client c(s.app.port());
        const std::string header_last = "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                        "Transfer-Encoding: chunked\r\nX-Tenant: t-1\r\nX-Client-Id: payer-gw-8\r\n\r\n";
        c.send_raw(header_last + chunked + "Host: y\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
        const auto r = c.read_response();
        BOOST_TEST(r.status == 200U);
        BOOST_TEST(r.header("connection").find("close") == std::string::npos);
        BOOST_TEST(decision.last_header("x-client-id") == "payer-gw-8");
        BOOST_TEST(decision.last_header("x-tenant") == "t-1");
        c.send_raw(header_last + chunked + "\r\n");  // the same connection takes the next call
        BOOST_TEST(c.read_response().status == 200U);
    }
}

BOOST_AUTO_TEST_CASE(a_refusal_says_why_in_the_body_and_the_challenge_without_token_contents)
{
    server_with s({{"auth", inline_client()}, {"cors", {{"allowed_origins", json::array{"*"}}}}});
    test::http_client c(s.app.port());
    // aud names another host: the answer names the URL this server expects.
    auto r = c.request("POST", "/cds-services/order-sign-crd", sign_body(),
        {{"Content-Type", "application/json"}, {"Origin", "https://sandbox.cds-hooks.org"},
            {"Authorization", hook_token("http://localhost:8080/cds-services/order-sign-crd")}});
    BOOST_TEST(r.status == 401U);
    BOOST_TEST(diagnostics(r).find("expected " + base + "/cds-services/order-sign-crd") != std::string::npos);
    BOOST_TEST(r.header("www-authenticate").find(R"(error="invalid_token", error_description=")") != std::string::npos);
    BOOST_TEST(r.header("www-authenticate").find("aud") != std::string::npos);
    BOOST_TEST(r.body.find("localhost:8080") == std::string::npos);  // the token's own claim is not echoed
    BOOST_TEST(r.header("access-control-expose-headers").find("WWW-Authenticate") != std::string::npos);
    // A replayed token says so.
    const auto token = hook_token();
    BOOST_TEST(
        c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", token}}).status ==
        200U);
    auto again = c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", token}});
    BOOST_TEST(again.status == 401U);
    BOOST_TEST(diagnostics(again).find("jti was used before") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(terse_errors_keep_the_generic_text)
{
    auto auth = inline_client();
    auth["terse_errors"] = true;
    server_with s({{"auth", auth}});
    test::http_client c(s.app.port());
    auto r = c.request("POST", "/cds-services/order-sign-crd", sign_body(),
        {{"Content-Type", "application/json"}, {"Authorization", hook_token("http://localhost/x")}});
    BOOST_TEST(r.status == 401U);
    BOOST_TEST(diagnostics(r) == "authentication is required: a valid bearer token for this endpoint");
    BOOST_TEST(r.header("www-authenticate") == R"(Bearer error="invalid_token")");
}

BOOST_AUTO_TEST_CASE(a_per_client_lifetime_limit_applies_to_that_client)
{
    auto auth = inline_client();
    auth["clients"].as_array()[0].as_object()["max_token_lifetime_s"] = 120;
    server_with s({{"auth", auth}});
    test::http_client c(s.app.port());
    const auto now = now_s();
    const auto token = "Bearer " + auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"aud", base + "/cds-services/order-sign-crd"},
                                                                        {"iat", now}, {"exp", now + 300}, {"jti", "lifetime-1"}});
    auto r = c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", token}});
    BOOST_TEST(r.status == 401U);
    BOOST_TEST(diagnostics(r).find("at most 120 s") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keys_that_arrive_late_are_picked_up_within_seconds)
{
    // The key host answers 503 when crd-server starts, and is fine 3 s later. The failed fetch used
    // up the once-per-30 s unknown-kid refetch: valid tokens got 401 unknown_key for 30 s.
    fake_decision_service key_host;
    key_host.set_body(json::serialize(json::object{{"keys", json::array{auth::public_jwk(client_key())}}}));
    key_host.set_mode(fake_mode::server_error);
    server_with s(
        {{"auth", {{"required", true}, {"clients", json::array{json::object{{"client_id", "ehr"}, {"jwks_url", key_host.url("/jwks.json")}}}}}}});
    test::http_client c(s.app.port());
    auto early =
        c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", hook_token()}});
    BOOST_TEST(early.status == 401U);
    BOOST_TEST(diagnostics(early).find("keys are unavailable") != std::string::npos);
    std::this_thread::sleep_for(3s);
    key_host.set_mode(fake_mode::normal);
    std::this_thread::sleep_for(300ms);  // a background retry may have just failed: one retry interval
    auto later =
        c.request("POST", "/cds-services/order-sign-crd", sign_body(), {{"Content-Type", "application/json"}, {"Authorization", hook_token()}});
    BOOST_TEST(later.status == 200U, later.body);
}

BOOST_AUTO_TEST_CASE(a_413_is_read_by_a_client_that_writes_its_whole_body_first)
{
    server_with s({{"auth", {{"required", false}}}, {"limits", {{"max_body_bytes", 4096}}}});
    net::io_context ioc;
    net::ip::tcp::socket socket(ioc);
    socket.connect({net::ip::make_address("127.0.0.1"), s.app.port()});
    const std::string body(2 * 1024 * 1024, ' ');
    const std::string head = "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                             "Content-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    // Like Python's http.client: the whole request first, then read the answer.
    net::write(socket, net::buffer(head));
    boost::system::error_code ec;
    net::write(socket, net::buffer(body), ec);
    BOOST_TEST(!ec, ec.message());  // not reset half way
    std::string answer;
    std::array<char, 4096> chunk;
    for (;;)
    {
        const auto n = socket.read_some(net::buffer(chunk), ec);
        answer.append(chunk.data(), n);
        if (ec)
            break;
    }
    BOOST_TEST(answer.rfind("HTTP/1.1 413", 0) == 0U, answer.substr(0, 200));
}

BOOST_AUTO_TEST_SUITE_END()
