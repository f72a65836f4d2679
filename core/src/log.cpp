#include <crd/core/log.hpp>
#include <crd/core/text.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <unistd.h>

namespace crd::log {
namespace {

std::atomic<int> current_level{static_cast<int>(core::log_level::info)};

std::string_view level_name(core::log_level level)
{
    switch (level)
    {
    case core::log_level::debug: return "debug";
    case core::log_level::info: return "info";
    case core::log_level::warning: return "warning";
    case core::log_level::error: return "error";
    }
    return "info";
}

// 3 places: microseconds for a duration in milliseconds.
void append_decimal(std::string& out, double value)
{
    if (!std::isfinite(value))
    {
        out += "null";
        return;
    }
    std::array<char, 64> buf;
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed, 3);
    if (ec == std::errc{})
        out.append(buf.data(), end);
    else
        out += boost::json::serialize(boost::json::value(value));  // beyond 1e60: still a JSON number
}

}  // namespace

std::string to_json_line(const boost::json::object& fields)
{
    // One serializer and one stack buffer for every field: no string per field.
    boost::json::serializer sr;
    std::array<char, 1024> buf;
    std::string out;
    out.reserve(256);
    const auto append = [&] {
        while (!sr.done())
            out += sr.read(buf.data(), buf.size());
    };
    out.push_back('{');
    for (const auto& kv : fields)
    {
        if (out.size() > 1)
            out.push_back(',');
        sr.reset(kv.key());
        append();
        out.push_back(':');
        if (kv.value().is_double())
            append_decimal(out, kv.value().get_double());
        else
        {
            sr.reset(&kv.value());
            append();
        }
    }
    out.push_back('}');
    return out;
}

void set_level(core::log_level level) noexcept
{
    current_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool enabled(core::log_level level) noexcept
{
    return static_cast<int>(level) >= current_level.load(std::memory_order_relaxed);
}

void write(core::log_level level, std::string_view event, boost::json::object fields)
{
    if (!enabled(level))
        return;
    boost::json::object line;
    line.reserve(fields.size() + 3);
    line["ts"] = core::utc_timestamp(std::chrono::system_clock::now());
    line["level"] = level_name(level);
    line["event"] = event;
    for (auto& kv : fields)
        line[kv.key()] = std::move(kv.value());
    std::string text = to_json_line(line);
    text.push_back('\n');
    // One write per line; a short write to stderr is retried rather than lost.
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0)
    {
        const auto n = ::write(STDERR_FILENO, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void exception(std::string_view event, std::exception_ptr e)
{
    if (!e)
        return;
    try
    {
        std::rethrow_exception(e);
    }
    catch (const std::exception& ex)
    {
        error(event, {{"error", ex.what()}});
    }
    catch (...)
    {
        error(event, {{"error", "an exception that is not a std::exception"}});
    }
}

}  // namespace crd::log
