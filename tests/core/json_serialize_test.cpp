// core::serialize_json: the text boost::json::serialize gives, for values small and large.
#include <crd/core/json_document.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(json_serialize)

BOOST_AUTO_TEST_CASE(small_values_are_written_as_boost_json_writes_them)
{
    for (const char* text : {R"({})", R"([])", R"(null)", R"("a\"b\u0001")", R"({"a":[1,2.5,-3e+300,true,null],"b":{"c":"\u00e9"}})"})
    {
        const auto v = json::parse(text);
        BOOST_TEST(crd::core::serialize_json(v) == json::serialize(v));
    }
}

BOOST_AUTO_TEST_CASE(a_value_larger_than_many_pieces_is_written_whole)
{
    // Far beyond one 16 KB piece and the size hint, with strings crossing piece boundaries.
    json::array orders;
    for (int i = 0; i < 2000; ++i)
        orders.push_back(json::object{{"resourceType", "ServiceRequest"}, {"id", std::to_string(i)}, {"note", std::string(97, 'x')}});
    const json::value v = json::object{{"orders", std::move(orders)}};
    const auto expected = json::serialize(v);
    BOOST_TEST_REQUIRE(expected.size() > 200'000U);
    BOOST_TEST(crd::core::serialize_json(v, 16) == expected);
    BOOST_TEST(crd::core::serialize_json(v, expected.size()) == expected);
}

BOOST_AUTO_TEST_SUITE_END()
