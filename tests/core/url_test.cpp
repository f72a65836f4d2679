#include <crd/core/url.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

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
    for (const char* bad : {"", "ftp://x", "example.org/path", "http://", "http://user:pw@host/", "http://host:0/", "http://host:99999/",
             "http://host:abc/", "http://ho st/", "http://host/#frag", "http://host:/"})
    {
        BOOST_TEST_CONTEXT(bad)
        {
            BOOST_TEST(!parse_http_url(bad).has_value());
            BOOST_TEST(!crd::core::is_http_url(bad));
        }
    }
}

BOOST_AUTO_TEST_CASE(rejects_invalid_hosts)
{
    // Found by fuzzing: hosts the old parser took, whose origin() then did not parse.
    for (const char* bad :
        {"http://:]:4", "http://[[]", "http://[]/", "http://[::1", "http://[::1]x/", "http://[zz::1]/", "http://[::1%25eth0]/", "http://h\xc3\xa9st/",
            "http://a..b/", "http://.a/", "http://a/b\x80", "http://h<st/", "http://h%41st/", "http://:80/", "http://host:+80/", "http://host:-1/"})
    {
        BOOST_TEST_CONTEXT(bad)
        {
            BOOST_TEST(!parse_http_url(bad).has_value());
            BOOST_TEST(!crd::core::is_http_url(bad));
        }
    }
}

BOOST_AUTO_TEST_CASE(is_http_url_accepts_what_parse_http_url_accepts)
{
    for (const char* good : {"https://Payer.Example.org:8443/cds/decide?x=1", "HTTP://host", "http://127.0.0.1", "https://[::1]:9000/x",
             "https://[FE80::1]/", "http://host.?q", "http://a_b-c.d:65535/", "https://ehr.example.org/fhir/r4"})
    {
        BOOST_TEST_CONTEXT(good)
        {
            BOOST_TEST(parse_http_url(good).has_value());
            BOOST_TEST(crd::core::is_http_url(good));
        }
    }
    // The host is lower-cased and a bare query gains its "/" in the parsed form only.
    const auto u = parse_http_url("HTTPS://EHR.Example.ORG?x=1");
    BOOST_TEST_REQUIRE(u.has_value());
    BOOST_TEST(u->scheme == "https");
    BOOST_TEST(u->host == "ehr.example.org");
    BOOST_TEST(u->target == "/?x=1");
    BOOST_TEST(parse_http_url("https://[FE80::1]/")->host == "fe80::1");
}

BOOST_AUTO_TEST_CASE(every_accepted_url_has_an_origin_that_parses_to_itself)
{
    for (const char* good : {"http://LOCALHOST:8080/jwks.json", "https://[2001:DB8::1]:443/", "http://[::ffff:127.0.0.1]:9/x",
             "http://my_host.internal:1/", "https://ehr.example.org./fhir"})
    {
        BOOST_TEST_CONTEXT(good)
        {
            auto u = parse_http_url(good);
            BOOST_TEST_REQUIRE(u.has_value());
            auto again = parse_http_url(u->origin());
            BOOST_TEST_REQUIRE(again.has_value());
            BOOST_TEST(again->origin() == u->origin());
        }
    }
    BOOST_TEST(parse_http_url("http://LOCALHOST:8080/jwks.json")->origin() == "http://localhost:8080");
    BOOST_TEST(parse_http_url("https://[2001:DB8::1]:443/")->origin() == "https://[2001:db8::1]");
}

// The check for spaces, control characters, non-ASCII and '#' reads sixteen bytes at a time: every
// byte value, at every place in the path of URLs of every length up to three blocks past the
// origin, gives what the byte-by-byte rule gives.
BOOST_AUTO_TEST_CASE(every_byte_is_judged_alike_wherever_it_lies_in_a_url)
{
    const auto refused = [](unsigned char b) { return b <= 0x20 || b >= 0x7F || b == '#'; };
    const std::string origin = "https://h.example/";
    for (std::size_t length = 1; length <= 48; ++length)
        for (std::size_t at = 0; at < length; ++at)
            for (unsigned b = 0; b < 256; ++b)
            {
                std::string url = origin + std::string(length, 'p');
                url[origin.size() + at] = static_cast<char>(b);
                if (crd::core::is_http_url(url) == refused(static_cast<unsigned char>(b)))
                {
                    BOOST_TEST_REQUIRE(false, "byte " << b << " at " << at << " of " << length);
                }
            }
    // In the scheme and the host too, within the first block.
    BOOST_TEST(!crd::core::is_http_url("http\x01://h.example/"));
    BOOST_TEST(!crd::core::is_http_url("http://h.ex\xC3\xA9mple/"));
}

BOOST_AUTO_TEST_CASE(canonical_form_compares_urls_as_the_same_resource)
{
    BOOST_TEST(crd::core::canonical_url("HTTP://Localhost:80/jwks.json") == "http://localhost/jwks.json");
    BOOST_TEST(crd::core::canonical_url("http://localhost/jwks.json") == "http://localhost/jwks.json");
    BOOST_TEST(crd::core::canonical_url("http://[[]").empty());
}

BOOST_AUTO_TEST_SUITE_END()
