// compare_text_to_tree and compare_text_to_document: a request's own bytes checked against its
// parsed tree, so that they can be forwarded instead of a re-serialisation (remote decisions), and
// a key given twice refused.

#include <crd/core/error.hpp>
#include <crd/core/json_document.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

namespace json = boost::json;
using namespace crd::core;

namespace {

void check_same(const text_and_tree& from_facts, const text_and_tree& from_text)
{
    BOOST_TEST(from_facts.same_members == from_text.same_members);
    BOOST_TEST(from_facts.repeated_key.value_or("(none)") == from_text.repeated_key.value_or("(none)"));
    BOOST_TEST(from_facts.cut.begin == from_text.cut.begin);
    BOOST_TEST(from_facts.cut.end == from_text.cut.end);
}

// Both ways, which must agree: from the text (compare_text_to_tree) and from the parse's facts
// (compare_text_to_document, what a hook call uses); the latter is returned.
text_and_tree compare(std::string_view text)
{
    boost::system::error_code ec;
    auto tree = parse_document(text, max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    const auto from_facts = compare_text_to_document(text, tree, "fhirAuthorization");
    check_same(from_facts, compare_text_to_tree(text, *tree, "fhirAuthorization"));
    return from_facts;
}

// The text with the cut applied, as the decision service would receive it.
std::string without_cut(std::string_view text)
{
    const auto checked = compare(text);
    BOOST_TEST_REQUIRE(checked.same_members);
    std::string out(text.substr(0, checked.cut.begin));
    out += text.substr(checked.cut.end);
    return out;
}

std::string repeated(std::string_view text)
{
    const auto checked = compare(text);
    BOOST_TEST(!checked.same_members);
    return checked.repeated_key.value_or("(none)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_text_)

BOOST_AUTO_TEST_CASE(a_text_without_repeated_keys_matches_its_tree)
{
    for (const std::string_view text : {
             R"({})",
             R"([])",
             R"("x")",
             R"(12)",
             R"({"a": 1, "b": {"a": 2}, "c": [{"a": 1}, {"a": 2}], "d": [], "e": {}, "f": [[], [{}], null, true, -1.5e3]})",
             // Brackets, commas, colons and quotes inside strings are no structure.
             R"({"a{,": "}],:\"{[", "b\\": "\\", "c": "\u0022,", "d": ["\"]", "\\\"}"]})",
             " \n\t{ \"a\" :\r\n [ 1 , { } ] } \n",
         })
    {
        BOOST_TEST_CONTEXT(text)
        {
            const auto checked = compare(text);
            BOOST_TEST(checked.same_members);
            BOOST_TEST(!checked.repeated_key.has_value());
            BOOST_TEST(checked.cut.empty());  // no fhirAuthorization
        }
    }
}

BOOST_AUTO_TEST_CASE(escapes_and_brackets_in_strings_at_every_offset_of_the_16_byte_search)
{
    // The search looks at 16 bytes at a time: an escaped quote, a backslash or a bracket may sit
    // anywhere in such a block, or in the few bytes after the last one.
    for (std::size_t pad = 0; pad < 40; ++pad)
    {
        for (const std::string_view inner : {R"(\")", R"(\\)", "}]{[,Yy_", R"(\u0022)"})
        {
            const std::string text = R"({"k": ")" + std::string(pad, 'a') + std::string(inner) + std::string(pad % 7, 'b') +
                                     R"(", "fhirAuthorization": {"t": ")" + std::string(pad, 'c') + R"("}, "z": [1, [2], [ ], {"y": "_"}]})";
            BOOST_TEST_CONTEXT(text)
            {
                const auto checked = compare(text);
                BOOST_TEST(checked.same_members);
                BOOST_TEST(without_cut(text) == R"({"k": ")" + std::string(pad, 'a') + std::string(inner) + std::string(pad % 7, 'b') +
                                                    R"(", "z": [1, [2], [ ], {"y": "_"}]})");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_key_given_twice_is_found_with_its_path)
{
    BOOST_TEST(repeated(R"({"hook": "order-sign", "context": {}, "hook": "order-select"})") == "hook");
    BOOST_TEST(
        repeated(R"({"context": {"draftOrders": {"entry": [{"resource": {"id": "a"}}, {"resource": {"id": "b", "status": "x", "id": "c"}}]}}})") ==
        "context.draftOrders.entry[1].resource.id");
    BOOST_TEST(
        repeated(R"({"fhirAuthorization": {"access_token": "a"}, "hook": "x", "fhirAuthorization": {"access_token": "b"}})") == "fhirAuthorization");
    // Spelled differently, the same key: Boost.JSON decodes escapes before it compares.
    BOOST_TEST(repeated(R"({"fhirAuthorization": {}, "fhir\u0041uthorization": {}})") == "fhirAuthorization");
    // The repeated object's later value is as large as the first: the enclosing count still differs.
    BOOST_TEST(repeated(R"({"a": {"x": 1, "x": 2}, "a": {"y": 1, "z": 2}})") == "a.x");
    BOOST_TEST(repeated(R"([{"a": 1}, {"b": 1, "b": 2}])") == "[1].b");
    // Deeper than Boost.JSON's default depth (32), within a request's (max_json_depth).
    std::string deep;
    std::string path;
    for (int i = 0; i < 40; ++i)
    {
        deep += R"({"d": )";
        path += path.empty() ? "d" : ".d";
    }
    deep += R"({"x": 1, "x": 2})" + std::string(40, '}');
    BOOST_TEST(repeated(deep) == path + ".x");
}

BOOST_AUTO_TEST_CASE(the_cut_removes_fhir_authorization_with_one_comma)
{
    const std::string auth = R"("fhirAuthorization": {"access_token": "t", "scope": "a, b}"})";
    // First, middle, last, only member.
    BOOST_TEST(without_cut(R"({)" + auth + R"(, "hook": "h", "context": {}})") == R"({"hook": "h", "context": {}})");
    BOOST_TEST(without_cut(R"({"hook": "h", )" + auth + R"(, "context": {}})") == R"({"hook": "h", "context": {}})");
    BOOST_TEST(without_cut(R"({"hook": "h", "context": {}, )" + auth + "}") == R"({"hook": "h", "context": {}})");
    BOOST_TEST(without_cut("{" + auth + "}") == "{}");
    // Whitespace anywhere around it, and none.
    BOOST_TEST(
        without_cut("{\n  \"hook\" : \"h\" ,\n  " + auth + " ,\n  \"context\" : {}\n}\n") == "{\n  \"hook\" : \"h\" ,\n  \"context\" : {}\n}\n");
    // The last member: from the end of the value before it to the closing brace.
    BOOST_TEST(without_cut("{\n  \"hook\": \"h\"\n  ,\n  " + auth + "\n}") == "{\n  \"hook\": \"h\"}");
    BOOST_TEST(without_cut(R"({"hook":"h",)" + auth + R"(,"context":{}})") == R"({"hook":"h","context":{}})");
    BOOST_TEST(without_cut(" { " + auth + " } ") == " { } ");
    // A nested member of that name is no token of the EHR's: left alone.
    BOOST_TEST(without_cut(R"({"context": {"fhirAuthorization": 1}})") == R"({"context": {"fhirAuthorization": 1}})");
}

BOOST_AUTO_TEST_CASE(an_escaped_spelling_of_fhir_authorization_is_cut_too)
{
    // Boost.JSON reads "fhir\u0041uthorization" as fhirAuthorization: the tree's key is what counts.
    BOOST_TEST(without_cut(R"({"hook": "h", "fhir\u0041uthorization": {"access_token": "t"}, "context": {}})") == R"({"hook": "h", "context": {}})");
    BOOST_TEST(without_cut(R"({"hook": "h", "\u0066hirAuthorization": {"access_token": "t"}})") == R"({"hook": "h"})");
    // Not the same key: kept.
    BOOST_TEST(without_cut(R"({"fhirauthorization": 1})") == R"({"fhirauthorization": 1})");
}

BOOST_AUTO_TEST_CASE(the_text_without_the_cut_is_the_tree_without_the_member)
{
    const std::string text =
        R"({ "hookInstance" : "x", "fhirServer": "https://ehr/fhir", "fhir\u0041uthorization" : { "access_token": "t" } , "prefetch": {"p": [1, {"q": "\"}"}]}})";
    boost::system::error_code ec;
    auto tree = json::parse(text, ec);
    BOOST_TEST_REQUIRE(!ec);
    tree.as_object().erase("fhirAuthorization");
    BOOST_TEST(json::parse(without_cut(text)) == tree);
}

BOOST_AUTO_TEST_CASE(a_text_that_is_not_the_trees_is_not_taken_for_it)
{
    // The contract is the tree's own text; another one must still end cleanly, never read past it.
    const auto tree = json::parse(R"({"a": [1, 2], "b": {}})");
    BOOST_TEST(!compare_text_to_tree(R"({"a": [1], "b": {}})", tree, "b").same_members);
    BOOST_TEST(!compare_text_to_tree(R"({"a": {}, "b": {}})", tree, "b").same_members);
    BOOST_TEST(!compare_text_to_tree(R"({"a": [1, 2], "b": {})", tree, "b").same_members);
    BOOST_TEST(!compare_text_to_tree(R"(}{"a)", tree, "b").same_members);
    BOOST_TEST(!compare_text_to_tree(R"({"a": "\)", tree, "b").same_members);
}

BOOST_AUTO_TEST_CASE(the_parse_records_repeated_keys_and_where_each_top_level_key_starts)
{
    const std::string text = R"( {"hook": "h", "context": {"a": [{"b": 1, "c": 2}], "d": {}}, "x" : 1} )";
    boost::system::error_code ec;
    const auto doc = parse_document(text, max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    const parse_facts* facts = parse_facts_of(doc);
    BOOST_TEST_REQUIRE(facts != nullptr);
    BOOST_TEST(facts->text.data() == text.data());
    BOOST_TEST(!facts->repeated_key);
    BOOST_TEST(facts->keys_located);
    BOOST_TEST_REQUIRE(facts->top_level_key_count == 3U);
    BOOST_TEST(text.substr(facts->top_level_keys[0], 6) == R"("hook")");
    BOOST_TEST(text.substr(facts->top_level_keys[1], 9) == R"("context")");
    BOOST_TEST(text.substr(facts->top_level_keys[2], 3) == R"("x")");

    // A repeated key, at any depth, in an object of any size (Boost.JSON searches a small object
    // and hashes a large one): the tree keeps one, the parse says so.
    for (const std::string& twice : {std::string(R"({"a": {"k": 1, "k": 2}})"), std::string(R"([[{"x": [], "k": {"k": 1}, "k": null}]])"),
             std::string(R"({"k": {}, "a": 1, "k": {}})")})
    {
        const auto repeated = parse_document(twice, max_json_depth, ec);
        BOOST_TEST_REQUIRE(!ec);
        BOOST_TEST(parse_facts_of(repeated)->repeated_key, twice);
    }
    std::string large = "{";
    for (int i = 0; i < 40; ++i)
        large += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
    const auto distinct = parse_document(large + R"("k40": 40})", max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(!parse_facts_of(distinct)->repeated_key);
    const auto large_repeat = parse_document(large + R"("k7": 40})", max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(parse_facts_of(large_repeat)->repeated_key);
    BOOST_TEST(large_repeat->as_object().size() == 40U);
    // The same key written once plainly and once with an escape is one key given twice.
    const auto escaped = parse_document(R"({"ab": 1, "a\u0062": 2})", max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(parse_facts_of(escaped)->repeated_key);

    // A value made without parse_document has no facts.
    const document_ptr made(new json::value(json::object{}));
    BOOST_TEST(parse_facts_of(made) == nullptr);
}

BOOST_AUTO_TEST_CASE(a_top_level_key_written_with_an_escape_is_not_located)
{
    for (const std::string_view text : {R"({"hook": "h", "fhir\u0041uthorization": {}, "c": 1})", R"({"\u0066hir": 1})", R"({"a\"b": 1})"})
        BOOST_TEST_CONTEXT(text)
        {
            boost::system::error_code ec;
            const auto doc = parse_document(text, max_json_depth, ec);
            BOOST_TEST_REQUIRE(!ec);
            BOOST_TEST(!parse_facts_of(doc)->keys_located);
            compare(text);  // and the answer is still the text's (the slow reader's)
        }
    // Nested escaped keys do not matter: only top-level keys are placed.
    boost::system::error_code ec;
    const auto nested = parse_document(R"({"a": {"\u0062": 1}})", max_json_depth, ec);
    BOOST_TEST(parse_facts_of(nested)->keys_located);
}

BOOST_AUTO_TEST_CASE(more_top_level_keys_than_room_still_answer_from_the_text)
{
    std::string text = "{";
    for (std::size_t i = 0; i < parse_facts::key_room + 5; ++i)
        text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
    text += R"("fhirAuthorization": {"access_token": "t"}})";
    boost::system::error_code ec;
    const auto doc = parse_document(text, max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(!parse_facts_of(doc)->keys_located);
    BOOST_TEST(without_cut(text).find("fhirAuthorization") == std::string::npos);
    BOOST_TEST(without_cut(text).find("\"k36\": 36}") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(facts_of_one_text_are_never_used_for_another)
{
    // The same bytes at another address: read from their text. (A document changed after its parse
    // is compared with compare_text_to_tree: the facts speak for the tree as parsed.)
    const std::string text = R"({"hook": "h", "fhirAuthorization": {}, "context": {}})";
    boost::system::error_code ec;
    auto doc = parse_document(text, max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    const std::string copy = text;
    check_same(compare_text_to_document(copy, doc, "fhirAuthorization"), compare_text_to_tree(copy, *doc, "fhirAuthorization"));
    const std::string other = R"({"hook": "h", "fhirAuthorization": {}, "context": {"x": 1, "x": 2}})";
    const auto from_other = compare_text_to_document(other.substr(0, text.size()), doc, "fhirAuthorization");
    BOOST_TEST(!from_other.same_members);
    doc->as_object()["context"].as_object()["added"] = 1;  // the tree now has a member the text has not
    BOOST_TEST(!compare_text_to_tree(text, *doc, "fhirAuthorization").same_members);
}

BOOST_AUTO_TEST_SUITE_END()

// parse_facts::entry_resources: where each order of a hook request lies in its text, so that an
// echoed order can be written as the caller's own bytes.
BOOST_AUTO_TEST_SUITE(entry_resources_)

namespace {

struct placed
{
    document_ptr doc;
    std::vector<located_resource> resources;
};

placed place(std::string_view text)
{
    boost::system::error_code ec;
    placed out;
    out.doc = parse_document(text, max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    out.resources = parse_facts_of(out.doc)->entry_resources;
    return out;
}

// Every placed range is exactly the resource's object: the same tree when read on its own.
void check_ranges(std::string_view text, const placed& p, std::string_view bundle)
{
    const auto& entries = p.doc->at("context").at(bundle).at("entry").as_array();
    BOOST_TEST_REQUIRE(p.resources.size() == entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i)
    {
        BOOST_TEST(p.resources[i].bundle == bundle);
        if (p.resources[i].range.empty())
            continue;
        const auto r = p.resources[i].range;
        BOOST_TEST_CONTEXT("entry " << i << ": " << text.substr(r.begin, r.size()))
        {
            BOOST_TEST(text[r.begin] == '{');
            BOOST_TEST(text[r.end - 1] == '}');
            BOOST_TEST(json::parse(text.substr(r.begin, r.size())) == entries[i].at("resource"));
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_order_is_placed_whatever_follows_it)
{
    // Compact and spaced; a key after the resource; a number, a string, nested brackets and the
    // end of the document after the last one; the bundle's other members before and after.
    const std::vector<std::string> texts = {
        R"({"hook":"order-sign","context":{"draftOrders":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"ServiceRequest","id":"a"}},{"resource":{"id":"b","x":[{"y":{}}]}}]}}})",
        "{ \"context\" : { \"draftOrders\" : { \"entry\" : [ { \"resource\" : { \"id\" : \"a\" , \"n\" : [ 1 , { } ] } } ,\n\t{ "
        "\"resource\":{\"id\":\"b\"}\r\n} ] } } }  \n",
        R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a"},"fullUrl":"urn:a"},{"fullUrl":"urn:b","resource":{"id":"b","q":{"v":2.5}}}],"total":2}},"prefetch":{"p":{"entry":[{"resource":{"id":"not an order"}}]}}})",
        R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a","v":[]}}],"n":7}}})",
        R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a"}}]},"more":[1,2]},"last":-3})",
        R"({"context":{"appointments":{"entry":[{"resource":{"resourceType":"Appointment","id":"a"}},{"resource":{"id":"b"}}]}}})",
    };
    for (const auto& text : texts)
        BOOST_TEST_CONTEXT(text)
        {
            const auto p = place(text);
            const std::string_view bundle = p.doc->at("context").as_object().contains("appointments") ? "appointments" : "draftOrders";
            check_ranges(text, p, bundle);
            for (const auto& r : p.resources)
                BOOST_TEST(!r.range.empty());
        }
}

BOOST_AUTO_TEST_CASE(only_orders_of_the_context_bundles_are_placed)
{
    const std::string text = R"({"prefetch":{"draftOrders":{"entry":[{"resource":{}}]}},"context":{"other":{"entry":[{"resource":{}}]},)"
                             R"("draftOrders":{"x":{"entry":[{"resource":{}}]},"entry":[{"nested":{"resource":{}}}]}}})";
    BOOST_TEST(place(text).resources.empty());
}

BOOST_AUTO_TEST_CASE(a_key_in_pieces_is_never_taken_for_a_tracked_one)
{
    // Boost.JSON hands a key with an escape after its first character over in pieces; the last
    // piece alone may read "draftOrders" or "resource". Found in review: such keys were followed,
    // so the real orders got a fake bundle's bytes, or another entry's.
    const std::string fake_bundle = R"({"context":{"draft\u004frders":{"entry":[{"resource":{"id":"a"}}]},)"
                                    R"("x\u0064raftOrders":{"entry":[{"resource":{}},{"resource":{"id":"evil"}}]}}})";
    BOOST_TEST(place(fake_bundle).resources.empty());

    // A key whose last piece, after the parser's buffer filled, is exactly "resource".
    const std::string long_key = "\\n" + std::string(4094, 'a') + "resource";
    const std::string fake_resource =
        R"({"context":{"draftOrders":{"entry":[{"res\u006furce":{"id":"a"}},{"resource":{"id":"b"},"z":1,")" + long_key + R"(":{"id":"c"}}]}}})";
    const auto p = place(fake_resource);
    BOOST_TEST_REQUIRE(p.resources.size() == 1U);  // entry 1's own resource only; entry 0's is in pieces
    const auto r = p.resources[0].range;
    BOOST_TEST_REQUIRE(!r.empty());
    BOOST_TEST(json::parse(std::string_view(fake_resource).substr(r.begin, r.size())) == (json::object{{"id", "b"}}));
}

BOOST_AUTO_TEST_CASE(an_order_that_cannot_be_placed_exactly_keeps_its_entry_but_no_range)
{
    // An escaped "resource" key; an escaped key, a literal or an escaped string straight after the
    // resource; a value that is not an object. Each order keeps its position in the list, so the
    // i-th is still the i-th order's; a literal after a key is no obstacle.
    const std::vector<std::pair<std::string, std::vector<bool>>> cases = {
        {R"({"context":{"draftOrders":{"entry":[{"\u0072esource":{"id":"a"}},{"resource":{"id":"b"}}]}}})", {false, true}},
        {R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a"},"\u0066":1},{"resource":{"id":"b"}}]}}})", {false, true}},
        {R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a"},"f":true},{"resource":{"id":"b"}}]}}})", {true, true}},
        {R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a"}},null,{"resource":{"id":"b"}}]}}})", {false, true}},
        {R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a"}},false,{"resource":{"id":"b"}}]}}})", {false, true}},
        {R"({"context":{"draftOrders":{"entry":[{"resource":"a"},{"resource":{"id":"b"}}]}}})", {false, true}},
        {R"({"context":{"draftOrders":{"entry":[{"resource":{"id":"a"}},{"resource":{"id":"b"}},"x\ty"]}}})", {true, false}},
    };
    const std::string_view ids[] = {"a", "b"};
    for (const auto& [text, expected] : cases)
        BOOST_TEST_CONTEXT(text)
        {
            const auto p = place(text);
            BOOST_TEST_REQUIRE(p.resources.size() == expected.size());
            for (std::size_t i = 0; i < expected.size(); ++i)
            {
                const auto r = p.resources[i].range;
                BOOST_TEST(!r.empty() == expected[i]);
                if (!r.empty())
                    BOOST_TEST(json::parse(text.substr(r.begin, r.size())) == (json::object{{"id", ids[i]}}));
            }
        }
}

BOOST_AUTO_TEST_SUITE_END()

// parse_document and parse_json: one parse that builds the document in the right memory and refuses
// a number beyond double range where it is met.
BOOST_AUTO_TEST_SUITE(document_parse)

BOOST_AUTO_TEST_CASE(a_document_lives_in_its_own_arena)
{
    // Built in the default resource and copied in, it would still read the same: the storage is what
    // tells. The arena's deallocation is trivial, the default heap's is not.
    boost::system::error_code ec;
    const auto doc = parse_document(R"({"a":[{"b":"a string longer than the small buffer"}],"c":1.5})", max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec, ec.message());
    BOOST_TEST(doc->storage().is_deallocate_trivial());
    BOOST_TEST(doc->at("a").storage().is_deallocate_trivial());
    BOOST_TEST(doc->at("a").at(0).at("b").get_string().storage().is_deallocate_trivial());
    BOOST_TEST(!json::storage_ptr().is_deallocate_trivial());
}

BOOST_AUTO_TEST_CASE(parse_json_builds_in_the_resource_it_is_given)
{
    json::monotonic_resource arena;
    boost::system::error_code ec;
    const auto v = parse_json(R"({"a":["x"]})", ec, max_json_depth, json::storage_ptr(&arena));
    BOOST_TEST_REQUIRE(!ec, ec.message());
    BOOST_TEST(v.storage().get() == &arena);
    BOOST_TEST(v.at("a").storage().get() == &arena);
}

BOOST_AUTO_TEST_CASE(numbers_beyond_double_range_are_refused_wherever_they_sit)
{
    for (const char* text : {"1e400", "-1e400", R"({"a":[1,2,{"b":-2e999}]})", R"([0e400])", R"({"x":"1e400","y":1e309})"})
    {
        BOOST_TEST_CONTEXT(text)
        {
            boost::system::error_code ec;
            BOOST_TEST(!parse_document(text, max_json_depth, ec));
            BOOST_TEST(ec == make_error_code(crd::errc::json_number_out_of_range), ec.message());
            boost::system::error_code json_ec;
            parse_json(text, json_ec);
            BOOST_TEST(json_ec == make_error_code(crd::errc::json_number_out_of_range), json_ec.message());
        }
    }
    // In range, at the edges, and as strings: taken.
    for (const char* text : {"1.7976931348623157e308", "5e-324", "0e-400", R"({"x":"1e400"})", "[1e308,-1e308]"})
    {
        BOOST_TEST_CONTEXT(text)
        {
            boost::system::error_code ec;
            BOOST_TEST(parse_document(text, max_json_depth, ec) != nullptr);
            BOOST_TEST(!ec, ec.message());
        }
    }
}

BOOST_AUTO_TEST_CASE(what_is_not_one_whole_document_is_refused)
{
    for (const char* text : {"", "{", R"({"a":1} x)", R"({"a":1}{})", "[1,]", R"({"a" 1})"})
    {
        BOOST_TEST_CONTEXT(text)
        {
            boost::system::error_code ec;
            BOOST_TEST(!parse_document(text, max_json_depth, ec));
            BOOST_TEST(ec.failed());
            boost::system::error_code json_ec;
            parse_json(text, json_ec);
            BOOST_TEST(json_ec.failed());
        }
    }
    boost::system::error_code ec;
    BOOST_TEST(!parse_document("[[[1]]]", 2, ec));
    BOOST_TEST(ec.failed());
}

// The parse's value stack grows past the parser's 4 KB scratch (256 values) onto the heap, keeps
// keys and strings with escapes in pieces, and destroys what it built when the text fails partway,
// in an arena (parse_document) and on the heap (parse_json): the sanitizer build runs this under
// ASan and LSan, where any slip is a report.
BOOST_AUTO_TEST_CASE(large_documents_with_escapes_parse_whole_or_fail_cleanly)
{
    std::string text = "{";
    for (int i = 0; i < 600; ++i)
    {
        if (i > 0)
            text += ", ";
        const std::string n = std::to_string(i);
        text += "\"k\\u00e9" + n + "\": [\"v\\n" + n + "\", {\"n\": " + n + ".5, \"t\": true}]";
    }
    text += "}";
    boost::system::error_code ec;
    const auto doc = parse_document(text, max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(doc->as_object().size() == 600U);
    BOOST_TEST(doc->at("k\xc3\xa9"
                       "599")
                   .at(0)
                   .as_string() == "v\n599");
    BOOST_TEST(!parse_facts_of(doc)->repeated_key);
    const auto on_the_heap = parse_json(text, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(on_the_heap == *doc);

    const std::vector<std::string> failing{
        text.substr(0, text.find("\\u00e9599")),              // cut inside a key with an escape
        text.substr(0, text.find("\\n599") + 2),              // cut inside a string with an escape
        text.substr(0, text.size() - 1) + ", \"x\": 1e400}",  // a number beyond double range at the end
        text.substr(0, text.size() - 1) + ", \"x\": [1, 2}",  // a bracket that does not close
    };
    for (const auto& bad : failing)
        BOOST_TEST_CONTEXT(bad.substr(bad.size() > 40 ? bad.size() - 40 : 0))
        {
            boost::system::error_code failed;
            BOOST_TEST(!parse_document(bad, max_json_depth, failed));
            BOOST_TEST(failed.failed());
            boost::system::error_code failed_on_heap;
            BOOST_TEST(parse_json(bad, failed_on_heap).is_null());
            BOOST_TEST(failed_on_heap.failed());
        }
}

BOOST_AUTO_TEST_SUITE_END()
