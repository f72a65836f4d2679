// core::parse_buffered: a Beast parser fed what a read buffer already holds, as the listener and the
// upstream client do before they await more bytes.

#include <crd/core/http_buffered_parse.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace http = boost::beast::http;
using crd::core::parse_buffered;
using crd::core::parse_until;

namespace {

boost::beast::flat_buffer holding(std::string_view bytes)
{
    boost::beast::flat_buffer buffer;
    buffer.commit(boost::asio::buffer_copy(buffer.prepare(bytes.size()), boost::asio::buffer(bytes.data(), bytes.size())));
    return buffer;
}

std::string rest_of(const boost::beast::flat_buffer& buffer)
{
    return {static_cast<const char*>(buffer.data().data()), buffer.size()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_buffered_parse)

BOOST_AUTO_TEST_CASE(the_header_alone_leaves_the_body_in_the_buffer)
{
    auto buffer = holding("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    http::request_parser<http::string_body> parser;
    boost::system::error_code ec;
    BOOST_TEST(parse_buffered(parser, buffer, parse_until::header, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(rest_of(buffer) == "abc");
    BOOST_TEST(parse_buffered(parser, buffer, parse_until::message, ec));
    BOOST_TEST(parser.get().body() == "abc");
}

BOOST_AUTO_TEST_CASE(a_whole_message_leaves_the_next_one_in_the_buffer)
{
    const std::string next = "GET /health HTTP/1.1\r\n\r\n";
    auto buffer = holding("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" + next);
    http::response_parser<http::string_body> parser;
    boost::system::error_code ec;
    BOOST_TEST(parse_buffered(parser, buffer, parse_until::message, ec));
    BOOST_TEST(!ec);
    BOOST_TEST(parser.get().body() == "{}");
    BOOST_TEST(rest_of(buffer) == next);
}

BOOST_AUTO_TEST_CASE(too_few_bytes_ask_for_more_and_bad_bytes_are_an_error)
{
    boost::system::error_code ec;
    {
        auto buffer = holding("POST /x HTTP/1.1\r\nContent-Le");
        http::request_parser<http::string_body> parser;
        BOOST_TEST(!parse_buffered(parser, buffer, parse_until::header, ec));
        BOOST_TEST(!ec);                       // more to read: not an error
        BOOST_TEST(!parser.is_header_done());  // the parser keeps what it took; a later read goes on from there
    }
    {
        auto buffer = holding("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
        http::request_parser<http::string_body> parser;
        BOOST_TEST(!parse_buffered(parser, buffer, parse_until::message, ec));
        BOOST_TEST(!ec);
        BOOST_TEST(buffer.size() == 0U);  // the three body bytes went to the body
    }
    {
        auto buffer = holding("NOT HTTP\r\n\r\n");
        http::request_parser<http::string_body> parser;
        BOOST_TEST(!parse_buffered(parser, buffer, parse_until::header, ec));
        BOOST_TEST(ec.failed());
    }
    {
        auto buffer = holding("POST /x HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
        http::request_parser<http::string_body> parser;
        parser.body_limit(100);
        BOOST_TEST(!parse_buffered(parser, buffer, parse_until::header, ec));
        BOOST_TEST(ec == boost::system::error_code(http::error::body_limit));
    }
}

BOOST_AUTO_TEST_SUITE_END()
