#include <crd/server/http_errors.hpp>

#include <string>

namespace crd::server {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"  // error_category has a protected non-virtual dtor
class http_category_impl final : public http_error_category
{
public:
    const char* name() const noexcept override { return "crd.http"; }
    std::string message(int ev) const override { return answer(ev).explanation; }
    http_answer answer(int ev) const override
    {
        switch (static_cast<http_errc>(ev))
        {
        case http_errc::malformed_request: return {400, "structure", "malformed HTTP request"};
        case http_errc::missing_header: return {400, "required", "a required request header is missing"};
        case http_errc::origin_forbidden: return {403, "forbidden", "this origin is not allowed"};
        case http_errc::not_found: return {404, "not-found", "no resource here"};
        case http_errc::method_not_allowed: return {405, "not-supported", "this method is not allowed here"};
        case http_errc::body_too_large: return {413, "too-costly", "the request body is too large"};
        case http_errc::unsupported_media_type: return {415, "not-supported", "this media type is not supported"};
        case http_errc::headers_too_large: return {431, "too-costly", "the request header is too large"};
        case http_errc::internal: return {500, "exception", "internal error while processing the request"};
        case http_errc::not_implemented: return {501, "not-supported", "not implemented"};
        case http_errc::overloaded: return {503, "transient", "the server is busy; retry shortly"};
        }
        return {500, "exception", "internal error while processing the request"};
    }
};
#pragma GCC diagnostic pop

}  // namespace

const http_error_category& http_category() noexcept
{
    static const http_category_impl instance;
    return instance;
}

}  // namespace crd::server
