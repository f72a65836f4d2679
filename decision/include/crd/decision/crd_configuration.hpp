#pragma once
// CRD configuration options (CRD 2.0.1 deviations, "Configuration options"): what discovery
// offers and how a request's extension."davinci-crd.configuration" shapes the response.

#include <crd/core/operation_outcome.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstddef>
#include <set>
#include <string>
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
// keeps the max-cards most severe cards (critical, warning, info; stable within a level).
void apply_options(boost::json::object& response, const crd_options& options);

}  // namespace crd::decision
