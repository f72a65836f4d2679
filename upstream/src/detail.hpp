#pragma once
// Internal to crd::upstream: the Asio types behind the public handles.

#include <crd/upstream/http_client.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <mutex>

namespace crd::upstream {

using tcp = net::ip::tcp;
using endpoint_list = std::vector<tcp::endpoint>;

struct endpoint_cache::impl
{
    core::url origin;
    mutable std::mutex mutex;  // taken per new connection and per refresh, never per request
    std::shared_ptr<const endpoint_list> endpoints;
    std::unique_ptr<net::steady_timer> refresh_timer;

    std::shared_ptr<const endpoint_list> snapshot() const
    {
        std::lock_guard lock(mutex);
        return endpoints;
    }
};

struct tls_context::impl
{
    net::ssl::context ctx{net::ssl::context::tls_client};
};

// The addresses of a cache (for the client in the same library).
std::shared_ptr<const endpoint_list> endpoints_of(const endpoint_cache& cache);

}  // namespace crd::upstream
