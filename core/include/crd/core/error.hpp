#pragma once
// Application error codes. Expected failures travel as values (error_code / result<T>);
// exceptions are kept for start-up and programmer errors.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace crd {

using error_code = boost::system::error_code;
template <class T>
using result = boost::system::result<T>;

enum class errc
{
    decision_timeout = 1,   // the decision step did not finish before the request deadline
    decision_unavailable,   // the decision service could not be reached or answered 5xx
    decision_bad_response,  // the decision service answered something that is not a CDS Hooks response
    decision_circuit_open,  // the breaker is open: fail fast instead of queueing on a sick upstream
    upstream_timeout,       // an upstream exchange (connect, TLS, write, read) passed its deadline
    pool_exhausted,         // every pooled connection is busy and the wait queue is full
    response_too_large,     // an upstream response body exceeded its size limit
    upstream_unresolved,    // the upstream host has no resolved address (yet)
    json_number_out_of_range,  // a JSON number beyond double range (1e400): Boost.JSON 1.81 reads inf/NaN
    header_value_invalid,      // an upstream request header value with CR, LF or NUL: never sent
    pool_wait_timeout,         // the deadline passed while waiting for a pooled connection (our load)
};

const boost::system::error_category& crd_category() noexcept;

inline error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), crd_category()};
}

// The decision service refused the request itself with this 4xx status: the caller's answer,
// relayed with that status; not a failure of the service.
const boost::system::error_category& decision_refusal_category() noexcept;
inline error_code decision_refused(unsigned http_status) noexcept
{
    return {static_cast<int>(http_status), decision_refusal_category()};
}
inline bool is_decision_refusal(const error_code& ec) noexcept
{
    return ec.category() == decision_refusal_category();
}

}  // namespace crd

template <>
struct boost::system::is_error_code_enum<crd::errc> : std::true_type
{
};
