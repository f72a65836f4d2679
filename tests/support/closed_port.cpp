#include "closed_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace crd::test {

closed_port::closed_port()
{
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::runtime_error(std::string("closed_port: socket: ") + std::strerror(errno));
    // No SO_REUSEADDR: with it unset here, the kernel refuses every other bind of this port.
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    {
        const int err = errno;
        ::close(fd_);
        throw std::runtime_error(std::string("closed_port: bind: ") + std::strerror(err));
    }
    port_ = ntohs(addr.sin_port);
}

closed_port::~closed_port()
{
    ::close(fd_);
}

std::string closed_port::url(const std::string& path) const
{
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

}  // namespace crd::test
