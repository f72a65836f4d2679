// The breaker on a manual clock: no sleeps, every transition stepped.

#include <crd/decision/circuit_breaker.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <stdexcept>

using namespace crd;
using namespace std::chrono_literals;
using decision::circuit_breaker;

namespace {

std::atomic<clock::rep> manual_ticks{0};

clock::time_point manual_now() noexcept
{
    return clock::time_point(clock::duration(manual_ticks.load()));
}

void advance(std::chrono::milliseconds d)
{
    manual_ticks += std::chrono::duration_cast<clock::duration>(d).count();
}

// Two failures (the threshold) on a fresh clock: open for 5 s.
struct opened_breaker
{
    circuit_breaker b{2, 5s, &manual_now};
    opened_breaker()
    {
        manual_ticks = std::chrono::duration_cast<clock::duration>(1h).count();
        b.admit().failed();
        b.admit().failed();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(circuit_breaker_)

BOOST_AUTO_TEST_CASE(opens_after_threshold_and_probes_once_after_cooldown)
{
    opened_breaker fixture;
    auto& b = fixture.b;
    BOOST_TEST(b.is_open());
    BOOST_TEST(!b.admit());
    advance(5s);
    BOOST_TEST(!b.is_open());
    auto probe = b.admit();
    BOOST_TEST_REQUIRE(static_cast<bool>(probe));
    BOOST_TEST(probe.is_probe());
    BOOST_TEST(!b.admit());  // exactly one probe at a time
    probe.succeeded();
    auto after = b.admit();
    BOOST_TEST(static_cast<bool>(after));
    BOOST_TEST(!after.is_probe());
}

BOOST_AUTO_TEST_CASE(a_failed_probe_opens_it_again)
{
    opened_breaker fixture;
    auto& b = fixture.b;
    advance(5s);
    b.admit().failed();
    BOOST_TEST(b.is_open());
    BOOST_TEST(!b.admit());
}

BOOST_AUTO_TEST_CASE(a_probe_dropped_without_a_verdict_gives_its_slot_back)
{
    // The defect: a probe that ended in pool_exhausted (or an exception) kept the slot, so
    // admit() was false forever while is_open() said closed.
    opened_breaker fixture;
    auto& b = fixture.b;
    advance(5s);
    {
        auto probe = b.admit();
        BOOST_TEST_REQUIRE(probe.is_probe());
    }  // no verdict
    auto next = b.admit();
    BOOST_TEST_REQUIRE(static_cast<bool>(next));
    BOOST_TEST(next.is_probe());

    // An exception between admit and the verdict releases it too.
    next = circuit_breaker::permit();
    try
    {
        auto probe = b.admit();
        BOOST_TEST_REQUIRE(probe.is_probe());
        throw std::runtime_error("bug");
    }
    catch (const std::runtime_error&)
    {
    }
    BOOST_TEST(b.admit().is_probe());
}

BOOST_AUTO_TEST_CASE(a_moved_permit_settles_once)
{
    opened_breaker fixture;
    auto& b = fixture.b;
    advance(5s);
    auto probe = b.admit();
    auto moved = std::move(probe);
    BOOST_TEST(!probe);  // NOLINT(bugprone-use-after-move): the moved-from permit is empty by contract
    moved.succeeded();
    moved.failed();  // already settled: no effect
    BOOST_TEST(!b.is_open());
}

BOOST_AUTO_TEST_SUITE_END()
