#include <crd/core/operation_outcome.hpp>

#include <boost/json/array.hpp>

namespace crd::core {

boost::json::object to_operation_outcome(const problem& p)
{
    boost::json::object issue;
    issue["severity"] = p.status >= 500 ? "fatal" : "error";
    issue["code"] = p.code;
    issue["diagnostics"] = p.diagnostics;
    if (!p.expression.empty())
        issue["expression"] = boost::json::array{boost::json::string(p.expression)};
    boost::json::object oo;
    oo["resourceType"] = "OperationOutcome";
    oo["issue"] = boost::json::array{std::move(issue)};
    return oo;
}

}  // namespace crd::core
