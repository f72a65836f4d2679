// The shared replay cache against a real redis-server on a loopback port of the test's own: one
// atomic SET NX PX per claim, shared by two guards (two instances), the key living until exp +
// leeway, and what happens while Redis is down (fail_closed: unavailable and not ready; local:
// this process's own cache), then recovery without a restart.

#include <crd/auth/auth_metrics.hpp>
#include <crd/auth/redis_replay_guard.hpp>

#include "fixtures.hpp"
#include "redis_server.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <thread>

using namespace crd;
using auth::replay_verdict;
namespace utf = boost::unit_test;

namespace {

std::int64_t now_s()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

core::replay_cache_config settings(
    const test::redis_server& redis, core::replay_unavailable_policy policy = core::replay_unavailable_policy::fail_closed)
{
    core::replay_cache_config c;
    c.host = "127.0.0.1";
    c.port = redis.port();
    c.prefix = "t:";
    c.timeout = std::chrono::milliseconds(200);
    c.on_unavailable = policy;
    return c;
}

replay_verdict claim(auth::replay_guard& guard, const std::string& iss, const std::string& jti, std::int64_t until)
{
    return test::run_coro(guard.claim(iss, jti, until));
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds within = std::chrono::seconds(10))
{
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end)
    {
        if (condition())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return condition();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_replay_guard_, *utf::precondition(test::redis_server_present))

BOOST_AUTO_TEST_CASE(a_token_id_claimed_through_one_guard_is_a_replay_through_another)
{
    test::redis_server redis;
    auth::redis_replay_guard a(settings(redis));
    auth::redis_replay_guard b(settings(redis));
    a.start();
    b.start();
    BOOST_REQUIRE(eventually([&] { return a.connected() && b.connected(); }));
    BOOST_TEST(a.ready().ready);
    const auto until = now_s() + 120;
    BOOST_TEST((claim(a, "ehr", "jti-1", until) == replay_verdict::first_use));
    BOOST_TEST((claim(b, "ehr", "jti-1", until) == replay_verdict::replayed));
    BOOST_TEST((claim(a, "ehr", "jti-1", until) == replay_verdict::replayed));
    // Another issuer's identical jti is another token.
    BOOST_TEST((claim(b, "other-ehr", "jti-1", until) == replay_verdict::first_use));
    // One key per (prefix, iss, jti), kept until exp + leeway (here `until`): not for ever.
    const auto ttl = std::stoll(redis.command("PTTL \"t:ehr\\njti-1\"").substr(1));
    BOOST_TEST(ttl > 110'000);
    BOOST_TEST(ttl <= 120'000);
    BOOST_TEST(redis.command("DBSIZE") == ":2");
}

BOOST_AUTO_TEST_CASE(fail_closed_answers_unavailable_and_is_not_ready_while_redis_is_down_then_recovers)
{
    test::redis_server redis;
    auth::redis_replay_guard guard(settings(redis));
    guard.start();
    BOOST_REQUIRE(eventually([&] { return guard.connected(); }));
    const auto until = now_s() + 120;
    BOOST_TEST((claim(guard, "ehr", "before", until) == replay_verdict::first_use));

    redis.kill();
    BOOST_REQUIRE(eventually([&] { return !guard.connected(); }));
    BOOST_TEST(!guard.ready().ready);
    BOOST_TEST(guard.ready().reason.find("fail_closed") != std::string::npos);
    const auto started = std::chrono::steady_clock::now();
    BOOST_TEST((claim(guard, "ehr", "during", until) == replay_verdict::unavailable));
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500)));  // no wait on a known outage
    BOOST_TEST(auth::auth_metrics::instance().mode.value() == static_cast<std::int64_t>(auth::replay_mode::refusing));

    redis.restart();  // empty: a test Redis saves nothing
    BOOST_REQUIRE(eventually([&] { return guard.connected(); }));
    BOOST_TEST(guard.ready().ready);
    BOOST_TEST(auth::auth_metrics::instance().mode.value() == static_cast<std::int64_t>(auth::replay_mode::redis));
    BOOST_TEST((claim(guard, "ehr", "during", until) == replay_verdict::first_use));
    BOOST_TEST((claim(guard, "ehr", "during", until) == replay_verdict::replayed));
}

BOOST_AUTO_TEST_CASE(local_falls_back_to_this_process_and_counts_it)
{
    test::redis_server redis;
    auth::redis_replay_guard guard(settings(redis, core::replay_unavailable_policy::local));
    guard.start();
    BOOST_REQUIRE(eventually([&] { return guard.connected(); }));
    redis.kill();
    BOOST_REQUIRE(eventually([&] { return !guard.connected(); }));
    BOOST_TEST(guard.ready().ready);  // it still answers
    const auto fallbacks = auth::auth_metrics::instance().local_fallbacks.value();
    const auto until = now_s() + 120;
    BOOST_TEST((claim(guard, "ehr", "offline", until) == replay_verdict::first_use));
    BOOST_TEST((claim(guard, "ehr", "offline", until) == replay_verdict::replayed));
    BOOST_TEST(auth::auth_metrics::instance().local_fallbacks.value() == fallbacks + 2);
    BOOST_TEST(auth::auth_metrics::instance().mode.value() == static_cast<std::int64_t>(auth::replay_mode::local_fallback));
}

BOOST_AUTO_TEST_CASE(a_password_and_a_database_are_used)
{
    test::redis_server redis("a-test-password");
    auto c = settings(redis);
    c.db = 2;
    auth::redis_replay_guard wrong(c);  // no password: NOAUTH, never connected
    c.password = "a-test-password";
    auth::redis_replay_guard right(c);
    wrong.start();
    right.start();
    BOOST_REQUIRE(eventually([&] { return right.connected(); }));
    BOOST_TEST(!wrong.connected());
    BOOST_TEST((claim(right, "ehr", "x", now_s() + 60) == replay_verdict::first_use));
    BOOST_TEST((claim(wrong, "ehr", "x", now_s() + 60) == replay_verdict::unavailable));
}

BOOST_AUTO_TEST_CASE(a_silent_redis_times_out_within_the_bound)
{
    test::redis_server redis;
    auth::redis_replay_guard guard(settings(redis));
    guard.start();
    BOOST_REQUIRE(eventually([&] { return guard.connected(); }));
    // Redis stops answering (the process is stopped, the connection stays open).
    redis.pause();
    const auto started = std::chrono::steady_clock::now();
    BOOST_TEST((claim(guard, "ehr", "slow", now_s() + 60) == replay_verdict::unavailable));
    const auto waited = std::chrono::steady_clock::now() - started;
    BOOST_TEST((waited >= std::chrono::milliseconds(150)));
    BOOST_TEST((waited < std::chrono::milliseconds(1'000)));
    redis.resume();
    BOOST_REQUIRE(eventually([&] { return guard.connected(); }));
    BOOST_TEST((claim(guard, "ehr", "slow-after", now_s() + 60) == replay_verdict::first_use));
}

BOOST_AUTO_TEST_CASE(stop_with_nothing_listening_returns_promptly)
{
    core::replay_cache_config c;
    c.host = "127.0.0.1";
    c.port = test::free_loopback_port();
    auth::redis_replay_guard guard(c);
    guard.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    BOOST_TEST(!guard.connected());
    BOOST_TEST(!guard.ready().ready);
    const auto started = std::chrono::steady_clock::now();
    guard.stop();
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500)));
}

BOOST_AUTO_TEST_SUITE_END()
