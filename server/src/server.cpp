#include <crd/server/server.hpp>

#include "session.hpp"

#include <crd/core/log.hpp>
#include <crd/core/metrics.hpp>
#include <crd/server/server_metrics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <ctime>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace crd::server {

using detail::tcp;
namespace beast = boost::beast;

namespace {

using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

struct shard
{
    net::io_context ioc{1};  // concurrency hint 1: this context is only ever run by one thread
    std::optional<tcp::acceptor> acceptor;
    std::optional<tcp::acceptor> admin_acceptor;  // shard 0 only, when the admin listener is on
    detail::shard_state state;
    // Upstream connection pools live in ioc itself (upstream::pool_registry, a service of it).
    std::thread thread;
};

// Descriptors kept back for upstream pools, the audit file, JWKS and DNS: the client-connection
// limit must leave them room, or a full house of idle EHR connections starves the decision call.
constexpr std::uint64_t reserved_descriptors = 128;

// Raises the soft open-file limit to the hard one (outside systemd it is often 1,024), and returns
// the number of client connections that fit beside the reserve.
unsigned fit_connections_to_descriptors(unsigned max_connections)
{
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return max_connections;
    if (lim.rlim_cur < lim.rlim_max)
    {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            lim = raised;
    }
    if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= max_connections + reserved_descriptors)
        return max_connections;
    const auto fits = lim.rlim_cur > reserved_descriptors + 16 ? static_cast<unsigned>(lim.rlim_cur - reserved_descriptors) : 16U;
    log::warning("max_connections_over_open_files_limit",
        {
            {"max_connections", max_connections},
            {"open_files_limit", static_cast<std::uint64_t>(lim.rlim_cur)},
            {"max_connections_in_force", fits},
            {"detail",
                "limits.max_connections does not fit the open-file limit (nofile): raise it (systemd LimitNOFILE=, ulimit -n) or lower the setting"},
        });
    return fits;
}

// A descriptor held back so that, out of descriptors, the listener can still accept one pending
// connection to answer it 503 and close it, instead of leaving it to time out in the backlog.
class reserve_descriptor
{
public:
    reserve_descriptor() : fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}
    ~reserve_descriptor()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }
    reserve_descriptor(const reserve_descriptor&) = delete;
    reserve_descriptor& operator=(const reserve_descriptor&) = delete;

    // Frees the reserve, accepts and refuses one connection on `listener`, takes the reserve back.
    bool shed_one(int listener)
    {
        if (fd_ < 0)
            return false;
        ::close(fd_);
        const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client >= 0)
        {
            static constexpr std::string_view answer =
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
                "Connection: close\r\nContent-Length: 141\r\n\r\n"
                R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"the server is out of connections; retry"}]})";
            (void)!::send(client, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(client);
        }
        fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        return client >= 0;
    }

private:
    int fd_;
};

bool out_of_descriptors(const beast::error_code& ec)
{
    return ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system || ec == net::error::no_buffer_space ||
           ec == net::error::no_memory;
}

// Completion of a session or refusal coroutine: an exception that escaped one is logged, never
// lost (its connection is gone; its registration removed itself).
void log_session_end(std::exception_ptr e)
{
    log::exception("session_failed", e);
}

// Completion of an accept loop. The loop refers to its shard, acceptor and limits, which the server
// owns, and to routers that must outlive the server (its constructor's contract); ~server stops
// and joins the shard's thread before any of them goes, so the loop never outlives what it uses.
// An exception that escaped it would leave that listener not accepting: logged, never lost.
void log_accept_loop_end(std::exception_ptr e)
{
    log::exception("accept_loop_failed", e);
}

// Completion of a shard's deadline sweeper: an exception that escaped it would leave its sessions
// without timeouts, so it is logged, never lost.
void log_sweeper_end(std::exception_ptr e)
{
    log::exception("session_sweeper_failed", e);
}

net::awaitable<void> accept_loop(
    shard& s, tcp::acceptor& acceptor, const core::limits_config& limits, unsigned max_connections, const router& r, net::ssl::context* tls)
{
    reserve_descriptor reserve;
    net::steady_timer backoff(s.ioc);
    auto pause = std::chrono::milliseconds(10);
    std::uint64_t failures_since_log = 0;
    auto next_log = clock::time_point{};
    for (;;)
    {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec)
        {
            if (ec == net::error::operation_aborted || !acceptor.is_open())
                co_return;  // stopping
            // Out of descriptors (or kernel memory): accepting again at once would fail again at
            // once, a busy loop that also floods the log. Shed one waiting client with a 503 on the
            // reserve descriptor, then back off, doubling up to a second, and log once per interval.
            server_metrics::instance().accept_failures.add();
            ++failures_since_log;
            if (out_of_descriptors(ec) && reserve.shed_one(acceptor.native_handle()))
                server_metrics::instance().accept_shed.add();
            if (const auto now = clock::now(); now >= next_log)
            {
                log::warning("accept_failed",
                    {{"error", ec.message()}, {"failures", failures_since_log}, {"detail", "accepting paused, retrying with back-off"}});
                failures_since_log = 0;
                next_log = now + std::chrono::seconds(10);
            }
            backoff.expires_after(pause);
            co_await backoff.async_wait(use_tuple);
            pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(1));
            continue;
        }
        pause = std::chrono::milliseconds(10);
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // responses are small: do not wait for Nagle
        if (server_metrics::instance().open_connections.value() >= static_cast<std::int64_t>(max_connections))
        {
            // Over the limit: a plain client gets a 503 it can read; a TLS client cannot read
            // plaintext, so it is simply closed. Either way no session state is kept for it.
            server_metrics::instance().overload.add(overload_limit::max_connections);
            if (tls)
                socket.close(ignored);
            else
                net::co_spawn(s.ioc, detail::refuse_connection(std::move(socket), limits), log_session_end);
            continue;
        }
        net::co_spawn(s.ioc, detail::run_session(std::move(socket), limits, r, s.state, tls), log_session_end);
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

// The loaded certificate's notAfter as Unix time; 0 (no series) when OpenSSL cannot read it.
std::int64_t certificate_not_after(SSL_CTX* native)
{
    const X509* certificate = SSL_CTX_get0_certificate(native);
    std::tm not_after{};
    if (certificate == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &not_after) != 1)
        return 0;
    return static_cast<std::int64_t>(timegm(&not_after));
}

// TLS 1.2+ with forward-secret AEAD suites only (Mozilla "intermediate"); TLS 1.3 suites are
// OpenSSL's defaults, all AEAD.
std::unique_ptr<net::ssl::context> make_tls_context(const core::tls_config& tls)
{
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cipher_list(native, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
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
    server_metrics::instance().tls_certificate_not_after.set(certificate_not_after(native));
    return ctx;
}

}  // namespace

struct server::impl
{
    impl(const core::config& c, const router& r, const router* a) : cfg(c), routes(r), admin_routes(a)
    {
        if (cfg.tls.certificate)
            tls = make_tls_context(cfg.tls);
    }
    const core::config& cfg;
    const router& routes;
    const router* admin_routes;  // null: no admin listener
    std::uint16_t admin_port = 0;
    unsigned max_connections = 0;            // limits.max_connections, fitted to the open-file limit
    std::unique_ptr<net::ssl::context> tls;  // null: plain HTTP
    std::vector<std::unique_ptr<shard>> shards;
    std::uint16_t bound_port = 0;
    std::atomic<bool> stop_requested{false};
};

server::server(const core::config& cfg, const router& r, const router* admin) : impl_(std::make_unique<impl>(cfg, r, admin)) {}

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

    impl_->max_connections = fit_connections_to_descriptors(cfg.limits.max_connections);
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

    // The admin listener: one acceptor on the first shard, plain HTTP (loopback by default).
    if (impl_->admin_routes)
    {
        auto& first = *impl_->shards.front();
        const auto admin_address = net::ip::make_address(cfg.admin.address, ec);
        if (ec)
            throw std::system_error(ec, "admin.address '" + cfg.admin.address + "' is not an IP address");
        const tcp::endpoint endpoint{admin_address, cfg.admin.port.value_or(0)};
        first.admin_acceptor.emplace(first.ioc);
        first.admin_acceptor->open(endpoint.protocol());
        first.admin_acceptor->set_option(net::socket_base::reuse_address(true));
        first.admin_acceptor->bind(endpoint, ec);
        if (ec)
            throw std::system_error(ec, "cannot listen on admin " + cfg.admin.address + ":" + std::to_string(endpoint.port()));
        first.admin_acceptor->listen(net::socket_base::max_listen_connections);
        impl_->admin_port = first.admin_acceptor->local_endpoint().port();
        net::co_spawn(first.ioc, accept_loop(first, *first.admin_acceptor, cfg.limits, impl_->max_connections, *impl_->admin_routes, nullptr),
            log_accept_loop_end);
    }

    for (auto& s : impl_->shards)
    {
        // Ends when the shard's context stops; refers to the shard's state, which outlives it.
        net::co_spawn(s->ioc, detail::expire_sessions(s->state, cfg.limits), log_sweeper_end);
        net::co_spawn(
            s->ioc, accept_loop(*s, *s->acceptor, cfg.limits, impl_->max_connections, impl_->routes, impl_->tls.get()), log_accept_loop_end);
        s->thread = std::thread([&ioc = s->ioc] {
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

std::uint16_t server::admin_port() const noexcept
{
    return impl_->admin_port;
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
            if (s.admin_acceptor)
                s.admin_acceptor->close(ignored);
            for (auto& session : s.state.sessions)
                if (session.idle)
                    session.stream->socket().close(ignored);
            // Requests in flight finish and then close (stopping disables keep-alive). The drain
            // refers to its shard, which outlives the shard's thread. However it ends, the shard
            // stops: had an exception escaped it, server::wait() would otherwise never return.
            net::co_spawn(s.ioc, drain(s, grace), [&s](std::exception_ptr e) {
                s.ioc.stop();
                log::exception("drain_failed", e);
            });
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
