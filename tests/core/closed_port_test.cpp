// test::closed_port, which the "decision service is down" tests rely on: while it is held, a
// connect to its port is refused on every loopback address and no other socket can take the port.

#include "closed_port.hpp"

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace {

sockaddr_in loopback(const char* address, std::uint16_t port)
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &addr.sin_addr);
    addr.sin_port = htons(port);
    return addr;
}

// errno of a blocking connect, 0 when it connected.
int connect_error(const char* address, std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const auto addr = loopback(address, port);
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int err = rc == 0 ? 0 : errno;
    ::close(fd);
    return err;
}

// errno of binding and listening with SO_REUSEADDR set, as servers do; 0 when it could listen.
int listen_error(const char* address, std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const auto addr = loopback(address, port);
    int err = 0;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0)
        err = errno;
    ::close(fd);
    return err;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(closed_port_)

BOOST_AUTO_TEST_CASE(a_held_port_refuses_connections_and_cannot_be_taken)
{
    const crd::test::closed_port closed;
    BOOST_TEST_REQUIRE(closed.port() != 0U);
    BOOST_TEST(closed.url("/decide") == "http://127.0.0.1:" + std::to_string(closed.port()) + "/decide");
    for (const char* address : {"127.0.0.1", "127.0.1.1", "127.0.2.10"})
        BOOST_TEST_CONTEXT(address)
        {
            BOOST_TEST(connect_error(address, closed.port()) == ECONNREFUSED);
            BOOST_TEST(listen_error(address, closed.port()) == EADDRINUSE);
        }
}

BOOST_AUTO_TEST_CASE(a_released_port_can_be_taken_again)
{
    std::uint16_t port = 0;
    {
        const crd::test::closed_port closed;
        port = closed.port();
    }
    BOOST_TEST(listen_error("127.0.0.1", port) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
