#pragma once
// Internal to the server library: the per-connection coroutine and the per-shard bookkeeping the
// graceful stop needs. Beast stays here, out of the public headers.

#include <crd/core/config.hpp>
#include <crd/server/router.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <list>

namespace crd::server::detail {

namespace beast = boost::beast;
using tcp = net::ip::tcp;

// A live connection as its shard sees it.
struct session_entry
{
    beast::tcp_stream* stream = nullptr;
    bool idle = true;  // waiting for the first byte of a request: safe to close on stop
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

// Answers a connection over limits.max_connections with 503 and Retry-After, then closes it.
net::awaitable<void> refuse_connection(tcp::socket socket, const core::limits_config& limits);

}  // namespace crd::server::detail
