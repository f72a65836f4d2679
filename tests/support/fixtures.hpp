#pragma once
// Test helpers: the public CRD example requests, JSON-pointer edits, and running coroutines.

#include <crd/auth/jose.hpp>
#include <crd/core/async.hpp>
#include <crd/core/config.hpp>
#include <crd/core/error.hpp>
#include <crd/core/operation_outcome.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <exception>
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

// Seconds since 1970: JWT iat/exp.
std::int64_t unix_now();

// A P-384 signing key made once per process per kid (key generation is slow); for client JWTs.
const auth::signing_key& client_key(const std::string& kid);

// A configuration for in-process servers: loopback, ephemeral port, auth off, the shipped rules.
core::config test_config();

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
