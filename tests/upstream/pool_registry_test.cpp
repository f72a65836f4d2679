// Pools are found through the io_context a call runs on, and end with it.

#include <crd/upstream/pool_registry.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>

using namespace crd;
using upstream::pool_registry;

BOOST_AUTO_TEST_SUITE(pool_registry_)

BOOST_AUTO_TEST_CASE(one_object_per_name_and_context_made_once)
{
    // Off the server's shard threads the old lookup built a fresh pool for every call.
    net::io_context a;
    net::io_context b;
    int made = 0;
    std::function<std::shared_ptr<int>()> make = [&] { return std::make_shared<int>(++made); };
    auto first = pool_registry::of(a.get_executor()).get_or_create("decision http://x/decide", make);
    auto again = pool_registry::of(a.get_executor()).get_or_create("decision http://x/decide", make);
    BOOST_TEST(first.get() == again.get());
    BOOST_TEST(made == 1);
    auto other_name = pool_registry::of(a.get_executor()).get_or_create("jwks http://x/jwks.json", make);
    auto other_context = pool_registry::of(b.get_executor()).get_or_create("decision http://x/decide", make);
    BOOST_TEST(other_name.get() != first.get());
    BOOST_TEST(other_context.get() != first.get());
    BOOST_TEST(made == 3);
}

BOOST_AUTO_TEST_CASE(what_a_context_holds_ends_with_it)
{
    std::weak_ptr<int> watch;
    {
        net::io_context ctx;
        std::function<std::shared_ptr<int>()> make = [] { return std::make_shared<int>(7); };
        watch = pool_registry::of(ctx.get_executor()).get_or_create("feedback http://x/f", make);
        BOOST_TEST(!watch.expired());
    }
    BOOST_TEST(watch.expired());
}

BOOST_AUTO_TEST_SUITE_END()
