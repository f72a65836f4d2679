#include "detail.hpp"

#include <stdexcept>

namespace crd::upstream {

tls_context::tls_context(const std::optional<std::string>& ca_file) : impl_(std::make_unique<impl>())
{
    auto& ctx = impl_->ctx;
    // TLS 1.2 or newer only; peers are verified against the system store or the configured CA.
    ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                    net::ssl::context::no_tlsv1_1);
    error_code ec;
    if (ca_file)
    {
        ctx.load_verify_file(*ca_file, ec);
        if (ec)
            throw std::runtime_error("cannot load CA file '" + *ca_file + "': " + ec.message());
    }
    else
        ctx.set_default_verify_paths(ec);
    ctx.set_verify_mode(net::ssl::verify_peer);
}

tls_context::~tls_context() = default;

}  // namespace crd::upstream
