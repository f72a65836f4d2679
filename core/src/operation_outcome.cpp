#include <crd/core/operation_outcome.hpp>

#include <boost/json/array.hpp>

namespace crd::core {
namespace {

class request_category_impl final : public http_error_category
{
public:
    const char* name() const noexcept override { return "crd.request"; }
    std::string message(int ev) const override { return std::string(answer(ev).explanation); }
    http_answer answer(int ev) const override
    {
        switch (static_cast<request_errc>(ev))
        {
        case request_errc::missing: return {422, "required", "a required field is missing"};
        case request_errc::wrong_structure: return {422, "structure", "a field has the wrong structure"};
        case request_errc::bad_value: return {422, "value", "a field has a value that is not allowed"};
        case request_errc::invalid: return {422, "invalid", "the request is not valid"};
        case request_errc::too_many: return {413, "too-costly", "the request has more entries than this server accepts"};
        case request_errc::prefetch_incomplete: return {412, "incomplete", "required prefetch data is missing and could not be fetched"};
        case request_errc::not_json: return {400, "structure", "the request body is not valid JSON"};
        case request_errc::unsupported_version: return {400, "not-supported", "the requested CRD version is not served here"};
        case request_errc::other_payer: return {400, "business-rule", "the patient's primary coverage is not with this payer"};
        }
        return {400, "invalid", "the request is not valid"};
    }
};

}  // namespace

const http_error_category& request_category() noexcept
{
    static const request_category_impl instance;
    return instance;
}

problem to_problem(const error& e)
{
    auto answer = answer_of(e.code);
    if (!e.detail.empty())
        answer.explanation = e.detail;
    return {answer.status, answer.issue_type, std::move(answer.explanation), e.expression};
}

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
