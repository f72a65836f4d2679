#pragma once
// Makes a decision service's answer a conformant CDS Hooks / CRD response before it reaches the
// EHR (checklist §8): what cannot be repaired is dropped, what can is repaired, and both are counted.

#include <crd/core/error.hpp>

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

}  // namespace crd::decision
