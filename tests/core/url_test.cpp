#include <crd/core/url.hpp>

#include <boost/test/unit_test.hpp>

using crd::core::parse_http_url;

BOOST_AUTO_TEST_SUITE(url_)

BOOST_AUTO_TEST_CASE(parses_scheme_host_port_and_target)
{
    auto u = parse_http_url("https://Payer.Example.org:8443/cds/decide?x=1");
    BOOST_TEST_REQUIRE(u.has_value());
    BOOST_TEST(u->scheme == "https");
    BOOST_TEST(u->host == "payer.example.org");
    BOOST_TEST(u->port == 8443);
    BOOST_TEST(u->target == "/cds/decide?x=1");
    BOOST_TEST(u->origin() == "https://payer.example.org:8443");
}

BOOST_AUTO_TEST_CASE(defaults_port_and_path)
{
    auto u = parse_http_url("http://127.0.0.1");
    BOOST_TEST_REQUIRE(u.has_value());
    BOOST_TEST(u->port == 80);
    BOOST_TEST(u->target == "/");
    BOOST_TEST(u->origin() == "http://127.0.0.1");
    auto v6 = parse_http_url("https://[::1]:9000/x");
    BOOST_TEST_REQUIRE(v6.has_value());
    BOOST_TEST(v6->host == "::1");
    BOOST_TEST(v6->port == 9000);
}

BOOST_AUTO_TEST_CASE(rejects_what_is_not_a_plain_http_url)
{
    for (const char* bad : {"", "ftp://x", "example.org/path", "http://", "http://user:pw@host/", "http://host:0/",
                            "http://host:99999/", "http://host:abc/", "http://ho st/", "http://host/#frag", "http://host:/"})
    {
        BOOST_TEST_CONTEXT(bad)
        {
            BOOST_TEST(!parse_http_url(bad).has_value());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
