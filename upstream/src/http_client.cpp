#include "detail.hpp"

#include <crd/core/http_buffered_parse.hpp>
#include <crd/core/log.hpp>
#include <crd/core/text.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <charconv>
#include <list>
#include <tuple>
#include <type_traits>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace crd::upstream {
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// What the deadline timer's pending wait may touch: it can complete after its call ended, or after
// the connection was destroyed, so it holds this and not the connection.
struct deadline_watch
{
    beast::tcp_stream* stream = nullptr;  // null once the connection is destroyed
    std::uint64_t call = 0;               // the call the armed wait belongs to; a later call ignores it
    bool expired = false;                 // the wait fired and closed the socket
};

struct connection
{
    explicit connection(const net::any_io_executor& ex) : deadline_timer(ex), watch(std::make_shared<deadline_watch>()) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { watch->stream = nullptr; }

    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    core::read_buffer buffer;  // leftover bytes belong to the connection, not to one call
    clock::time_point last_used;
    bool reused = false;
    // One timer per call, armed once at the call's deadline. Beast's own per-operation timers stay
    // off (expiry never) once connected: they re-armed a timer, a timerfd_settime, on every read
    // and every write of a call whose deadline never moves.
    net::steady_timer deadline_timer;
    std::shared_ptr<deadline_watch> watch;

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// Arms the connection's deadline for one exchange; disarms it when destroyed. When the deadline
// passes first, the socket is closed: the pending read or write completes with an error and
// expired() tells it was the deadline. A closed socket is never pooled.
class deadline_scope
{
public:
    deadline_scope(connection& c, clock::time_point deadline) : c_(c)
    {
        auto& w = *c.watch;
        w.stream = &c.lowest();
        w.expired = false;
        c.deadline_timer.expires_at(deadline);
        c.deadline_timer.async_wait([watch = c.watch, call = w.call](const error_code& ec) {
            if (ec || watch->call != call || watch->stream == nullptr)
                return;  // cancelled, or the call it was armed for is over
            watch->expired = true;
            watch->stream->close();
        });
    }
    deadline_scope(const deadline_scope&) = delete;
    deadline_scope& operator=(const deadline_scope&) = delete;
    ~deadline_scope()
    {
        ++c_.watch->call;  // a wait that already fired but has not run yet finds a newer call
        c_.deadline_timer.cancel();
    }

    bool expired() const noexcept { return c_.watch->expired; }

private:
    connection& c_;
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

    auto c = std::make_unique<connection>(pool.ex);
    if (pool.cfg.origin.is_https())
        c->tls.emplace(pool.ex, pool.tls->get().ctx);
    else
        c->plain.emplace(pool.ex);

    auto& stream = c->lowest();
    stream.expires_at(deadline);
    if (auto [ec, ep] = co_await stream.async_connect(*addresses, use_tuple); ec)
        co_return map_error(ec);
    stream.socket().set_option(tcp::no_delay(true));
    // Non-blocking for us too, so that exchange's first read of an answer never waits.
    stream.socket().non_blocking(true);

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
    stream.expires_never();  // from here on the call's deadline_scope keeps the time
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

// The request head is written by hand (Beast's generic serializer cost ~22k instructions per
// message), so it must refuse by itself what could split a line: every control byte (CR, LF and NUL
// among them) and DEL in the method, target and names; in values the same but HTAB, which RFC 9110
// allows inside a field value.
constexpr bool is_control(unsigned char b) noexcept
{
    return b < 0x20 || b == 0x7F;
}

bool safe_line_text(std::string_view s) noexcept
{
    for (const char ch : s)
        if (is_control(static_cast<unsigned char>(ch)))
            return false;
    return true;
}

// Beast 1.81 threw std::length_error past this (its field offsets are 16-bit); refused instead.
constexpr std::size_t max_field_bytes = 65533;

bool sendable(const request& req) noexcept
{
    const auto field_ok = [](std::string_view name, std::string_view value) {
        return !name.empty() && name.size() <= max_field_bytes && value.size() <= max_field_bytes && safe_line_text(name) &&
               core::is_safe_field_value(value);
    };
    return !req.method.empty() && safe_line_text(req.method) && safe_line_text(req.target) && field_ok("Content-Type", req.content_type) &&
           std::all_of(req.headers.begin(), req.headers.end(), [&](const header& h) { return field_ok(h.name, h.value); });
}

// Beast trimmed leading and trailing blanks (SP, HTAB) from every field value.
std::string_view trim_blanks(std::string_view v) noexcept
{
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    return v;
}

// The request head, byte for byte what Beast 1.81 wrote for the http::request this client built
// before: "METHOD target HTTP/1.1", then Host, User-Agent, Accept, the caller's headers in order
// and Content-Type when there is a body, where a field set again under the same name
// (case-insensitive) replaces the earlier one and moves to its place; then Content-Length when
// there is a body or the method is POST, PUT or OPTIONS (prepare_payload). No Connection field:
// HTTP/1.1 is keep-alive by default. Built once per send, so a retry writes the same bytes.
std::string request_head(const http_client::state& pool, const request& req)
{
    const bool with_body = !req.body.empty();
    // The fields in the order they were set: [0, 3) ours, then the caller's, then Content-Type.
    const std::size_t callers = req.headers.size();
    const std::size_t count = 3 + callers + (with_body ? 1 : 0);
    const auto name_at = [&](std::size_t i) -> std::string_view {
        if (i < 3)
            return i == 0 ? std::string_view("Host") : i == 1 ? std::string_view("User-Agent") : std::string_view("Accept");
        if (i < 3 + callers)
            return req.headers[i - 3].name;
        return "Content-Type";
    };
    const auto value_at = [&](std::size_t i) -> std::string_view {
        if (i < 3)
            return i == 0 ? std::string_view(pool.host_header) : i == 1 ? std::string_view("crd-server") : std::string_view("application/json");
        if (i < 3 + callers)
            return req.headers[i - 3].value;
        return req.content_type;
    };
    const auto replaced_later = [&](std::size_t i) {
        const auto name = name_at(i);
        for (std::size_t j = i + 1; j < count; ++j)
            if (core::iequals(name, name_at(j)))
                return true;
        return false;
    };

    std::size_t size = req.method.size() + req.target.size() + 64;
    for (std::size_t i = 0; i < count; ++i)
        size += name_at(i).size() + value_at(i).size() + 4;
    std::string head;
    head.reserve(size);
    head.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
    for (std::size_t i = 0; i < count; ++i)
    {
        const auto name = name_at(i);
        // Framing and the connection are this client's: a caller's Content-Length,
        // Transfer-Encoding or Connection is never sent (Beast replaced or filtered them before).
        if ((i >= 3 && i < 3 + callers && core::is_framing_field(name)) || replaced_later(i))
            continue;
        head.append(name).append(": ").append(trim_blanks(value_at(i))).append("\r\n");
    }
    if (with_body || req.method == "POST" || req.method == "PUT" || req.method == "OPTIONS")
    {
        std::array<char, 24> digits{};
        const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), req.body.size());
        head.append("Content-Length: ").append(digits.data(), end).append("\r\n");
    }
    head.append("\r\n");
    return head;
}

struct outgoing
{
    std::string head;
    std::string body;
};

// Reads into a buffer this large from the start: Beast's first read of an empty buffer is 512 bytes,
// and each later one no larger than the capacity, so a few-kilobyte answer took several recvmsg.
constexpr std::size_t response_read_bytes = 16 * 1024;

// net::async_write over a two-buffer array is not used: once the head is out it passes
// [empty head, body], Beast's TLS stream (flat_stream) writes 0 bytes for an empty first buffer
// followed by one over 16 KB, and async_write takes a 0-byte write for the end: the body was never
// sent. Here the buffer handed on never starts empty.
template <class Stream>
net::awaitable<std::tuple<error_code, std::size_t>> write_head_and_body(Stream& stream, const outgoing& message)
{
    const std::size_t head = message.head.size(), total = head + message.body.size();
    std::size_t sent = 0;
    while (sent < total)
    {
        const std::array<net::const_buffer, 2> rest = sent < head ? std::array{net::buffer(message.head) + sent, net::buffer(message.body)}
                                                                  : std::array{net::buffer(message.body) + (sent - head), net::const_buffer()};
        auto [ec, n] = co_await stream.async_write_some(rest, use_tuple);
        if (ec)
            co_return std::tuple{ec, sent};
        if (n == 0)  // never for a non-empty buffer; an error rather than a loop without end
            co_return std::tuple{error_code(net::error::broken_pipe), sent};
        sent += n;
    }
    co_return std::tuple{error_code(), sent};
}

// The decision service's (or FHIR server's) answer as the client uses it: status, body, and the
// three header fields it reads. Beast's parser does the HTTP (framing, chunking, limits); the fields
// are not filed in http::fields, whose tree of separately allocated nodes cost more than the rest
// of reading the answer (issue 19). Each is the first of its name in the header section; a chunked
// answer's trailer fields are not header fields (RFC 9110 section 6.5.1) and are ignored, and
// keep-alive is the header section's too (a trailer "Connection: close" does not count).
class answer_parser final : public http::basic_parser<false>
{
public:
    explicit answer_parser(std::uint64_t max_body_bytes) { body_limit(max_body_bytes); }

    // Whether the connection may carry another exchange: HTTP/1.1 without "Connection: close" (or
    // 1.0 with keep-alive), and a body that did not end with the connection.
    bool keeps_alive() const noexcept { return keeps_alive_; }
    response answer() && { return std::move(answer_); }

private:
    void on_request_impl(
        http::verb /*method*/, beast::string_view /*method_str*/, beast::string_view /*target*/, int /*version*/, error_code& /*ec*/) override
    {
    }
    void on_response_impl(int code, beast::string_view /*reason*/, int /*version*/, error_code& /*ec*/) override
    {
        answer_.status = static_cast<unsigned>(code);
    }
    void on_field_impl(http::field name, beast::string_view /*name_string*/, beast::string_view value, error_code& /*ec*/) override
    {
        if (header_done_)
            return;
        const auto take = [value](bool& seen, std::string& slot) {
            if (!std::exchange(seen, true))
                slot.assign(value.data(), value.size());
        };
        switch (name)
        {
        case http::field::content_type: take(content_type_seen_, answer_.content_type); break;
        case http::field::cache_control: take(cache_control_seen_, answer_.cache_control); break;
        case http::field::location: take(location_seen_, answer_.location); break;
        default: break;
        }
    }
    void on_header_impl(error_code& /*ec*/) override
    {
        header_done_ = true;
        keeps_alive_ = keep_alive();  // before any trailer field can change what it says
    }
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& /*ec*/) override
    {
        // Beast has already refused a length over the limit.
        if (content_length)
            answer_.body.reserve(static_cast<std::size_t>(*content_length));
    }
    std::size_t on_body_impl(beast::string_view s, error_code& /*ec*/) override
    {
        answer_.body.append(s.data(), s.size());
        return s.size();
    }
    void on_chunk_header_impl(std::uint64_t /*size*/, beast::string_view /*extensions*/, error_code& /*ec*/) override {}
    std::size_t on_chunk_body_impl(std::uint64_t /*remain*/, beast::string_view s, error_code& /*ec*/) override
    {
        answer_.body.append(s.data(), s.size());
        return s.size();
    }
    void on_finish_impl(error_code& /*ec*/) override {}

    response answer_;
    bool header_done_ = false;
    bool keeps_alive_ = false;
    bool content_type_seen_ = false;
    bool cache_control_seen_ = false;
    bool location_seen_ = false;
};

struct exchange_result
{
    result<response> value{error_code(errc::upstream_timeout)};
    bool before_response_bytes = false;  // failed before the peer sent anything: safe to retry
    bool keep_alive = false;
};

template <class Stream>
net::awaitable<exchange_result> exchange(
    Stream& stream, connection& c, const http_client::state& pool, const outgoing& message, clock::time_point deadline)
{
    exchange_result out;
    // A timer armed in the past fires only at the next poll, after a write may have gone out.
    if (clock::now() >= deadline)
        co_return out;
    const deadline_scope timer(c, deadline);
    // Head and body in one gather write: one sendmsg on a plain connection, one TLS record when
    // they fit in one.
    if (auto [ec, n] = co_await write_head_and_body(stream, message); ec)
    {
        out.value = timer.expired() ? error_code(errc::upstream_timeout) : map_error(ec);
        out.before_response_bytes = !timer.expired();
        co_return out;
    }
    answer_parser parser(pool.cfg.max_response_bytes);
    // The read buffer is given only once the answer starts to arrive: with 2,000 calls waiting on a
    // slow decision service, 16 KB each held while waiting was 32 MB of the server's memory.
    if (c.buffer.size() == 0)
    {
        if (auto [ec] = co_await c.lowest().socket().async_wait(tcp::socket::wait_read, use_tuple); ec)
        {
            out.value = timer.expired() ? error_code(errc::upstream_timeout) : map_error(ec);
            out.before_response_bytes = !timer.expired();
            co_return out;
        }
    }
    if (c.buffer.capacity() < response_read_bytes)
        c.buffer.reserve(response_read_bytes);
    // On a plain connection the answer that made the socket readable is usually all there: one
    // read without the reactor, and the parser fed from the buffer. http::async_read posts its
    // completion even when one read was enough: one more turn through the reactor (an
    // epoll_wait) per call (issue 19). Whatever is missing is read as before.
    error_code read_error;
    bool answered = false;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
    {
        error_code read_now;
        const std::size_t n = stream.socket().read_some(c.buffer.prepare(c.buffer.capacity() - c.buffer.size()), read_now);
        c.buffer.commit(n);
        // Nothing yet, or the end of the stream (an answer delimited by it needs async_read's
        // end-of-stream handling): read on as before. A reset or any other error is the answer.
        if (read_now && read_now != net::error::would_block && read_now != net::error::try_again && read_now != net::error::eof)
            read_error = read_now;
        else
            answered = core::parse_buffered(parser, c.buffer, core::parse_until::message, read_error);
    }
    if (!answered && !read_error)
        std::tie(read_error, std::ignore) = co_await http::async_read(stream, c.buffer, parser, use_tuple);
    if (read_error)
    {
        out.value = timer.expired() ? error_code(errc::upstream_timeout) : map_error(read_error);
        out.before_response_bytes = !parser.got_some() && !timer.expired();
        co_return out;
    }
    out.keep_alive = parser.keeps_alive();
    out.value = std::move(parser).answer();
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
    // The last line of defence against header injection: callers validate at the edge, and nothing
    // that could split a line of the head is ever sent.
    if (!sendable(req))
    {
        log::warning("upstream_header_refused",
            {{"origin", state_->cfg.origin.origin()}, {"detail", "the method, target or a header contains CR, LF, NUL or another control "
                                                                 "character, or is empty or too long: not sent"}});
        co_return error_code(errc::header_value_invalid);
    }
    auto pool = state_;
    // Built once, so a retry writes the same message; the body is moved, not copied.
    outgoing message;
    message.head = request_head(*pool, req);
    message.body = std::move(req.body);
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
