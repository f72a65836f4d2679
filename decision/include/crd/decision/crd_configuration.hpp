#pragma once
// CRD configuration options (CRD 2.0.1 deviations, "Configuration options"): what discovery
// offers and how a request's extension."davinci-crd.configuration" shapes the response.

#include <crd/core/operation_outcome.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <array>
#include <cstddef>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace crd::decision {

inline constexpr std::size_t default_max_cards = 10;

struct crd_options
{
    bool coverage_info = true;  // false: no coverage-information systemActions
    std::size_t max_cards = default_max_cards;
    std::set<std::string, std::less<>> disabled_card_types;
};

// Discovery's extension."davinci-crd.configuration-options": a boolean per card type plus max-cards.
boost::json::array configuration_options(const std::vector<std::string>& card_types);

// Reads the request's options. Unknown codes are ignored (CRD SHALL); a known option with the
// wrong JSON type is a 422 naming it.
result<crd_options, error> read_options(const boost::json::object* configuration, const std::vector<std::string>& card_types);

// Applies options to a CDS Hooks response: drops disabled card types and coverage information,
// keeps the max-cards most severe cards (critical, warning, info; stable within a level). True
// when the response changed (a card left out or moved, an action left out).
bool apply_options(boost::json::object& response, const crd_options& options);

// A card's rank in apply_options' order: 0 critical, 1 warning, 2 info (or anything else).
int card_severity(std::string_view indicator) noexcept;

// apply_options' max-cards rule, applied while an answer is built: a card that max-cards cards at
// least as severe precede can never be kept (they come before it in apply_options' order), so a
// decision source need not build it (issue 19: a 100-order call built 88 cards to keep 10). Sound
// only while every card counts toward max-cards, that is, no card type is disabled
// (core::hook_request::cards_kept).
class card_budget
{
public:
    explicit card_budget(std::size_t max_cards = std::numeric_limits<std::size_t>::max()) noexcept : max_cards_(max_cards) {}

    // Whether a card with this indicator, built next, could be among those kept.
    bool admits(std::string_view indicator) const noexcept;
    // Records a card that was built.
    void add(std::string_view indicator) noexcept;

private:
    std::size_t max_cards_;
    std::array<std::size_t, 3> at_least_as_severe_{};  // [s]: cards built whose severity is s or more severe
};

}  // namespace crd::decision
