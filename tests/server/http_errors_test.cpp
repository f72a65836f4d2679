// The HTTP layer's refusals (crd/server/http_errors.hpp) reach the caller through the one mapping.
#include <crd/core/operation_outcome.hpp>
#include <crd/server/http_errors.hpp>

#include <boost/test/unit_test.hpp>

using namespace crd;
using server::http_errc;

BOOST_AUTO_TEST_SUITE(http_errors)

BOOST_AUTO_TEST_CASE(each_http_refusal_has_its_status_and_issue_type)
{
    struct expected
    {
        http_errc code;
        unsigned status;
        std::string_view issue;
    };
    for (const auto& e : {expected{http_errc::malformed_request, 400, "structure"}, expected{http_errc::missing_header, 400, "required"},
             expected{http_errc::origin_forbidden, 403, "forbidden"}, expected{http_errc::not_found, 404, "not-found"},
             expected{http_errc::method_not_allowed, 405, "not-supported"}, expected{http_errc::body_too_large, 413, "too-costly"},
             expected{http_errc::unsupported_media_type, 415, "not-supported"}, expected{http_errc::headers_too_large, 431, "too-costly"},
             expected{http_errc::internal, 500, "exception"}, expected{http_errc::not_implemented, 501, "not-supported"},
             expected{http_errc::overloaded, 503, "transient"}})
    {
        BOOST_TEST_CONTEXT(make_error_code(e.code).message())
        {
            const auto p = core::to_problem({e.code});
            BOOST_TEST(p.status == e.status);
            BOOST_TEST(p.code == e.issue);
            BOOST_TEST(!p.diagnostics.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_refusal_with_detail_names_the_header)
{
    const auto p = core::to_problem({http_errc::missing_header, "the request header X-Tenant is required", "X-Tenant"});
    BOOST_TEST(p.diagnostics == "the request header X-Tenant is required");
    BOOST_TEST(p.expression == "X-Tenant");
}

BOOST_AUTO_TEST_SUITE_END()
