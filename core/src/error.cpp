#include <crd/core/error.hpp>

#include <string>

namespace crd {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // error_category has a protected non-virtual dtor
class crd_category_impl final : public boost::system::error_category
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
        case errc::header_value_invalid: return "a header value contains CR, LF or NUL";
        case errc::pool_wait_timeout: return "no pooled upstream connection became free before the deadline";
        }
        return "unknown crd error";
    }
};
class decision_refusal_category_impl final : public boost::system::error_category
{
public:
    const char* name() const noexcept override { return "crd-decision-refusal"; }
    std::string message(int status) const override
    {
        return "the decision service refused the request (HTTP " + std::to_string(status) + ")";
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

}  // namespace crd
