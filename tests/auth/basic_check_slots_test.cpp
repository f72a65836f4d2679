// The bound on HTTP Basic checks in flight, directly: the per-source and overall limits, slots
// coming back when released, and no memory kept for a source with nothing in flight (an attacker
// cycling through addresses must not grow the table).

#include "basic_auth.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

using crd::auth::basic_check_slots;

BOOST_AUTO_TEST_SUITE(basic_check_slots_)

BOOST_AUTO_TEST_CASE(one_source_gets_at_most_its_share)
{
    basic_check_slots slots(4, 2);
    basic_check_slots::slot a1(slots, "198.51.100.7");
    basic_check_slots::slot a2(slots, "198.51.100.7");
    basic_check_slots::slot a3(slots, "198.51.100.7");
    BOOST_TEST(static_cast<bool>(a1));
    BOOST_TEST(static_cast<bool>(a2));
    BOOST_TEST(!a3);
    basic_check_slots::slot b1(slots, "203.0.113.9");
    BOOST_TEST(static_cast<bool>(b1));
}

BOOST_AUTO_TEST_CASE(the_overall_bound_holds_across_sources)
{
    basic_check_slots slots(3, 2);
    basic_check_slots::slot a1(slots, "192.0.2.1");
    basic_check_slots::slot b1(slots, "192.0.2.2");
    basic_check_slots::slot c1(slots, "192.0.2.3");
    basic_check_slots::slot d1(slots, "192.0.2.4");
    BOOST_TEST((a1 && b1 && c1));
    BOOST_TEST(!d1);
    // The refused source holds nothing: it was counted, then given back.
    BOOST_TEST(slots.sources_in_flight() == 3U);
}

BOOST_AUTO_TEST_CASE(a_released_slot_can_be_taken_again)
{
    basic_check_slots slots(2, 1);
    {
        basic_check_slots::slot first(slots, "192.0.2.1");
        BOOST_TEST(static_cast<bool>(first));
        basic_check_slots::slot second(slots, "192.0.2.1");
        BOOST_TEST(!second);
    }
    basic_check_slots::slot again(slots, "192.0.2.1");
    BOOST_TEST(static_cast<bool>(again));
}

BOOST_AUTO_TEST_CASE(idle_sources_keep_no_entry)
{
    basic_check_slots slots(16, 8);
    {
        std::vector<std::unique_ptr<basic_check_slots::slot>> held;
        for (int i = 0; i < 40; ++i)  // 16 held, 24 refused (overall bound)
            held.push_back(std::make_unique<basic_check_slots::slot>(slots, "192.0.2." + std::to_string(i)));
        BOOST_TEST(slots.sources_in_flight() == 16U);
    }
    BOOST_TEST(slots.sources_in_flight() == 0U);

    // A source with no share at all is refused without leaving an entry behind.
    basic_check_slots none(4, 0);
    basic_check_slots::slot refused(none, "192.0.2.1");
    BOOST_TEST(!refused);
    BOOST_TEST(none.sources_in_flight() == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
