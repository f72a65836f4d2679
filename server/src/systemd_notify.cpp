#include <crd/server/systemd_notify.hpp>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace crd::server {

bool notify_systemd(std::string_view state, const std::string& socket_path)
{
    sockaddr_un addr{};
    if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path))
        return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
    if (addr.sun_path[0] == '@')
        addr.sun_path[0] = '\0';  // abstract socket
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());

    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    // sockaddr_un -> sockaddr is the socket API's own convention.
    const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

bool notify_systemd(std::string_view state)
{
    const char* path = std::getenv("NOTIFY_SOCKET");
    return path && notify_systemd(state, std::string(path));
}

}  // namespace crd::server
