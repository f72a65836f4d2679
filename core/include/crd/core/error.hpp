#pragma once
// The one error model. Expected failures travel as values: boost::system::result<T, E>, where E
// is an error_code when the code says it all (transport, decision) or crd::error when the caller
// must also hear where (a request field, a limit). Every module declares its codes in its own
// error category; the categories say how their codes reach an HTTP caller (http_error_category),
// so core::to_problem() is the one place an error becomes a status and an OperationOutcome.
// Exceptions are kept for start-up (configuration, rules) and programming errors.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace crd {

using error_code = boost::system::error_code;
template <class T, class E = error_code>
using result = boost::system::result<T, E>;

// How a code reaches an HTTP caller: the status, the FHIR issue type and the words to say when
// the error carries no detail of its own (never a secret: these go into OperationOutcomes).
struct http_answer
{
    unsigned status = 500;
    std::string_view issue_type = "exception";
    std::string explanation;
};

// A category whose codes can be answered over HTTP. A code of any other category (a system or
// Asio error that escaped its owner) is answered as an internal error: 500, "exception".
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // error_category has a protected non-virtual dtor
class http_error_category : public boost::system::error_category
{
public:
    virtual http_answer answer(int ev) const = 0;

protected:
    http_error_category() noexcept = default;
    ~http_error_category() = default;  // categories are static singletons, never deleted through a base
};
#pragma GCC diagnostic pop

// The answer for any code: its category's, or 500 for a category that is not an http_error_category.
http_answer answer_of(const error_code& ec);

// An expected failure the caller must hear about: what (a code of its module's category), where
// (the request field's path) and, when the category's words are not enough, in words that name
// the field or the limit. Travels as result<T, error>; core::to_problem() turns it into HTTP.
struct error
{
    error_code code;
    std::string detail;      // for the caller; empty: the category's explanation
    std::string expression;  // the field's path in the request, e.g. "context.draftOrders"; may be empty

    error() = default;
    error(error_code c, std::string d = {}, std::string e = {}) : code(c), detail(std::move(d)), expression(std::move(e)) {}
    template <class Enum>
    requires boost::system::is_error_code_enum<Enum>::value error(Enum e, std::string d = {}, std::string e_path = {})
        : error(make_error_code(e), std::move(d), std::move(e_path))
    {
    }
};

// boost::system::result<T, error>::value() on an error is a programming error: it throws this.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& where);

enum class errc
{
    decision_timeout = 1,      // the decision step did not finish before the request deadline
    decision_unavailable,      // the decision service could not be reached or answered 5xx
    decision_bad_response,     // the decision service answered something that is not a CDS Hooks response
    decision_circuit_open,     // the breaker is open: fail fast instead of queueing on a sick upstream
    upstream_timeout,          // an upstream exchange (connect, TLS, write, read) passed its deadline
    pool_exhausted,            // every pooled connection is busy and the wait queue is full
    response_too_large,        // an upstream response body exceeded its size limit
    upstream_unresolved,       // the upstream host has no resolved address (yet)
    json_number_out_of_range,  // a JSON number beyond double range (1e400): Boost.JSON 1.81 reads inf/NaN
    header_value_invalid,      // an upstream request method, target or header with a control byte, empty or over 64 KB: never sent
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
