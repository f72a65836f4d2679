#pragma once
// The embedded decision source: evaluates the payer rules locally, with no network hop. It is
// the default when no decision service URL is configured.

#include <crd/core/decision.hpp>
#include <crd/decision/rules.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

namespace crd::decision {

inline constexpr std::string_view coverage_information_url = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";

// True for an extension object whose url is ext-coverage-information.
bool is_coverage_information(const boost::json::value& extension) noexcept;

// The answer when no decision could be made and decision.on_failure is "conditional": for primary
// hooks, coverage information "conditional" (info-needed OTH) for every order or appointment and
// one info card saying so; for secondary hooks no cards.
boost::json::object undetermined_response(const core::hook_request& request, std::string_view source_label);

class rules_engine final : public core::decision_service
{
public:
    explicit rules_engine(rule_set rules);

    // Completes immediately with evaluate(request); the deadline cannot be reached.
    net::awaitable<result<boost::json::object>> decide(core::hook_request& request, clock::time_point deadline) override;
    std::string_view mode() const noexcept override { return "embedded-rules"; }
    std::vector<std::string> card_types(const core::service_definition& service) const override;

    // The CDS Hooks response for a validated request: for primary hooks one coverage-information
    // systemAction per order or appointment; cards where a matching rule has links or instructions.
    boost::json::object evaluate(const core::hook_request& request) const;

    // The rules in use now; a call holds its own reference, so a reload never changes the rules
    // under a request being evaluated.
    std::shared_ptr<const rule_set> rules() const noexcept { return rules_.load(std::memory_order_acquire); }

    // SIGHUP: loads cfg.decision.rules_path again and swaps it in atomically. On error (message
    // naming the file and key) the old rules stay.
    void reload(const core::config& cfg) override;

private:
    std::atomic<std::shared_ptr<const rule_set>> rules_;
};

}  // namespace crd::decision
