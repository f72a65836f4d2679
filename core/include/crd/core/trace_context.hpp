#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate`
// headers that let an operations team follow one call from the EHR through crd-server into the
// decision service, the EHR's FHIR server and the JWKS host. crd-server is one hop: it takes the
// caller's trace (or starts one), is a span of its own in it, and gives every call it makes a new
// child span id in the same trace. Headers that do not parse are ignored and never echoed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crd::core {

// Spec §3.3.1.3.2: vendors propagate at least 512 characters of tracestate and at most 32 members;
// beyond either the whole value is dropped (a truncated list could change its meaning).
inline constexpr std::size_t max_tracestate_bytes = 512;
inline constexpr std::size_t max_tracestate_members = 32;

struct trace_context
{
    std::array<std::uint8_t, 16> trace_id{};
    // The span this context names: the caller's parent-id for a parsed header, crd-server's own
    // span for one it made (start_trace, child_span).
    std::array<std::uint8_t, 8> span_id{};
    // Only the sampled bit (01) is kept: version 00 defines no other (§3.2.2.5, "MUST set those to zero").
    std::uint8_t flags = 0;
    // Validated tracestate (members joined by ","), or empty.
    std::string tracestate;

    // A default-constructed context (all-zero ids) is invalid and is never sent.
    bool valid() const noexcept;
    bool sampled() const noexcept { return (flags & 0x01) != 0; }

    std::string trace_id_hex() const;  // 32 lower-case hex digits
    std::string span_id_hex() const;   // 16 lower-case hex digits
    // The version 00 header value: "00-<trace-id>-<span-id>-<flags>".
    std::string traceparent() const;
};

// A traceparent header value (§3.2): version 00 exactly as specified (55 characters, lower-case
// hex, non-zero ids, no trailing data); a higher version by the forward-compatible rules of §3.2.4
// (its first 55 characters in the version 00 layout, then the end or a "-"). nullopt otherwise,
// including version ff.
std::optional<trace_context> parse_traceparent(std::string_view header);

// A tracestate header value (§3.3), several header lines already joined by ",": the members
// (empty ones skipped) joined by "," when every one is a valid key=value, keys are unique, there
// are at most max_tracestate_members and the value is at most max_tracestate_bytes; nullopt
// otherwise (the whole value is dropped).
std::optional<std::string> parse_tracestate(std::string_view header);

// A new trace: a random trace id and span id (core::random_bytes), sampled, no tracestate.
// Sampled, so that the services crd-server calls record their side of a call that has crd-server's
// log lines and audit record.
trace_context start_trace();

// The same trace and tracestate, a new random span id: crd-server's span under the caller's, and
// each outgoing call's span under crd-server's.
trace_context child_span(const trace_context& parent);

// crd-server's span for an incoming request: a child of the caller's traceparent when it parses
// (its tracestate kept when that parses too), otherwise a new trace. `traceparent_count` is how
// many traceparent header lines came: more than one is invalid (§3.2.1), as is a value that does
// not parse, and either starts a new trace.
trace_context server_span(std::string_view traceparent, std::size_t traceparent_count, std::string_view tracestate);

}  // namespace crd::core
