#pragma once
// Completion tokens for Boost 1.81, which has no default token: request-path I/O reports errors
// as values (`auto [ec, n] = co_await op(..., use_tuple)`), never by throwing.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace crd {

namespace net = boost::asio;
inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

using clock = std::chrono::steady_clock;

}  // namespace crd
