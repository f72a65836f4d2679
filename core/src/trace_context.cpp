#include <crd/core/trace_context.hpp>

#include <crd/core/ids.hpp>

#include <algorithm>
#include <vector>

namespace crd::core {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// Lower-case hex only: §3.2.2 ("HEXDIGLC"); upper-case ids are invalid, not normalised.
int lower_hex_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

template <std::size_t N>
bool read_hex(std::string_view text, std::array<std::uint8_t, N>& out) noexcept
{
    if (text.size() != 2 * N)
        return false;
    for (std::size_t i = 0; i < N; ++i)
    {
        const int hi = lower_hex_value(text[2 * i]);
        const int lo = lower_hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return true;
}

// The 2N digits of `bytes` from `digit` on; returns the end.
template <std::size_t N>
char* put_hex(const std::array<std::uint8_t, N>& bytes, char* digit) noexcept
{
    for (auto b : bytes)
    {
        *digit++ = hex_digits[b >> 4];
        *digit++ = hex_digits[b & 0x0f];
    }
    return digit;
}

template <std::size_t N>
std::string write_hex(const std::array<std::uint8_t, N>& bytes)
{
    // Written in place: a push_back per digit checked the capacity 2N times (650 instructions
    // for a trace id, three ids per proxied call).
    std::string out(2 * N, '0');
    put_hex(bytes, out.data());
    return out;
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& bytes) noexcept
{
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// Random and never all zero (an all-zero id is invalid, §3.2.2.3 and §3.2.2.4): from the same
// buffered CSPRNG as every other id crd-server makes (core::random_bytes).
template <std::size_t N>
void fill_random(std::array<std::uint8_t, N>& out)
{
    do
        random_bytes(out.data(), out.size());
    while (all_zero(out));
}

std::string_view trim_ows(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool is_lcalpha(char c) noexcept
{
    return c >= 'a' && c <= 'z';
}
bool is_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}
bool is_key_char(char c) noexcept
{
    return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

// §3.3.1.3.1: simple-key = lcalpha 0*255(key chars);
// multi-tenant-key = (lcalpha / DIGIT) 0*240(key chars) "@" lcalpha 0*13(key chars).
bool valid_tracestate_key(std::string_view key) noexcept
{
    const auto at = key.find('@');
    if (at == std::string_view::npos)
        return !key.empty() && key.size() <= 256 && is_lcalpha(key.front()) && std::all_of(key.begin(), key.end(), is_key_char);
    const auto tenant = key.substr(0, at);
    const auto system = key.substr(at + 1);
    return !tenant.empty() && tenant.size() <= 241 && (is_lcalpha(tenant.front()) || is_digit(tenant.front())) &&
           std::all_of(tenant.begin(), tenant.end(), is_key_char) && !system.empty() && system.size() <= 14 && is_lcalpha(system.front()) &&
           std::all_of(system.begin(), system.end(), is_key_char);
}

// §3.3.1.3.2: value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E.
bool valid_tracestate_value(std::string_view value) noexcept
{
    const auto nblk = [](char c) { return c >= 0x21 && c <= 0x7e && c != ',' && c != '='; };
    return !value.empty() && value.size() <= 256 && nblk(value.back()) &&
           std::all_of(value.begin(), value.end(), [&](char c) { return c == ' ' || nblk(c); });
}

}  // namespace

bool trace_context::valid() const noexcept
{
    return !all_zero(trace_id) && !all_zero(span_id);
}

std::string trace_context::trace_id_hex() const
{
    return write_hex(trace_id);
}

std::string trace_context::span_id_hex() const
{
    return write_hex(span_id);
}

std::string trace_context::traceparent() const
{
    // "00-" trace-id "-" parent-id "-" flags, 55 characters written in place: one allocation, where
    // the two ids as strings of their own were two more (both past the short-string size).
    std::string out(55, '-');
    char* at = out.data();
    *at++ = '0';
    *at++ = '0';
    at = put_hex(trace_id, at + 1);
    at = put_hex(span_id, at + 1);
    ++at;
    *at++ = hex_digits[flags >> 4];
    *at = hex_digits[flags & 0x0f];
    return out;
}

std::optional<trace_context> parse_traceparent(std::string_view header)
{
    // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2.
    constexpr std::size_t v00_size = 55;
    if (header.size() < v00_size)
        return std::nullopt;
    std::array<std::uint8_t, 1> version{};
    if (!read_hex(header.substr(0, 2), version) || version[0] == 0xff || header[2] != '-' || header[35] != '-' || header[52] != '-')
        return std::nullopt;
    // Version 00 is exactly its layout; a later version may append fields after a "-" (§3.2.4).
    if (version[0] == 0x00 ? header.size() != v00_size : header.size() > v00_size && header[v00_size] != '-')
        return std::nullopt;
    trace_context parsed;
    std::array<std::uint8_t, 1> flags{};
    if (!read_hex(header.substr(3, 32), parsed.trace_id) || !read_hex(header.substr(36, 16), parsed.span_id) ||
        !read_hex(header.substr(53, 2), flags))
        return std::nullopt;
    if (!parsed.valid())
        return std::nullopt;
    parsed.flags = flags[0] & 0x01;
    return parsed;
}

std::optional<std::string> parse_tracestate(std::string_view header)
{
    if (header.size() > max_tracestate_bytes)
        return std::nullopt;
    std::vector<std::string_view> keys;
    std::string out;
    while (true)
    {
        const auto comma = header.find(',');
        const auto member = trim_ows(header.substr(0, comma));
        if (!member.empty())
        {
            const auto eq = member.find('=');
            if (eq == std::string_view::npos)
                return std::nullopt;
            const auto key = member.substr(0, eq);
            if (!valid_tracestate_key(key) || !valid_tracestate_value(member.substr(eq + 1)))
                return std::nullopt;
            if (std::find(keys.begin(), keys.end(), key) != keys.end() || keys.size() == max_tracestate_members)
                return std::nullopt;
            keys.push_back(key);
            if (!out.empty())
                out.push_back(',');
            out.append(member);
        }
        if (comma == std::string_view::npos)
            break;
        header.remove_prefix(comma + 1);
    }
    return out;
}

trace_context start_trace()
{
    trace_context t;
    fill_random(t.trace_id);
    fill_random(t.span_id);
    t.flags = 0x01;
    return t;
}

trace_context child_span(const trace_context& parent)
{
    trace_context child = parent;
    fill_random(child.span_id);
    return child;
}

trace_context server_span(std::string_view traceparent, std::size_t traceparent_count, std::string_view tracestate)
{
    auto caller = traceparent_count == 1 ? parse_traceparent(traceparent) : std::nullopt;
    if (!caller)
        return start_trace();
    // §3.3.1.1: tracestate is read only when traceparent was valid.
    if (auto state = parse_tracestate(tracestate))
        caller->tracestate = std::move(*state);
    return child_span(*caller);
}

}  // namespace crd::core
