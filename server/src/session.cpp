#include "session.hpp"

#include "request_body.hpp"

#include <crd/core/http_buffered_parse.hpp>
#include <crd/core/log.hpp>
#include <crd/core/operation_outcome.hpp>
#include <crd/core/text.hpp>
#include <crd/core/trace_context.hpp>
#include <crd/server/http_errors.hpp>
#include <crd/server/server_metrics.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <tuple>
#include <optional>
#include <type_traits>
#include <vector>

namespace crd::server::detail {
namespace http = beast::http;

namespace {

void append_number(std::string& out, std::size_t n)
{
    std::array<char, 24> digits{};
    const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), n);
    out.append(digits.data(), end);
}

// RFC 9110 §5.6.2: a field name is a token.
bool is_token(std::string_view name) noexcept
{
    if (name.empty())
        return false;
    for (const char c : name)
    {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F || std::string_view(R"("(),/:;<=>?@[\]{})").find(c) != std::string_view::npos)
            return false;
    }
    return true;
}

// A header the router set is written only when it cannot break the framing: a token name other
// than the framing fields written here, and a value without CR, LF, NUL or other control
// characters (an echoed request header could carry obs-fold).
bool writable_header(std::string_view name, std::string_view value) noexcept
{
    return is_token(name) && !core::is_framing_field(name) && core::is_safe_field_value(value);
}

}  // namespace

std::string response_head(const http_response& r, unsigned version, bool keep_alive, std::size_t content_length)
{
    std::string out;
    out.reserve(160 + r.content_type.size() + r.headers.size() * 64);
    out.append(version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
    append_number(out, r.status);
    out.push_back(' ');
    const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
    out.append(reason.data(), reason.size());
    out.append("\r\nServer: crd-server\r\n");
    if (!r.content_type.empty() && writable_header("Content-Type", r.content_type))
    {
        out.append("Content-Type: ");
        out.append(r.content_type);
        out.append("\r\n");
    }
    out.append("Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    for (const auto& [name, value] : r.headers)
    {
        if (!writable_header(name, value))
        {
            log::error("response_header_dropped", {{"header", is_token(name) ? name : std::string("(not a token)")}});
            continue;
        }
        out.append(name);
        out.append(": ");
        out.append(value);
        out.append("\r\n");
    }
    // RFC 9110 §8.6: no Content-Length on 1xx, 204 and 304 answers (they never have a body).
    if (!(r.status < 200 || r.status == 204 || r.status == 304))
    {
        out.append("Content-Length: ");
        append_number(out, content_length);
        out.append("\r\n");
    }
    // HTTP/1.1 persists unless told otherwise; HTTP/1.0 closes unless told otherwise (RFC 9112 §9.3).
    if (version >= 11 && !keep_alive)
        out.append("Connection: close\r\n");
    else if (version < 11 && keep_alive)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
    return out;
}

namespace {

// Sets the deadline of the operation the session is about to await (see session_entry::deadline).
void expires_after(session_entry& entry, std::chrono::milliseconds timeout) noexcept
{
    entry.deadline = clock::now() + timeout;
}

// Head and body as one buffer sequence. Not a std::array<const_buffer, 2>: Asio special-cases that
// type and, once the head is out, passes the stream [empty, body]; Beast's TLS stream writes
// nothing for that when the body is over 16 KB, and async_write takes the 0 bytes for the end: the
// body was never sent. Any other sequence goes through Asio's consuming_buffers, which skips the
// empty buffer.
struct head_and_body
{
    std::array<net::const_buffer, 2> buffers;
    const net::const_buffer* begin() const noexcept { return buffers.data(); }
    const net::const_buffer* end() const noexcept { return buffers.data() + buffers.size(); }
};

// Writes an answer: the head built above and the body in one gather write (one sendmsg), where
// Beast's generic serializer cost about 29k instructions per answer (issue 19). A HEAD request gets
// the head only, with the Content-Length a GET would have (RFC 9110 §9.3.2).
template <class Stream>
net::awaitable<beast::error_code> write_response(Stream& stream, session_entry& entry, std::chrono::milliseconds timeout, const http_response& r,
    unsigned version, bool keep_alive, bool head_only)
{
    const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;
    const std::string head = response_head(r, version, keep_alive, bodiless ? 0 : r.body.size());
    const std::string_view body = head_only || bodiless ? std::string_view() : std::string_view(r.body);
    expires_after(entry, timeout);
    beast::error_code ec;
    // On a plain connection, one send without the reactor first: the socket usually takes the
    // whole answer, and async_write posts its completion even then, one more turn through the
    // reactor (an epoll_wait) per call (issue 19). What the socket did not take goes as before.
    std::size_t sent = 0;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
    {
        // Only where the socket was made non-blocking (a session's, not a refused connection's):
        // this send must never wait.
        if (stream.socket().non_blocking())
            sent = stream.socket().write_some(head_and_body{{net::buffer(head), net::buffer(body)}}, ec);
        if (ec == net::error::would_block || ec == net::error::try_again)
            ec = {};
    }
    const std::size_t total = head.size() + body.size();
    if (!ec && sent < total)
    {
        if (body.empty())
            std::tie(ec, std::ignore) = co_await net::async_write(stream, net::buffer(head) + sent, use_tuple);
        else if (sent < head.size())
            std::tie(ec, std::ignore) = co_await net::async_write(stream, head_and_body{{net::buffer(head) + sent, net::buffer(body)}}, use_tuple);
        else
            std::tie(ec, std::ignore) = co_await net::async_write(stream, net::buffer(body) + (sent - head.size()), use_tuple);
    }
    entry.deadline = clock::time_point::max();
    co_return ec;
}

// After answering a request whose body we will not read, the client may still be writing it
// (Python's http.client, Java's HttpURLConnection and most integration engines write the whole
// body before reading). Closing at once would reset the connection and lose our answer in their
// receive buffer; so, as nginx's lingering_close does: stop sending, read and discard what still
// arrives, bounded in time and bytes, then close.
template <class Stream>
net::awaitable<void> linger(Stream& stream, session_entry& entry)
{
    constexpr std::size_t max_discard = 16 * 1024 * 1024;
    constexpr auto max_linger = std::chrono::seconds(5);
    auto& lowest = beast::get_lowest_layer(stream);
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>)
        lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    expires_after(entry, max_linger);
    std::array<char, 16 * 1024> scratch;
    for (std::size_t discarded = 0; discarded < max_discard;)
    {
        auto [ec, n] = co_await stream.async_read_some(net::buffer(scratch), use_tuple);
        if (ec)
            break;
        discarded += n;
    }
}

// Answers a request we will not read to the end (limits, malformed HTTP), then lingers.
template <class Stream>
net::awaitable<void> reject(Stream& stream, session_entry& entry, const core::limits_config& limits, unsigned version, const error& refusal)
{
    const auto p = core::to_problem(refusal);
    http_response r;
    r.status = p.status;
    r.body = boost::json::serialize(core::to_operation_outcome(p));
    if (!co_await write_response(stream, entry, limits.write_timeout, r, version, false, false))
        co_await linger(stream, entry);
}

error read_failure(const beast::error_code& ec, const core::limits_config& limits)
{
    if (ec == http::error::body_limit)
        return {http_errc::body_too_large, "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes"};
    if (ec == http::error::header_limit)
        return {http_errc::headers_too_large, "request header exceeds the limit of " + std::to_string(limits.max_header_bytes) + " bytes"};
    return {http_errc::malformed_request, "malformed HTTP request: " + ec.message()};
}

// RFC 9112 §6.1 and §3.2 on a request header. A framing we do not read exactly as every proxy in
// front of us would is answered and the connection closed: otherwise what we take for the body
// could be read elsewhere as the next request (request smuggling).
result<void, error> check_framing(const http::request_parser<request_body>& parser)
{
    const auto& h = parser.get();
    if (h.version() >= 11 && h.count(http::field::host) != 1)
        return error{http_errc::malformed_request, "an HTTP/1.1 request needs exactly one Host header"};
    if (h.count(http::field::host) > 1)
        return error{http_errc::malformed_request, "more than one Host header"};
    if (h.count(http::field::transfer_encoding) == 0)
        return {};
    if (h.version() < 11)
        return error{http_errc::malformed_request, "Transfer-Encoding is not allowed in HTTP/1.0"};
    if (h.count(http::field::content_length) != 0)
        return error{http_errc::malformed_request, "a request may not carry both Transfer-Encoding and Content-Length"};
    // Every coding, over every Transfer-Encoding line: only "chunked", alone, is read.
    std::vector<std::string_view> codings;
    const auto [first, last] = h.equal_range(http::field::transfer_encoding);
    for (auto field = first; field != last; ++field)
    {
        std::string_view rest = field->value();
        while (!rest.empty())
        {
            const auto comma = rest.find(',');
            auto item = rest.substr(0, comma);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
                item.remove_prefix(1);
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
                item.remove_suffix(1);
            if (!item.empty())
                codings.push_back(item);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
    }
    if (codings.empty() || !beast::iequals(codings.back(), "chunked"))
        return error{http_errc::malformed_request, "Transfer-Encoding must end in chunked"};
    if (codings.size() > 1)
        return error{http_errc::not_implemented, "only the chunked transfer coding is supported"};
    return {};
}

// The header fields the listener reads on every request, found in one walk over the fields (issue
// 19): each of Beast's look-ups by name is a search of its tree of fields with case-insensitive
// compares, and a request took seven. The first of a repeated field, as Beast's look-up gives.
struct head_fields
{
    std::string_view content_type;
    std::string_view origin;
    std::string_view authorization;
    std::string_view expect;
    std::string_view traceparent;
    std::size_t traceparents = 0;
    // Several tracestate lines are one list (RFC 9110 §5.3); an oversized one is dropped by the
    // parser, and the header limit bounds the join.
    std::string tracestate;
    // The header section's last field. Beast adds a chunked body's trailer fields to the same list:
    // one of a new name after every field, one repeating a name right after that name's last field
    // (basic_fields::insert keeps a name's fields together). A trailer must never stand for a
    // header field (RFC 9110 §6.5.1): the look-up by name (requests.required_headers,
    // decision.forward_headers) stops at this field, and a name's first field is its header one.
    // Elements never move once inserted, so the pointer stays good while the request lives.
    const http::fields::value_type* last = nullptr;
    // Connection and the version, as the header section says (a trailer cannot close the connection).
    bool keep_alive = false;
};

head_fields read_head_fields(const http::request<request_body>& req)
{
    head_fields out;
    const auto first = [](std::string_view& slot, std::string_view value) {
        if (slot.data() == nullptr)
            slot = value;
    };
    out.keep_alive = req.keep_alive();
    for (const auto& f : req)
    {
        out.last = &f;
        switch (f.name())
        {
        case http::field::content_type: first(out.content_type, f.value()); break;
        case http::field::origin: first(out.origin, f.value()); break;
        case http::field::authorization: first(out.authorization, f.value()); break;
        case http::field::expect: first(out.expect, f.value()); break;
        case http::field::unknown:
            // W3C Trace Context's fields are not among Beast's known names.
            if (beast::iequals(f.name_string(), "traceparent"))
            {
                if (out.traceparents++ == 0)
                    out.traceparent = f.value();
            }
            else if (beast::iequals(f.name_string(), "tracestate"))
            {
                if (!out.tracestate.empty())
                    out.tracestate.push_back(',');
                out.tracestate.append(f.value());
            }
            break;
        default: break;
        }
    }
    // An absent field stays an empty view, as Beast's look-up gives it.
    return out;
}

http_request_view head_view(const http::request<request_body>& req, const head_fields& fields, std::string_view remote_address)
{
    http_request_view view;
    view.method = req.method_string();
    view.target = req.target();
    view.content_type = fields.content_type;
    view.origin = fields.origin;
    view.authorization = fields.authorization;
    view.remote_address = remote_address;
    // The first field of that name (case-insensitive) in the header section, as Beast's look-up
    // gives the first; never a trailer field.
    view.header = [&req, last = fields.last](std::string_view name) -> std::string_view {
        if (last == nullptr)
            return {};
        for (const auto& f : req)
        {
            if (beast::iequals(f.name_string(), name))
                return f.value();
            if (&f == last)
                break;
        }
        return {};
    };
    return view;
}

// crd-server's span of a request: a child of the caller's traceparent, or a new trace when there is
// none, it is malformed or it comes more than once.
core::trace_context incoming_trace(const head_fields& fields)
{
    return core::server_span(fields.traceparent, fields.traceparents, fields.tracestate);
}

bool connection_ended(const beast::error_code& ec)
{
    return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset || ec == beast::error::timeout ||
           ec == net::error::operation_aborted || ec == http::error::partial_message;
}

}  // namespace

namespace {

// The keep-alive loop over a plain or TLS stream. `entry` is this connection in the shard's list;
// its deadline bounds each read and write (see expire_sessions).
template <class Stream>
net::awaitable<void> serve(
    Stream& stream, const core::limits_config& limits, const router& r, shard_state& shard, std::list<session_entry>::iterator entry)
{
    auto& lowest = beast::get_lowest_layer(stream);
    beast::error_code peer_error;
    const auto peer = lowest.socket().remote_endpoint(peer_error);
    const std::string remote_address = peer_error ? std::string() : peer.address().to_string();
    core::read_buffer buffer;  // persists across keep-alive requests: it may hold the next one

    for (;;)
    {
        entry->idle = true;
        if (shard.stopping)
            break;
        if (buffer.size() == 0)
        {
            // Idle keep-alive wait: only the first byte of the next request.
            expires_after(*entry, limits.idle_timeout);
            // 4 KB holds a typical hook call's header and a small body; larger ones grow it.
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            // stop() closes the connections waiting here, and may do so after a request was read
            // but before this resumes: it must not be handled then. Its answer could not be sent,
            // and what it did (a client JWT's jti claimed in the shared replay cache) would make
            // the balancer's retry on another instance fail. Unanswered, the connection closing
            // tells the client to send it elsewhere.
            if (ec || shard.stopping)
                break;
            buffer.commit(n);
        }
        else
        {
            // The next request is already here (pipelined): give the shard's other connections
            // and its sweeper a turn first. Parsing buffered bytes without the reactor would
            // otherwise run a whole read of pipelined requests back to back. Not idle meanwhile:
            // a stopping shard must not close the socket under a request it holds.
            entry->idle = false;
            co_await net::post(stream.get_executor(), use_tuple);
            if (shard.stopping)
                break;
        }
        entry->idle = false;

        http::request_parser<request_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
        parser.body_limit(limits.max_body_bytes);

        // Header: bounded in time from its first byte, so a slow sender cannot hold the slot.
        expires_after(*entry, limits.header_timeout);
        beast::error_code header_error;
        if (!core::parse_buffered(parser, buffer, core::parse_until::header, header_error) && !header_error)
            std::tie(header_error, std::ignore) = co_await http::async_read_header(stream, buffer, parser, use_tuple);
        if (header_error)
        {
            if (!connection_ended(header_error))
                co_await reject(stream, *entry, limits, 11, read_failure(header_error, limits));
            break;
        }
        entry->deadline = clock::time_point::max();
        const auto received = clock::now();
        const unsigned version = parser.get().version();
        // One span per request, for the early check (100-continue) and the call alike.
        const head_fields fields = read_head_fields(parser.get());
        const auto trace = incoming_trace(fields);
        if (auto framing = check_framing(parser); framing.has_error())
        {
            co_await reject(stream, *entry, limits, version, framing.error());
            break;
        }

        // curl and many HTTP stacks wait (curl: 1 s) for "100 Continue" before sending a body.
        // Only HTTP/1.1 clients get one (RFC 9110 §10.1.1), and only once the request would be
        // taken: a refusal (401, 404, 415, ...) is sent instead and the body is never read.
        core::request_context early;  // the caller, when authenticated on the header
        bool authenticated_early = false;
        if (version >= 11 && beast::iequals(fields.expect, "100-continue"))
        {
            auto head = head_view(parser.get(), fields, remote_address);
            head.received = received;
            head.trace = trace;
            if (auto refused = co_await r.before_body(head, early))
            {
                co_await write_response(stream, *entry, limits.write_timeout, *refused, version, false, false);
                break;
            }
            authenticated_early = true;
            static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
            expires_after(*entry, limits.write_timeout);
            if (auto [ec, n] = co_await net::async_write(stream, net::buffer(continue_line), use_tuple); ec)
                break;
        }

        // A large body is read in 64 KB pieces, Beast's largest read, not in the buffer's 4 KB: a
        // few reads instead of dozens, and as many fewer wake-ups (issue 19). No more: the body
        // itself is reserved whole by the parser, and a client that declares a large body and then
        // stalls must not pin twice that until body_timeout.
        constexpr std::uint64_t largest_read = 64 * 1024;
        expires_after(*entry, limits.body_timeout);
        beast::error_code body_error;
        if (!core::parse_buffered(parser, buffer, core::parse_until::message, body_error) && !body_error)
        {
            if (const auto length = parser.content_length_remaining(); length && *length > buffer.capacity() - buffer.size())
                buffer.reserve(buffer.size() + static_cast<std::size_t>(std::min(*length, largest_read)));
            std::tie(body_error, std::ignore) = co_await http::async_read(stream, buffer, parser, use_tuple);
        }
        if (body_error)
        {
            if (!connection_ended(body_error))
                co_await reject(stream, *entry, limits, version, read_failure(body_error, limits));
            break;
        }
        entry->deadline = clock::time_point::max();  // the handler owns the request's deadline from here
        // The whole request is in the parser now. Unless the client pipelined the next one, give
        // the read buffer's memory back while the decision is awaited: with thousands of calls
        // waiting on a slow decision service, idle read buffers add up.
        if (buffer.size() == 0)
            buffer.shrink_to_fit();

        const auto& req = parser.get();
        http_request_view view = head_view(req, fields, remote_address);
        view.body = req.body().view();
        view.received = received;
        view.trace = trace;
        if (authenticated_early)
            view.authenticated = &early;

        const bool head = req.method() == http::verb::head;
        const http_response answer = co_await r.dispatch(view);
        const bool keep_alive = fields.keep_alive && !shard.stopping;
        if (auto ec = co_await write_response(stream, *entry, limits.write_timeout, answer, version, keep_alive, head); ec || !keep_alive)
            break;
    }
}

}  // namespace

namespace {

// This connection's entry in its shard's list, for exactly as long as its stream exists: removed
// by the destructor, so an exception leaves no entry whose stream stop() would touch and drain()
// wait for.
class session_registration
{
public:
    session_registration(shard_state& shard, beast::tcp_stream& stream) : shard_(shard)
    {
        shard_.sessions.push_front({&stream, true});
        entry_ = shard_.sessions.begin();
    }
    ~session_registration() { shard_.sessions.erase(entry_); }
    session_registration(const session_registration&) = delete;
    session_registration& operator=(const session_registration&) = delete;
    std::list<session_entry>::iterator entry() const noexcept { return entry_; }

private:
    shard_state& shard_;
    std::list<session_entry>::iterator entry_;
};

}  // namespace

net::awaitable<void> run_session(tcp::socket socket, const core::limits_config& limits, const router& r, shard_state& shard, net::ssl::context* tls)
{
    metrics::gauge_guard open(server_metrics::instance().open_connections);
    beast::error_code ignored;
    if (!tls)
    {
        beast::tcp_stream stream(std::move(socket));
        // Non-blocking for the caller too, so that write_response's first send never waits.
        stream.socket().non_blocking(true, ignored);
        session_registration registered(shard, stream);
        co_await serve(stream, limits, r, shard, registered.entry());
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
    }

    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    session_registration registered(shard, stream.next_layer());
    const auto entry = registered.entry();
    // The handshake is bounded like a request header: a silent client cannot hold the slot.
    expires_after(*entry, limits.header_timeout);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, use_tuple);
    if (ec)
        log::debug("tls_handshake_failed", {{"error", ec.message()}});
    else
    {
        co_await serve(stream, limits, r, shard, entry);
        // close_notify, briefly: a peer that never answers must not hold the connection.
        expires_after(*entry, std::chrono::seconds(1));
        co_await stream.async_shutdown(use_tuple);
    }
    stream.next_layer().socket().close(ignored);
}

net::awaitable<void> refuse_connection(tcp::socket socket, const core::limits_config& limits)
{
    beast::tcp_stream stream(std::move(socket));
    http_response r;
    r.status = 503;
    r.body = boost::json::serialize(core::to_operation_outcome({503, "transient", "the server is at its connection limit; retry shortly", ""}));
    r.headers.emplace_back("Retry-After", "1");
    // Not one of the shard's sessions, so no sweeper watches it: the stream's own timer does.
    session_entry unlisted;
    stream.expires_after(std::min<std::chrono::milliseconds>(limits.write_timeout, std::chrono::seconds(2)));
    co_await write_response(stream, unlisted, limits.write_timeout, r, 11, false, false);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

std::chrono::milliseconds sweep_interval(const core::limits_config& limits) noexcept
{
    const auto shortest = std::min({limits.header_timeout, limits.body_timeout, limits.idle_timeout, limits.write_timeout});
    return std::clamp<std::chrono::milliseconds>(shortest / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
}

net::awaitable<void> expire_sessions(shard_state& shard, const core::limits_config& limits)
{
    net::steady_timer tick(co_await net::this_coro::executor);
    const auto interval = sweep_interval(limits);
    for (;;)
    {
        tick.expires_after(interval);
        if (auto [ec] = co_await tick.async_wait(use_tuple); ec)
            co_return;
        const auto now = clock::now();
        for (auto& session : shard.sessions)
        {
            if (session.deadline > now)
                continue;
            // Closing ends the pending read or write with operation_aborted; the session then
            // ends as it did on Beast's own timeout (which also closed the socket).
            session.deadline = clock::time_point::max();
            beast::error_code ignored;
            session.stream->socket().close(ignored);
        }
    }
}

}  // namespace crd::server::detail
