// Target: the JSON document every request, answer and file goes through (core::parse_document with
// the request depth limit), then a serialise / parse round trip.
// Properties: a successful parse never holds a non-finite number (JSON has no Infinity or NaN, so
// such a value cannot be relayed as JSON) and never nests deeper than the limit; a parsed document
// serialises (core::serialize_json, byte for byte what boost::json::serialize writes) to JSON that
// parses back to the same document. Doubles may come back one or two ulps
// off: Boost.JSON 1.81 does not round every decimal correctly ("-9.223372036857745E18", its own
// shortest output for -9223372036857745408, reads back 2048 lower), which is Boost's, not ours.
// compare_text_to_tree (the cheap check every hook call gets) agrees with the slow reader of
// repeated keys, and when the text matches, the text minus its fhirAuthorization cut parses to the
// document without fhirAuthorization (what a decision service is sent instead of a re-serialisation);
// compare_text_to_document (what a hook call runs, from the parse's facts) gives the same answer.

#include "fuzz_common.hpp"

#include <crd/core/json_document.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

namespace json = boost::json;
using crd::fuzz::broken;

namespace {

// The nesting depth of `v` (a scalar is 0, "[]" is 1); aborts on a non-finite number.
std::size_t checked_depth(const json::value& v, std::string_view text)
{
    switch (v.kind())
    {
    case json::kind::double_:
        if (!std::isfinite(v.get_double()))
            broken("parse_document accepted a number that is not finite (known defect: Boost.JSON 1.81 overflow)", text);
        return 0;
    case json::kind::array:
    {
        std::size_t deepest = 0;
        for (const auto& e : v.get_array())
            deepest = std::max(deepest, checked_depth(e, text));
        return deepest + 1;
    }
    case json::kind::object:
    {
        std::size_t deepest = 0;
        for (const auto& kv : v.get_object())
            deepest = std::max(deepest, checked_depth(kv.value(), text));
        return deepest + 1;
    }
    default: return 0;
    }
}

// The resources under context.<bundle>.entry, in text order: one per entry object with a
// "resource" member, whatever its value (the parse lists each, placed or not).
std::vector<const json::value*> entry_resources_of(const json::value& doc, std::string_view bundle)
{
    std::vector<const json::value*> out;
    const auto* root = doc.if_object();
    const json::value* context = root ? root->if_contains("context") : nullptr;
    const json::value* b = context && context->is_object() ? context->get_object().if_contains(bundle) : nullptr;
    const json::value* entry = b && b->is_object() ? b->get_object().if_contains("entry") : nullptr;
    const auto consider = [&out](const json::value& child) {
        if (const auto* o = child.if_object())
            if (const json::value* r = o->if_contains("resource"))
                out.push_back(r);
    };
    if (entry && entry->is_array())
        for (const auto& child : entry->get_array())
            consider(child);
    else if (entry && entry->is_object())
        for (const auto& kv : entry->get_object())
            consider(kv.value());
    return out;
}

void check_entry_resources(std::string_view text, const json::value& doc, const crd::core::parse_facts& facts)
{
    for (const std::string_view bundle : {"draftOrders", "appointments"})
    {
        const auto expected = entry_resources_of(doc, bundle);
        std::vector<crd::core::byte_range> placed;
        for (const auto& located : facts.entry_resources)
            if (located.bundle == bundle)
                placed.push_back(located.range);
        // Fewer when a tracked key came in pieces (an escape inside it): the orders are then not
        // given bytes at all (locate_item_texts counts). Never more, and never another's.
        if (placed.size() > expected.size())
            broken("the parse placed more entry resources than the document has", text);
        if (placed.size() != expected.size())
            continue;
        for (std::size_t i = 0; i < placed.size(); ++i)
        {
            const auto r = placed[i];
            if (r.empty())
                continue;
            if (r.end > text.size() || r.begin >= r.end || text[r.begin] != '{' || text[r.end - 1] != '}')
                broken("an entry resource's range is not an object of the text", text);
            boost::system::error_code ec;
            const auto alone = crd::core::parse_document(text.substr(r.begin, r.size()), crd::fuzz::request_max_depth, ec);
            if (!alone || !crd::fuzz::same_document(*alone, *expected[i]))
                broken("an entry resource's range is not that resource", text);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = crd::fuzz::as_text(data, size);
    boost::system::error_code ec;
    auto doc = crd::core::parse_document(text, crd::fuzz::request_max_depth, ec);
    const auto repeated = crd::core::first_duplicate_key(text);
    if (!doc)
    {
        if (!ec)
            broken("parse_document returned nothing without an error");
        return 0;
    }
    if (ec)
        broken("parse_document returned a document and an error");
    if (checked_depth(*doc, text) > crd::fuzz::request_max_depth)
        broken("parse_document accepted a document nested deeper than max_depth", text);

    const auto compared = crd::core::compare_text_to_tree(text, *doc, "fhirAuthorization");
    if (compared.repeated_key != repeated)
        broken("compare_text_to_tree and first_duplicate_key disagree on a repeated key", text);
    if (compared.same_members == repeated.has_value())
        broken("compare_text_to_tree calls a text with a repeated key the tree's, or one without it not", text);
    if (compared.same_members && compared.cut.end <= text.size() && compared.cut.begin <= compared.cut.end)
    {
        std::string cut_text(text.substr(0, compared.cut.begin));
        cut_text += text.substr(compared.cut.end);
        boost::system::error_code cut_ec;
        auto without = crd::core::parse_document(cut_text, crd::fuzz::request_max_depth, cut_ec);
        json::value expected = *doc;
        if (auto* o = expected.if_object())
            o->erase("fhirAuthorization");
        if (!without || !crd::fuzz::same_document(*without, expected))
            broken("the text minus the fhirAuthorization cut is not the document without it", cut_text);
    }
    else if (compared.same_members)
        broken("compare_text_to_tree cut bytes outside the text", text);
    // The hook call's way (the parse's facts) gives the text's answer, cut included.
    const auto from_facts = crd::core::compare_text_to_document(text, doc, "fhirAuthorization");
    if (from_facts.same_members != compared.same_members || from_facts.repeated_key != compared.repeated_key ||
        from_facts.cut.begin != compared.cut.begin || from_facts.cut.end != compared.cut.end)
        broken("compare_text_to_document and compare_text_to_tree disagree", text);

    // Every order the parse placed is exactly its text (when the text has no repeated key, the
    // only case the ranges are used in).
    if (compared.same_members)
        check_entry_resources(text, *doc, *crd::core::parse_facts_of(doc));

    const std::string out = crd::core::serialize_json(*doc);
    if (out != json::serialize(*doc))
        broken("serialize_json and boost::json::serialize wrote different text", out);
    boost::system::error_code again_ec;
    auto again = crd::core::parse_document(out, crd::fuzz::request_max_depth, again_ec);
    if (!again)
        broken("a parsed document serialises to text that does not parse", out);
    if (!crd::fuzz::same_document(*again, *doc))
        broken("serialise / parse round trip changed the document", out);
    return 0;
}
