#pragma once
// Small text helpers every module needs once: ASCII case folding for protocol tokens (header names,
// schemes, media types), the HTTP field checks of the two hand-written message heads (the
// listener's answers, the upstream client's requests) and the one UTC timestamp format of logs and audit records.

#include <chrono>
#include <string>
#include <string_view>

namespace crd::core {

// ASCII case-insensitive equality (HTTP field names, auth schemes, media types; never locale).
bool iequals(std::string_view a, std::string_view b) noexcept;

// RFC 9110 §5.5: a field value a message writer may send as it is: no control byte but HTAB, and no
// DEL (a CR or LF would end the line: an echoed or forwarded value could carry one).
bool is_safe_field_value(std::string_view value) noexcept;

// The fields that frame an HTTP/1.1 message or manage its connection (Content-Length,
// Transfer-Encoding, Connection): whoever writes the message sets them, never a caller's header.
bool is_framing_field(std::string_view name) noexcept;

// ASCII lower case.
std::string to_lower(std::string_view s);

// "2026-12-02T05:49:53.993Z": UTC, millisecond precision (RFC 3339).
std::string utc_timestamp(std::chrono::system_clock::time_point t);

}  // namespace crd::core
