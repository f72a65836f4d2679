// Log lines people read: durations as plain decimals, fields in order, one line per write.

#include <crd/core/log.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <limits>
#include <string>

using namespace crd;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(log_)

BOOST_AUTO_TEST_CASE(durations_are_plain_decimals_with_three_places)
{
    BOOST_TEST(log::to_json_line({{"latency_ms", 1.052338}}) == R"({"latency_ms":1.052})");
    BOOST_TEST(log::to_json_line({{"latency_ms", 2.0}}) == R"({"latency_ms":2.000})");
    BOOST_TEST(log::to_json_line({{"latency_ms", 0.0004}}) == R"({"latency_ms":0.000})");
    BOOST_TEST(log::to_json_line({{"latency_ms", 12345.6789}}) == R"({"latency_ms":12345.679})");
    BOOST_TEST(log::to_json_line({{"latency_ms", std::numeric_limits<double>::infinity()}}) == R"({"latency_ms":null})");
    // Far beyond any duration: still a JSON number.
    BOOST_TEST(json::parse(log::to_json_line({{"x", 1e300}})).at("x").as_double() == 1e300);
}

BOOST_AUTO_TEST_CASE(other_values_are_written_as_boost_json_writes_them_in_order)
{
    const json::object fields{{"event", "request"}, {"status", 200}, {"path", "/a\"b\n"}, {"nested", json::object{{"n", 1.5}}}, {"none", nullptr}};
    const auto line = log::to_json_line(fields);
    BOOST_TEST(line == R"({"event":"request","status":200,"path":"/a\"b\n","nested":{"n":1.5E0},"none":null})");
    BOOST_TEST(json::parse(line).as_object() == fields);
    BOOST_TEST(log::to_json_line({}) == "{}");
}

BOOST_AUTO_TEST_CASE(a_written_line_has_its_durations_as_decimals)
{
    test::stderr_capture captured;
    log::warning("slow_thing", {{"latency_ms", 1.052338}, {"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}});
    const auto text = captured.text();
    BOOST_TEST_REQUIRE(!text.empty());
    BOOST_TEST(text.back() == '\n');
    BOOST_TEST(text.find(R"("event":"slow_thing","latency_ms":1.052,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"})") != std::string::npos);
    BOOST_TEST(text.find('E') == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
