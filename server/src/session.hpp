#pragma once
// Internal to the server library: the per-connection coroutine and the per-shard bookkeeping the
// graceful stop needs. Beast stays here, out of the public headers.

#include <crd/core/config.hpp>
#include <crd/server/router.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <list>
#include <string>

namespace crd::server::detail {

namespace beast = boost::beast;
using tcp = net::ip::tcp;

// A live connection as its shard sees it.
struct session_entry
{
    beast::tcp_stream* stream = nullptr;
    bool idle = true;  // waiting for the first byte of a request: safe to close on stop
    // When the operation the session awaits (read, write, handshake) must have finished; max while
    // the router has the request. The shard's sweeper (expire_sessions) closes the socket of a
    // session past it. Setting it is a store, where a per-operation timer costs a timerfd_settime
    // and a cancelled wait each time (six per call; issue 19).
    clock::time_point deadline = clock::time_point::max();
};

// Owned by one shard thread; touched only from that thread.
struct shard_state
{
    std::list<session_entry> sessions;
    bool stopping = false;
};

// Serves one connection: keep-alive loop with idle, header, body and write timeouts, body and
// header limits (413/431), Expect: 100-continue, and routing. Completes when the connection ends;
// never throws (errors end the connection and are logged at debug level). With `tls` non-null the
// connection is TLS, handshaken within limits.header_timeout.
net::awaitable<void> run_session(tcp::socket socket, const core::limits_config& limits, const router& r, shard_state& shard, net::ssl::context* tls);

// The shard's one deadline timer: every `tick` it closes the sockets of its sessions whose deadline
// has passed, so their pending operation ends (operation_aborted) and the session with it. A
// deadline is thus kept to within one tick; the tick is a tenth of the shortest timeout in `limits`,
// between 10 and 250 ms. Runs on the shard's thread until its context stops.
net::awaitable<void> expire_sessions(shard_state& shard, const core::limits_config& limits);
std::chrono::milliseconds sweep_interval(const core::limits_config& limits) noexcept;

// An answer's status line and header, as sent: Server, Content-Type, Cache-Control: no-store,
// X-Content-Type-Options: nosniff, the router's headers (one that could break the framing is
// dropped and logged), Content-Length (not on 1xx, 204, 304) and Connection as RFC 9112 §9.3 needs.
std::string response_head(const http_response& r, unsigned version, bool keep_alive, std::size_t content_length);

// Answers a connection over limits.max_connections with 503 and Retry-After, then closes it.
net::awaitable<void> refuse_connection(tcp::socket socket, const core::limits_config& limits);

}  // namespace crd::server::detail
