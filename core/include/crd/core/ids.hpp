#pragma once
// Identifiers and dates that responses carry.

#include <cstddef>
#include <span>
#include <string>

namespace crd::core {

// A random (version 4) UUID from OpenSSL's CSPRNG, lower-case, e.g. for card and suggestion uuids
// and coverage-assertion-ids.
std::string new_uuid();

// The same, written into the 36 characters at `out` (e.g. a JSON string's own buffer): no string
// to allocate and copy, for the ids of a large answer (issue 19).
void write_uuid(std::span<char, 36> out);

// `n` random bytes from OpenSSL's CSPRNG through the same per-thread buffer as new_uuid (cheap per
// call, and a forked child never repeats its parent's bytes), e.g. W3C trace and span ids.
void random_bytes(unsigned char* out, std::size_t n);

// Today's date in UTC as YYYY-MM-DD (FHIR date).
std::string today_utc();

}  // namespace crd::core
