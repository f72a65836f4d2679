// What the upstream client puts on the wire, read by a loopback peer written for the purpose: the
// request head is written by hand (not by Beast's serializer), so its exact bytes, its refusals and
// its one-timer-per-call deadline are checked here against a peer that records every byte.
#include <crd/upstream/http_client.hpp>

#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "tls_cert.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

using namespace crd;
using namespace std::chrono_literals;
using tcp = net::ip::tcp;

namespace {

const std::string ok_response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

struct peer_script
{
    std::string response = ok_response;
    std::chrono::milliseconds delay{0};               // before answering each request
    bool read_requests = true;                        // false: accept, then never read (the client's write stalls)
    std::size_t send_then_stall = std::string::npos;  // send only this many bytes of the response, then wait
    bool close_after_answer = false;                  // end the connection after each answer (a body up to its end)
};

// A loopback HTTP/1.1 peer on its own thread: records each request's bytes exactly as received
// (head and Content-Length body) and answers with the scripted response, keeping the connection.
class wire_peer
{
public:
    explicit wire_peer(peer_script script = {}) : script_(std::move(script)), acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0))
    {
        spawn(accept_loop());
        thread_ = std::thread([this] { ioc_.run(); });
    }
    wire_peer(const wire_peer&) = delete;
    wire_peer& operator=(const wire_peer&) = delete;
    ~wire_peer()
    {
        ioc_.stop();
        thread_.join();
        // Runs inside the test case that owns the peer: a peer that failed fails that test.
        std::lock_guard lock(failure_->mutex);
        BOOST_TEST(failure_->what.empty(), "the wire peer failed: " << failure_->what);
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/decide"; }
    std::size_t connections() const { return connections_; }
    std::vector<std::string> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    // What the peer's coroutines report, held apart from the peer: a completion may run while the
    // io_context is destroyed, after the peer's other members.
    struct failure_slot
    {
        std::mutex mutex;
        std::string what;
    };

    // A coroutine that throws (say, a request it cannot read) is recorded, never lost: the
    // destructor fails the test with it.
    void spawn(net::awaitable<void> coroutine)
    {
        net::co_spawn(ioc_, std::move(coroutine), [failure = failure_](const std::exception_ptr& e) {
            if (!e)
                return;
            std::string what = "unknown exception";
            try
            {
                std::rethrow_exception(e);
            }
            catch (const std::exception& ex)
            {
                what = ex.what();
            }
            catch (...)
            {
            }
            std::lock_guard lock(failure->mutex);
            if (failure->what.empty())
                failure->what = std::move(what);
        });
    }

    net::awaitable<void> accept_loop()
    {
        for (;;)
        {
            auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
            if (ec)
                co_return;
            ++connections_;
            spawn(serve(std::move(socket)));
        }
    }

    net::awaitable<void> hold()
    {
        net::steady_timer forever(ioc_, 1h);
        co_await forever.async_wait(use_tuple);
    }

    net::awaitable<void> serve(tcp::socket socket)
    {
        if (!script_.read_requests)
            co_return co_await hold();
        std::string in;
        for (;;)
        {
            auto [ec, head_bytes] = co_await net::async_read_until(socket, net::dynamic_buffer(in), "\r\n\r\n", use_tuple);
            if (ec)
                co_return;
            std::size_t body_bytes = 0;
            std::string lower = in.substr(0, head_bytes);
            std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            if (const auto at = lower.find("\r\ncontent-length: "); at != std::string::npos)
                body_bytes = std::stoul(lower.substr(at + 18));
            if (in.size() < head_bytes + body_bytes)
            {
                auto [ec2, n] =
                    co_await net::async_read(socket, net::dynamic_buffer(in), net::transfer_exactly(head_bytes + body_bytes - in.size()), use_tuple);
                if (ec2)
                    co_return;
            }
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(in.substr(0, head_bytes + body_bytes));
            }
            in.erase(0, head_bytes + body_bytes);
            if (script_.delay > 0ms)
            {
                net::steady_timer wait(ioc_, script_.delay);
                co_await wait.async_wait(use_tuple);
            }
            const auto answer = std::string_view(script_.response).substr(0, script_.send_then_stall);
            if (auto [ec3, n] = co_await net::async_write(socket, net::buffer(answer), use_tuple); ec3)
                co_return;
            if (answer.size() < script_.response.size())
                co_return co_await hold();
            if (script_.close_after_answer)
            {
                error_code ignored;
                socket.shutdown(tcp::socket::shutdown_send, ignored);
                co_return;
            }
        }
    }

    peer_script script_;
    std::shared_ptr<failure_slot> failure_ = std::make_shared<failure_slot>();
    net::io_context ioc_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    std::atomic<std::size_t> connections_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
};

struct wire_client
{
    upstream::client_config cfg;
    std::shared_ptr<upstream::endpoint_cache> endpoints;
    net::io_context ioc;
    std::optional<upstream::http_client> client;

    explicit wire_client(const std::string& url)
    {
        cfg.origin = *core::parse_http_url(url);
        endpoints = std::make_shared<upstream::endpoint_cache>(cfg.origin);
        BOOST_TEST_REQUIRE(!endpoints->resolve_now());
        client.emplace(ioc.get_executor(), cfg, endpoints, nullptr);
    }

    result<upstream::response> send(upstream::request req, std::chrono::milliseconds budget = 2s)
    {
        return test::run_coro(ioc, client->send(std::move(req), clock::now() + budget));
    }
};

upstream::request post(std::string body = R"({"hook":"order-sign"})")
{
    upstream::request r;
    r.target = "/decide";
    r.body = std::move(body);
    return r;
}

// Sends `req` within `budget` and checks that it ends as a timeout at that deadline (not before it,
// nor long after), on a connection that is neither pooled nor retried.
void expect_timeout_at_deadline(wire_client& c, upstream::request req, std::chrono::milliseconds budget)
{
    const auto start = clock::now();
    auto r = c.send(std::move(req), budget);
    const auto elapsed = clock::now() - start;
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error() == error_code(errc::upstream_timeout));
    BOOST_TEST((elapsed >= budget - 10ms));
    BOOST_TEST((elapsed < 1s));
    BOOST_TEST(c.client->stats().open == 0U);     // a timed-out connection is never pooled
    BOOST_TEST(c.client->stats().retries == 0U);  // a timeout is never retried
}

// The request exactly as the client built it with Beast before its head was written by hand
// (make_request, serialised by Beast 1.81): the reference the hand-written head must equal.
std::string as_beast_wrote_it(const std::string& host, upstream::request req)
{
    namespace http = boost::beast::http;
    http::request<http::string_body> out{http::string_to_verb(req.method), req.target, 11};
    out.method_string(req.method);
    out.set(http::field::host, host);
    out.set(http::field::user_agent, "crd-server");
    out.set(http::field::accept, "application/json");
    for (const auto& h : req.headers)
        out.set(h.name, h.value);
    if (!req.body.empty())
    {
        out.set(http::field::content_type, req.content_type);
        out.body() = std::move(req.body);
    }
    out.keep_alive(true);
    out.prepare_payload();
    std::ostringstream text;
    text << out;
    return text.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_client_wire)

BOOST_AUTO_TEST_CASE(the_bytes_on_the_wire_for_a_request_with_headers_and_a_body)
{
    wire_peer peer;
    wire_client c(peer.url());
    auto req = post();
    req.target = "/decide?x=1";
    req.headers.push_back({"X-CDS-Hook-Instance", "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"});
    req.headers.push_back({"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"});
    auto r = c.send(std::move(req));
    BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
    BOOST_TEST(r->status == 200U);
    BOOST_TEST(r->body == "{}");
    const auto sent = peer.requests();
    BOOST_TEST_REQUIRE(sent.size() == 1U);
    const std::string host = "127.0.0.1:" + std::to_string(peer.port());
    BOOST_TEST(sent[0] == "POST /decide?x=1 HTTP/1.1\r\n"
                          "Host: " +
                              host +
                              "\r\n"
                              "User-Agent: crd-server\r\n"
                              "Accept: application/json\r\n"
                              "X-CDS-Hook-Instance: d1577c69-dfbe-44ad-ba6d-3e05e953b2ea\r\n"
                              "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 21\r\n"
                              "\r\n"
                              R"({"hook":"order-sign"})");
}

BOOST_AUTO_TEST_CASE(the_head_is_what_beast_wrote_before)
{
    // Replaced fields (a later one of the same name, any case, wins and moves), trimmed values,
    // bodiless GETs, an empty POST body, a Content-Type without a body.
    std::vector<upstream::request> cases;
    cases.push_back(post());
    {
        auto r = post();
        r.headers = {{"Accept", "application/fhir+json"}, {"x-one", " padded\t"}, {"X-Two", "2"}, {"X-ONE", "again"}, {"host", "example.org"}};
        cases.push_back(r);
    }
    {
        upstream::request r;
        r.method = "GET";
        r.target = "/fhir/Patient/1?_elements=id";
        r.headers = {{"Authorization", "Bearer abc.def"}, {"Accept", "application/fhir+json"}, {"X-Tab", "a\tb"}};
        cases.push_back(r);
    }
    cases.push_back(post(""));
    {
        auto r = post("");
        r.method = "DELETE";
        r.headers = {{"Content-Type", "text/plain"}};
        cases.push_back(r);
    }
    {
        auto r = post("payload");
        r.method = "PUT";
        r.content_type = "text/plain; charset=utf-8";
        r.headers = {{"content-type", "ignored/when-a-body-sets-it"}, {"X-Empty", ""}};
        cases.push_back(r);
    }
    wire_peer peer;
    wire_client c(peer.url());
    for (const auto& req : cases)
        BOOST_TEST_REQUIRE(c.send(req).has_value());
    const auto sent = peer.requests();
    BOOST_TEST_REQUIRE(sent.size() == cases.size());
    const std::string host = "127.0.0.1:" + std::to_string(peer.port());
    for (std::size_t i = 0; i < cases.size(); ++i)
        BOOST_TEST(sent[i] == as_beast_wrote_it(host, cases[i]), "case " << i);
    BOOST_TEST(peer.connections() == 1U);
}

BOOST_AUTO_TEST_CASE(framing_and_connection_fields_of_a_caller_are_never_sent)
{
    // The client owns Content-Length, Transfer-Encoding and Connection: a forwarded
    // "Connection: close" must not make the upstream close the pooled connection, and a forwarded
    // Content-Length on a GET must not make it wait for a body that never comes.
    wire_peer peer;
    wire_client c(peer.url());
    upstream::request get;
    get.method = "GET";
    get.target = "/jwks";
    get.headers = {{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}, {"Connection", "close, Upgrade"}};
    BOOST_TEST_REQUIRE(c.send(get).has_value());
    auto with_body = post("{}");
    with_body.headers = {{"content-length", "999"}, {"connection", "keep-alive"}};
    BOOST_TEST_REQUIRE(c.send(with_body).has_value());
    const auto sent = peer.requests();
    BOOST_TEST_REQUIRE(sent.size() == 2U);
    const std::string host = "127.0.0.1:" + std::to_string(peer.port());
    BOOST_TEST(sent[0] == "GET /jwks HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: crd-server\r\nAccept: application/json\r\n\r\n");
    BOOST_TEST(sent[1] == "POST /decide HTTP/1.1\r\nHost: " + host +
                              "\r\nUser-Agent: crd-server\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: "
                              "2\r\n\r\n{}");
    BOOST_TEST(peer.connections() == 1U);
}

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection)
{
    wire_peer peer;
    wire_client c(peer.url());
    for (int i = 0; i < 4; ++i)
    {
        auto r = c.send(post(R"({"call":)" + std::to_string(i) + "}"));
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST(r->body == "{}");
    }
    BOOST_TEST(peer.connections() == 1U);
    BOOST_TEST(peer.requests().size() == 4U);
    BOOST_TEST(peer.requests().back().find("Connection") == std::string::npos);  // HTTP/1.1: keep-alive by default
    const auto s = c.client->stats();
    BOOST_TEST(s.connects == 1U);
    BOOST_TEST(s.reuses == 3U);
    BOOST_TEST(s.idle == 1U);
}

BOOST_AUTO_TEST_CASE(a_finished_calls_deadline_never_touches_the_pooled_connection)
{
    // The deadline timer is armed once per call; a call that completed well inside a short
    // deadline leaves nothing armed that could close the connection once it is back in the pool.
    wire_peer peer;
    wire_client c(peer.url());
    BOOST_TEST_REQUIRE(c.send(post(), 50ms).has_value());
    std::this_thread::sleep_for(120ms);
    c.ioc.restart();
    c.ioc.poll();
    auto r = c.send(post(), 2s);
    BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
    BOOST_TEST(c.client->stats().retries == 0U);
    BOOST_TEST(peer.connections() == 1U);
}

BOOST_AUTO_TEST_CASE(a_header_that_could_split_the_head_is_refused_and_nothing_is_sent)
{
    wire_peer peer;
    wire_client c(peer.url());
    std::vector<upstream::request> bad;
    for (const std::string& value : {std::string("x\r\nX-Smuggled: 1"), std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3),
             std::string("a\x01") + "b", std::string("a\x7F") + "b", std::string(65534, 'v')})
    {
        auto r = post();
        r.headers.push_back({"X-Value", value});
        bad.push_back(r);
    }
    for (const std::string& name : {std::string("X-A\r\nX-B"), std::string("X\tA"), std::string(), std::string("X\x7F")})
    {
        auto r = post();
        r.headers.push_back({name, "v"});
        bad.push_back(r);
    }
    {
        auto r = post();
        r.target = "/decide\r\nX: y";
        bad.push_back(r);
        r.target = "/decide\tx";
        bad.push_back(r);
        r.target = "/decide";
        r.method = "";
        bad.push_back(r);
        r.method = "PO\nST";
        bad.push_back(r);
        r.method = "POST";
        r.content_type = "application/json\r\nX: y";
        bad.push_back(r);
    }
    for (std::size_t i = 0; i < bad.size(); ++i)
    {
        auto r = c.send(bad[i]);
        BOOST_TEST_REQUIRE(r.has_error(), "case " << i);
        BOOST_TEST(r.error() == error_code(errc::header_value_invalid), "case " << i);
    }
    BOOST_TEST(peer.connections() == 0U);  // nothing was written anywhere
    auto tab = post();
    tab.headers.push_back({"X-Tab", "a\tb"});  // HTAB is field-value text (RFC 9110 §5.5)
    BOOST_TEST_REQUIRE(c.send(tab).has_value());
    BOOST_TEST(peer.requests().at(0).find("\r\nX-Tab: a\tb\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_slow_answer_times_out_at_the_deadline)
{
    wire_peer peer({.delay = 3s});
    wire_client c(peer.url());
    expect_timeout_at_deadline(c, post(), 150ms);
}

BOOST_AUTO_TEST_CASE(an_answer_that_stalls_mid_body_times_out_at_the_deadline)
{
    // Several reads in one call: the one deadline covers them all, not each read afresh.
    const std::string body(4000, 'x');
    wire_peer peer({.response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body, .send_then_stall = 100});
    wire_client c(peer.url());
    expect_timeout_at_deadline(c, post(), 200ms);
}

BOOST_AUTO_TEST_CASE(a_peer_that_never_reads_times_the_write_out_at_the_deadline)
{
    wire_peer peer({.read_requests = false});
    wire_client c(peer.url());
    expect_timeout_at_deadline(c, post(std::string(32 * 1024 * 1024, 'x')), 200ms);  // more than the socket buffers hold
}

BOOST_AUTO_TEST_CASE(an_answer_read_at_once_is_parsed_as_one_read_in_pieces)
{
    // The client reads an answer once without the reactor and parses what it got (issue 19): a
    // whole answer is taken from that read, a broken one is refused with the parser's error and
    // its connection is not kept.
    const std::string body = R"({"cards":[]})";
    {
        wire_peer peer({.response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body});
        wire_client c(peer.url());
        for (int i = 0; i < 3; ++i)
        {
            auto r = c.send(post());
            BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
            BOOST_TEST(r->status == 200U);
            BOOST_TEST(r->body == body);
        }
        BOOST_TEST(peer.connections() == 1U);
    }
    {
        wire_peer peer({.response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef"});
        wire_client c(peer.url());
        auto r = c.send(post());
        BOOST_TEST_REQUIRE(r.has_error());
        BOOST_TEST(r.error() != error_code(errc::upstream_timeout));
        BOOST_TEST(c.client->stats().open == 0U);
    }
}

BOOST_AUTO_TEST_CASE(the_answers_content_type_cache_control_and_location_are_read_by_name_in_any_case)
{
    // Found in one walk over the fields (issue 19): the first of a repeated field, as Beast's
    // look-up by name gives, and an absent one empty.
    {
        wire_peer peer({.response = "HTTP/1.1 201 Created\r\ncache-CONTROL: max-age=60\r\nX-Other: x\r\nLOCATION: /Task/1\r\n"
                                    "content-type: application/fhir+json\r\nContent-Type: text/plain\r\nLocation: /Task/2\r\n"
                                    "Content-Length: 2\r\n\r\n{}"});
        wire_client c(peer.url());
        auto r = c.send(post());
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST(r->status == 201U);
        BOOST_TEST(r->content_type == "application/fhir+json");
        BOOST_TEST(r->cache_control == "max-age=60");
        BOOST_TEST(r->location == "/Task/1");
    }
    {
        wire_peer peer({.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"});
        wire_client c(peer.url());
        auto r = c.send(post());
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST(r->content_type.empty());
        BOOST_TEST(r->cache_control.empty());
        BOOST_TEST(r->location.empty());
    }
}

BOOST_AUTO_TEST_CASE(a_chunked_answers_trailer_never_stands_for_its_header_fields)
{
    // RFC 9110 §6.5.1: trailer fields are not header fields. A content type, caching rule, location
    // or "Connection: close" sent only after a chunked body is not the answer's; one the header
    // gave stays the header's, whatever a trailer repeats.
    const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Other: x\r\n\r\n2\r\n{}\r\n0\r\n"
                                "X-Other: y\r\nContent-Type: text/plain\r\nCache-Control: max-age=999\r\nLocation: /Task/9\r\n"
                                "Connection: close\r\n\r\n";
    {
        wire_peer peer({.response = chunked});
        wire_client c(peer.url());
        for (int i = 0; i < 2; ++i)
        {
            auto r = c.send(post());
            BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
            BOOST_TEST(r->body == "{}");
            BOOST_TEST(r->content_type.empty());
            BOOST_TEST(r->cache_control.empty());
            BOOST_TEST(r->location.empty());
        }
        BOOST_TEST(peer.connections() == 1U);  // kept alive, as the header said
    }
    {
        wire_peer peer({.response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "2\r\n{}\r\n0\r\nContent-Type: text/plain\r\n\r\n"});
        wire_client c(peer.url());
        auto r = c.send(post());
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST(r->content_type == "application/json");
    }
}

BOOST_AUTO_TEST_CASE(an_answer_that_ends_with_its_connection_leaves_nothing_in_the_pool)
{
    // No Content-Length and not chunked: the body runs to the end of the connection (RFC 9112
    // section 6.3), which cannot carry another exchange, whatever HTTP/1.1's default says. Pooled,
    // the next call would write into a closed connection and need a retry.
    wire_peer peer({.response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}", .close_after_answer = true});
    wire_client c(peer.url());
    for (int i = 0; i < 2; ++i)
    {
        auto r = c.send(post());
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST(r->body == "{}");
        BOOST_TEST(c.client->stats().idle == 0U);
    }
    BOOST_TEST(c.client->stats().retries == 0U);
    BOOST_TEST(c.client->stats().connects == 2U);
    BOOST_TEST(peer.connections() == 2U);
}

BOOST_AUTO_TEST_CASE(a_large_answer_arrives_whole)
{
    std::string body(300 * 1024, 'a');
    for (std::size_t i = 0; i < body.size(); i += 997)
        body[i] = static_cast<char>('b' + i % 20);
    wire_peer peer(
        {.response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body});
    wire_client c(peer.url());
    for (int i = 0; i < 2; ++i)
    {
        auto r = c.send(post());
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST((r->body == body));
    }
    BOOST_TEST(peer.connections() == 1U);
}

BOOST_AUTO_TEST_CASE(over_tls_the_gather_write_delivers_head_and_body)
{
    test::fake_decision_service fake(true);
    upstream::client_config cfg;
    cfg.origin = *core::parse_http_url(fake.url());
    cfg.ca_file = test::localhost_certificate().certificate;
    auto endpoints = std::make_shared<upstream::endpoint_cache>(cfg.origin);
    BOOST_TEST_REQUIRE(!endpoints->resolve_now());
    auto tls = std::make_shared<upstream::tls_context>(cfg.ca_file);
    net::io_context ioc;
    upstream::http_client client(ioc.get_executor(), cfg, endpoints, tls);
    // One record; a body just over one record (Beast's flat_stream wrote nothing for [empty head,
    // body > 16 KB] and asio's async_write took that for the end); many records.
    for (const std::size_t size : {std::size_t{21}, std::size_t{17000}, std::size_t{100 * 1024}})
    {
        auto req = post(R"({"hook":"order-sign","pad":")" + std::string(size, 'p') + R"("})");
        const auto body = req.body;
        req.headers.push_back({"X-CDS-Hook-Instance", "abc"});
        auto r = test::run_coro(ioc, client.send(std::move(req), clock::now() + 5s));
        BOOST_TEST_REQUIRE(r.has_value(), size << ": " << r.error().message());
        BOOST_TEST(r->status == 200U);
        BOOST_TEST((fake.last_body() == body));
        BOOST_TEST(fake.last_header("x-cds-hook-instance") == "abc");
    }
    BOOST_TEST(client.stats().connects == 1U);
}

BOOST_AUTO_TEST_SUITE_END()
