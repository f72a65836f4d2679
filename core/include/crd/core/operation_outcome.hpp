#pragma once
// Error answers: an HTTP status plus a FHIR OperationOutcome whose diagnostics name the field.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace crd::core {

struct problem
{
    unsigned status;            // HTTP status code
    std::string_view code;      // FHIR issue-type: required, value, structure, invalid, not-found, ...
    std::string diagnostics;    // human-readable, names the field
    std::string expression;     // the field's path in the request, e.g. "context.draftOrders"; may be empty
};

boost::json::object to_operation_outcome(const problem& p);

}  // namespace crd::core
