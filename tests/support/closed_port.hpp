#pragma once
// A loopback port that stays closed for as long as this object lives: a TCP socket bound to
// 0.0.0.0:P that never listens. A connect to P on any loopback address is refused (RST), and no
// other socket, in this process or another, can bind P meanwhile. A port freed by closing a
// server is not that: ctest runs test programs side by side, and one of their listeners took a
// just-freed port, so "the decision service is down" got a stranger's 404 instead (CI, stop 25).

#include <cstdint>
#include <string>

namespace crd::test {

class closed_port
{
public:
    closed_port();
    ~closed_port();
    closed_port(const closed_port&) = delete;
    closed_port& operator=(const closed_port&) = delete;

    std::uint16_t port() const { return port_; }
    // http://127.0.0.1:P<path>
    std::string url(const std::string& path = "/") const;

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace crd::test
