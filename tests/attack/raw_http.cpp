#include "raw_http.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace crd::attack {
namespace {

using steady = std::chrono::steady_clock;

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    return out;
}

int remaining_ms(steady::time_point until)
{
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

sockaddr_in loopback(std::uint16_t port)
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// The value of the first header named `lower_name` in a header block ("\r\n"-separated lines).
std::optional<std::string> header_value(std::string_view head, std::string_view lower_name)
{
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size())
    {
        const auto start = pos + 2;
        auto end = head.find("\r\n", start);
        const auto line = head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos && lower(line.substr(0, colon)) == lower_name)
        {
            auto value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
            return std::string(value);
        }
        pos = end;
    }
    return std::nullopt;
}

bool send_all(int fd, std::string_view bytes)
{
    std::size_t off = 0;
    while (off < bytes.size())
    {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 5000) <= 0)
            return false;
        const auto n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0)
        {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// Decodes a chunked body at the front of `in`; nullopt while incomplete. `used` is what it took.
std::optional<std::string> dechunk(std::string_view in, std::size_t& used)
{
    std::string out;
    std::size_t pos = 0;
    for (;;)
    {
        const auto eol = in.find("\r\n", pos);
        if (eol == std::string_view::npos)
            return std::nullopt;
        const auto size = std::strtoul(std::string(in.substr(pos, eol - pos)).c_str(), nullptr, 16);
        pos = eol + 2;
        if (size == 0)
        {
            const auto end = in.find("\r\n", pos);  // no trailers from the servers under test
            if (end == std::string_view::npos)
                return std::nullopt;
            used = end + 2;
            return out;
        }
        if (in.size() < pos + size + 2)
            return std::nullopt;
        out.append(in.substr(pos, size));
        pos += size + 2;
    }
}

}  // namespace

std::optional<response> take_response(std::string& buffer, bool eof)
{
    const auto head_end = buffer.find("\r\n\r\n");
    if (head_end == std::string::npos)
        return std::nullopt;
    const std::string_view head(buffer.data(), head_end + 2);
    response r;
    const auto line_end = head.find("\r\n");
    const auto status_line = head.substr(0, line_end);
    const auto sp = status_line.find(' ');
    r.version = std::string(status_line.substr(0, sp));
    if (sp != std::string_view::npos)
        r.status = static_cast<unsigned>(std::strtoul(std::string(status_line.substr(sp + 1, 3)).c_str(), nullptr, 10));
    for (std::size_t pos = line_end + 2; pos < head.size();)
    {
        const auto end = head.find("\r\n", pos);
        const auto line = head.substr(pos, end - pos);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos)
        {
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
            r.headers[lower(line.substr(0, colon))] = std::string(value);
        }
        pos = end + 2;
    }
    const std::size_t body_start = head_end + 4;
    const bool no_body = (r.status >= 100 && r.status < 200) || r.status == 204 || r.status == 304;
    if (no_body)
    {
        buffer.erase(0, body_start);
        return r;
    }
    if (const auto cl = r.headers.find("content-length"); cl != r.headers.end())
    {
        const auto n = static_cast<std::size_t>(std::strtoull(cl->second.c_str(), nullptr, 10));
        if (buffer.size() < body_start + n)
            return std::nullopt;
        r.body = buffer.substr(body_start, n);
        buffer.erase(0, body_start + n);
        return r;
    }
    if (lower(r.header("transfer-encoding")).find("chunked") != std::string::npos)
    {
        std::size_t used = 0;
        auto body = dechunk(std::string_view(buffer).substr(body_start), used);
        if (!body)
            return std::nullopt;
        r.body = std::move(*body);
        buffer.erase(0, body_start + used);
        return r;
    }
    if (!eof)
        return std::nullopt;
    r.body = buffer.substr(body_start);
    buffer.clear();
    return r;
}

std::string request_bytes(std::string_view method, std::string_view target, std::string_view body, const header_list& headers,
    std::string_view version, std::string_view host, bool content_length)
{
    std::string out;
    out.reserve(body.size() + 512);
    out.append(method).append(" ").append(target).append(" ").append(version).append("\r\n");
    if (!host.empty())
        out.append("Host: ").append(host).append("\r\n");
    for (const auto& [name, value] : headers)
        out.append(name).append(": ").append(value).append("\r\n");
    if (content_length)
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append("\r\n").append(body);
    return out;
}

raw_conn::raw_conn(std::uint16_t port, std::chrono::milliseconds connect_timeout)
{
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0)
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    const auto addr = loopback(port);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    {
        if (errno != EINPROGRESS)
        {
            const int e = errno;
            ::close(fd_);
            throw std::runtime_error("connect to port " + std::to_string(port) + ": " + std::strerror(e));
        }
        pollfd p{fd_, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        if (::poll(&p, 1, static_cast<int>(connect_timeout.count())) != 1 || ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        {
            ::close(fd_);
            throw std::runtime_error("connect to port " + std::to_string(port) + " failed or timed out");
        }
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

raw_conn::~raw_conn()
{
    if (fd_ >= 0)
        ::close(fd_);
}

bool raw_conn::send(std::string_view bytes)
{
    return send_all(fd_, bytes);
}

bool raw_conn::fill(steady::time_point until)
{
    if (eof_)
        return false;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, remaining_ms(until));
    if (ready <= 0)
        return false;
    char buf[65536];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0)
    {
        pending_.append(buf, static_cast<std::size_t>(n));
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    eof_ = true;  // orderly close, or reset
    return false;
}

std::optional<response> raw_conn::read_response(std::chrono::milliseconds timeout)
{
    const auto until = steady::now() + timeout;
    for (;;)
    {
        if (auto r = take_response(pending_, eof_))
            return r;
        if (eof_)
            return std::nullopt;
        if (!fill(until) && !eof_)
            return std::nullopt;
    }
}

std::string raw_conn::read_until_closed(std::chrono::milliseconds timeout, bool& closed)
{
    const auto until = steady::now() + timeout;
    while (!eof_ && steady::now() < until)
        fill(until);
    closed = eof_;
    return std::exchange(pending_, {});
}

bool raw_conn::settled()
{
    while (!eof_)
    {
        char buf[4096];
        const auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0)
        {
            pending_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        eof_ = true;
    }
    return eof_ || pending_.find("\r\n\r\n") != std::string::npos;
}

std::optional<response> exchange(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout)
{
    std::optional<raw_conn> c;
    try
    {
        c.emplace(port);
    }
    catch (const std::runtime_error&)
    {
        return std::nullopt;  // nothing listening: no answer, as for a timeout
    }
    if (!c->send(bytes))
        return std::nullopt;
    return c->read_response(timeout);
}

// --- raw_recorder ------------------------------------------------------------------------------

raw_recorder::raw_recorder()
{
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const auto addr = loopback(0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 128) != 0)
        throw std::runtime_error(std::string("raw_recorder: ") + std::strerror(errno));
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.sin_port);
    body_ = R"({"cards": []})";
    acceptor_ = std::thread([this] { accept_loop(); });
}

raw_recorder::~raw_recorder()
{
    stop_ = true;
    acceptor_.join();
    std::vector<std::thread> workers;
    {
        std::lock_guard lock(mutex_);
        workers.swap(workers_);
    }
    for (auto& t : workers)
        t.join();
    ::close(listen_fd_);
}

void raw_recorder::answer(unsigned status, std::string body, std::string content_type)
{
    std::lock_guard lock(mutex_);
    status_ = status;
    body_ = std::move(body);
    content_type_ = std::move(content_type);
}

std::string raw_recorder::bytes() const
{
    std::lock_guard lock(mutex_);
    return bytes_;
}

std::vector<std::string> raw_recorder::targets() const
{
    std::lock_guard lock(mutex_);
    return targets_;
}

void raw_recorder::accept_loop()
{
    while (!stop_)
    {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0)
            continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            continue;
        ++connections_;
        std::lock_guard lock(mutex_);
        if (workers_.size() >= 512)  // bounded: a test never needs more
        {
            ::close(fd);
            continue;
        }
        workers_.emplace_back([this, fd] { serve(fd); });
    }
}

void raw_recorder::serve(int fd)
{
    std::string buffer;
    bool open = true;
    while (open && !stop_)
    {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0)
            continue;
        char chunk[65536];
        const auto n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
        {
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            break;
        }
        {
            std::lock_guard lock(mutex_);
            if (bytes_.size() < (64U << 20))
                bytes_.append(chunk, static_cast<std::size_t>(n));
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
        // Frame and answer every whole request in the buffer, as a keep-alive server would.
        for (;;)
        {
            const auto head_end = buffer.find("\r\n\r\n");
            if (head_end == std::string::npos)
            {
                if (buffer.size() > (4U << 20))
                    open = false;
                break;
            }
            const std::string_view head(buffer.data(), head_end + 2);
            const auto line = head.substr(0, head.find("\r\n"));
            const auto sp1 = line.find(' ');
            const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
            const std::string target(sp1 == std::string_view::npos ? std::string_view{} : line.substr(sp1 + 1, sp2 - sp1 - 1));
            std::size_t length = 0;
            if (auto cl = header_value(head, "content-length"))
                length = static_cast<std::size_t>(std::strtoull(cl->c_str(), nullptr, 10));
            if (length > (64U << 20))
            {
                open = false;
                break;
            }
            if (buffer.size() < head_end + 4 + length)
                break;
            const bool close_after = lower(header_value(head, "connection").value_or("")) == "close";
            buffer.erase(0, head_end + 4 + length);
            ++requests_;
            std::string reply;
            {
                std::lock_guard lock(mutex_);
                targets_.push_back(target);
                reply = "HTTP/1.1 " + std::to_string(status_) + (status_ == 200 ? " OK" : " Scripted") + "\r\nContent-Type: " + content_type_ +
                        "\r\nContent-Length: " + std::to_string(body_.size()) + (close_after ? "\r\nConnection: close" : "") + "\r\n\r\n" + body_;
            }
            if (!send_all(fd, reply) || close_after)
            {
                open = false;
                break;
            }
        }
    }
    ::close(fd);
}

}  // namespace crd::attack
