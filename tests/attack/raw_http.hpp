#pragma once
// Raw HTTP over plain TCP sockets for the attack tests: the bytes on the wire are written by
// hand (so malformed HTTP is possible), every read has a deadline, and a recording server keeps
// exactly the bytes it received (so a smuggled request shows up as a request line of its own).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace crd::attack {

using namespace std::chrono_literals;
using header_list = std::vector<std::pair<std::string, std::string>>;

struct response
{
    unsigned status = 0;
    std::string version;                         // "HTTP/1.1"
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string header(const std::string& lower_name) const
    {
        const auto it = headers.find(lower_name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

// Takes one whole response off the front of `buffer`; nullopt while it is incomplete. With
// `eof`, a response without Content-Length ends at the end of the bytes.
std::optional<response> take_response(std::string& buffer, bool eof);

// The bytes of one request: `headers` as given, then Content-Length (unless `content_length` is
// false), then the body. Host is the first header unless `host` is empty.
std::string request_bytes(std::string_view method, std::string_view target, std::string_view body,
    const header_list& headers = {{"Content-Type", "application/json"}}, std::string_view version = "HTTP/1.1", std::string_view host = "127.0.0.1",
    bool content_length = true);

// One client connection to 127.0.0.1:port.
class raw_conn
{
public:
    explicit raw_conn(std::uint16_t port, std::chrono::milliseconds connect_timeout = 3s);
    ~raw_conn();
    raw_conn(const raw_conn&) = delete;
    raw_conn& operator=(const raw_conn&) = delete;

    // False when the peer is gone (EPIPE, reset).
    bool send(std::string_view bytes);
    // The next whole response, or nullopt when none arrives in time or the connection ended first.
    std::optional<response> read_response(std::chrono::milliseconds timeout);
    // Every byte until the server closes (closed = true) or the time is up (closed = false).
    std::string read_until_closed(std::chrono::milliseconds timeout, bool& closed);
    // Reads what is there without waiting; true once a response head has arrived or the
    // connection has ended (EOF or reset).
    bool settled();
    bool ended() const noexcept { return eof_; }
    const std::string& pending() const noexcept { return pending_; }

private:
    bool fill(std::chrono::steady_clock::time_point until);

    int fd_ = -1;
    std::string pending_;
    bool eof_ = false;
};

// One request on a fresh connection, the response read with `timeout`; nullopt when the connection
// is refused, or no whole response arrives in time.
std::optional<response> exchange(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout = 10s);

// A plain HTTP/1.1 server on 127.0.0.1:0 that answers every request it can frame (Content-Length
// bodies, keep-alive) with one scripted answer, and records every byte it was sent, the request
// targets it framed, and how many connections were made to it.
class raw_recorder
{
public:
    raw_recorder();
    ~raw_recorder();
    raw_recorder(const raw_recorder&) = delete;
    raw_recorder& operator=(const raw_recorder&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

    void answer(unsigned status, std::string body, std::string content_type = "application/json");

    std::string bytes() const;
    std::vector<std::string> targets() const;
    std::size_t connections() const noexcept { return connections_; }
    std::size_t requests() const noexcept { return requests_; }

private:
    void accept_loop();
    void serve(int fd);

    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> requests_{0};
    mutable std::mutex mutex_;
    std::string bytes_;
    std::vector<std::string> targets_;
    unsigned status_ = 200;
    std::string body_;
    std::string content_type_ = "application/json";
    std::vector<std::thread> workers_;  // guarded by mutex_
    std::thread acceptor_;
};

}  // namespace crd::attack
