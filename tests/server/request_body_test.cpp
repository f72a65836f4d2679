// detail::request_body, the listener's request body: what Beast's parser hands it arrives whole and
// in order, declared or chunked, and the parser's limits still hold.

#include "request_body.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace http = boost::beast::http;
using crd::server::detail::body_bytes;
using crd::server::detail::request_body;

namespace {

// Feeds `wire` to a parser in pieces of `step` bytes, as reads would; the error of the first put
// that fails (need_more aside).
boost::system::error_code feed(http::request_parser<request_body>& parser, std::string_view wire, std::size_t step)
{
    std::string pending;
    for (std::size_t at = 0; at < wire.size() && !parser.is_done(); at += step)
    {
        pending += wire.substr(at, step);
        for (std::size_t used = 1; used != 0 && !pending.empty() && !parser.is_done();)
        {
            boost::system::error_code ec;
            used = parser.put(boost::asio::buffer(pending), ec);
            pending.erase(0, used);
            if (ec && ec != http::error::need_more)
                return ec;
        }
    }
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(request_body_)

BOOST_AUTO_TEST_CASE(a_declared_body_arrives_whole_in_pieces_of_any_size)
{
    std::string body;
    for (int i = 0; i < 5000; ++i)
        body += static_cast<char>('a' + i % 26);
    const std::string wire = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (const std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, wire.size()})
        BOOST_TEST_CONTEXT("pieces of " << step)
        {
            http::request_parser<request_body> parser;
            BOOST_TEST(!feed(parser, wire, step));
            BOOST_TEST_REQUIRE(parser.is_done());
            BOOST_TEST(parser.get().body().view() == body);
            BOOST_TEST(parser.get().body().capacity() == body.size());  // reserved once, from Content-Length
        }
}

BOOST_AUTO_TEST_CASE(a_chunked_body_grows_as_it_arrives)
{
    const std::string wire = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n1\r\n,\r\n400\r\n" +
                             std::string(1024, 'z') + "\r\n0\r\n\r\n";
    http::request_parser<request_body> parser;
    BOOST_TEST(!feed(parser, wire, 3));
    BOOST_TEST_REQUIRE(parser.is_done());
    BOOST_TEST(parser.get().body().view() == "hello," + std::string(1024, 'z'));
}

BOOST_AUTO_TEST_CASE(the_parsers_body_limit_still_refuses)
{
    {
        http::request_parser<request_body> parser;
        parser.body_limit(100);
        BOOST_TEST(
            feed(parser, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", 64) == boost::system::error_code(http::error::body_limit));
        BOOST_TEST(parser.get().body().capacity() == 0U);  // refused before any room was taken
    }
    {
        http::request_parser<request_body> parser;
        parser.body_limit(100);
        const std::string wire = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" + std::string(101, 'q') + "\r\n0\r\n\r\n";
        BOOST_TEST(feed(parser, wire, 16) == boost::system::error_code(http::error::body_limit));
        BOOST_TEST(parser.get().body().size() <= 100U);
    }
}

BOOST_AUTO_TEST_CASE(body_bytes_keep_what_they_hold_as_they_grow)
{
    body_bytes bytes;
    BOOST_TEST(bytes.view().empty());
    bytes.append("abc", 3);
    bytes.reserve(2);  // never shrinks
    bytes.append("defgh", 5);
    bytes.reserve(100);
    bytes.append("i", 1);
    BOOST_TEST(bytes.view() == "abcdefghi");
    BOOST_TEST(bytes.capacity() == 100U);
}

BOOST_AUTO_TEST_SUITE_END()
