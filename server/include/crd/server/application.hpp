#pragma once
// Everything a running crd-server is made of, built from a configuration: the decision source,
// the hook registry, the router and the listener. main() parses the command line and runs one.

#include <crd/core/config.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace crd::server {

// A configuration this build cannot serve as asked (e.g. a feature configured on that is not
// available); what() says which key and what to do.
class startup_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

class application
{
public:
    // Loads the rules and builds the services. Throws core::config_error, decision::rules_error
    // or startup_error, each with a message naming the file or key at fault.
    explicit application(core::config cfg);
    ~application();

    void start();  // binds and serves; throws std::system_error when the port cannot be bound
    std::uint16_t port() const noexcept;
    std::uint16_t admin_port() const noexcept;  // 0 when admin.enabled is false
    void stop();                                // graceful; callable from any thread
    void wait();                                // until stopped; the audit log is flushed when it returns

    // SIGHUP: reads the configuration file again; on success swaps the rules, applies the log
    // level and reopens the audit file without dropping connections. A bad file is refused (logged,
    // counted) and everything running is kept. Settings that need a restart are logged as such.
    bool reload(const std::string& config_path);

    const core::config& config() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Validates a configuration file completely (including the rules file it names) without serving.
// Throws like application's constructor.
void check_configuration(const core::config& cfg);

// Fixes glibc's trim and mmap thresholds so a thread keeps its freed heap for the next large call
// (application.cpp says why). Not when the environment sets the allocator's own knobs
// (GLIBC_TUNABLES, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_), and not on jemalloc. True when applied.
// `jemalloc_serves_malloc`: runs_on_jemalloc() (server_metrics.hpp), given so tests can say either.
bool tune_allocator(const core::env_lookup& env, bool jemalloc_serves_malloc);

// The command line: --config FILE, --check-config FILE, --help, --version. Returns the exit code.
int run_command_line(int argc, char** argv);

}  // namespace crd::server
