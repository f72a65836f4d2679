// Target: decision::normalise_response, which stands between a decision service's answer and the
// EHR. The body is parsed into one arena with the depth limit (core::parse_document: the strictness
// the remote decision client reads answers with), normalised, and serialised as it would be relayed.
// Properties: no memory or UB error, and what is relayed is JSON: the serialised answer parses
// again (a non-finite number would be written as Infinity/NaN).

#include "fuzz_common.hpp"

#include <crd/core/json_document.hpp>
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
    if (!doc)
        return 0;
    crd::decision::normalise_report report;
    auto normalised = crd::decision::normalise_response(std::move(*doc), report);
    if (!normalised)
        return 0;
    const std::string relayed = json::serialize(*normalised);
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
