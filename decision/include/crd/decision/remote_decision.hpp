#pragma once
// The payer's decision service as the decision source: each hook handler's call is POSTed to
// decision.url (or a per-service URL) through a pooled client, under the request's deadline and
// behind a circuit breaker; the answer is normalised before it reaches the EHR.

#include <crd/core/config.hpp>
#include <crd/core/decision.hpp>
#include <crd/decision/circuit_breaker.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace crd::decision {

struct decision_counters
{
    std::atomic<std::uint64_t> ok{0};
    std::atomic<std::uint64_t> timeout{0};
    std::atomic<std::uint64_t> error{0};
    std::atomic<std::uint64_t> breaker_open{0};
    std::atomic<std::uint64_t> cards_dropped{0};
    std::atomic<std::uint64_t> cards_repaired{0};
    std::atomic<std::uint64_t> actions_dropped{0};
    std::atomic<std::uint64_t> actions_repaired{0};
};

class remote_decision final : public core::decision_service
{
public:
    // Resolves every decision origin now; one that does not resolve is logged and left unready
    // (GET /ready says so) until the background refresh succeeds. Throws std::runtime_error when
    // a configured CA file cannot be loaded.
    explicit remote_decision(const core::config& cfg);
    ~remote_decision() override;

    // Completes with the normalised response, or errc::decision_timeout / decision_unavailable /
    // decision_bad_response / decision_circuit_open — unless decision.on_failure is "conditional",
    // which turns every failure into a 200 "coverage could not be determined" answer. Under "relay"
    // (request.relay_upstream_outcome) a 4xx/5xx answer whose body is an OperationOutcome is kept
    // in request.upstream_outcome for the handler to pass on. Sends request.client_id, when set,
    // as X-CDS-Client. Under the decisions protocol (decision.protocol, per service) the request
    // sent is the compact summary and the per-order answer is rendered into the CDS Hooks response.
    net::awaitable<result<boost::json::object>> decide(core::hook_request& request, clock::time_point deadline) override;
    std::string_view mode() const noexcept override { return "remote"; }
    // The decisions protocol renders the answer around the request's own orders; a CDS Hooks
    // service's answer carries resources of its own.
    bool echoes_request_orders(const core::service_definition& service) const noexcept override;
    core::readiness ready() const override;
    // The decision service may answer any CRD card type; each can be switched off by the caller.
    std::vector<std::string> card_types(const core::service_definition& service) const override;

    // Re-resolves the decision hosts periodically on `ex` (the application's control thread).
    void start_background(net::any_io_executor ex) override;

    const decision_counters& counters() const noexcept { return counters_; }

    struct origin;
    struct shard_clients;

private:
    // decision.protocol "decisions" for this service (per-order decisions rendered into its orders).
    bool uses_decisions_protocol(std::string_view service_id) const noexcept;
    // A CDS Hooks answer: normalised, then said in the caller's version; repairs counted and logged.
    // `edited` is false when the answer's tree still says exactly what the service sent.
    result<boost::json::object> normalise_and_render(boost::json::value body, const core::hook_request& request, core::crd_version version,
        std::string_view service_id, std::string_view hook_instance, const core::trace_context& trace, bool& edited);
    // A decisions-protocol answer: rendered into the request's orders; repairs counted and logged.
    result<boost::json::object> render_decisions(const boost::json::value& body, core::hook_request& request, std::string_view service_id,
        std::string_view hook_instance, const core::trace_context& trace);

    const core::config& cfg_;
    std::vector<std::unique_ptr<origin>> origins_;
    std::map<std::string, std::size_t, std::less<>> origin_of_service_;
    std::map<std::string, core::decision_protocol, std::less<>> protocol_of_service_;
    decision_counters counters_;
    std::string pools_key_;  // this source's pools in each context's upstream::pool_registry
};

}  // namespace crd::decision
