#pragma once
// Building a CDS Hooks answer from what a decision source says about each order: one
// coverage-information update per order or appointment (primary hooks), in the caller's CRD
// version, and the cards that explain it. The embedded rules engine and the decisions protocol
// (a decision service answering per order, decisions_protocol.hpp) both answer through these, so
// the two cannot drift apart in what a conformant answer is.

#include <crd/core/hook_request.hpp>
#include <crd/decision/coverage_information.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/fhir_codes.hpp>
#include <crd/decision/rules.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crd::decision::answer {

// Card.source of the cards an answer carries.
struct card_origin
{
    std::string_view label;
    std::string_view url;  // may be empty
};

// One order, appointment or encounter the answer speaks about.
struct answered_item
{
    const core::request_item* item = nullptr;
    const boost::json::object* resource = nullptr;  // may be null (order-dispatch, not prefetched)
    std::string reference;                          // "Type/id"
};

// What a hook's answer covers: the selected orders or appointments (order-select: advice only for
// the selected ones, CRD hooks.md) and, for the encounter hooks, the encounter from prefetch,
// which `encounter_slot` then holds (it must outlive the list).
std::vector<answered_item> items_of(const core::hook_request& request, core::request_item& encounter_slot);

// Whether `item` gets a coverage-information update: primary hooks, orders and appointments.
bool carries_coverage_information(const core::hook_request& request, const answered_item& item);

// The assertion a determination makes about one order and its coverage; `reason_text` becomes the
// text of its first reason. A date today, an expiry from valid_days or expiry_date, a new id.
coverage_assertion assertion_of(const determination& d, const coverage_ref& cov, std::string reason_text, bool coverage_known);

// An assertion about `cov` with only date and id: the caller fills in the determination.
coverage_assertion base_assertion(const coverage_ref& cov);

// The assertion when no decision could be made for an order: 2.1+ `indeterminate` with reason
// technical (said as `conditional` by a 2.1 rendering), 2.0 `conditional` with info-needed OTH.
coverage_assertion undetermined_assertion(const coverage_ref& cov, core::crd_version version, std::string why);

// An update action whose resource is put in place by place_resources once every order has been read.
struct deferred_resource
{
    std::size_t action = 0;                       // its index in the actions array
    const boost::json::object* target = nullptr;  // the order echoed; null: `minimal` is
    boost::json::object minimal;
    boost::json::object coverage_information;  // the rendered extension
    std::string_view target_text;              // the order's own bytes (request_item::text), when known
    // Set by place_resources when the placed resource is target_text's members followed by the
    // coverage information (the order had no extension): where its members lie, how many are the text's.
    const boost::json::key_value_pair* placed_members = nullptr;
    std::size_t members_as_sent = 0;
};

// Appends the update action that carries `a` on `item` (or, for an Appointment basedOn a
// ServiceRequest in the request, on that ServiceRequest from 2.1), rendered in the request's
// version; what rendering changed is counted. Allocates in `sp`. With `deferred`, the resource
// (the order with its coverage information) is placed later, by place_resources: the order is then
// moved out of the request document instead of copied now (a deep copy was about a quarter of an
// embedded call's cost per order; issue 19).
void append_update(boost::json::array& actions, const core::hook_request& request, const core::request_item& item, coverage_assertion a,
    std::string_view what, std::string_view reference, boost::json::storage_ptr sp = {}, std::vector<deferred_resource>* deferred = nullptr);

// An order's coverage information rendered once per call for every order that gets the same
// assertion (the same rule and coverage): the first order's update takes it as rendered when its
// resource is deferred, and every other order's update copies it and gives the copy its own
// coverage-assertion-id. Rendering per order was the largest part of building an embedded answer
// (issue 19); copying a rendered tree costs a fraction of building it.
struct rendered_coverage
{
    boost::json::object extension;  // ext-coverage-information, in the answer's memory resource
    std::size_t id_at = 0;          // index of the coverage-assertion-id element in its `extension`
    std::string description_tail;   // the update's description after "... (Type/id): "
    rendering_report report;        // what rendering changed: counted again for each order
    // The deferred update `extension` was moved into, which later orders then copy it from.
    std::optional<std::size_t> held_by_deferred;
};

// Renders `a` in `version` for rendered updates. Allocates in `sp`.
rendered_coverage render_once(coverage_assertion a, core::crd_version version, boost::json::storage_ptr sp);

// Appends the update action for `item` with `r`: moved into the first deferred update, copied
// (with a new coverage-assertion-id) into every other. The resource is placed later
// (place_resources) when `deferred` is given, copied now otherwise. `deferred` must be the same
// list, or null, for every use of one `r`.
void append_update(boost::json::array& actions, const core::hook_request& request, const core::request_item& item, rendered_coverage& r,
    std::string_view what, std::string_view reference, const boost::json::storage_ptr& sp, std::vector<deferred_resource>* deferred);

// Puts each deferred update's resource in place. Moves each order out of the request document,
// which the caller must own and no longer read (its orders are left empty); an order two updates
// echo, or one in another memory resource, is copied instead.
void place_resources(boost::json::array& actions, std::vector<deferred_resource>& deferred, boost::json::storage_ptr sp);

// The placed resources that may be written as the caller's bytes (core::verbatim_object), in the
// answer's order, appended to `out`.
void collect_verbatim(const std::vector<deferred_resource>& deferred, std::vector<core::verbatim_object>& out);

// Appends the cards of `advice` about one item: an External Reference card when it has links, an
// Instructions card when it has instructions (CRD cards.md). `several`: the answer covers more
// than one item, so the detail says which. `d` is the determination the summary speaks of.
// A card `budget` does not admit is left out (one budget for the whole answer).
void append_cards(boost::json::array& cards, const card_origin& origin, card_budget& budget, const rule& advice, const determination& d,
    std::string_view what, std::string_view reference, bool several, core::crd_version version, boost::json::storage_ptr sp = {});

// The cards of one call's rules, built once per call as skeletons (every member in place, the
// per-item ones as placeholders) and copied into each card, which then gets its own uuid,
// summary, indicator, item reference and detail (issue 19: building each card member by member
// was a third of the answer's cost per order).
class card_parts
{
public:
    card_parts(const card_origin& origin, core::crd_version version, boost::json::storage_ptr sp);

    // `instructions`: the rule's Instructions card, else its External Reference card;
    // `with_detail`: the External Reference card has a detail.
    const boost::json::object& skeleton(const rule& advice, bool instructions, bool with_detail);
    const card_origin& origin() const noexcept { return origin_; }

private:
    struct built
    {
        const rule* advice;
        bool instructions;
        bool with_detail;
        boost::json::object card;
    };
    card_origin origin_;
    core::crd_version version_;
    boost::json::storage_ptr sp_;
    std::vector<built> cards_;
};

// As above, with the shared parts copied from `parts` (built for the same origin, version and
// `sp`); a card `budget` does not admit is left out (one budget for the whole answer).
void append_cards(boost::json::array& cards, card_parts& parts, card_budget& budget, const rule& advice, const determination& d,
    std::string_view what, std::string_view reference, bool several, const boost::json::storage_ptr& sp);

// Card.source: label, url, and topic in the caller's version's card-type system. Allocates in `sp`.
boost::json::object card_source(
    std::string_view label, std::string_view url, std::string_view topic, core::crd_version version, boost::json::storage_ptr sp = {});

// CDS Hooks: "summary ... <140 characters"; cut at a UTF-8 boundary with the cut marked.
std::string fit_summary(std::string s);

}  // namespace crd::decision::answer
