// core::serialize_json: the text boost::json::serialize gives, for values small and large.
#include <crd/core/json_document.hpp>

#include <boost/json/memory_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

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

namespace {

// Counts what is allocated through it, from the default resource.
class counting_resource : public json::memory_resource
{
public:
    std::size_t allocations = 0;

private:
    void* do_allocate(std::size_t n, std::size_t align) override
    {
        ++allocations;
        return ::operator new(n, std::align_val_t(align));
    }
    void do_deallocate(void* p, std::size_t /*n*/, std::size_t align) override { ::operator delete(p, std::align_val_t(align)); }
    bool do_is_equal(const json::memory_resource& other) const noexcept override { return this == &other; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_object_or_array_is_written_as_it_is_without_a_copy)
{
    // A decisions request body is built as a json::object: serialised through the value overload,
    // it was first copied, member by member, into a temporary value in the same resource.
    counting_resource resource;
    const json::storage_ptr sp(&resource);
    json::object object(sp);
    object["orders"] = json::array({json::object({{"id", "a-long-enough-identifier-to-allocate"}}, sp)}, sp);
    object["patient"] = "Patient/a-long-enough-identifier-to-allocate";
    const json::array& array = object.at("orders").as_array();
    const auto before = resource.allocations;

    BOOST_TEST(crd::core::serialize_json(object) == json::serialize(object));
    std::string appended = "[";
    crd::core::append_json(appended, object);
    appended += ',';
    crd::core::append_json(appended, array);
    appended += ']';
    BOOST_TEST(appended == "[" + json::serialize(object) + "," + json::serialize(array) + "]");
    BOOST_TEST(resource.allocations == before);
}

BOOST_AUTO_TEST_CASE(every_byte_in_strings_and_keys_is_escaped_as_boost_json_escapes_it)
{
    // Control bytes (the short escapes and \u00xx), quote, backslash, slash, DEL and bytes above
    // 0x7F, alone, in runs longer than the 16-byte scan and at its edges, as values and as keys.
    std::string every_byte;
    for (int b = 0; b < 256; ++b)
        every_byte.push_back(static_cast<char>(b));
    json::object o;
    o[every_byte] = every_byte;
    for (int b = 0; b < 256; ++b)
    {
        const std::string around = std::string(15, 'a') + static_cast<char>(b) + std::string(17, 'z');
        o[around] = json::array{std::string(1, static_cast<char>(b)), around, std::string(33, static_cast<char>(b))};
    }
    const json::value v = std::move(o);
    BOOST_TEST(crd::core::serialize_json(v) == json::serialize(v));
}

BOOST_AUTO_TEST_CASE(an_escape_at_every_offset_of_every_length_up_to_three_blocks)
{
    // The writer copies whole 16-byte blocks, then a tail: an escape before, on and after each
    // block edge, one or two of them, in strings of every length up to 48.
    json::array strings;
    for (std::size_t length = 1; length <= 48; ++length)
        for (std::size_t at = 0; at < length; ++at)
        {
            std::string s(length, 'p');
            s[at] = '"';
            strings.emplace_back(s);
            s[length - 1 - (at / 2)] = '\n';
            strings.emplace_back(s);
        }
    const json::value v = std::move(strings);
    BOOST_TEST(crd::core::serialize_json(v) == json::serialize(v));
    BOOST_TEST(crd::core::serialize_json(v, 1) == json::serialize(v));
}

BOOST_AUTO_TEST_CASE(short_keys_and_strings_take_the_inline_path_or_the_general_one_alike)
{
    // Keys and values shorter than a block are written inline with their closing quote (and a
    // key's colon) when the output has room for a whole block, by the general routine otherwise:
    // plain, escaped at every offset, empty, and with every size of room left before the output grows.
    json::object o;
    for (std::size_t length = 0; length <= 17; ++length)
    {
        o[std::string(length, 'k') + "#"] = std::string(length, 'v');
        for (std::size_t at = 0; at < length; ++at)
        {
            std::string key(length, 'k');
            key[at] = '"';
            std::string value(length, 'v');
            value[at] = '\x1f';
            o[key] = value;
        }
    }
    const json::value v = std::move(o);
    const auto expected = json::serialize(v);
    for (std::size_t hint = 0; hint <= 40; ++hint)
        BOOST_TEST(crd::core::serialize_json(v, hint) == expected);
    for (std::size_t already = 0; already <= 40; ++already)
    {
        std::string out(already, ' ');
        crd::core::append_json(out, v);
        BOOST_TEST(out == std::string(already, ' ') + expected);
    }
}

BOOST_AUTO_TEST_CASE(an_empty_view_with_no_data_is_an_empty_string)
{
    // std::string_view{} has a null data(): nothing may be read from it.
    std::string out = "[";
    crd::core::append_json_string(out, std::string_view{});
    out += ',';
    crd::core::append_json(out, json::value(json::object{{"", ""}}));
    BOOST_TEST(out == R"(["",{"":""})");
}

BOOST_AUTO_TEST_CASE(numbers_keep_boost_json_spelling)
{
    json::array numbers{
        0, -1, 1, INT64_MIN, INT64_MAX, UINT64_MAX, 0.0, -0.0, 1.0, 2.5, 0.1, 1e-300, 5e-324, 1.7976931348623157e308, -123456.789, 1e21, 1e-7, 100.0};
    const json::value v = std::move(numbers);
    const auto expected = json::serialize(v);
    BOOST_TEST(crd::core::serialize_json(v) == expected);
    // Boost writes doubles in its own exponent form; a writer using std::to_chars would not.
    BOOST_TEST(expected.find("2.5E0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nesting_empty_containers_and_every_kind_round_trip_as_boost_writes_them)
{
    const auto v =
        json::parse(R"({"":{},"a":[[],[{}],[[[null]]]],"b":{"c":{"d":[true,false,null,"",-0.5,18446744073709551615]}},"e":"\u2028\ud83d\ude00/"})");
    BOOST_TEST(crd::core::serialize_json(v) == json::serialize(v));
    BOOST_TEST(crd::core::serialize_json(json::value(nullptr)) == "null");
    BOOST_TEST(crd::core::serialize_json(json::value("x")) == R"("x")");
}

BOOST_AUTO_TEST_CASE(append_json_and_append_json_string_add_to_what_is_there)
{
    std::string out = R"({"kept":1,"key":)";
    crd::core::append_json(out, json::parse(R"({"a":["x\n",2.5]})"));
    out += ',';
    crd::core::append_json_string(out, "q\"uote\\ and \x01");
    BOOST_TEST(out == R"({"kept":1,"key":{"a":["x\n",2.5E0]},"q\"uote\\ and \u0001")");
}

BOOST_AUTO_TEST_CASE(a_string_ending_at_a_page_edge_is_scanned_without_the_16_byte_read)
{
    // The tail of a string that ends within 16 bytes of a page end takes the byte-by-byte path (a
    // 16-byte read there could cross into an unmapped page): the same text either way.
    constexpr std::size_t page = 4096;
    std::vector<char> buffer(3 * page);
    char* const page_end = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(buffer.data()) / page + 2) * page);
    for (const std::string& tail : {std::string("abc\"d"), std::string("\x1f\\e"), std::string("plain tail"), std::string(15, 'z')})
        for (std::size_t before_end = tail.size(); before_end < tail.size() + 16; ++before_end)
        {
            char* const start = page_end - before_end;
            std::copy(tail.begin(), tail.end(), start);
            const std::string_view s(start, tail.size());
            std::string out;
            crd::core::append_json_string(out, s);
            BOOST_TEST(out == json::serialize(json::string(s)), tail << " ending " << before_end - tail.size() << " bytes before a page end");
        }
}

BOOST_AUTO_TEST_CASE(a_verbatim_object_is_its_text_and_then_the_members_added_since)
{
    using crd::core::verbatim_object;
    // An order as the caller spaced it, moved into an answer, with a member added after.
    const std::string text = R"({"answer": [{"resourceType" : "ServiceRequest",  "id":"a\u0062", "n": 1.50}, {"id": "b"}]})";
    boost::system::error_code ec;
    auto doc = crd::core::parse_document(text, crd::core::max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    auto& orders = doc->at("answer").as_array();
    const std::size_t first_at = text.find(R"({"resourceType")");
    const std::string_view first_text = std::string_view(text).substr(first_at, text.find('}') + 1 - first_at);
    const std::string_view second_text = std::string_view(text).substr(text.find(R"({"id": "b"})"), 11);
    orders[0].as_object()["extension"] = json::array{json::object{{"url", "u"}}};
    orders[1].as_object()["extension"] = json::array{};
    const std::vector<verbatim_object> verbatim = {
        {orders[0].as_object().begin(), 3, first_text},
        {orders[1].as_object().begin(), 1, second_text},
    };
    const std::string written = crd::core::serialize_json(*doc, 64, verbatim);
    BOOST_TEST(
        written ==
        R"({"answer":[{"resourceType" : "ServiceRequest",  "id":"a\u0062", "n": 1.50,"extension":[{"url":"u"}]},{"id": "b","extension":[]}]})");
    BOOST_TEST(json::parse(written) == *doc);

    // An object with no members as sent: the added ones follow its brace.
    json::value empty_order = json::object{{"extension", 1}};
    const std::vector<verbatim_object> from_empty = {{empty_order.as_object().begin(), 0, "{ }"}};
    BOOST_TEST(crd::core::serialize_json(empty_order, 64, from_empty) == R"({ "extension":1})");
}

BOOST_AUTO_TEST_CASE(a_verbatim_object_that_changed_or_was_not_met_is_written_from_the_tree)
{
    using crd::core::verbatim_object;
    json::value answer = json::parse(R"({"a": {"id": "x"}, "b": {"id": "y"}, "c": {"id": "z"}})");
    auto& a = answer.at("a").as_object();
    auto& b = answer.at("b").as_object();
    auto& c = answer.at("c").as_object();
    b["extension"] = 1;
    c["extension"] = 2;
    const std::string plain = boost::json::serialize(answer);
    // `a` has no member added after its text: not the verbatim text's object any more.
    const std::vector<verbatim_object> unchanged = {{a.begin(), 1, R"({"id":"OLD"})"}};
    BOOST_TEST(crd::core::serialize_json(answer, 64, unchanged) == plain);
    // Listed out of the writer's order: the first that is never met holds back the rest.
    const std::vector<verbatim_object> out_of_order = {{c.begin(), 1, R"({"id":"Z"})"}, {b.begin(), 1, R"({"id":"Y"})"}};
    BOOST_TEST(
        crd::core::serialize_json(answer, 64, out_of_order) == R"({"a":{"id":"x"},"b":{"id":"y","extension":1},"c":{"id":"Z","extension":2}})");
    // Members elsewhere: the object is not the one named.
    json::object moved_copy(c);
    json::value holder = moved_copy;
    const std::vector<verbatim_object> elsewhere = {{c.begin(), 1, R"({"id":"Z"})"}};
    BOOST_TEST(crd::core::serialize_json(holder, 64, elsewhere) == boost::json::serialize(holder));
}

BOOST_AUTO_TEST_CASE(a_whole_verbatim_object_is_its_text_while_it_has_exactly_its_members)
{
    using crd::core::verbatim_object;
    // A decision service's answer as it spaced and escaped it.
    std::string text = "\n {\"cards\" : [ {\"summary\": \"caf\\u00e9\", \"n\": 1.50} ]}\r\n";
    boost::system::error_code ec;
    auto doc = crd::core::parse_document_keeping_text(std::move(text), crd::core::max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    const std::string_view exact = crd::core::exact_text_of(doc);
    BOOST_TEST(exact == R"({"cards" : [ {"summary": "caf\u00e9", "n": 1.50} ]})");
    json::value answer = std::move(*doc);  // the tree moves out; the text stays with the document
    auto& root = answer.as_object();
    const std::vector<verbatim_object> whole = {{root.begin(), root.size(), exact, true}};
    BOOST_TEST(crd::core::serialize_json(answer, 64, whole) == exact);
    // A member added or taken away: the tree, not the text.
    root["systemActions"] = json::array{};
    BOOST_TEST(crd::core::serialize_json(answer, 64, whole) == boost::json::serialize(answer));
    root.erase("systemActions");
    root.erase("cards");
    BOOST_TEST(crd::core::serialize_json(answer, 64, whole) == "{}");
    // Marked changed, the document no longer vouches for its text.
    crd::core::mark_tree_changed(doc);
    BOOST_TEST(crd::core::exact_text_of(doc).empty());
}

BOOST_AUTO_TEST_CASE(exact_text_of_refuses_a_text_that_gives_a_key_twice)
{
    boost::system::error_code ec;
    // Boost.JSON keeps the second "summary"; an EHR reading the text could take the first.
    auto twice = crd::core::parse_document(R"({"cards": [{"summary": "first", "summary": "second"}]})", crd::core::max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(crd::core::exact_text_of(twice).empty());
    auto deep = crd::core::parse_document(R"({"a": [{"b": {"c": 1, "d": 2, "c": 3}}]})", crd::core::max_json_depth, ec);
    BOOST_TEST(crd::core::exact_text_of(deep).empty());
    auto once = crd::core::parse_document(R"({"a": [{"b": {"c": 1, "d": 2}}], "c": 3})", crd::core::max_json_depth, ec);
    BOOST_TEST(crd::core::exact_text_of(once) == R"({"a": [{"b": {"c": 1, "d": 2}}], "c": 3})");
    // A value not made by parse_document has no text to vouch for.
    crd::core::document_ptr made(new json::value(json::object{{"cards", json::array{}}}));
    BOOST_TEST(crd::core::exact_text_of(made).empty());
}

BOOST_AUTO_TEST_SUITE_END()
