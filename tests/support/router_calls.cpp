#include "router_calls.hpp"

#include "fixtures.hpp"

#include <boost/json/parse.hpp>

namespace crd::test {

server::http_response dispatch(const server::router& router, std::string_view method, std::string_view target, std::string_view body,
    std::string_view content_type, std::string_view origin)
{
    const server::http_request_view request{method, target, content_type, origin, body, clock::now()};
    return run_coro(router.dispatch(request));
}

std::string header(const server::http_response& response, std::string_view name)
{
    for (const auto& [n, v] : response.headers)
        if (n == name)
            return v;
    return {};
}

std::string diagnostics(const server::http_response& response)
{
    return std::string(boost::json::parse(response.body).at("issue").at(0).at("diagnostics").as_string());
}

}  // namespace crd::test
