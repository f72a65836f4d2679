#pragma once
// CDS Hooks 2.0 feedback (POST /cds-services/{id}/feedback): what the EHR reports about the
// cards it showed. Validated strictly so the audit log holds only well-formed reports.

#include <crd/core/operation_outcome.hpp>

#include <boost/json/value.hpp>

#include <string_view>

namespace crd::core {

// Succeeds when `body` is a valid feedback document; otherwise a 422 error (request_errc::invalid)
// naming the field (e.g. "feedback[1].acceptedSuggestions").
result<void, error> validate_feedback(const boost::json::value& body);

// RFC 3339 date-time with seconds and a zone ("2026-11-22T10:15:00Z", "...+01:00").
bool is_rfc3339_date_time(std::string_view s) noexcept;

}  // namespace crd::core
