#pragma once
// The embedded decision source: evaluates the payer rules locally, with no network hop. It is
// the default when no decision service URL is configured.

#include <crd/core/decision.hpp>
#include <crd/decision/coverage_information.hpp>
#include <crd/decision/rules.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace crd::decision {

namespace answer {
struct deferred_resource;  // answer_builder.hpp (private to the library)
}

// The answer when no decision could be made, in the caller's version (request.version):
// - 2.0 with decision.on_failure "conditional": for primary hooks, coverage information
//   "conditional" (info-needed OTH) for every order or appointment and one info card saying so;
// - 2.1 and 2.2 (CRD 2.2 cards.md, Inferno's technical-issues tests): a determination, not an
//   error: covered "indeterminate" with reason `technical` on every order or appointment (2.1,
//   which has no indeterminate: "conditional" with the same reason), and the same card.
// Secondary hooks get no cards.
boost::json::object undetermined_response(const core::hook_request& request, std::string_view source_label);

// The answer when the patient has no coverage this payer can find, for a 2.1+ caller: every order
// "not-covered" with reason `coverage_reason` (no-active-coverage, coverage-not-found).
boost::json::object no_coverage_response(const core::hook_request& request, std::string_view source_label, std::string_view coverage_reason);

// The card topic object ({system, code, display}) of a CRD card type in the caller's version:
// the temp CodeSystem before 2.2, cdshooks-card-type from 2.2. Allocates in `sp`.
boost::json::object card_topic(std::string_view code, core::crd_version version, boost::json::storage_ptr sp = {});

// True when the request's primary Coverage (the first in prefetch) names this payer, by a payor
// reference or identifier the rules file gives (payer.references, payer.identifiers); also true
// when the rules name no identifiers, or the request carries no Coverage.
bool is_with_payer(const core::hook_request& request, const rule_set& rules);

class rules_engine final : public core::decision_service
{
public:
    explicit rules_engine(rule_set rules);

    // Completes immediately with evaluate(request); the deadline cannot be reached.
    net::awaitable<result<boost::json::object>> decide(core::hook_request& request, clock::time_point deadline) override;
    std::string_view mode() const noexcept override { return "embedded-rules"; }
    // evaluate(request&) moves the orders into the answer.
    bool echoes_request_orders(const core::service_definition& /*service*/) const noexcept override { return true; }
    std::vector<std::string> card_types(const core::service_definition& service) const override;

    // The CDS Hooks response for a validated request: for primary hooks one coverage-information
    // systemAction per order or appointment; cards where a matching rule has links or instructions.
    boost::json::object evaluate(const core::hook_request& request) const;
    // The same answer, but each order echoed in an update action is moved out of the request
    // document rather than copied: the request's orders are left empty. For decide(), whose
    // caller keeps the document only to free it once the answer is sent.
    boost::json::object evaluate(core::hook_request& request) const;

    // The rules in use now; a call holds its own reference, so a reload never changes the rules
    // under a request being evaluated.
    std::shared_ptr<const rule_set> rules() const noexcept { return rules_.load(std::memory_order_acquire); }

    // SIGHUP: loads cfg.decision.rules_path again and swaps it in atomically. On error (message
    // naming the file and key) the old rules stay.
    void reload(const core::config& cfg) override;

private:
    boost::json::object build_answer(const core::hook_request& request, std::vector<answer::deferred_resource>* deferred) const;

    std::atomic<std::shared_ptr<const rule_set>> rules_;
};

}  // namespace crd::decision
