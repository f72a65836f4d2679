#pragma once
// Identifiers and dates that responses carry.

#include <string>

namespace crd::core {

// A random (version 4) UUID from OpenSSL's CSPRNG, lower-case, e.g. for card and suggestion uuids
// and coverage-assertion-ids.
std::string new_uuid();

// Today's date in UTC as YYYY-MM-DD (FHIR date).
std::string today_utc();

}  // namespace crd::core
