// The real server on an ephemeral loopback port, spoken to over HTTP/1.1.

#include <crd/core/hooks.hpp>
#include <crd/core/log.hpp>
#include <crd/server/application.hpp>
#include <crd/server/router.hpp>
#include <crd/server/server.hpp>

#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;

namespace {

core::config small_limits()
{
    auto cfg = test::test_config();
    cfg.limits.max_body_bytes = 4096;
    cfg.limits.max_header_bytes = 2048;
    cfg.limits.idle_timeout = 300ms;
    cfg.limits.header_timeout = 300ms;
    cfg.limits.body_timeout = 300ms;
    return cfg;
}

// A published request, pointed away from the public example hosts it names.
std::string request_body(const std::string& fixture)
{
    auto doc = test::load_fixture(fixture);
    if (doc.as_object().contains("fhirServer"))
        doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    return json::serialize(doc);
}

}  // namespace

namespace {

// A handler that fails as no handler should: with something that is not a std::exception, so
// it passes the router's catch and ends the session coroutine itself.
class escaping_handler final : public core::hook_handler
{
public:
    const core::service_definition& service() const noexcept override { return *core::find_service("order-sign-crd"); }
    json::object discovery() const override { return {{"id", "order-sign-crd"}}; }
    net::awaitable<core::api_response> handle(core::document_ptr, core::request_context) override
    {
        throw 42;
        co_return core::api_response{};
    }
};

// Answers every call 200 and counts them: which calls the server handed on, whoever answered.
class counting_handler final : public core::hook_handler
{
public:
    const core::service_definition& service() const noexcept override { return *core::find_service("order-sign-crd"); }
    json::object discovery() const override { return {{"id", "order-sign-crd"}}; }
    net::awaitable<core::api_response> handle(core::document_ptr, core::request_context) override
    {
        ++calls;
        core::api_response r;
        r.body = json::object{{"cards", json::array{}}};
        co_return r;
    }
    std::atomic<unsigned> calls{0};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_)

BOOST_AUTO_TEST_CASE(a_request_that_arrives_as_the_server_stops_is_answered_or_never_handled)
{
    // stop() closes the connections waiting for their next request. A request whose bytes were
    // read just as that happened was still handled (a client JWT's jti claimed in the shared
    // replay cache, say), and its answer then failed on the closed socket: the balancer retried
    // the call on another instance, which refused the token as replayed (issue 19's drain test,
    // 401 in about a third of its runs under ASan). A request on a connection stop() closed must
    // never reach a handler: either it is answered, or it is not handled at all and the client,
    // seeing the connection close, sends it elsewhere. A race, so tried many times, each at a
    // slightly different moment.
    const std::string call = "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                             "Content-Length: 2\r\n\r\n{}";
    unsigned answered = 0, refused = 0;
    for (int attempt = 0; attempt < 200; ++attempt)
    {
        auto cfg = test::test_config();
        cfg.listen.threads = 1;
        cfg.limits.shutdown_grace = 2s;
        core::hook_registry registry;
        auto handler = std::make_unique<counting_handler>();
        auto& counted = *handler;
        registry.add(std::move(handler));
        server::router routes(registry, server::router_settings{});
        server::server listener(cfg, routes);
        listener.start();
        test::http_client client(listener.port());
        client.send_raw(call);
        BOOST_REQUIRE(client.read_response().status == 200U);  // the connection now waits, idle
        client.send_raw(call);
        const auto stop_at = std::chrono::steady_clock::now() + std::chrono::nanoseconds(attempt * 250);
        while (std::chrono::steady_clock::now() < stop_at)
        {
        }
        listener.stop();
        const std::string rest = client.read_until_closed();
        listener.wait();
        const bool answered_now = rest.rfind("HTTP/1.1 200", 0) == 0;
        (answered_now ? answered : refused) += 1;
        BOOST_TEST_CONTEXT("attempt " << attempt)
        BOOST_TEST(counted.calls.load() == (answered_now ? 2U : 1U),
            "handled " << counted.calls.load() << " calls, the second " << (answered_now ? "answered" : "not answered"));
    }
    BOOST_TEST_MESSAGE("answered " << answered << ", closed unanswered " << refused);
}

BOOST_AUTO_TEST_CASE(a_session_that_throws_is_logged_and_leaves_no_entry_for_stop_to_wait_on)
{
    // With net::detached the exception vanished and the session's entry (with a dangling stream
    // pointer) stayed in its shard's list: stop() then waited the whole grace period on it.
    auto cfg = test::test_config();
    cfg.limits.shutdown_grace = 10s;
    cfg.listen.threads = 1;
    core::hook_registry registry;
    registry.add(std::make_unique<escaping_handler>());
    server::router routes(registry, server::router_settings{});
    server::server listener(cfg, routes);
    listener.start();
    {
        test::http_client client(listener.port());
        client.send_raw("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\n\r\n{}");
        BOOST_TEST(client.closed_by_server());
    }
    const auto started = std::chrono::steady_clock::now();
    listener.stop();
    listener.wait();
    BOOST_TEST((std::chrono::steady_clock::now() - started < 5s));
}

BOOST_AUTO_TEST_CASE(every_published_request_is_answered_200_over_one_keep_alive_connection)
{
    // The requests name a local (http) FHIR server that refuses connections: missing prefetch is
    // tried, fails, and the call is still answered (prefetch_test covers fetching itself).
    auto cfg = test::test_config();
    cfg.prefetch.allow_http = true;
    test::running_application s(std::move(cfg));
    test::http_client client(s.port());
    auto discovery = client.request("GET", "/cds-services");
    BOOST_TEST(discovery.status == 200U);
    BOOST_TEST(discovery.keep_alive);
    BOOST_TEST(json::parse(discovery.body).at("services").as_array().size() == 6U);

    for (const auto& name : test::request_fixture_names())
    {
        BOOST_TEST_CONTEXT(name)
        {
            auto doc = test::load_fixture(name);
            auto r = client.request("POST", "/cds-services/" + test::service_id_for(doc), request_body(name));
            BOOST_TEST(r.status == 200U);
            BOOST_TEST(r.header("content-type") == "application/json");
            auto body = json::parse(r.body);
            BOOST_TEST(body.at("cards").is_array());
            BOOST_TEST(r.keep_alive);
        }
    }
    BOOST_TEST(client.request("GET", "/health").status == 200U);
}

BOOST_AUTO_TEST_CASE(errors_keep_the_connection_and_carry_operation_outcomes)
{
    test::running_application s;
    test::http_client client(s.port());
    const auto outcome = [](const test::http_result& r) { return json::parse(r.body).at("resourceType").as_string() == "OperationOutcome"; };

    auto not_found = client.request("POST", "/cds-services/no-such-service", "{}");
    BOOST_TEST(not_found.status == 404U);
    BOOST_TEST(outcome(not_found));
    auto not_allowed = client.request("PUT", "/cds-services/order-sign-crd", "{}");
    BOOST_TEST(not_allowed.status == 405U);
    BOOST_TEST(not_allowed.header("allow") == "POST, OPTIONS");
    auto media = client.request("POST", "/cds-services/order-sign-crd", "{}", {{"Content-Type", "text/plain"}});
    BOOST_TEST(media.status == 415U);
    BOOST_TEST(outcome(media));
    auto bad_json = client.request("POST", "/cds-services/order-sign-crd", "{\"hook\":");
    BOOST_TEST(bad_json.status == 400U);
    auto invalid = client.request("POST", "/cds-services/order-sign-crd", R"({"hook":"order-sign","hookInstance":"1","context":{}})");
    BOOST_TEST(invalid.status == 422U);
    BOOST_TEST(outcome(invalid));
    BOOST_TEST(client.request("GET", "/health").status == 200U);  // same connection, still served
}

BOOST_AUTO_TEST_CASE(oversized_bodies_are_413_and_the_connection_is_closed)
{
    test::running_application s(small_limits());
    {
        // Declared too large: refused from the header, before the body is read.
        test::http_client client(s.port());
        client.send_raw("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2000000\r\n\r\n");
        auto r = client.read_response();
        BOOST_TEST(r.status == 413U);
        BOOST_TEST(!r.keep_alive);
        BOOST_TEST(json::parse(r.body).at("issue").at(0).at("diagnostics").as_string().find("4096") != std::string::npos);
        BOOST_TEST(client.closed_by_server());
    }
    {
        // Chunked, growing past the limit while being read.
        test::http_client client(s.port());
        client.send_raw("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n");
        const std::string chunk(1024, 'a');
        for (int i = 0; i < 5; ++i)
            client.send_raw("400\r\n" + chunk + "\r\n");
        BOOST_TEST(client.read_response().status == 413U);
    }
    test::http_client fresh(s.port());
    BOOST_TEST(fresh.request("GET", "/health").status == 200U);
}

BOOST_AUTO_TEST_CASE(a_chunked_bodys_trailer_fields_never_stand_for_its_header_fields)
{
    // RFC 9110 §6.5.1: a trailer must not carry what framing, routing or authentication need. The
    // listener reads content type, origin and authorization from the header section only (issue
    // 19's one walk over the fields, made before the body is read).
    test::running_application s;
    const auto body = request_body("crd-order-sign-5.json");
    std::ostringstream size;
    size << std::hex << body.size();
    const std::string chunked = size.str() + "\r\n" + body + "\r\n0\r\n";
    {
        test::http_client client(s.port());
        client.send_raw("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked +
                        "Content-Type: application/json\r\n\r\n");
        BOOST_TEST(client.read_response().status == 415U);
    }
    {
        test::http_client client(s.port());
        client.send_raw("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n" +
                        chunked + "X-Trailer: t\r\n\r\n");
        BOOST_TEST(client.read_response().status == 200U);
    }
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body)
{
    test::running_application s;
    test::http_client client(s.port());
    const auto body = request_body("crd-order-sign-5.json");
    client.send_raw("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Expect: 100-continue\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n");
    auto interim = client.read_response();
    BOOST_TEST(interim.status == 100U);
    client.send_raw(body);
    BOOST_TEST(client.read_response().status == 200U);
}

BOOST_AUTO_TEST_CASE(head_is_answered_without_a_body_and_the_connection_stays_in_step)
{
    // Load balancers probe with HEAD: a body after the header would be read as the next answer.
    test::running_application s;
    test::http_client client(s.port());
    client.send_raw("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto bytes = client.read_until_closed();
    const auto first_end = bytes.find("\r\n\r\n");
    BOOST_TEST_REQUIRE(first_end != std::string::npos);
    BOOST_TEST(bytes.substr(0, 15) == "HTTP/1.1 200 OK");
    BOOST_TEST(bytes.find("Content-Length: 15\r\n") < first_end);  // the GET answer's length (RFC 9110 §9.3.2)
    // Straight after the HEAD answer's header comes the GET answer, whose body ends the stream.
    BOOST_TEST(bytes.substr(first_end + 4, 15) == "HTTP/1.1 200 OK");
    BOOST_TEST(bytes.substr(bytes.size() - 15) == R"({"status":"ok"})");
}

BOOST_AUTO_TEST_CASE(malformed_http_and_huge_headers_are_refused)
{
    test::running_application s(small_limits());
    {
        test::http_client client(s.port());
        client.send_raw("THIS IS NOT HTTP\r\n\r\n");
        BOOST_TEST(client.read_response().status == 400U);
        BOOST_TEST(client.closed_by_server());
    }
    {
        test::http_client client(s.port());
        client.send_raw("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n");
        BOOST_TEST(client.read_response().status == 431U);
    }
    test::http_client fresh(s.port());
    BOOST_TEST(fresh.request("GET", "/health").status == 200U);
}

BOOST_AUTO_TEST_CASE(idle_and_slow_connections_are_closed)
{
    test::running_application s(small_limits());
    {
        test::http_client idle(s.port());
        BOOST_TEST(idle.request("GET", "/health").status == 200U);
        const auto start = std::chrono::steady_clock::now();
        BOOST_TEST(idle.closed_by_server());  // idle_timeout 300 ms; the client gives up after 10 s
        BOOST_TEST((std::chrono::steady_clock::now() - start < 8s));
    }
    {
        test::http_client slow(s.port());
        slow.send_raw("GET /health HTTP/1.1\r\nHo");  // a header that never ends
        BOOST_TEST(slow.closed_by_server());
    }
}

BOOST_AUTO_TEST_CASE(stop_closes_idle_connections_and_ends_promptly)
{
    auto s = std::make_unique<test::running_application>();
    test::http_client client(s->port());
    BOOST_TEST(client.request("GET", "/health").status == 200U);
    const auto start = std::chrono::steady_clock::now();
    s.reset();  // stop + wait, with the keep-alive connection still open
    BOOST_TEST((std::chrono::steady_clock::now() - start < 1500ms));
    BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(an_address_that_cannot_be_bound_is_reported)
{
    auto cfg = test::test_config();
    cfg.listen.address = "192.0.2.1";  // TEST-NET-1: never an address of this machine
    server::application app(std::move(cfg));
    BOOST_CHECK_THROW(app.start(), std::system_error);
}

BOOST_AUTO_TEST_SUITE_END()
