#pragma once
// The HTTP/1.1 listener: `threads` shards, each one io_context on its own thread with its own
// SO_REUSEPORT acceptor, so no request ever crosses threads and our code needs no locks.

#include <crd/core/config.hpp>
#include <crd/server/router.hpp>

#include <cstdint>
#include <memory>

namespace crd::server {

class server
{
public:
    // `admin` (may be null) serves the admin listener, cfg.admin.address:port, on the first shard.
    // Both routers must outlive the server: its threads use them until ~server has joined them.
    server(const core::config& cfg, const router& r, const router* admin = nullptr);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds every shard's acceptor and starts the threads. Throws std::system_error naming the
    // address when the port cannot be bound.
    void start();

    // The bound port (useful with listen.port 0).
    std::uint16_t port() const noexcept;
    // The admin listener's bound port; 0 when there is none.
    std::uint16_t admin_port() const noexcept;

    // Graceful stop: close the acceptors and idle keep-alive connections, let requests in flight
    // finish within limits.shutdown_grace_ms, then stop. Idempotent; callable from any thread.
    void stop();

    // Blocks until every shard thread has ended.
    void wait();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace crd::server
