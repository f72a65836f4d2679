#pragma once
// The decision library's metric families: decision-service calls, response normalisation, FHIR
// prefetch and feedback forwarding, and the upstream pools it creates ("decision", "fhir").

#include <crd/core/crd_version.hpp>
#include <crd/core/metrics.hpp>
#include <crd/upstream/pool_metrics.hpp>

#include <cstdint>

namespace crd::decision {

// rejected: the decision service refused the request itself (4xx); relayed, not its failure.
enum class decision_outcome : std::uint8_t
{
    ok,
    timeout,
    error,
    breaker_open,
    rejected,
    count_
};
enum class prefetch_outcome : std::uint8_t
{
    fetched,
    not_found,
    error,
    timeout,
    skipped,
    count_
};
// What the response normaliser did to cards and systemActions (crd_cards_normalised_total).
enum class normalisation : std::uint8_t
{
    card_dropped,
    card_repaired,
    action_dropped,
    action_repaired,
    count_
};
// What rendering coverage information in the caller's CRD version changed (coverage_information.hpp).
enum class rendering_change : std::uint8_t
{
    downgraded,
    repaired,
    dropped,
    count_
};
// What crd-server did to a decisions-protocol answer to make it a conformant one
// (crd_decisions_repaired_total; decisions_protocol.hpp).
enum class decision_repair : std::uint8_t
{
    missing_order,     // an order of the request had no decision: answered as undetermined ("technical")
    unknown_order,     // a decision for an order the request does not hold (or did not select): left out
    duplicate_order,   // a second decision for one order: left out, the first one stands
    invalid_decision,  // a decision with a bad value (named in the log): its order answered as undetermined
    invalid_card,      // an informational card with a bad value: left out
    count_
};
enum class forward_result : std::uint8_t
{
    ok,
    error,
    count_
};

struct decision_metrics
{
    metrics::counter_array<decision_outcome> calls;
    metrics::histogram_family call_seconds;
    metrics::counter_family degraded;            // answered "conditional" after a failure
    metrics::counter_family nonfinite_numbers;   // answers refused for a number outside double range
    metrics::counter_family relayed_unread;      // answers relayed as written after one pass, no tree built (answer_relay.hpp)
    metrics::counter_family relay_pass_refused;  // answers the one pass said no to: read twice, the tree path's way too
    metrics::counter_array<normalisation, 2> normalised;
    metrics::counter_array<prefetch_outcome> prefetch_fetches;
    metrics::histogram_family prefetch_seconds;
    metrics::counter_family prefetch_origin_refused;  // fhirServer not in prefetch.allowed_origins
    metrics::counter_array<forward_result> feedback_forwarded;
    metrics::counter_array<core::crd_version> responses_by_version;  // validated hook calls by the CRD version answered in
    metrics::counter_array<rendering_change> coverage_rendering;     // elements said otherwise, repaired or dropped
    metrics::counter_array<decision_repair> decisions_repaired;      // decisions-protocol answers made conformant
    metrics::counter_family relayed;                                 // decision-service OperationOutcomes relayed (on_failure "relay")
    metrics::registration registered;

    upstream::pool_gauges& decision_pool;  // the decision service's and the feedback forwarder's pools
    upstream::pool_gauges& fhir_pool;      // prefetch's pools

    // The process's, registered with metrics::process_registry() on first use; decision_metrics.cpp
    // also asks for it during static initialisation, so /metrics lists these families (at zero)
    // before the first call.
    static decision_metrics& instance();

private:
    decision_metrics();
};

struct rendering_report;
// Adds what rendering coverage information changed to crd_coverage_information_rendering_total.
void count_rendering(const rendering_report& report) noexcept;

}  // namespace crd::decision
