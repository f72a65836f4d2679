#pragma once
// The HTTP layer's own refusals (category "crd.http"): what is wrong with the request as HTTP,
// before any hook sees it. core::to_problem() turns them into a status and an OperationOutcome
// like every other module's errors.

#include <crd/core/error.hpp>

#include <type_traits>

namespace crd::server {

enum class http_errc
{
    malformed_request = 1,   // 400 structure: HTTP framing or syntax we do not read (smuggling guards)
    missing_header,          // 400 required: a header requests.required_headers names
    origin_forbidden,        // 403 forbidden: a CORS origin not in cors.allowed_origins
    not_found,               // 404 not-found
    method_not_allowed,      // 405 not-supported (with an Allow header)
    body_too_large,          // 413 too-costly: limits.max_body_bytes
    unsupported_media_type,  // 415 not-supported
    headers_too_large,       // 431 too-costly: limits.max_header_bytes
    internal,                // 500 exception: a bug; the log has the detail
    not_implemented,         // 501 not-supported: a transfer coding we do not read
    overloaded,              // 503 transient: limits.max_connections / max_in_flight
};

const http_error_category& http_category() noexcept;
inline error_code make_error_code(http_errc e) noexcept
{
    return {static_cast<int>(e), http_category()};
}

}  // namespace crd::server

template <>
struct boost::system::is_error_code_enum<crd::server::http_errc> : std::true_type
{
};
