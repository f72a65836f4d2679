#pragma once
// A small absolute-URL parser for the URLs we accept in configuration and requests
// (decision service, JWKS, fhirServer). It accepts http and https only.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crd::core {

struct url
{
    std::string scheme;  // "http" or "https", lower case
    std::string host;    // without brackets for IPv6 literals
    std::uint16_t port{};
    std::string target;  // path plus query, at least "/"

    bool is_https() const noexcept { return scheme == "https"; }
    // scheme://host[:port] with the port omitted when it is the scheme's default.
    std::string origin() const;
};

// Parses an absolute http(s) URL. Returns nullopt for anything else: other schemes,
// user-info (credentials in URLs leak into logs), fragments, spaces or control characters.
// Hosts are strict: a DNS name or IPv4 address (letters, digits, '-', '_', dots between labels),
// or an IPv6 literal in brackets; so origin() of a parsed URL always parses to itself.
std::optional<url> parse_http_url(std::string_view text);

// Whether parse_http_url accepts `text`, without building the url (no allocation): for callers
// that only validate, such as every link in a decision service's cards and the caller's fhirServer.
bool is_http_url(std::string_view text);

// scheme://host[:port]/target in canonical form (lower-case scheme and host, default port
// omitted), so two spellings of one URL compare equal; empty when `text` does not parse.
std::string canonical_url(std::string_view text);

}  // namespace crd::core
