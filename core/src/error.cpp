#include <crd/core/error.hpp>

#include <boost/throw_exception.hpp>

#include <string>

namespace crd {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // error_category has a protected non-virtual dtor
class crd_category_impl final : public http_error_category
{
public:
    const char* name() const noexcept override { return "crd"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev))
        {
        case errc::decision_timeout: return "the decision service did not answer before the deadline";
        case errc::decision_unavailable: return "the decision service is unavailable";
        case errc::decision_bad_response: return "the decision service returned an invalid response";
        case errc::decision_circuit_open: return "the decision service circuit breaker is open";
        case errc::upstream_timeout: return "the upstream did not answer before the deadline";
        case errc::pool_exhausted: return "no upstream connection is free and the wait queue is full";
        case errc::response_too_large: return "the upstream response exceeds its size limit";
        case errc::upstream_unresolved: return "the upstream host name has no resolved address";
        case errc::json_number_out_of_range: return "a number is outside the range of a double (such as 1e400)";
        case errc::header_value_invalid:
            return "the method, target or a header of an upstream request is empty, too long or contains a control character";
        case errc::pool_wait_timeout: return "no pooled upstream connection became free before the deadline";
        }
        return "unknown crd error";
    }
    // The caller's view of an upstream failure: the payer's service, in words that reveal no
    // internal address.
    http_answer answer(int ev) const override
    {
        switch (static_cast<errc>(ev))
        {
        case errc::decision_timeout: return {504, "timeout", "the coverage decision did not complete in time"};
        case errc::decision_circuit_open: return {503, "transient", "the coverage decision service is temporarily unavailable"};
        case errc::decision_bad_response: return {502, "exception", "the coverage decision service returned an invalid response"};
        case errc::json_number_out_of_range: return {400, "structure", message(ev)};
        case errc::decision_unavailable:
        case errc::upstream_timeout:
        case errc::pool_exhausted:
        case errc::response_too_large:
        case errc::upstream_unresolved:
        case errc::header_value_invalid:
        case errc::pool_wait_timeout: break;
        }
        return {502, "exception", "the coverage decision service is unavailable"};
    }
};
class decision_refusal_category_impl final : public http_error_category
{
public:
    const char* name() const noexcept override { return "crd-decision-refusal"; }
    std::string message(int status) const override { return "the decision service refused the request (HTTP " + std::to_string(status) + ")"; }
    // Relayed with the decision service's own status: the request's content is at fault.
    http_answer answer(int status) const override
    {
        return {static_cast<unsigned>(status), "processing",
            "the payer's decision service refused this request (HTTP " + std::to_string(status) + "); check the request's content"};
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& decision_refusal_category() noexcept
{
    static const decision_refusal_category_impl instance;
    return instance;
}

const boost::system::error_category& crd_category() noexcept
{
    static const crd_category_impl instance;
    return instance;
}

http_answer answer_of(const error_code& ec)
{
    if (const auto* http = dynamic_cast<const http_error_category*>(&ec.category()))
        return http->answer(ec.value());
    return {500, "exception", "internal error while processing the request"};
}

void throw_exception_from_error(const error& e, const boost::source_location& where)
{
    boost::throw_exception(boost::system::system_error(e.code, e.detail), where);
}

}  // namespace crd
