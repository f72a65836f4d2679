// Target: the two files an operator writes — the server configuration (core::parse_config) and the
// payer rules (decision::parse_rules) — read the way their loaders read them: JSON (parse_document,
// with the depth limit), refused when a key appears twice, then the strict schema. Every input is
// tried as both.
// Properties: a bad file is refused with the loader's own error type (config_error, rules_error),
// never another exception, a crash or UB.

#include "fuzz_common.hpp"

#include <crd/core/config.hpp>
#include <crd/core/json_document.hpp>
#include <crd/decision/rules.hpp>

#include <optional>
#include <string>

namespace json = boost::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = crd::fuzz::as_text(data, size);
    boost::system::error_code ec;
    const auto parsed = crd::core::parse_document(text, crd::fuzz::request_max_depth, ec);
    if (!parsed)
        return 0;
    const json::value& doc = *parsed;
    if (crd::core::first_duplicate_key(text))
        return 0;  // both loaders refuse the file here

    const crd::core::env_lookup no_environment = [](const char*) -> std::optional<std::string> { return std::nullopt; };
    try
    {
        const auto cfg = crd::core::parse_config(doc, "/etc/crd-server", no_environment, "/usr/share/crd-server/rules.json");
        (void)crd::core::required_prefetch_keys(cfg);
    }
    catch (const crd::core::config_error&)
    {
    }

    try
    {
        const auto rules = crd::decision::parse_rules(doc);
        std::size_t n = 0;
        for (const auto& r : rules.rules)
        {
            n += static_cast<std::size_t>(r.specificity());
            for (const auto& c : r.codes)
                n += rules.canonical_system(c.system).size();
        }
        (void)n;
    }
    catch (const crd::decision::rules_error&)
    {
    }
    return 0;
}
