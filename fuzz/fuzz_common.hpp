#pragma once
// Shared by the libFuzzer targets: the entry points, and the one way a target reports a broken
// property (a message on stderr, then abort(): libFuzzer saves the input as crash-<sha1>).

#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace crd::fuzz {

// The request and JSON document depth limit the server uses for hook calls.
inline constexpr std::size_t request_max_depth = 64;

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) noexcept
{
    return {reinterpret_cast<const char*>(data), size};
}

// A property the code promises does not hold for this input.
[[noreturn]] inline void broken(const char* property, std::string_view detail = {}) noexcept
{
    std::fprintf(stderr, "\n==crd-fuzz== property broken: %s\n", property);
    if (!detail.empty())
        std::fprintf(stderr, "==crd-fuzz== detail: %.*s\n", static_cast<int>(detail.size() > 2000 ? 2000 : detail.size()), detail.data());
    std::abort();
}

// Equal, but for doubles a few ulps apart: Boost.JSON 1.81 does not read every decimal back to
// the double it was written from ("-9.223372036857745E18", its own shortest output for
// -9223372036857745408, reads back 2048 lower). That is Boost's, not ours.
inline bool same_document(const boost::json::value& a, const boost::json::value& b)
{
    if (a.kind() != b.kind())
        return false;
    switch (a.kind())
    {
    case boost::json::kind::double_:
    {
        const double x = a.get_double(), y = b.get_double();
        // Subnormals carry fewer significant bits, and Boost.JSON 1.81 scales them with a
        // rounding step of its own ("184467441474191e-324" and its shortest output
        // "1.8446744147419E-310" are one double, which Boost reads as two): below the smallest
        // normal double, a difference of a few thousand subnormal steps is the same number read.
        if (std::fabs(x) < std::numeric_limits<double>::min() && std::fabs(y) < std::numeric_limits<double>::min())
            return std::fabs(x - y) <= 1e-12 * std::numeric_limits<double>::min();
        return x == y || std::fabs(x - y) <= 1e-15 * std::max(std::fabs(x), std::fabs(y));
    }
    case boost::json::kind::array:
    {
        const auto &p = a.get_array(), &q = b.get_array();
        if (p.size() != q.size())
            return false;
        for (std::size_t i = 0; i < p.size(); ++i)
            if (!same_document(p[i], q[i]))
                return false;
        return true;
    }
    case boost::json::kind::object:
    {
        const auto &p = a.get_object(), &q = b.get_object();
        if (p.size() != q.size())
            return false;
        for (const auto& kv : p)
        {
            const auto* other = q.if_contains(kv.key());
            if (!other || !same_document(kv.value(), *other))
                return false;
        }
        return true;
    }
    default: return a == b;
    }
}

}  // namespace crd::fuzz
