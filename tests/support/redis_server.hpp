#pragma once
// A real redis-server (Debian's) for the tests of the shared replay cache: started by the test on
// a loopback port of its own, nothing saved to disk (--save '' --appendonly no), killed when the
// object goes. Tests that need it are skipped, saying why, only when the binary is absent
// (scripts/install-deps.sh installs it, so CI runs them).

#include <boost/test/tree/decorator.hpp>
#include <boost/test/tools/assertion_result.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include <sys/types.h>

namespace crd::test {

// redis-server's path ($CRD_REDIS_SERVER, else found on PATH, else /usr/bin); empty when absent.
std::string redis_server_binary();

// For *boost::unit_test::precondition(redis_server_present): false, with the reason, when absent.
boost::test_tools::assertion_result redis_server_present(boost::unit_test::test_unit_id);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, then released).
std::uint16_t free_loopback_port();

class redis_server
{
public:
    // Starts it and waits until it answers PING. Throws with its output when it does not.
    // `password`: requirepass.
    explicit redis_server(std::string password = {});
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url(unsigned db = 0) const { return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db); }
    bool running() const noexcept { return pid_ > 0; }

    void kill();     // SIGKILL: Redis dies mid-run, connections reset
    void restart();  // again on the same port (empty: nothing was saved)
    void pause();    // SIGSTOP: the connections stay open, nothing answers
    void resume();   // SIGCONT

    // Redis's inline command form (one line, e.g. "PTTL key") and the first reply line, for the
    // tests' own checks; servers without a password only.
    std::string command(const std::string& inline_command) const;

private:
    void start();

    std::string password_;
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace crd::test
