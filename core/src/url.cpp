#include <crd/core/url.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <arpa/inet.h>
#include <netinet/in.h>

namespace crd::core {

std::string url::origin() const
{
    const bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    const bool ipv6 = host.find(':') != std::string::npos;
    std::string out = scheme + "://" + (ipv6 ? "[" + host + "]" : host);
    if (!default_port)
        out += ":" + std::to_string(port);
    return out;
}

namespace {

// ASCII only, without the locale lookups of <cctype>: a URL's scheme and host are ASCII here.
char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Letters, digits, '-' and '_': a table, as every card link and fhirServer of every call is checked
// a byte at a time (issue 19).
constexpr std::array<bool, 256> hostname_chars = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 256; ++c)
        table[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    return table;
}();

bool is_hostname_char(char c)
{
    return hostname_chars[static_cast<unsigned char>(c)];
}

// A DNS name or dotted IPv4 address: labels of letters, digits, '-' and '_', one optional
// trailing dot. Nothing that would need quoting in a Host header or a log line.
bool valid_reg_name(std::string_view host)
{
    if (host.empty() || host.size() > 253)
        return false;
    if (host.back() == '.')
        host.remove_suffix(1);
    std::size_t label = 0;
    for (char c : host)
    {
        if (c == '.')
        {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!is_hostname_char(c) || ++label > 63)
            return false;
    }
    return label > 0;
}

bool valid_ipv6(std::string_view host)
{
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (host.empty() || host.size() >= text.size())
        return false;
    std::copy(host.begin(), host.end(), text.begin());
    in6_addr addr{};
    return inet_pton(AF_INET6, text.data(), &addr) == 1;
}

bool iequals_ascii(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// A URL checked and cut into views of `text`, nothing copied: parse_http_url builds a url from it,
// is_http_url (every caller that only validates: cards' links, fhirServer) stops here.
struct url_parts
{
    bool https = false;
    std::string_view host;  // as given (any case), without IPv6 brackets
    std::uint16_t port = 0;
    std::string_view target;  // empty, or starting with '/' or '?'
};

// A byte no URL we take may hold: a space or control character, non-ASCII, DEL, or a fragment's '#'.
bool has_bad_url_byte(std::string_view text) noexcept
{
    // Sixteen bytes at a time (SSE2, which every x86-64 has): every card link and fhirServer of
    // every call passes here (issue 19).
    const char* at = text.data();
    const char* const end = at + text.size();
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20);
    const __m128i del = _mm_set1_epi8(0x7F);
    const __m128i hash = _mm_set1_epi8('#');
    for (; end - at >= 16; at += 16)
    {
        __m128i bytes{};
        std::memcpy(&bytes, at, sizeof bytes);
        const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(bytes, space), bytes);  // <= 0x20, unsigned
        const __m128i high = _mm_cmpeq_epi8(_mm_max_epu8(bytes, del), bytes);   // >= 0x7F, unsigned
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(low, high), _mm_cmpeq_epi8(bytes, hash))) != 0)
            return true;
    }
#endif
    return std::any_of(at, end, [](char c) { return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == '#'; });
}

std::optional<url_parts> split_http_url(std::string_view text)
{
    if (text.empty() || has_bad_url_byte(text))
        return std::nullopt;

    url_parts out;
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos)
        return std::nullopt;
    const std::string_view scheme = text.substr(0, scheme_end);
    out.https = iequals_ascii(scheme, "https");
    if (!out.https && !iequals_ascii(scheme, "http"))
        return std::nullopt;
    out.port = out.https ? 443 : 80;

    std::string_view rest = text.substr(scheme_end + 3);
    // The authority ends at the first '/' or '?'. A '?' can only end it before the first '/', so
    // the second search reads no further than the authority (memchr, not a loop a byte at a time).
    const auto slash = rest.find('/');
    const auto authority_end = std::min(slash, rest.substr(0, slash).find('?'));
    std::string_view authority = rest.substr(0, authority_end);
    out.target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        return std::nullopt;

    std::string_view port_text;
    bool has_port = false;
    if (authority.front() == '[')
    {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        out.host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty())
        {
            if (after.front() != ':')
                return std::nullopt;
            has_port = true;
            port_text = after.substr(1);
        }
        if (!valid_ipv6(out.host))
            return std::nullopt;
    }
    else
    {
        const auto colon = authority.find(':');
        out.host = authority.substr(0, colon);
        if (colon != std::string_view::npos)
        {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        if (!valid_reg_name(out.host))
            return std::nullopt;
    }
    if (has_port)
    {
        // Digits only: from_chars would stop at the first non-digit, which the length check catches.
        if (port_text.empty() || port_text.size() > 5 ||
            !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        unsigned value = 0;
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (value == 0 || value > 65535)
            return std::nullopt;
        out.port = static_cast<std::uint16_t>(value);
    }
    return out;
}

}  // namespace

std::optional<url> parse_http_url(std::string_view text)
{
    const auto parts = split_http_url(text);
    if (!parts)
        return std::nullopt;
    url out;
    out.scheme = parts->https ? "https" : "http";
    out.host.resize(parts->host.size());
    std::transform(parts->host.begin(), parts->host.end(), out.host.begin(), ascii_lower);
    out.port = parts->port;
    if (parts->target.empty())
        out.target = "/";
    else if (parts->target.front() == '?')
        out.target = "/" + std::string(parts->target);
    else
        out.target = std::string(parts->target);
    return out;
}

bool is_http_url(std::string_view text)
{
    return split_http_url(text).has_value();
}

std::string canonical_url(std::string_view text)
{
    const auto u = parse_http_url(text);
    return u ? u->origin() + u->target : std::string();
}

}  // namespace crd::core
