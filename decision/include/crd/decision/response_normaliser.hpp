#pragma once
// Makes a decision service's answer a conformant CDS Hooks / CRD response before it reaches the
// EHR (checklist §8): what cannot be repaired is dropped, what can is repaired, and both are counted.

#include <crd/core/error.hpp>
#include <crd/core/hook_request.hpp>
#include <crd/decision/coverage_information.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace crd::decision {

struct normalise_report
{
    unsigned cards_dropped = 0;
    unsigned cards_repaired = 0;
    unsigned actions_dropped = 0;
    unsigned actions_repaired = 0;
    std::vector<std::string> notes;  // one line per drop or repair, for the request's log line
    // Whether the answer's tree still says exactly what the service's text said: false once
    // anything was dropped, added, cut, moved or re-rendered, counted above or not (an empty member
    // pruned, an absolute link's appContext, a topic's CodeSystem). While it stays false the text
    // may be relayed as it is instead of the tree re-serialised (remote_decision); the
    // response_normaliser fuzz target checks the claim on every input.
    bool edited = false;

    bool changed() const noexcept { return cards_dropped + cards_repaired + actions_dropped + actions_repaired > 0; }
};

// Fails with errc::decision_bad_response when the body is not an object or `cards` is not an array
// (nothing trustworthy to relay). Otherwise:
// - a card without a non-empty summary, a valid indicator (info|warning|critical) or a source.label
//   is dropped; a summary of 140 characters or more is cut with an ellipsis;
// - missing card and suggestion uuids are filled, a missing source.topic becomes coverage-info,
//   selectionBehavior is set when there are suggestions, actions without a description get one;
// - invalid links, suggestions and actions are dropped; empty strings, arrays, objects and nulls removed;
// - systemActions get the same action checks; an empty list is removed.
result<boost::json::object> normalise_response(boost::json::value body, normalise_report& report);

// Says a normalised answer in the caller's CRD version (`request.version`), whatever version the
// decision service wrote it in:
// - every ext-coverage-information (in systemActions and in card suggestions) is read and
//   rendered again in that version, with its invariants (coverage_information.hpp); one that
//   cannot be read (no `covered`) is dropped with its action;
// - 2.1+ (CRD cards.md: coverage information SHALL NOT be conveyed by a card): a suggestion
//   action carrying coverage information moves to systemActions;
// - 2.1+: an update of an order of the request becomes that order as sent plus the extension,
//   nothing else changed (Inferno compares them), when the request is still held;
// - card topics use the version's card-type CodeSystem.
// Changes are counted in `report` (actions repaired/dropped, and `edited`) and `rendering`.
void render_in_version(boost::json::object& response, const core::hook_request& request, core::crd_version version, normalise_report& report,
    rendering_report& rendering);

}  // namespace crd::decision
