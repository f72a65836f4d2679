// Target: decision::normalise_response, which stands between a decision service's answer and the
// EHR. The body is parsed into one arena with the depth limit (core::parse_document: the strictness
// the remote decision client reads answers with), normalised, and serialised as it would be relayed.
// Then it is said in a CRD version (picked from the input's size) with render_in_version, as a
// remote decision does, and the caller's options are applied (apply_options), as crd_service does. Properties: no memory or UB error; what is relayed is JSON: the serialised
// answer parses again (a non-finite number would be written as Infinity/NaN); and an answer the
// three report unchanged (normalise_report::edited, apply_options' result), from a text that gives no key twice
// (core::exact_text_of), says exactly what its text says: remote_decision relays that text as it
// came instead of the tree. And the one pass that relays an answer without building its tree
// (decision::relayable_as_written, with the same version and max-cards; it requires coverage
// information wanted) says yes only for an answer the tree path relays unchanged.

#include "fuzz_common.hpp"

#include <crd/core/json_document.hpp>
#include <crd/decision/answer_relay.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/response_normaliser.hpp>

#include <boost/json/serialize.hpp>

#include <string>

namespace json = boost::json;
using crd::fuzz::broken;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = crd::fuzz::as_text(data, size);
    boost::system::error_code ec;
    // Declared first, so destroyed last: the answer's nodes live in the document's arena.
    auto doc = crd::core::parse_document(text, crd::fuzz::request_max_depth, ec);
    constexpr crd::core::crd_version versions[] = {crd::core::crd_version::v2_0, crd::core::crd_version::v2_1, crd::core::crd_version::v2_2};
    const crd::core::crd_version version = versions[size % 3];
    static_assert(crd::fuzz::request_max_depth == crd::core::max_json_depth, "the one pass reads with max_json_depth");
    const std::size_t max_cards = 1 + size % 4;
    const bool coverage_info = size % 5 != 0;
    const bool relayable_unread = coverage_info && crd::decision::relayable_as_written(text, crd::core::hook_request{}, version, max_cards).relayable;
    if (!doc)
    {
        if (relayable_unread)
            broken("the one pass would relay a text the tree path cannot parse", text);
        return 0;
    }
    const std::string_view exact = crd::core::exact_text_of(doc);
    crd::decision::normalise_report report;
    auto normalised = crd::decision::normalise_response(std::move(*doc), report);
    if (!normalised)
    {
        if (relayable_unread)
            broken("the one pass would relay an answer the tree path refuses", text);
        return 0;
    }
    crd::decision::rendering_report rendering;
    crd::decision::render_in_version(*normalised, crd::core::hook_request{}, version, report, rendering);
    // The caller's options, as crd_service applies them after the decision: max-cards from the
    // input's size, coverage information left out for one size in five.
    crd::decision::crd_options options;
    options.max_cards = max_cards;
    options.coverage_info = coverage_info;
    const bool options_changed = crd::decision::apply_options(*normalised, options);
    const std::string relayed = json::serialize(*normalised);
    if (relayable_unread && (report.edited || report.changed() || !report.notes.empty() || rendering.changed() || options_changed || exact.empty()))
        broken("the one pass would relay an answer the tree path changes", text);
    if (!report.edited && !options_changed && !exact.empty())
    {
        boost::system::error_code as_sent_ec;
        const auto as_sent = crd::core::parse_document(exact, 4 * crd::fuzz::request_max_depth, as_sent_ec);
        if (!as_sent || json::serialize(*as_sent) != relayed)
            broken("an answer reported unedited no longer says what its text says (it would be relayed as the text)", text);
    }
    boost::system::error_code again;
    // (A generous depth: this checks that the text is JSON, not how deep the normaliser nests.)
    const auto reparsed_doc = crd::core::parse_document(relayed, 4 * crd::fuzz::request_max_depth, again);
    if (!reparsed_doc)
        broken("normalise_response produced an answer that is not JSON when relayed (known defect: non-finite numbers)", relayed);
    const json::value& reparsed = *reparsed_doc;
    if (!reparsed.is_object())
        broken("normalise_response produced an answer that is not an object", relayed);
    if (const auto* cards = reparsed.get_object().if_contains("cards"); !cards || !cards->is_array())
        broken("a normalised answer has no cards array", relayed);
    for (const auto& note : report.notes)
        if (note.empty())
            broken("normalise_response reported an empty note");
    return 0;
}
