#pragma once
// Structured logs: one JSON object per line on stderr, for journald. Never pass a token here.

#include <crd/core/config.hpp>

#include <boost/json/object.hpp>

#include <exception>
#include <string>
#include <string_view>

namespace crd::log {

void set_level(core::log_level level) noexcept;
bool enabled(core::log_level level) noexcept;

// One log or audit line as a JSON object, fields in order: every top-level number with a fraction
// (a duration in milliseconds, such as "latency_ms") as a plain decimal with 3 places ("1.052",
// not Boost.JSON's "1.052338E0"; null when not finite), every other value as Boost.JSON writes
// it. Nested values are left alone: an audit record's request keeps its numbers as they were.
std::string to_json_line(const boost::json::object& fields);

// Writes {"ts":..., "level":..., "event":..., ...fields} as one line with a single write(2), so
// lines from different threads never interleave.
void write(core::log_level level, std::string_view event, boost::json::object fields = {});

inline void debug(std::string_view event, boost::json::object fields = {})
{
    if (enabled(core::log_level::debug))
        write(core::log_level::debug, event, std::move(fields));
}
inline void info(std::string_view event, boost::json::object fields = {})
{
    if (enabled(core::log_level::info))
        write(core::log_level::info, event, std::move(fields));
}
inline void warning(std::string_view event, boost::json::object fields = {})
{
    write(core::log_level::warning, event, std::move(fields));
}
inline void error(std::string_view event, boost::json::object fields = {})
{
    write(core::log_level::error, event, std::move(fields));
}

// Logs an exception that escaped a coroutine as `event` at level error (nothing when `e` is null):
// the completion handler of every spawned coroutine, so none is lost.
void exception(std::string_view event, std::exception_ptr e);

}  // namespace crd::log
