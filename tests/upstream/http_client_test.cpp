#include <crd/upstream/http_client.hpp>

#include "closed_port.hpp"
#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "tls_cert.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>
#include <vector>

using namespace crd;
using namespace std::chrono_literals;
using test::fake_decision_service;
using test::fake_mode;

namespace {

struct client_setup
{
    upstream::client_config cfg;
    std::shared_ptr<upstream::endpoint_cache> endpoints;
    std::shared_ptr<upstream::tls_context> tls;

    explicit client_setup(const std::string& url, std::optional<std::string> ca_file = std::nullopt, bool resolve = true)
    {
        cfg.origin = *core::parse_http_url(url);
        cfg.ca_file = ca_file;
        endpoints = std::make_shared<upstream::endpoint_cache>(cfg.origin);
        if (resolve)
            BOOST_TEST_REQUIRE(!endpoints->resolve_now());
        if (cfg.origin.is_https())
            tls = std::make_shared<upstream::tls_context>(cfg.ca_file);
    }

    upstream::http_client make(net::any_io_executor ex) const { return upstream::http_client(ex, cfg, endpoints, tls); }
};

upstream::request post(std::string body = R"({"hook":"order-sign"})")
{
    upstream::request r;
    r.target = "/decide";
    r.body = std::move(body);
    return r;
}

clock::time_point in(std::chrono::milliseconds d)
{
    return clock::now() + d;
}

// Runs `n` sends concurrently on one io_context and returns their results.
std::vector<result<upstream::response>> concurrently(upstream::http_client& client, net::io_context& ioc, int n, std::chrono::milliseconds budget)
{
    std::vector<result<upstream::response>> out(static_cast<std::size_t>(n), error_code(errc::upstream_timeout));
    for (int i = 0; i < n; ++i)
    {
        auto op = [](upstream::http_client c, result<upstream::response>& slot, clock::time_point deadline) -> net::awaitable<void> {
            slot = co_await c.send(post(), deadline);
        };
        net::co_spawn(ioc, op(client, out[static_cast<std::size_t>(i)], in(budget)), net::detached);
    }
    ioc.run();
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_client_)

BOOST_AUTO_TEST_CASE(sequential_calls_use_one_connection)
{
    fake_decision_service fake;
    client_setup setup(fake.url());
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    for (int i = 0; i < 5; ++i)
    {
        auto r = test::run_coro(ioc, client.send(post(), in(2s)));
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST(r->status == 200U);
        BOOST_TEST(r->content_type == "application/json");
    }
    BOOST_TEST(fake.connections() == 1U);
    BOOST_TEST(fake.requests() == 5U);
    const auto s = client.stats();
    BOOST_TEST(s.connects == 1U);
    BOOST_TEST(s.reuses == 4U);
    BOOST_TEST(s.idle == 1U);
    BOOST_TEST(fake.last_body() == R"({"hook":"order-sign"})");
    BOOST_TEST(fake.last_header("content-type") == "application/json");
}

BOOST_AUTO_TEST_CASE(concurrent_calls_open_at_most_pool_size_connections)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::slow);
    fake.set_delay(50ms);
    client_setup setup(fake.url());
    setup.cfg.max_connections = 2;
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    auto results = concurrently(client, ioc, 6, 5s);
    for (const auto& r : results)
        BOOST_TEST(r.has_value());
    BOOST_TEST(fake.connections() <= 2U);
    BOOST_TEST(fake.max_concurrent() <= 2U);
    BOOST_TEST(client.stats().open <= 2U);
}

BOOST_AUTO_TEST_CASE(a_full_wait_queue_fails_fast)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::slow);
    fake.set_delay(300ms);
    client_setup setup(fake.url());
    setup.cfg.max_connections = 1;
    setup.cfg.max_pending = 0;
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    auto results = concurrently(client, ioc, 2, 5s);
    const auto ok = std::count_if(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
    const auto exhausted =
        std::count_if(results.begin(), results.end(), [](const auto& r) { return r.has_error() && r.error() == errc::pool_exhausted; });
    BOOST_TEST(ok == 1);
    BOOST_TEST(exhausted == 1);
}

BOOST_AUTO_TEST_CASE(a_waiter_gets_the_released_connection)
{
    fake_decision_service fake;
    client_setup setup(fake.url());
    setup.cfg.max_connections = 1;
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    auto results = concurrently(client, ioc, 4, 5s);
    for (const auto& r : results)
        BOOST_TEST(r.has_value());
    BOOST_TEST(fake.connections() == 1U);
}

BOOST_AUTO_TEST_CASE(the_deadline_is_honoured)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::slow);
    fake.set_delay(3s);
    client_setup setup(fake.url());
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    const auto start = clock::now();
    auto r = test::run_coro(ioc, client.send(post(), in(100ms)));
    const auto elapsed = clock::now() - start;
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error() == error_code(errc::upstream_timeout));
    BOOST_TEST((elapsed >= 90ms));
    BOOST_TEST((elapsed < 2s));
    BOOST_TEST(client.stats().open == 0U);  // a timed-out connection is never pooled
}

BOOST_AUTO_TEST_CASE(a_header_value_that_could_split_the_request_is_never_sent)
{
    // The last line of defence: Beast 1.81 writes CR/LF in a field value as given.
    fake_decision_service fake;
    client_setup setup(fake.url());
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    for (const std::string& bad : std::vector<std::string>{"x\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1", std::string("a\0b", 3), "a\nb"})
    {
        auto req = post();
        req.headers.push_back({"X-CDS-Hook-Instance", bad});
        auto r = test::run_coro(ioc, client.send(std::move(req), in(2s)));
        BOOST_TEST_REQUIRE(r.has_error());
        BOOST_TEST(r.error() == error_code(errc::header_value_invalid));
    }
    auto target = post();
    target.target = "/decide\r\nX: y";
    BOOST_TEST(test::run_coro(ioc, client.send(std::move(target), in(2s))).error() == error_code(errc::header_value_invalid));
    BOOST_TEST(fake.connections() == 0U);  // nothing was written anywhere
    BOOST_TEST(test::run_coro(ioc, client.send(post(), in(2s))).has_value());
}

BOOST_AUTO_TEST_CASE(a_stale_pooled_connection_is_retried_once)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::close_after_response);  // answers keep-alive, then closes
    client_setup setup(fake.url());
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    BOOST_TEST_REQUIRE(test::run_coro(ioc, client.send(post(), in(2s))).has_value());
    std::this_thread::sleep_for(50ms);  // let the close arrive
    auto r = test::run_coro(ioc, client.send(post(), in(2s)));
    BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
    BOOST_TEST(client.stats().retries == 1U);
    BOOST_TEST(fake.connections() == 2U);
    BOOST_TEST(fake.requests() == 2U);
}

BOOST_AUTO_TEST_CASE(a_failure_after_response_bytes_is_not_retried)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::reset_mid_response);
    client_setup setup(fake.url());
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    auto r = test::run_coro(ioc, client.send(post(), in(2s)));
    BOOST_TEST(r.has_error());
    BOOST_TEST(fake.requests() == 1U);
    BOOST_TEST(client.stats().open == 0U);
}

BOOST_AUTO_TEST_CASE(oversized_responses_are_refused)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::oversized);
    fake.set_oversized_bytes(64 * 1024);
    client_setup setup(fake.url());
    setup.cfg.max_response_bytes = 1024;
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    auto r = test::run_coro(ioc, client.send(post(), in(2s)));
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error() == error_code(errc::response_too_large));
}

BOOST_AUTO_TEST_CASE(an_unresolved_host_fails_fast)
{
    client_setup setup("http://127.0.0.1:9/decide", std::nullopt, false);
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    auto r = test::run_coro(ioc, client.send(post(), in(2s)));
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error() == error_code(errc::upstream_unresolved));
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_an_error_not_a_hang)
{
    const test::closed_port closed;  // nothing listens there, and nothing can while it is held
    client_setup setup(closed.url("/decide"));
    net::io_context ioc;
    auto client = setup.make(ioc.get_executor());
    auto r = test::run_coro(ioc, client.send(post(), in(2s)));
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error() != error_code(errc::upstream_timeout));
    BOOST_TEST(client.stats().open == 0U);
}

BOOST_AUTO_TEST_CASE(tls_with_a_private_ca_and_host_verification)
{
    fake_decision_service fake(true);
    net::io_context ioc;
    {
        client_setup trusted(fake.url(), test::localhost_certificate().certificate);
        auto client = trusted.make(ioc.get_executor());
        auto r = test::run_coro(ioc, client.send(post(), in(5s)));
        BOOST_TEST_REQUIRE(r.has_value(), r.error().message());
        BOOST_TEST(r->status == 200U);
        BOOST_TEST(test::run_coro(ioc, client.send(post(), in(5s))).has_value());
        BOOST_TEST(client.stats().connects == 1U);  // TLS connections are pooled too
    }
    {
        // The system store does not know our test CA: the handshake must fail.
        client_setup untrusted(fake.url());
        auto client = untrusted.make(ioc.get_executor());
        auto r = test::run_coro(ioc, client.send(post(), in(5s)));
        BOOST_TEST(r.has_error());
    }
    BOOST_CHECK_THROW(upstream::tls_context(std::optional<std::string>("/nonexistent/ca.pem")), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
