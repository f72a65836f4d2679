#pragma once
// Whether a decision service's CDS Hooks answer can reach the EHR exactly as the service wrote it,
// decided in one pass over its text without building its tree (issue 19).
//
// Building the tree, normalising it and rendering it in the caller's version (response_normaliser)
// cost a gateway call about 30k instructions for a 1.2 KB answer that, in the usual case, comes out
// unchanged and is relayed as its own bytes anyway. This reader follows the same rules over the
// parser's events and says yes only when that path would change, drop, repair or note nothing.
// Anything it does not follow says no, and the caller builds the tree as before: it may be too
// strict, never too lenient. The response_normaliser fuzz target holds it to that on every input.

#include <crd/core/crd_version.hpp>
#include <crd/core/hook_request.hpp>

#include <atomic>
#include <cstddef>
#include <string_view>

namespace crd::decision {

struct relay_verdict
{
    bool relayable = false;
    // Why not, in a few words (tests and debugging; never sent): the first rule the text met.
    std::string_view why_not;
};

// True (relayable) only when all of these hold for `text`, a decision service's CDS Hooks answer:
// - it is one JSON object whose members are "cards" (an array), then optionally "systemActions"
//   (a non-empty array), and no other; no object of it gives a key twice;
// - every card would pass normalise_response untouched: an object with a non-empty summary of at
//   most 139 bytes, an indicator of info, warning or critical, a source with a non-empty label and a
//   topic with a code, a uuid, valid links (label, type absolute or smart, an http(s) url, no
//   appContext on an absolute link), no suggestions (this reader does not follow them), and no
//   member anywhere in it that is null, "", [] or {};
// - its topic's system needs no change in `version` (render_in_version);
// - at most `cards_kept` cards, most severe first (apply_options with no card type disabled);
// - every system action would pass untouched: a type of create, update or delete, the resource or
//   resourceId it needs, a description, no empty member; and each coverage-information extension
//   of its resource reads, says exactly what rendering it in `version` would, and comes after the
//   resource's other extensions; in 2.1+, not for an order `request` still holds (that comparison
//   needs the tree);
// - no key is written with an escape (keys are compared for repeats as the text writes them;
//   strings are read unescaped, as the tree holds them), and no number is outside double range.
relay_verdict relayable_as_written(std::string_view text, const core::hook_request& request, core::crd_version version, std::size_t cards_kept);

// Whether to try the one pass on a decision service's next answer. A pass that says no is paid on
// top of the tree path (up to 25k instructions for a 1.2 KB answer refused at its last member), so
// a service whose answers keep needing the tree (it leaves out uuids, answers in another CRD
// version, sends suggestions) would be slower for the pass than without it: after
// refusals_before_backoff refusals in a row, the pass is tried on one answer in retry_every, until
// it says yes again. One per decision service, shared by the threads calling it (relaxed atomics:
// a count off by one under a race changes only when the next try comes).
class relay_pass_backoff
{
public:
    static constexpr unsigned refusals_before_backoff = 8;
    static constexpr unsigned retry_every = 64;

    bool should_try() noexcept
    {
        if (refusals_.load(std::memory_order_relaxed) < refusals_before_backoff)
            return true;
        return (skipped_.fetch_add(1, std::memory_order_relaxed) + 1) % retry_every == 0;
    }
    void record(bool relayable) noexcept
    {
        const unsigned refusals = refusals_.load(std::memory_order_relaxed);
        if (relayable)
        {
            if (refusals != 0)  // no write to a shared line while answers keep going as written
                refusals_.store(0, std::memory_order_relaxed);
        }
        else if (refusals < refusals_before_backoff)
            refusals_.store(refusals + 1, std::memory_order_relaxed);
    }

private:
    std::atomic<unsigned> refusals_{0};  // in a row, up to refusals_before_backoff
    std::atomic<unsigned> skipped_{0};
};

}  // namespace crd::decision
