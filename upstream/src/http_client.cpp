#include "detail.hpp"

#include <crd/core/log.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <list>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace crd::upstream {
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

struct connection
{
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;  // leftover bytes belong to the connection, not to one call
    clock::time_point last_used;
    bool reused = false;

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// A caller parked until a connection is released or its deadline passes.
struct waiter
{
    net::steady_timer* timer;
    bool signalled = false;
};

error_code map_error(const error_code& ec)
{
    if (ec == beast::error::timeout)
        return errc::upstream_timeout;
    if (ec == http::error::body_limit)
        return errc::response_too_large;
    return ec;
}

}  // namespace

// Everything of one pool. Leases share it, so a lease released while the shard is being torn down
// never touches a destroyed pool.
struct http_client::state
{
    net::any_io_executor ex;
    client_config cfg;
    std::shared_ptr<const endpoint_cache> endpoints;
    std::shared_ptr<tls_context> tls;
    std::string host_header;
    std::vector<std::unique_ptr<connection>> idle;  // back() is the most recently used (LIFO)
    std::size_t open = 0;                           // idle + leased + connecting
    std::list<waiter*> waiters;
    pool_stats counters;
    // What this pool last added to the process-wide gauges; publish() adds the difference.
    std::int64_t published_open = 0, published_idle = 0, published_waiting = 0;

    state() = default;
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state()
    {
        if (!cfg.gauges)  // the constructor threw before the pool was set up
            return;
        auto& g = *cfg.gauges;
        g.open.add(-published_open);
        g.idle.add(-published_idle);
        g.waiting.add(-published_waiting);
    }

    void publish() noexcept
    {
        auto& g = *cfg.gauges;
        const auto o = static_cast<std::int64_t>(open), i = static_cast<std::int64_t>(idle.size()), w = static_cast<std::int64_t>(waiters.size());
        g.open.add(o - published_open);
        g.idle.add(i - published_idle);
        g.waiting.add(w - published_waiting);
        published_open = o;
        published_idle = i;
        published_waiting = w;
    }

    void wake_one()
    {
        if (waiters.empty())
            return;
        waiter* w = waiters.front();
        waiters.pop_front();
        w->signalled = true;
        w->timer->cancel();
    }

    // Returns a connection after a clean exchange, or forgets it (its socket closes with it).
    void release(std::unique_ptr<connection> c, bool reusable)
    {
        if (reusable && c->lowest().socket().is_open())
        {
            c->lowest().expires_never();
            c->last_used = clock::now();
            idle.push_back(std::move(c));
        }
        else
            --open;
        wake_one();
        publish();
    }
};

namespace {

// RAII: the connection goes back to the pool only when keep() was called after a complete,
// keep-alive exchange; every other exit closes it. Moves are written by hand so a moved-over
// lease can never leak its pool slot.
class lease
{
public:
    lease(std::shared_ptr<http_client::state> pool, std::unique_ptr<connection> c) : pool_(std::move(pool)), conn_(std::move(c)) {}
    lease(lease&& other) noexcept : pool_(std::move(other.pool_)), conn_(std::move(other.conn_)), reusable_(other.reusable_) {}
    lease& operator=(lease&& other) noexcept
    {
        if (this != &other)
        {
            give_back();
            pool_ = std::move(other.pool_);
            conn_ = std::move(other.conn_);
            reusable_ = other.reusable_;
        }
        return *this;
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { give_back(); }

    connection& conn() noexcept { return *conn_; }
    void keep() noexcept { reusable_ = true; }

private:
    void give_back()
    {
        if (pool_ && conn_)
            pool_->release(std::move(conn_), reusable_);
        conn_.reset();
    }

    std::shared_ptr<http_client::state> pool_;
    std::unique_ptr<connection> conn_;
    bool reusable_ = false;
};

net::awaitable<result<std::unique_ptr<connection>>> connect_new(http_client::state& pool, clock::time_point deadline)
{
    auto addresses = endpoints_of(*pool.endpoints);
    if (!addresses || addresses->empty())
        co_return error_code(errc::upstream_unresolved);

    auto c = std::make_unique<connection>();
    if (pool.cfg.origin.is_https())
        c->tls.emplace(pool.ex, pool.tls->get().ctx);
    else
        c->plain.emplace(pool.ex);

    auto& stream = c->lowest();
    stream.expires_at(deadline);
    if (auto [ec, ep] = co_await stream.async_connect(*addresses, use_tuple); ec)
        co_return map_error(ec);
    stream.socket().set_option(tcp::no_delay(true));

    if (c->tls)
    {
        const auto& host = pool.cfg.origin.host;
        // SNI, and the certificate must name the host we asked for.
        // SSL_set_tlsext_host_name is a macro over SSL_ctrl with an old-style cast.
        if (!SSL_ctrl(c->tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str())))
            co_return error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
        c->tls->set_verify_callback(net::ssl::host_name_verification(host));
        if (clock::now() >= deadline)
            co_return error_code(errc::upstream_timeout);
        stream.expires_at(deadline);
        if (auto [ec] = co_await c->tls->async_handshake(net::ssl::stream_base::client, use_tuple); ec)
            co_return map_error(ec);
    }
    ++pool.counters.connects;
    pool.cfg.gauges->connects.add();
    co_return c;
}

net::awaitable<result<lease>> acquire(std::shared_ptr<http_client::state> pool, clock::time_point deadline)
{
    auto& st = *pool;
    // Loop: a wake-up only means "look again"; another caller may have taken the connection.
    for (;;)
    {
        while (!st.idle.empty())  // 1. the most recently used idle connection
        {
            auto c = std::move(st.idle.back());
            st.idle.pop_back();
            if (clock::now() - c->last_used < st.cfg.idle_ttl && c->lowest().socket().is_open())
            {
                c->reused = true;
                ++st.counters.reuses;
                st.cfg.gauges->reuses.add();
                st.publish();
                co_return lease(pool, std::move(c));
            }
            --st.open;  // stale: drop it and look again
        }
        if (st.open < st.cfg.max_connections)  // 2. grow
        {
            ++st.open;
            st.publish();
            auto c = co_await connect_new(st, deadline);
            if (!c)
            {
                --st.open;
                st.wake_one();  // the slot is free again
                st.publish();
                co_return c.error();
            }
            co_return lease(pool, std::move(*c));
        }
        st.publish();
        if (st.waiters.size() >= st.cfg.max_pending)  // 3. shed load rather than queue without bound
            co_return error_code(errc::pool_exhausted);
        if (clock::now() >= deadline)
            co_return error_code(errc::pool_wait_timeout);

        net::steady_timer timer(st.ex, deadline);  // 4. park until a release or the deadline
        waiter w{&timer};
        st.waiters.push_back(&w);
        const auto it = std::prev(st.waiters.end());
        st.publish();
        co_await timer.async_wait(use_tuple);
        if (!w.signalled)
        {
            st.waiters.erase(it);
            st.publish();
            co_return error_code(errc::pool_wait_timeout);
        }
        st.publish();
    }
}

bool safe_header_text(std::string_view s)
{
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Built once per send, so a retry writes the same message; the body is moved, not copied.
http::request<http::string_body> make_request(const http_client::state& pool, request&& req)
{
    http::request<http::string_body> out{http::string_to_verb(req.method), req.target, 11};
    out.method_string(req.method);
    out.set(http::field::host, pool.host_header);
    out.set(http::field::user_agent, "crd-server");
    out.set(http::field::accept, "application/json");
    for (const auto& h : req.headers)
        out.set(h.name, h.value);
    if (!req.body.empty())
    {
        out.set(http::field::content_type, req.content_type);
        out.body() = std::move(req.body);
    }
    out.keep_alive(true);
    out.prepare_payload();
    return out;
}

struct exchange_result
{
    result<response> value{error_code(errc::upstream_timeout)};
    bool before_response_bytes = false;  // failed before the peer sent anything: safe to retry
    bool keep_alive = false;
};

template <class Stream>
net::awaitable<exchange_result> exchange(
    Stream& stream, connection& c, const http_client::state& pool, const http::request<http::string_body>& message, clock::time_point deadline)
{
    exchange_result out;
    // Beast 345 honours an already-expired timer only at operation start for empty buffers:
    // check the deadline ourselves before each step.
    if (clock::now() >= deadline)
        co_return out;
    c.lowest().expires_at(deadline);
    if (auto [ec, n] = co_await http::async_write(stream, message, use_tuple); ec)
    {
        out.value = map_error(ec);
        out.before_response_bytes = ec != beast::error::timeout;
        co_return out;
    }
    if (clock::now() >= deadline)
        co_return out;
    http::response_parser<http::string_body> parser;
    parser.body_limit(pool.cfg.max_response_bytes);
    c.lowest().expires_at(deadline);
    if (auto [ec, n] = co_await http::async_read(stream, c.buffer, parser, use_tuple); ec)
    {
        out.value = map_error(ec);
        out.before_response_bytes = !parser.got_some() && ec != beast::error::timeout;
        co_return out;
    }
    auto& res = parser.get();
    response r;
    r.status = res.result_int();
    r.content_type = std::string(res[http::field::content_type]);
    r.cache_control = std::string(res[http::field::cache_control]);
    r.location = std::string(res[http::field::location]);
    out.keep_alive = res.keep_alive();
    r.body = std::move(res.body());
    out.value = std::move(r);
    co_return out;
}

}  // namespace

http_client::http_client(
    net::any_io_executor ex, client_config cfg, std::shared_ptr<const endpoint_cache> endpoints, std::shared_ptr<tls_context> tls)
    : state_(std::make_shared<state>())
{
    const auto& o = cfg.origin;
    const bool default_port = o.port == (o.is_https() ? 443 : 80);
    const bool ipv6 = o.host.find(':') != std::string::npos;
    state_->host_header = (ipv6 ? "[" + o.host + "]" : o.host) + (default_port ? "" : ":" + std::to_string(o.port));
    state_->ex = std::move(ex);
    state_->cfg = std::move(cfg);
    if (!state_->cfg.gauges)
    {
        static pool_gauges unpublished;
        state_->cfg.gauges = &unpublished;
    }
    state_->endpoints = std::move(endpoints);
    state_->tls = std::move(tls);
    if (state_->cfg.origin.is_https() && !state_->tls)
        throw std::logic_error("an https origin needs a tls_context");
}

net::awaitable<result<response>> http_client::send(request req, clock::time_point deadline)
{
    // The last line of defence against header injection (Beast 1.81's fields::set takes CR/LF as
    // they are): callers validate at the edge, and nothing that could split a header is ever sent.
    if (!safe_header_text(req.target) || !safe_header_text(req.method) || !safe_header_text(req.content_type) ||
        !std::all_of(req.headers.begin(), req.headers.end(),
            [](const header& h) { return !h.name.empty() && safe_header_text(h.name) && safe_header_text(h.value); }))
    {
        log::warning("upstream_header_refused",
            {{"origin", state_->cfg.origin.origin()}, {"detail", "a header value or the target contains CR, LF or NUL: not sent"}});
        co_return error_code(errc::header_value_invalid);
    }
    auto pool = state_;
    const auto message = make_request(*pool, std::move(req));
    for (int attempt = 0;; ++attempt)
    {
        auto leased = co_await acquire(pool, deadline);
        if (!leased)
            co_return leased.error();
        auto& c = leased->conn();
        const bool reused = c.reused;
        // Not a ?: with a co_await in each branch: GCC 12 miscompiles that (double destruction).
        exchange_result r;
        if (c.tls)
            r = co_await exchange(*c.tls, c, *pool, message, deadline);
        else
            r = co_await exchange(*c.plain, c, *pool, message, deadline);
        if (r.value)
        {
            // An idle pooled connection keeps no read buffer: a pool of thousands would
            // otherwise hold a response-sized block per connection between calls.
            if (c.buffer.size() == 0)
                c.buffer.shrink_to_fit();
            if (r.keep_alive)
                leased->keep();
            co_return std::move(r.value);
        }
        // The upstream may have closed a pooled connection just as we reused it: one retry on a
        // fresh connection, only if it sent nothing back and time remains.
        if (!(reused && r.before_response_bytes && attempt == 0 && clock::now() < deadline))
            co_return r.value.error();
        ++pool->counters.retries;
        pool->cfg.gauges->retries.add();
        log::debug("upstream_retry", {{"origin", pool->cfg.origin.origin()}, {"error", r.value.error().message()}});
    }
}

pool_stats http_client::stats() const noexcept
{
    pool_stats s = state_->counters;
    s.open = state_->open;
    s.idle = state_->idle.size();
    s.waiting = state_->waiters.size();
    return s;
}

core::trace_context add_trace_headers(request& req, const core::trace_context& parent)
{
    if (!parent.valid())
        return parent;
    auto child = core::child_span(parent);
    req.headers.push_back({"traceparent", child.traceparent()});
    if (!child.tracestate.empty())
        req.headers.push_back({"tracestate", child.tracestate});
    return child;
}

}  // namespace crd::upstream
