#include <crd/decision/coverage_information.hpp>
#include <crd/decision/decision_metrics.hpp>

namespace crd::decision {
namespace {

using label_pair = std::array<std::string_view, 2>;

}  // namespace

decision_metrics::decision_metrics()
    : calls{"crd_decision_calls_total", "Decision-service calls by outcome.", "outcome", {"ok", "timeout", "error", "breaker_open", "rejected"}}
    , call_seconds{"crd_decision_duration_seconds", "Decision-service call latency."}
    , degraded{"crd_decision_degraded_total",
          "Failed decisions answered as a determination instead of an error (decision.on_failure 'conditional' for CRD 2.0; always for 2.1+)."}
    , nonfinite_numbers{"crd_decision_nonfinite_numbers_total", "Decision answers refused for a number outside double range (inf/NaN)."}
    , relayed_unread{"crd_decision_answers_relayed_unread_total",
          "Decision-service answers sent to the EHR exactly as written after one pass over their text (nothing to repair, no tree built); "
          "the rest of crd_decision_calls_total{outcome=\"ok\"} were normalised on a tree."}
    , relay_pass_refused{"crd_decision_answers_read_twice_total",
          "Decision-service answers the one pass said no to (something to repair, or a shape it does not follow), then built into a tree: "
          "a service whose answers keep needing the tree has the pass tried on one answer in 64 only."}
    , normalised{"crd_cards_normalised_total", "Decision-service cards and systemActions dropped or repaired.", {"kind", "action"},
          {label_pair{"card", "dropped"}, label_pair{"card", "repaired"}, label_pair{"systemAction", "dropped"},
              label_pair{"systemAction", "repaired"}}}
    , prefetch_fetches{"crd_prefetch_fetches_total", "Prefetch keys fetched from the EHR's FHIR server, by outcome.", "outcome",
          {"fetched", "not_found", "error", "timeout", "skipped"}}
    , prefetch_seconds{"crd_prefetch_duration_seconds", "FHIR prefetch fetch latency."}
    , prefetch_origin_refused{"crd_prefetch_origin_refused_total", "Calls whose fhirServer is not in prefetch.allowed_origins (nothing fetched)."}
    , feedback_forwarded{"crd_feedback_forwarded_total", "Feedback forwarded to decision.feedback_url, by result.", "result", {"ok", "error"}}
    , responses_by_version{"crd_hook_calls_by_version_total", "Validated hook calls by the CRD version answered in (davinci-crd.requestedVersion).",
          "version", {"2.0", "2.1", "2.2"}}
    , coverage_rendering{"crd_coverage_information_rendering_total",
          "Coverage-information elements said as the caller's CRD version allows (downgraded), or changed (repaired) or left out (dropped) "
          "to keep its invariants.",
          "change", {"downgraded", "repaired", "dropped"}}
    , decisions_repaired{"crd_decisions_repaired_total",
          "Decisions-protocol answers made conformant: orders without a usable decision answered as undetermined, decisions or cards "
          "left out.",
          "repair", {"missing_order", "unknown_order", "duplicate_order", "invalid_decision", "invalid_card"}}
    , relayed{"crd_decision_relayed_total", "Decision-service error answers (OperationOutcome) relayed to the caller with their status "
                                            "(decision.on_failure 'relay')."}
    , registered{metrics::process_registry(), {&calls, &call_seconds, &degraded, &nonfinite_numbers, &relayed_unread, &relay_pass_refused,
                                                  &normalised, &prefetch_fetches, &prefetch_seconds, &prefetch_origin_refused, &feedback_forwarded,
                                                  &responses_by_version, &coverage_rendering, &decisions_repaired, &relayed}}
    , decision_pool(upstream::pool_gauges_for("decision"))
    , fhir_pool(upstream::pool_gauges_for("fhir"))
{
}

decision_metrics& decision_metrics::instance()
{
    static decision_metrics m;
    return m;
}

namespace {
// At start-up, so the families are listed before the first call.
[[maybe_unused]] const decision_metrics& registered_at_start = decision_metrics::instance();
}  // namespace

void count_rendering(const rendering_report& report) noexcept
{
    if (!report.changed())
        return;
    auto& counted = decision_metrics::instance().coverage_rendering;
    counted.add(rendering_change::downgraded, report.downgraded);
    counted.add(rendering_change::repaired, report.repaired);
    counted.add(rendering_change::dropped, report.dropped);
}

}  // namespace crd::decision
