#pragma once
// Test helpers that need crd::core only (crd_test_core): the public CRD example requests,
// JSON-pointer edits, configurations, temporary directories and running coroutines.

#include <crd/core/async.hpp>
#include <crd/core/config.hpp>
#include <crd/core/error.hpp>
#include <crd/core/operation_outcome.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace crd::test {

std::string read_file(const std::string& path);
std::string fixture_path(const std::string& name);  // under tests/fixtures/crd-examples
boost::json::value load_fixture(const std::string& name);
// Every whole request body: crd-<hook>-N.json, sorted.
std::vector<std::string> request_fixture_names();
// "order-sign" -> "order-sign-crd"
std::string service_id_for(const boost::json::value& request);

// Sets (or, with nullopt, erases) the member or element a JSON pointer names. The parent must exist.
void edit(boost::json::value& doc, const std::string& pointer, std::optional<boost::json::value> value);

// The HTTP answer a failed result would give (core::to_problem), or nothing when it succeeded.
template <class T>
std::optional<core::problem> problem_if(const result<T, error>& r)
{
    if (r.has_value())
        return std::nullopt;
    return core::to_problem(r.error());
}

// A configuration document parsed as a configuration file would be, with no environment
// overrides and the shipped rules (etc/rules.json) unless it names others.
core::config config_from(const boost::json::value& doc);
// The same, read from a file (relative paths resolve against its directory).
core::config config_from_file(const std::string& path);

// A configuration for in-process servers: loopback, ephemeral port, auth off, the shipped rules.
core::config test_config();

// A fresh directory under the system's temporary directory, removed with everything in it when
// this goes. Declare it before whatever writes into it.
class temp_dir
{
public:
    explicit temp_dir(const std::string& prefix);
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// What this process writes to stderr (fd 2: the log) while it lives, in a temporary file; text()
// stops capturing and returns it. One at a time.
class stderr_capture
{
public:
    stderr_capture();
    ~stderr_capture();
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;

    std::string text();

private:
    void restore();
    std::filesystem::path path_;
    int saved_ = -1;
};

// Runs a coroutine to completion on `ioc` (which may then run again), rethrowing its exception.
template <class T>
T run_coro(net::io_context& ioc, net::awaitable<T> op)
{
    std::optional<T> out;
    std::exception_ptr error;
    net::co_spawn(ioc, std::move(op), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e)
            out.emplace(std::move(value));
    });
    ioc.restart();
    ioc.run();
    if (error)
        std::rethrow_exception(error);
    return std::move(*out);
}

// The same on a fresh io_context.
template <class T>
T run_coro(net::awaitable<T> op)
{
    net::io_context ioc;
    return run_coro(ioc, std::move(op));
}

}  // namespace crd::test
