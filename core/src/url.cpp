#include <crd/core/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

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

std::optional<url> parse_http_url(std::string_view text)
{
    const auto bad_char = [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; };
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
            port_text = after.substr(1);
        }
    }
    else
    {
        const auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos)
            port_text = authority.substr(colon + 1);
    }
    if (out.host.empty())
        return std::nullopt;
    if (authority.find(':') != std::string_view::npos && authority.front() != '[' && port_text.empty())
        return std::nullopt;  // "host:" with nothing after the colon
    if (!port_text.empty())
    {
        unsigned value = 0;
        const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 || value > 65535)
            return std::nullopt;
        out.port = static_cast<std::uint16_t>(value);
    }
    std::transform(out.host.begin(), out.host.end(), out.host.begin(), [](char c) {
        return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    out.target = target.empty() ? "/" : std::string(target);
    if (out.target.front() == '?')
        out.target.insert(out.target.begin(), '/');
    return out;
}

}  // namespace crd::core
