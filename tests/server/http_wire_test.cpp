// What crd-server puts on the wire: the answer's head written without Beast's serializer, and the
// per-shard deadline sweeper that replaced Beast's per-operation timers (issue 19).

#include <crd/core/config.hpp>
#include <crd/server/application.hpp>
#include <crd/server/router.hpp>

#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"
#include "session.hpp"
#include "tls_cert.hpp"
#include "tls_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <boost/test/unit_test.hpp>

#include <malloc.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;

namespace {

server::http_response json_answer(unsigned status, std::string body)
{
    server::http_response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

core::config short_timeouts()
{
    auto cfg = test::test_config();
    cfg.limits.idle_timeout = 2s;
    cfg.limits.header_timeout = 300ms;
    cfg.limits.body_timeout = 300ms;
    return cfg;
}

std::string head_of(const std::string& bytes)
{
    return bytes.substr(0, bytes.find("\r\n\r\n") + 4);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_wire)

BOOST_AUTO_TEST_CASE(an_http11_answer_head_is_exactly_what_beast_wrote)
{
    const auto head = server::detail::response_head(json_answer(200, R"({"cards":[]})"), 11, true, 12);
    BOOST_TEST(head == "HTTP/1.1 200 OK\r\nServer: crd-server\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                       "X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(connection_follows_the_version_rfc9112_9_3)
{
    const auto answer = json_answer(422, "{}");
    BOOST_TEST(server::detail::response_head(answer, 11, false, 2).find("\r\nConnection: close\r\n") != std::string::npos);
    BOOST_TEST(server::detail::response_head(answer, 11, true, 2).find("Connection") == std::string::npos);
    BOOST_TEST(server::detail::response_head(answer, 10, true, 2).find("\r\nConnection: keep-alive\r\n") != std::string::npos);
    BOOST_TEST(server::detail::response_head(answer, 10, false, 2).find("Connection") == std::string::npos);
    BOOST_TEST(server::detail::response_head(answer, 10, false, 2).substr(0, 33) == "HTTP/1.0 422 Unprocessable Entity");
}

BOOST_AUTO_TEST_CASE(no_content_length_on_204_rfc9110_8_6)
{
    auto preflight = json_answer(204, "");
    preflight.content_type.clear();
    const auto head = server::detail::response_head(preflight, 11, true, 0);
    BOOST_TEST(head.find("Content-Length") == std::string::npos);
    BOOST_TEST(head.find("\r\nContent-Type:") == std::string::npos);
    BOOST_TEST(head.substr(0, 23) == "HTTP/1.1 204 No Content");
}

BOOST_AUTO_TEST_CASE(a_header_that_could_split_the_answer_is_dropped)
{
    auto answer = json_answer(200, "{}");
    answer.headers.emplace_back("Access-Control-Allow-Origin", "https://ehr.example\r\nSet-Cookie: stolen=1");
    answer.headers.emplace_back("Content-Length", "0");  // framing is the writer's alone
    answer.headers.emplace_back("Bad Name", "x");
    answer.headers.emplace_back("Vary", "Origin");
    const auto head = server::detail::response_head(answer, 11, true, 2);
    BOOST_TEST(head.find("Set-Cookie") == std::string::npos);
    BOOST_TEST(head.find("Access-Control-Allow-Origin") == std::string::npos);
    BOOST_TEST(head.find("Content-Length: 0") == std::string::npos);
    BOOST_TEST(head.find("Bad Name") == std::string::npos);
    BOOST_TEST(head.find("\r\nVary: Origin\r\n") != std::string::npos);
    BOOST_TEST(head.find("\r\nContent-Length: 2\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_sweep_interval_is_a_tenth_of_the_shortest_timeout_within_bounds)
{
    core::limits_config limits;  // defaults: 10 s is the shortest
    BOOST_TEST(server::detail::sweep_interval(limits).count() == 250);
    limits.header_timeout = 300ms;
    BOOST_TEST(server::detail::sweep_interval(limits).count() == 30);
    limits.write_timeout = 20ms;
    BOOST_TEST(server::detail::sweep_interval(limits).count() == 10);
}

BOOST_AUTO_TEST_CASE(an_http10_keep_alive_client_is_answered_in_kind_and_kept)
{
    test::running_application s;
    test::http_client client(s.port());
    client.send_raw("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const auto first = client.read_response();
    BOOST_TEST(first.status == 200U);
    BOOST_TEST(first.header("connection") == "keep-alive");
    BOOST_TEST(first.body == R"({"status":"ok"})");
    client.send_raw("GET /health HTTP/1.0\r\n\r\n");  // no keep-alive: answered, then closed
    const auto bytes = client.read_until_closed();
    BOOST_TEST(bytes.substr(0, 15) == "HTTP/1.0 200 OK");
    BOOST_TEST(head_of(bytes).find("Connection") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_preflight_answer_keeps_the_connection_in_step)
{
    // A 204 has no body and no Content-Length: the next answer must follow its head directly.
    test::running_application s;
    test::http_client client(s.port());
    client.send_raw("OPTIONS /cds-services HTTP/1.1\r\nHost: x\r\nOrigin: https://sandbox.cds-hooks.org\r\n"
                    "Access-Control-Request-Method: GET\r\n\r\n"
                    "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto bytes = client.read_until_closed();
    const auto first = head_of(bytes);
    BOOST_TEST(first.substr(0, 23) == "HTTP/1.1 204 No Content");
    BOOST_TEST(first.find("Content-Length") == std::string::npos);
    BOOST_TEST(bytes.substr(first.size(), 15) == "HTTP/1.1 200 OK");
    BOOST_TEST(bytes.find("\r\nConnection: close\r\n", first.size()) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_body_that_stops_arriving_is_cut_off_at_the_body_timeout)
{
    test::running_application s(short_timeouts());
    test::http_client slow(s.port());
    const auto start = std::chrono::steady_clock::now();
    slow.send_raw("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: 1000\r\n\r\n{\"hook\":");
    BOOST_TEST(slow.closed_by_server());
    // body_timeout 300 ms, swept every 30 ms; the idle timeout (2 s) must not be what ended it.
    BOOST_TEST((std::chrono::steady_clock::now() - start < 1500ms));
    test::http_client fresh(s.port());
    BOOST_TEST(fresh.request("GET", "/health").status == 200U);
}

BOOST_AUTO_TEST_CASE(a_header_that_never_ends_is_cut_off_at_the_header_timeout)
{
    test::running_application s(short_timeouts());
    test::http_client slow(s.port());
    const auto start = std::chrono::steady_clock::now();
    slow.send_raw("GET /health HTTP/1.1\r\nHo");
    BOOST_TEST(slow.closed_by_server());
    BOOST_TEST((std::chrono::steady_clock::now() - start < 1500ms));
}

BOOST_AUTO_TEST_CASE(a_request_is_read_the_same_whether_it_arrives_whole_split_or_with_the_next)
{
    // The session parses what its first read holds before it awaits more (issue 19: no reactor
    // turn for a request that arrived whole); a request cut anywhere, or followed by the next one
    // in the same segment, must come out the same. A body read whole is refused for what it lacks
    // (422); one cut short would be 400 (not JSON).
    const std::string body = R"({"hook": "order-sign", "context": {"userId": "Practitioner/1"}})";
    const std::string request =
        "POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    const std::string health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    test::running_application s;
    const std::size_t header_end = request.find("\r\n\r\n") + 4;
    for (const std::size_t cut : {std::size_t{0}, std::size_t{5}, header_end - 2, header_end, header_end + 7, request.size()})
        BOOST_TEST_CONTEXT("first segment " << cut << " of " << request.size() << " bytes")
        {
            test::http_client client(s.port());
            if (cut != 0)
            {
                client.send_raw(std::string_view(request).substr(0, cut));
                std::this_thread::sleep_for(20ms);  // the server reads this part alone
            }
            client.send_raw(request.substr(cut) + health);  // the rest, with the next request behind it
            const auto first = client.read_response();
            BOOST_TEST(first.status == 422U, first.body);
            BOOST_TEST(first.body.find("hookInstance") != std::string::npos);
            BOOST_TEST(client.read_response().status == 200U);  // the pipelined one, in step
        }
    // A header that is not HTTP is refused from the first read too, and the server stays up.
    test::http_client bad(s.port());
    bad.send_raw("GET /health HTTP/1.1\r\nBad Header\r\n\r\n");
    BOOST_TEST(bad.read_response().status == 400U);
    test::http_client fresh(s.port());
    BOOST_TEST(fresh.request("GET", "/health").status == 200U);
}

BOOST_AUTO_TEST_CASE(a_large_body_is_read_whole)
{
    // The read buffer is sized from Content-Length: a body far beyond its first 4 KB still arrives
    // intact and is answered: refused for what it lacks (422), not cut short (400) or timed out.
    auto cfg = test::test_config();
    cfg.limits.max_body_bytes = 1024 * 1024;
    test::running_application s(cfg);
    test::http_client client(s.port());
    const std::string padding(300 * 1024, ' ');
    const auto answer = client.request("POST", "/cds-services/order-sign-crd", "{\"hook\":\"order-sign\"" + padding + "}");
    BOOST_TEST(answer.status == 422U);
    BOOST_TEST(answer.body.find("hookInstance") != std::string::npos);
    BOOST_TEST(client.request("GET", "/health").status == 200U);
}

BOOST_AUTO_TEST_CASE(an_answer_the_socket_cannot_take_at_once_arrives_whole)
{
    // write_response sends once without the reactor; what the socket does not take then goes
    // through async_write. A reader with a small window that waits before reading forces that.
    auto cfg = test::test_config();
    cfg.limits.max_body_bytes = 16 * 1024 * 1024;
    cfg.limits.max_orders = 4'000;  // an answer beyond the 4 MB Linux lets a send buffer grow to
    test::running_application s(std::move(cfg));
    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& entries = doc.at("context").at("draftOrders").at("entry").as_array();
    const json::value first = entries.at(0);
    while (entries.size() < 3'500)
    {
        json::value order = first;
        order.at("resource").as_object()["id"] = "bulk-" + std::to_string(entries.size());
        entries.push_back(std::move(order));
    }
    doc.as_object().erase("fhirServer");
    doc.as_object().erase("fhirAuthorization");
    const std::string body = json::serialize(doc);

    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.open(boost::asio::ip::tcp::v4());
    socket.set_option(boost::asio::socket_base::receive_buffer_size(4096));
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), s.port()});
    boost::asio::write(socket, boost::asio::buffer("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                                   "Connection: close\r\nContent-Length: " +
                                                   std::to_string(body.size()) + "\r\n\r\n" + body));
    std::this_thread::sleep_for(300ms);  // the answer is written meanwhile, as far as the socket takes it
    std::string reply;
    boost::system::error_code ec;
    std::array<char, 64 * 1024> chunk{};
    while (!ec)
        reply.append(chunk.data(), socket.read_some(boost::asio::buffer(chunk), ec));
    BOOST_TEST(ec == boost::asio::error::eof);
    const auto head_end = reply.find("\r\n\r\n");
    BOOST_TEST_REQUIRE(head_end != std::string::npos);
    BOOST_TEST(reply.rfind("HTTP/1.1 200", 0) == 0U);
    const auto declared = std::stoul(reply.substr(reply.find("Content-Length: ") + 16));
    BOOST_TEST(declared > 4U * 1024 * 1024);  // more than the window and the socket's buffers
    BOOST_TEST(reply.size() - head_end - 4 == declared);
    const auto answer = json::parse(reply.substr(head_end + 4));
    BOOST_TEST(answer.at("systemActions").as_array().size() == entries.size());
}

BOOST_AUTO_TEST_CASE(an_answer_larger_than_a_tls_record_arrives_whole_over_tls)
{
    // Beast's TLS stream writes nothing for [empty head, body over 16 KB]: an answer written as
    // head and body must never hand it that once the head is out, or the body is silently lost.
    auto cfg = test::test_config();
    cfg.tls.certificate = test::localhost_certificate().certificate;
    cfg.tls.private_key = test::localhost_certificate().private_key;
    test::running_application s(std::move(cfg));

    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& entries = doc.at("context").at("draftOrders").at("entry").as_array();
    const json::value first = entries.at(0);
    for (int i = 0; i < 40; ++i)
    {
        json::value order = first;
        order.at("resource").as_object()["id"] = "bulk-" + std::to_string(i);
        entries.push_back(std::move(order));
    }
    doc.as_object().erase("fhirServer");
    doc.as_object().erase("fhirAuthorization");
    const std::string body = json::serialize(doc);

    test::tls_client client(s.port());
    client.send("POST /cds-services/order-sign-crd HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                "Connection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
    const std::string reply = client.read_until_closed();
    const auto head_end = reply.find("\r\n\r\n");
    BOOST_TEST_REQUIRE(head_end != std::string::npos);
    BOOST_TEST(reply.rfind("HTTP/1.1 200", 0) == 0U);
    const auto length_at = reply.find("Content-Length: ");
    BOOST_TEST_REQUIRE(length_at < head_end);
    const auto declared = std::stoul(reply.substr(length_at + 16));
    BOOST_TEST(declared > 16U * 1024);
    BOOST_TEST(reply.size() - head_end - 4 == declared);
    const auto answer = json::parse(reply.substr(head_end + 4));
    BOOST_TEST(answer.at("systemActions").as_array().size() == entries.size());
}

BOOST_AUTO_TEST_SUITE_END()

// Not the wire, but the same issue: what the listener's memory does between large calls.
BOOST_AUTO_TEST_SUITE(allocator_tuning)

BOOST_AUTO_TEST_CASE(an_operators_allocator_setting_wins)
{
    const auto with = [](const char* set) {
        return [set](const char* name) -> std::optional<std::string> {
            return std::string_view(name) == set ? std::optional<std::string>("1") : std::nullopt;
        };
    };
    BOOST_TEST(!server::tune_allocator(with("GLIBC_TUNABLES"), false));
    BOOST_TEST(!server::tune_allocator(with("MALLOC_TRIM_THRESHOLD_"), false));
    BOOST_TEST(!server::tune_allocator(with("MALLOC_MMAP_THRESHOLD_"), false));
    // On jemalloc glibc's thresholds mean nothing: none is set, whatever the environment says.
    BOOST_TEST(!server::tune_allocator([](const char*) { return std::optional<std::string>(); }, true));
}

#ifdef __SANITIZE_ADDRESS__
constexpr bool glibc_allocates = false;  // AddressSanitizer's allocator replaces glibc's
#else
constexpr bool glibc_allocates = true;
#endif

BOOST_AUTO_TEST_CASE(a_large_block_comes_from_the_heap_and_stays_there_once_tuned, *boost::unit_test::enable_if<glibc_allocates>())
{
    BOOST_TEST_REQUIRE(server::tune_allocator([](const char*) { return std::optional<std::string>(); }, false));
    // glibc's default would serve 2 MB with mmap (threshold 128 KB) and unmap it on free.
    void* block = std::malloc(2 * 1024 * 1024);
    BOOST_TEST_REQUIRE(block != nullptr);
    BOOST_TEST(mallinfo2().hblks == 0U);  // no mmapped blocks
    std::free(block);
    // Freed, it stays with the heap (below the 32 MB trim threshold) for the next large call.
    BOOST_TEST(mallinfo2().fordblks >= 2U * 1024 * 1024);
}

BOOST_AUTO_TEST_SUITE_END()
