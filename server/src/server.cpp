#include <crd/server/server.hpp>

#include "session.hpp"

#include <crd/core/log.hpp>
#include <crd/core/metrics.hpp>
#include <crd/core/shard.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/socket.h>

namespace crd::server {

using detail::tcp;
namespace beast = boost::beast;

namespace {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct shard
{
    net::io_context ioc{1};  // concurrency hint 1: this context is only ever run by one thread
    std::optional<tcp::acceptor> acceptor;
    detail::shard_state state;
    // Declared after ioc so it is destroyed first: it holds sockets (connection pools) of ioc.
    core::shard_context services;
    std::thread thread;
};

net::awaitable<void> accept_loop(shard& s, const core::limits_config& limits, const router& r, net::ssl::context* tls)
{
    for (;;)
    {
        auto [ec, socket] = co_await s.acceptor->async_accept(use_tuple);
        if (ec)
        {
            if (ec == net::error::operation_aborted || !s.acceptor->is_open())
                co_return;  // stopping
            // EMFILE and friends: log and keep accepting rather than lose the listener.
            log::warning("accept_failed", {{"error", ec.message()}});
            continue;
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // responses are small: do not wait for Nagle
        auto& m = metrics::global();
        if (m.open_connections.load(std::memory_order_relaxed) >= static_cast<std::int64_t>(limits.max_connections))
        {
            // Over the limit: a plain client gets a 503 it can read; a TLS client cannot read
            // plaintext, so it is simply closed. Either way no session state is kept for it.
            metrics::add(m.overload_connections);
            if (tls)
                socket.close(ignored);
            else
                net::co_spawn(s.ioc, detail::refuse_connection(std::move(socket), limits), net::detached);
            continue;
        }
        net::co_spawn(s.ioc, detail::run_session(std::move(socket), limits, r, s.state, tls), net::detached);
    }
}

// Waits for the shard's sessions to end, at most `grace`, then stops its context: whatever is
// still running then is abandoned.
net::awaitable<void> drain(shard& s, std::chrono::milliseconds grace)
{
    const auto until = clock::now() + grace;
    net::steady_timer tick(s.ioc);
    while (!s.state.sessions.empty() && clock::now() < until)
    {
        tick.expires_after(std::chrono::milliseconds(20));
        co_await tick.async_wait(use_tuple);
    }
    s.ioc.stop();
}

// TLS 1.2+ with forward-secret AEAD suites only (Mozilla "intermediate"); TLS 1.3 suites are
// OpenSSL's defaults, all AEAD.
std::unique_ptr<net::ssl::context> make_tls_context(const core::tls_config& tls)
{
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cipher_list(native,
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(*tls.certificate, ec);
    if (ec)
        throw std::system_error(ec, "tls.certificate '" + *tls.certificate + "' cannot be loaded");
    ctx->use_private_key_file(*tls.private_key, net::ssl::context::pem, ec);
    if (ec)
        throw std::system_error(ec, "tls.private_key '" + *tls.private_key + "' cannot be loaded");
    if (SSL_CTX_check_private_key(native) != 1)
        throw std::runtime_error("tls.private_key does not match tls.certificate");
    return ctx;
}

}  // namespace

struct server::impl
{
    impl(const core::config& c, const router& r) : cfg(c), routes(r)
    {
        if (cfg.tls.certificate)
            tls = make_tls_context(cfg.tls);
    }
    const core::config& cfg;
    const router& routes;
    std::unique_ptr<net::ssl::context> tls;  // null: plain HTTP
    std::vector<std::unique_ptr<shard>> shards;
    std::uint16_t bound_port = 0;
    std::atomic<bool> stop_requested{false};
};

server::server(const core::config& cfg, const router& r) : impl_(std::make_unique<impl>(cfg, r)) {}

server::~server()
{
    stop();
    wait();
}

void server::start()
{
    const auto& cfg = impl_->cfg;
    unsigned threads = cfg.listen.threads ? cfg.listen.threads : std::max(1U, std::thread::hardware_concurrency());
    boost::system::error_code ec;
    const auto address = net::ip::make_address(cfg.listen.address, ec);
    if (ec)
        throw std::system_error(ec, "listen.address '" + cfg.listen.address + "' is not an IP address");

    std::uint16_t port = cfg.listen.port;
    for (unsigned i = 0; i < threads; ++i)
    {
        auto s = std::make_unique<shard>();
        s->acceptor.emplace(s->ioc);
        const tcp::endpoint endpoint{address, port};
        s->acceptor->open(endpoint.protocol());
        s->acceptor->set_option(net::socket_base::reuse_address(true));
        // Every shard binds the same port; the kernel spreads new connections across them.
        s->acceptor->set_option(reuse_port(true));
        s->acceptor->bind(endpoint, ec);
        if (ec)
            throw std::system_error(ec, "cannot listen on " + cfg.listen.address + ":" + std::to_string(port));
        s->acceptor->listen(net::socket_base::max_listen_connections);
        port = s->acceptor->local_endpoint().port();  // port 0: later shards join the chosen port
        impl_->shards.push_back(std::move(s));
    }
    impl_->bound_port = port;

    for (auto& s : impl_->shards)
    {
        net::co_spawn(s->ioc, accept_loop(*s, cfg.limits, impl_->routes, impl_->tls.get()), net::detached);
        s->thread = std::thread([&ioc = s->ioc, &services = s->services] {
            core::shard_scope scope(services);
            for (;;)
            {
                try
                {
                    ioc.run();
                    return;
                }
                catch (const std::exception& e)
                {
                    // A bug escaped a coroutine: keep the shard serving, record it.
                    log::error("shard_exception", {{"error", e.what()}});
                }
            }
        });
    }
}

std::uint16_t server::port() const noexcept
{
    return impl_->bound_port;
}

void server::stop()
{
    if (impl_->stop_requested.exchange(true))
        return;
    const auto grace = impl_->cfg.limits.shutdown_grace;
    for (auto& sp : impl_->shards)
    {
        shard& s = *sp;
        // Runs on the shard's own thread, like everything else that touches its state.
        net::post(s.ioc, [&s, grace] {
            s.state.stopping = true;
            beast::error_code ignored;
            if (s.acceptor)
                s.acceptor->close(ignored);
            for (auto& session : s.state.sessions)
                if (session.idle)
                    session.stream->socket().close(ignored);
            // Requests in flight finish and then close (stopping disables keep-alive).
            net::co_spawn(s.ioc, drain(s, grace), net::detached);
        });
    }
}

void server::wait()
{
    for (auto& s : impl_->shards)
        if (s->thread.joinable())
            s->thread.join();
}

}  // namespace crd::server
