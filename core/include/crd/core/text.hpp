#pragma once
// Small text helpers every module needs once: ASCII case folding for protocol tokens (header names,
// schemes, media types) and the one UTC timestamp format of logs and audit records.

#include <chrono>
#include <string>
#include <string_view>

namespace crd::core {

// ASCII case-insensitive equality (HTTP field names, auth schemes, media types; never locale).
bool iequals(std::string_view a, std::string_view b) noexcept;

// ASCII lower case.
std::string to_lower(std::string_view s);

// "2026-12-02T05:49:53.993Z": UTC, millisecond precision (RFC 3339).
std::string utc_timestamp(std::chrono::system_clock::time_point t);

}  // namespace crd::core
