#pragma once
// The real crd-server binary as a child process: a configuration file in a fresh temporary
// folder, loopback only, stdout and stderr into a file the test reads, optionally an open-file
// limit set between fork and exec. The child is always killed (SIGKILL) when the object goes.

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <sys/types.h>

namespace crd::attack {

struct child_options
{
    std::optional<unsigned long> open_file_limit;  // RLIMIT_NOFILE soft = hard
    std::chrono::milliseconds ready_timeout{8000};
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, then released).
std::uint16_t free_port();

// Loopback, one thread, auth off, the shipped rules (embedded engine), log level info.
boost::json::object base_config();

class child_server
{
public:
    // Starts the binary (CRD_SERVER_BINARY, or $CRD_ATTACK_SERVER_BINARY when set) with `config`
    // (listen.port filled in: a free port P whose P + 1 is free too, the default admin port) and
    // waits until GET /health answers 200. Throws, with the child's output, when it exits or does
    // not answer in time.
    explicit child_server(boost::json::object config, child_options options = {});
    ~child_server();
    child_server(const child_server&) = delete;
    child_server& operator=(const child_server&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    pid_t pid() const noexcept { return pid_; }
    const std::filesystem::path& dir() const noexcept { return dir_; }

    // Everything the child wrote to stdout and stderr so far.
    std::string log() const;
    // Lines of that output for which `pred` holds (streamed: the output may be large).
    std::size_t count_log_lines(const std::function<bool(const std::string&)>& pred) const;
    // User plus system CPU time the child has used (from /proc/PID/stat).
    double cpu_seconds() const;

private:
    // One start on fresh ports; false (with the reason and the child's output) when it fails.
    bool launch(boost::json::object config, const child_options& options, std::string& why);

    std::filesystem::path dir_;
    std::filesystem::path log_path_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace crd::attack
