#pragma once
// Requests handed straight to a server::router, without a listener (crd_test_server: needs
// crd::server), and the parts of its answers the router tests read.

#include <crd/server/router.hpp>

#include <string>
#include <string_view>

namespace crd::test {

// One request as a listener hands it over (received now, no Authorization), run to its answer on a
// fresh io_context. An empty `origin` is a request without an Origin header.
server::http_response dispatch(const server::router& router, std::string_view method, std::string_view target, std::string_view body = {},
    std::string_view content_type = "application/json", std::string_view origin = {});

// The value of the response header `name` as the router wrote it (exact case); empty when absent.
std::string header(const server::http_response& response, std::string_view name);

// issue[0].diagnostics of an OperationOutcome body.
std::string diagnostics(const server::http_response& response);

}  // namespace crd::test
