#include <crd/decision/rules.hpp>

#include <crd/core/json_document.hpp>
#include <crd/core/url.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace json = boost::json;

namespace crd::decision {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what)
{
    throw rules_error("rules field '" + path + "' " + what);
}

// Same strictness as the configuration: unknown keys are errors, so a typo never silently
// turns a prior-authorization rule into "covered".
class reader
{
public:
    reader(const json::value& v, std::string path) : path_(std::move(path))
    {
        if (!v.is_object())
            fail(path_, "must be a JSON object");
        obj_ = &v.get_object();
    }
    const json::value* find(std::string_view key)
    {
        seen_.emplace(key);
        return obj_->if_contains(key);
    }
    std::string at(std::string_view key) const { return path_ + "." + std::string(key); }
    std::string string(std::string_view key, bool required = false)
    {
        const json::value* v = find(key);
        if (!v)
        {
            if (required)
                fail(at(key), "is required");
            return {};
        }
        if (!v->is_string() || v->get_string().empty())
            fail(at(key), "must be a non-empty string");
        return std::string(v->get_string());
    }
    std::vector<std::string> strings(std::string_view key)
    {
        std::vector<std::string> out;
        const json::value* v = find(key);
        if (!v)
            return out;
        if (!v->is_array())
            fail(at(key), "must be an array of strings");
        for (std::size_t i = 0; i < v->get_array().size(); ++i)
        {
            const auto& item = v->get_array()[i];
            if (!item.is_string() || item.get_string().empty())
                fail(at(key) + "[" + std::to_string(i) + "]", "must be a non-empty string");
            out.emplace_back(item.get_string());
        }
        return out;
    }
    void done() const
    {
        for (const auto& kv : *obj_)
            if (!seen_.count(std::string(kv.key())))
                fail(at(kv.key()), "is not a known rules field");
    }

private:
    const json::object* obj_{};
    std::string path_;
    std::set<std::string, std::less<>> seen_;
};

void check_code(const std::string& path, const std::string& value, std::initializer_list<std::string_view> allowed)
{
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end())
        return;
    std::string list;
    for (auto a : allowed)
        list += (list.empty() ? "" : ", ") + std::string(a);
    fail(path, "must be one of " + list + " (got '" + value + "')");
}

// Reads the determination fields of a rule or of "default", and checks the ext-coverage-information
// invariants (CRD 2.0.1 CoverageInformation.fsh) so that the engine can never emit an invalid extension.
determination read_determination(reader& r)
{
    determination d;
    d.covered = r.string("covered", true);
    check_code(r.at("covered"), d.covered, {"covered", "not-covered", "conditional"});
    d.pa_needed = r.string("pa_needed");
    if (!d.pa_needed.empty())
        check_code(r.at("pa_needed"), d.pa_needed, {"no-auth", "auth-needed", "performpa", "conditional"});
    if (auto doc_needed = r.string("doc_needed"); !doc_needed.empty())
    {
        check_code(r.at("doc_needed"), doc_needed, {"clinical", "admin", "both", "conditional"});
        d.doc_needed.push_back(std::move(doc_needed));
    }
    d.doc_purpose = r.strings("doc_purpose");
    for (const auto& p : d.doc_purpose)
        check_code(r.at("doc_purpose"), p, {"withpa", "withclaim", "withorder", "retain-doc", "OTH"});
    d.info_needed = r.strings("info_needed");
    for (const auto& p : d.info_needed)
        check_code(r.at("info_needed"), p, {"performer", "location", "timeframe", "contract-window", "OTH"});
    d.questionnaire = r.strings("questionnaire");
    for (std::size_t i = 0; i < d.questionnaire.size(); ++i)
        if (!core::parse_http_url(d.questionnaire[i]))
            fail(r.at("questionnaire") + "[" + std::to_string(i) + "]", "must be an absolute Questionnaire canonical URL");

    // crd-ci-q2 (as enforced by the 2.0.1 package): pa-needed is required unless not-covered.
    if (d.covered != "not-covered" && d.pa_needed.empty())
        fail(r.at("pa_needed"), "is required when covered is '" + d.covered + "'");
    // crd-ci-q1: questionnaires only come with a documentation requirement.
    if (!d.questionnaire.empty() && d.doc_needed.empty())
        fail(r.at("questionnaire"), "needs doc_needed to be set");
    if (!d.doc_purpose.empty() && d.doc_needed.empty())
        fail(r.at("doc_purpose"), "needs doc_needed to be set");
    // crd-ci-q3: info-needed only when something is conditional.
    if (!d.info_needed.empty() && d.covered != "conditional" &&
        std::find(d.doc_needed.begin(), d.doc_needed.end(), "conditional") == d.doc_needed.end())
        fail(r.at("info_needed"), "needs covered, pa_needed or doc_needed to be 'conditional'");
    return d;
}

bool is_reference(const std::string& s)
{
    const auto slash = s.find('/');
    return slash != std::string::npos && slash > 0 && slash + 1 < s.size() && s.find('/', slash + 1) == std::string::npos;
}

}  // namespace

std::string_view rule_set::canonical_system(std::string_view system) const
{
    const auto it = system_aliases.find(system);
    return it == system_aliases.end() ? system : std::string_view(it->second);
}

const std::map<std::string, std::string, std::less<>>& crd_card_types()
{
    static const std::map<std::string, std::string, std::less<>> types{
        {"coverage-info", "Coverage Information"},
        {"claim", "Claim"},
        {"insurance", "Insurance"},
        {"limits", "Limits"},
        {"network", "Network"},
        {"appropriate-use", "Appropriate Use"},
        {"cost", "Cost"},
        {"therapy-alternatives-opt", "Therapy Alternatives (optional)"},
        {"therapy-alternatives-req", "Therapy Alternatives (required)"},
        {"clinical-reminder", "Clinical Reminder"},
        {"duplicate-therapy", "Duplicate Therapy"},
        {"contraindication", "Contraindication"},
        {"guideline", "Guideline"},
        {"off-guideline", "Off Guideline"},
    };
    return types;
}

rule_set parse_rules(const json::value& doc)
{
    rule_set out;
    reader root(doc, "rules-file");

    if (const json::value* p = root.find("payer"))
    {
        reader payer(*p, "payer");
        out.payer_name = payer.string("name", true);
        if (out.payer_name.size() > 100)
            fail("payer.name", "must be at most 100 characters");
        out.payer_url = payer.string("url");
        if (!out.payer_url.empty() && !core::parse_http_url(out.payer_url))
            fail("payer.url", "must be an absolute URL");
        payer.done();
    }
    else
        fail("payer", "is required (its name is the source label of every card)");

    if (const json::value* p = root.find("code_systems"))
    {
        if (!p->is_object())
            fail("code_systems", "must be an object of alias -> [system URI, ...]");
        reader systems(*p, "code_systems");
        for (const auto& kv : p->get_object())
        {
            auto uris = systems.strings(kv.key());
            if (uris.empty())
                fail(systems.at(kv.key()), "must list at least one system URI");
            out.system_aliases.emplace(std::string(kv.key()), uris.front());
            for (const auto& uri : uris)
                if (!out.system_aliases.emplace(uri, uris.front()).second && out.system_aliases[uri] != uris.front())
                    fail(systems.at(kv.key()), "lists '" + uri + "', which another alias already lists");
        }
    }

    if (const json::value* p = root.find("default"))
    {
        reader d(*p, "default");
        out.fallback = read_determination(d);
        d.done();
    }
    else
        fail("default", "is required (the determination when no rule matches)");

    const json::value* list = root.find("rules");
    if (!list || !list->is_array())
        fail("rules", "is required and must be an array");
    std::set<std::string> ids;
    for (std::size_t i = 0; i < list->get_array().size(); ++i)
    {
        const std::string path = "rules[" + std::to_string(i) + "]";
        reader r(list->get_array()[i], path);
        rule x;
        x.id = r.string("id", true);
        if (!ids.insert(x.id).second)
            fail(r.at("id"), "repeats rule id '" + x.id + "'");
        x.description = r.string("description");

        const json::value* codes = r.find("codes");
        if (!codes || !codes->is_array() || codes->get_array().empty())
            fail(r.at("codes"), "is required: a non-empty array of {system, code}");
        for (std::size_t k = 0; k < codes->get_array().size(); ++k)
        {
            reader c(codes->get_array()[k], r.at("codes") + "[" + std::to_string(k) + "]");
            coded_value cv;
            cv.system = c.string("system", true);
            cv.code = c.string("code", true);
            c.done();
            // Aliases resolve now, so matching compares canonical URIs only.
            cv.system = std::string(out.canonical_system(cv.system));
            x.codes.push_back(std::move(cv));
        }
        x.payers = r.strings("payers");
        x.performers = r.strings("performers");
        for (const auto& p : x.payers)
            if (!is_reference(p))
                fail(r.at("payers"), "must hold references of the form Organization/id (got '" + p + "')");
        for (const auto& p : x.performers)
            if (!is_reference(p))
                fail(r.at("performers"), "must hold references of the form Type/id (got '" + p + "')");
        x.hooks = r.strings("hooks");
        for (const auto& h : x.hooks)
            check_code(
                r.at("hooks"), h, {"order-sign", "order-select", "order-dispatch", "appointment-book", "encounter-start", "encounter-discharge"});
        x.result = read_determination(r);
        x.reason = r.string("reason");
        x.summary = r.string("summary");
        if (x.summary.size() > 139)
            fail(r.at("summary"), "must be shorter than 140 characters (CDS Hooks card summary)");
        if (const json::value* t = r.find("topic"))
        {
            if (!t->is_string() || !crd_card_types().count(t->get_string()))
                fail(r.at("topic"), "must be a CRD card type code such as coverage-info, network or claim");
            x.topic = std::string(t->get_string());
        }
        x.indicator = r.string("indicator");
        if (!x.indicator.empty())
            check_code(r.at("indicator"), x.indicator, {"info", "warning", "critical"});
        if (const json::value* links = r.find("links"))
        {
            if (!links->is_array())
                fail(r.at("links"), "must be an array of {label, url}");
            for (std::size_t k = 0; k < links->get_array().size(); ++k)
            {
                reader l(links->get_array()[k], r.at("links") + "[" + std::to_string(k) + "]");
                rule_link link{l.string("label", true), l.string("url", true)};
                if (!core::parse_http_url(link.url))
                    fail(l.at("url"), "must be an absolute http(s) URL (CRD External Reference links are absolute)");
                l.done();
                x.links.push_back(std::move(link));
            }
        }
        x.instructions = r.string("instructions");
        r.done();
        out.rules.push_back(std::move(x));
    }
    root.done();
    // Most specific first; stable, so file order decides among equals.
    std::stable_sort(out.rules.begin(), out.rules.end(), [](const rule& a, const rule& b) { return a.specificity() > b.specificity(); });
    return out;
}

rule_set load_rules(const std::string& path)
{
    json::value doc;
    try
    {
        doc = core::read_json_file(path, "rules");
    }
    catch (const core::json_file_error& e)
    {
        throw rules_error(e.what());
    }
    try
    {
        return parse_rules(doc);
    }
    catch (const rules_error& e)
    {
        throw rules_error(path + ": " + e.what());
    }
}

}  // namespace crd::decision
