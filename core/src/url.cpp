#include <crd/core/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

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

bool is_hostname_char(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
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

bool valid_ipv6(const std::string& host)
{
    in6_addr addr{};
    return !host.empty() && host.size() < INET6_ADDRSTRLEN && inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

}  // namespace

std::optional<url> parse_http_url(std::string_view text)
{
    const auto bad_char = [](char c) { return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f; };
    if (text.empty() || std::any_of(text.begin(), text.end(), bad_char) || text.find('#') != text.npos)
        return std::nullopt;

    url out;
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos)
        return std::nullopt;
    for (char c : text.substr(0, scheme_end))
        out.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (out.scheme != "http" && out.scheme != "https")
        return std::nullopt;
    out.port = out.is_https() ? 443 : 80;

    std::string_view rest = text.substr(scheme_end + 3);
    const auto authority_end = std::min(rest.find('/'), rest.find('?'));
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        return std::nullopt;

    std::string_view port_text;
    bool has_port = false;
    if (authority.front() == '[')
    {
        const auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty())
        {
            if (after.front() != ':')
                return std::nullopt;
            has_port = true;
            port_text = after.substr(1);
        }
        std::transform(out.host.begin(), out.host.end(), out.host.begin(),
            [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
        if (!valid_ipv6(out.host))
            return std::nullopt;
    }
    else
    {
        const auto colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos)
        {
            has_port = true;
            port_text = authority.substr(colon + 1);
        }
        std::transform(out.host.begin(), out.host.end(), out.host.begin(),
            [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
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
    out.target = target.empty() ? "/" : std::string(target);
    if (out.target.front() == '?')
        out.target.insert(out.target.begin(), '/');
    return out;
}

std::string canonical_url(std::string_view text)
{
    const auto u = parse_http_url(text);
    return u ? u->origin() + u->target : std::string();
}

}  // namespace crd::core
