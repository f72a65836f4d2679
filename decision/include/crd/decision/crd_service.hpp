#pragma once
// A CRD CDS service: one handler object per hook. It validates the call, awaits the decision
// source within the service's deadline and applies the caller's CRD configuration options.

#include <crd/core/config.hpp>
#include <crd/core/decision.hpp>
#include <crd/core/hook.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/prefetch.hpp>

#include <chrono>

namespace crd::decision {

class crd_service final : public core::hook_handler
{
public:
    // `prefetch` (may be null: no fetching) completes missing prefetch before the decision step.
    crd_service(const core::service_definition& service, core::decision_service& decision, std::chrono::milliseconds timeout,
        prefetch_fulfiller* prefetch = nullptr, double prefetch_share = 0.5, core::request_limits limits = {},
        core::failure_policy on_failure = core::failure_policy::error, std::string failure_label = "Coverage requirements");

    const core::service_definition& service() const noexcept override { return service_; }
    boost::json::object discovery() const override { return discovery_; }
    net::awaitable<core::api_response> handle(core::document_ptr body, core::request_context ctx) override;
    bool echoes_request_orders() const noexcept override { return echoes_request_orders_; }

    std::chrono::milliseconds timeout() const noexcept { return timeout_; }

private:
    // A 200 answer: the caller's configuration options applied, the version noted for the audit.
    core::api_response answered(core::hook_request&& request, boost::json::object response, const crd_options& options, std::string decision) const;

    const core::service_definition& service_;
    core::decision_service& decision_;
    std::chrono::milliseconds timeout_;
    prefetch_fulfiller* prefetch_;
    double prefetch_share_;
    core::request_limits limits_;
    core::failure_policy on_failure_;
    std::string failure_label_;  // Card.source.label of the failure answer's card
    std::vector<std::string> card_types_;
    bool echoes_request_orders_;  // the decision source's, for this service (fixed for its life)
    boost::json::object discovery_;
};

// The decision budget of a service: decision.services.<id>.timeout_ms, else decision.timeout_ms,
// else the service's own default.
std::chrono::milliseconds decision_timeout(const core::config& cfg, const core::service_definition& service);

// One handler per enabled service (services.enabled / CDS_ENABLED_HOOKS), in catalogue order.
// limits.max_orders and limits.max_selections as the validator takes them.
core::request_limits request_limits_of(const core::config& cfg);

core::hook_registry make_registry(const core::config& cfg, core::decision_service& decision, prefetch_fulfiller* prefetch = nullptr);

// The HTTP answer for a failed decision step (CRD: an error status, never "no cards").
core::problem decision_failure(const error_code& ec);

}  // namespace crd::decision
