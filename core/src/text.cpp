#include <crd/core/text.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace crd::core {
namespace {

char fold(char c) noexcept
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return fold(x) == fold(y); });
}

bool is_safe_field_value(std::string_view value) noexcept
{
    // Sixteen bytes at a time (SSE2, which every x86-64 has): every header of every call passes
    // here, the upstream client's twice (issue 19). Unsigned: obs-text (0x80-0xFF) is allowed.
    const char* at = value.data();
    const char* const end = at + value.size();
#if defined(__SSE2__)
    const __m128i last_control = _mm_set1_epi8(0x1F);
    const __m128i tab = _mm_set1_epi8('\t');
    const __m128i del = _mm_set1_epi8(0x7F);
    for (; end - at >= 16; at += 16)
    {
        __m128i bytes{};
        std::memcpy(&bytes, at, sizeof bytes);
        const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, last_control), bytes);  // <= 0x1F
        const __m128i refused = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(bytes, tab), control), _mm_cmpeq_epi8(bytes, del));
        if (_mm_movemask_epi8(refused) != 0)
            return false;
    }
#endif
    return std::none_of(at, end, [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return (b < 0x20 && c != '\t') || b == 0x7F;
    });
}

bool is_framing_field(std::string_view name) noexcept
{
    return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Connection");
}

std::string to_lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), fold);
    return out;
}

std::string utc_timestamp(std::chrono::system_clock::time_point t)
{
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, static_cast<int>(ms % 1000));
    return buf;
}

}  // namespace crd::core
