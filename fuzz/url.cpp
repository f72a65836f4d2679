// Target: core::parse_http_url, which every configured and caller-given URL goes through
// (decision service, JWKS and jku, fhirServer, public_base_url).
// Properties: is_http_url accepts exactly what parse_http_url accepts; an accepted URL is http or https with a host, a non-zero port and a target starting
// with "/"; and its origin() is itself a URL the parser accepts, with the same origin — the
// origin is what connections are pooled by and what jku / fhirServer comparisons use.

#include "fuzz_common.hpp"

#include <crd/core/url.hpp>

#include <string>

using crd::fuzz::broken;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = crd::fuzz::as_text(data, size);
    const auto u = crd::core::parse_http_url(text);
    if (crd::core::is_http_url(text) != u.has_value())
        broken("is_http_url and parse_http_url disagree", text);
    if (!u)
        return 0;
    if (u->scheme != "http" && u->scheme != "https")
        broken("parse_http_url accepted a scheme other than http(s)", text);
    if (u->host.empty())
        broken("parse_http_url accepted an empty host", text);
    if (u->port == 0)
        broken("parse_http_url accepted port 0", text);
    if (u->target.empty() || u->target.front() != '/')
        broken("parse_http_url gave a target that does not start with /", text);

    const std::string origin = u->origin();
    const auto again = crd::core::parse_http_url(origin);
    if (!again)
        broken("the origin() of an accepted URL does not parse (known defect: URL origin round trip)", std::string(text) + "  ->  " + origin);
    if (again->origin() != origin)
        broken("the origin() of an accepted URL parses to another origin (known defect: URL origin round trip)",
            std::string(text) + "  ->  " + origin + "  ->  " + again->origin());
    if (again->scheme != u->scheme || again->host != u->host || again->port != u->port || again->target != "/")
        broken("the origin() of an accepted URL parses to other parts", std::string(text) + "  ->  " + origin);
    return 0;
}
