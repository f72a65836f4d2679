// The error model (crd/core/error.hpp): one mapping from an error value to an HTTP answer.
#include <crd/core/error.hpp>
#include <crd/core/operation_outcome.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <stdexcept>

using namespace crd;

BOOST_AUTO_TEST_SUITE(error_model)

BOOST_AUTO_TEST_CASE(a_request_error_keeps_its_words_and_field_and_takes_status_from_its_category)
{
    const auto p = core::to_problem({core::request_errc::bad_value, "context.userId must reference a Practitioner", "context.userId"});
    BOOST_TEST(p.status == 422u);
    BOOST_TEST(p.code == "value");
    BOOST_TEST(p.diagnostics == "context.userId must reference a Practitioner");
    BOOST_TEST(p.expression == "context.userId");

    BOOST_TEST(core::to_problem({core::request_errc::missing}).code == "required");
    BOOST_TEST(core::to_problem({core::request_errc::wrong_structure}).code == "structure");
    BOOST_TEST(core::to_problem({core::request_errc::too_many}).status == 413u);
    BOOST_TEST(core::to_problem({core::request_errc::too_many}).code == "too-costly");
    BOOST_TEST(core::to_problem({core::request_errc::prefetch_incomplete}).status == 412u);
    BOOST_TEST(core::to_problem({core::request_errc::not_json}).status == 400u);
}

BOOST_AUTO_TEST_CASE(an_error_without_detail_is_answered_in_its_categorys_words)
{
    const auto p = core::to_problem({errc::decision_timeout});
    BOOST_TEST(p.status == 504u);
    BOOST_TEST(p.code == "timeout");
    BOOST_TEST(p.diagnostics == "the coverage decision did not complete in time");
    BOOST_TEST(p.expression.empty());
}

BOOST_AUTO_TEST_CASE(decision_service_failures_map_to_gateway_statuses)
{
    BOOST_TEST(core::to_problem({errc::decision_circuit_open}).status == 503u);
    BOOST_TEST(core::to_problem({errc::decision_bad_response}).status == 502u);
    BOOST_TEST(core::to_problem({errc::decision_unavailable}).status == 502u);
    BOOST_TEST(core::to_problem({errc::pool_exhausted}).status == 502u);
    // The decision service's own refusal is relayed with its status.
    const auto refused = core::to_problem({decision_refused(422)});
    BOOST_TEST(refused.status == 422u);
    BOOST_TEST(refused.code == "processing");
}

BOOST_AUTO_TEST_CASE(a_code_of_a_foreign_category_is_an_internal_error_that_reveals_nothing)
{
    const auto p = core::to_problem({make_error_code(boost::asio::error::connection_refused)});
    BOOST_TEST(p.status == 500u);
    BOOST_TEST(p.code == "exception");
    BOOST_TEST(p.diagnostics.find("refused") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(value_of_a_failed_result_is_a_programming_error_that_throws)
{
    result<int, error> r = error{core::request_errc::missing, "context is required", "context"};
    BOOST_TEST(r.has_error());
    BOOST_CHECK_THROW(static_cast<void>(r.value()), std::exception);
    result<int, error> ok = 7;
    BOOST_TEST(ok.value() == 7);
}

BOOST_AUTO_TEST_SUITE_END()
