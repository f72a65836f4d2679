#pragma once
// Error answers: an HTTP status plus a FHIR OperationOutcome whose diagnostics name the field.
// to_problem() is the one way from an error value (crd/core/error.hpp) to such an answer.

#include <crd/core/error.hpp>

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace crd::core {

// What is wrong with a caller's request, as codes of the "crd.request" category.
enum class request_errc
{
    missing = 1,          // 422 required: a required field is absent
    wrong_structure,      // 422 structure: a field of the wrong JSON type or shape
    bad_value,            // 422 value: a field whose value breaks a rule
    invalid,              // 422 invalid: the request as a whole breaks a rule
    too_many,             // 413 too-costly: more entries than a configured limit allows
    prefetch_incomplete,  // 412 incomplete: required prefetch missing and not fetchable
    not_json,             // 400 structure: the body is not a JSON document we accept
    unsupported_version,  // 400 not-supported: davinci-crd.requestedVersion older than any served
    other_payer,          // 400 business-rule: the primary Coverage is not with this payer (CRD hooks.md)
};
const http_error_category& request_category() noexcept;
inline error_code make_error_code(request_errc e) noexcept
{
    return {static_cast<int>(e), request_category()};
}

// The HTTP rendering of an error.
struct problem
{
    unsigned status;          // HTTP status code
    std::string_view code;    // FHIR issue-type: required, value, structure, invalid, not-found, ...
    std::string diagnostics;  // human-readable, names the field
    std::string expression;   // the field's path in the request, e.g. "context.draftOrders"; may be empty
};

// The one mapping from an error value to its answer: the code's category gives the status and
// issue type (and the words when the error has no detail of its own).
problem to_problem(const error& e);

boost::json::object to_operation_outcome(const problem& p);

}  // namespace crd::core

template <>
struct boost::system::is_error_code_enum<crd::core::request_errc> : std::true_type
{
};
