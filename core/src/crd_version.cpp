#include <crd/core/crd_version.hpp>
#include <crd/core/hook_request.hpp>
#include <crd/core/operation_outcome.hpp>

#include <boost/json/value.hpp>

#include <charconv>
#include <optional>

namespace crd::core {
namespace {

struct major_minor
{
    unsigned major = 0;
    unsigned minor = 0;
    auto operator<=>(const major_minor&) const = default;
};

// "2.2" or "2.2.1": numbers of at most four digits, no sign, no spaces, nothing after.
std::optional<major_minor> parse_version(std::string_view s)
{
    major_minor v;
    unsigned patch = 0;
    unsigned* parts[] = {&v.major, &v.minor, &patch};
    std::size_t part = 0;
    const char* p = s.data();
    const char* end = s.data() + s.size();
    while (true)
    {
        const char* begin = p;
        auto [next, ec] = std::from_chars(p, end, *parts[part]);
        if (ec != std::errc{} || next == begin || next - begin > 4)
            return std::nullopt;
        p = next;
        ++part;
        if (p == end)
            break;
        if (*p != '.' || part == 3)
            return std::nullopt;
        ++p;
    }
    if (part < 2)
        return std::nullopt;
    return v;
}

constexpr major_minor version_of(crd_version v)
{
    switch (v)
    {
    case crd_version::v2_0: return {2, 0};
    case crd_version::v2_1: return {2, 1};
    case crd_version::v2_2:
    case crd_version::count_: break;
    }
    return {2, 2};
}

std::string served_list()
{
    std::string out;
    for (const auto v : served_crd_versions)
        out.append(out.empty() ? "" : ", ").append(to_string(v));
    return out;
}

}  // namespace

std::string_view to_string(crd_version v) noexcept
{
    switch (v)
    {
    case crd_version::v2_0: return "2.0";
    case crd_version::v2_1: return "2.1";
    case crd_version::v2_2:
    case crd_version::count_: break;
    }
    return "2.2";
}

result<crd_version, error> negotiate_crd_version(const boost::json::value& requested)
{
    // The diagnostics start with the field, as every other validation error's do.
    static constexpr std::string_view path = "extension.davinci-crd.requestedVersion";
    if (!requested.is_string())
        return error{request_errc::wrong_structure, std::string(path) + " must be a string naming a CRD version, e.g. \"2.2\"", std::string(path)};
    const std::string_view text = requested.get_string();
    const auto asked = parse_version(text);
    if (!asked)
        return error{request_errc::bad_value, std::string(path) + " must be a CRD version such as \"2.2\", got '" + quote_for_diagnostics(text) + "'",
            std::string(path)};
    // The newest served version that is not newer than the one asked for.
    std::optional<crd_version> chosen;
    for (const auto v : served_crd_versions)
        if (version_of(v) <= *asked)
            chosen = v;
    if (!chosen)
        return error{request_errc::unsupported_version,
            std::string(path) + " '" + quote_for_diagnostics(text) + "' is not a CRD version served here; this server answers in " + served_list(),
            std::string(path)};
    return *chosen;
}

}  // namespace crd::core
