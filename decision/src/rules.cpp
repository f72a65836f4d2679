#include <crd/decision/rules.hpp>

#include <crd/core/hook_request.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/url.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
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
        if (std::find(seen_.begin(), seen_.end(), key) == seen_.end())
            seen_.push_back(key);
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
    // The array under `key`, or nullptr when absent; anything but an array is an error.
    const json::array* array(std::string_view key, const char* what)
    {
        const json::value* v = find(key);
        if (!v)
            return nullptr;
        if (!v->is_array())
            fail(at(key), std::string("must be an array of ") + what);
        return &v->get_array();
    }
    void done() const
    {
        for (const auto& kv : *obj_)
            if (std::find(seen_.begin(), seen_.end(), kv.key()) == seen_.end())
                fail(at(kv.key()), "is not a known rules field");
    }
    // The members nobody asked for (a decision service's own additions, which are not errors).
    std::vector<std::string> unknown_keys() const
    {
        std::vector<std::string> out;
        for (const auto& kv : *obj_)
            if (std::find(seen_.begin(), seen_.end(), kv.key()) == seen_.end())
                out.emplace_back(kv.key());
        return out;
    }

private:
    const json::object* obj_{};
    std::string path_;
    // Keys asked for: literals, or keys of the document read, which outlives its readers. A few
    // dozen at most, so a vector beats a set (a decision service's answer is read per call).
    std::vector<std::string_view> seen_;
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

std::string item(const std::string& path, std::size_t i)
{
    return path + "[" + std::to_string(i) + "]";
}

bool contains(const std::vector<std::string>& list, std::string_view value)
{
    return std::find(list.begin(), list.end(), value) != list.end();
}

// Who gives a determination: a rule of the rules file, or a decision service's per-order answer
// (decisions protocol), which may also say what only a live system can know.
enum class determination_source : std::uint8_t
{
    rule,
    decision_service,
};

// `indeterminate` (CRD 2.2) says the payer could not decide because something failed; the server
// says it by itself (technical failures), so a rule, which is a decision, cannot. A decision
// service may: its own claims system may have failed it.
void check_determination_code(
    const std::string& path, const std::string& value, std::initializer_list<std::string_view> allowed, determination_source source)
{
    if (value == "indeterminate")
    {
        if (source == determination_source::rule)
            fail(path, "cannot be 'indeterminate' in a rule: the server says it by itself when a technical failure prevents a decision");
        return;
    }
    check_code(path, value, allowed);
}

// An absolute URI (http:, https:, urn:, ...): a scheme of letters, digits, '+', '-', '.', then ':'.
bool is_absolute_uri(std::string_view s)
{
    const auto colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size() || !std::isalpha(static_cast<unsigned char>(s[0])))
        return false;
    return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(colon),
        [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'; });
}

// YYYY-MM-DD naming a day of the Gregorian calendar.
bool is_date(std::string_view s)
{
    if (s.size() != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (std::size_t i : {0U, 1U, 2U, 3U, 5U, 6U, 8U, 9U})
        if (!std::isdigit(static_cast<unsigned char>(s[i])))
            return false;
    const auto number = [&](std::size_t from, std::size_t n) {
        unsigned v = 0;
        for (std::size_t i = from; i < from + n; ++i)
            v = v * 10 + static_cast<unsigned>(s[i] - '0');
        return v;
    };
    const std::chrono::year_month_day day{
        std::chrono::year{static_cast<int>(number(0, 4))}, std::chrono::month{number(5, 2)}, std::chrono::day{number(8, 2)}};
    return day.ok();
}

// doc_needed: one code (as CRD 2.0 has it) or several (2.1+).
std::vector<std::string> read_doc_needed(reader& r, determination_source source)
{
    std::vector<std::string> out;
    const json::value* v = r.find("doc_needed");
    if (!v)
        return out;
    if (v->is_string())
        out.emplace_back(v->get_string());
    else if (v->is_array())
        for (std::size_t i = 0; i < v->get_array().size(); ++i)
        {
            const auto& code = v->get_array()[i];
            if (!code.is_string())
                fail(item(r.at("doc_needed"), i), "must be a string");
            out.emplace_back(code.get_string());
        }
    else
        fail(r.at("doc_needed"), "must be a code or an array of codes");
    for (std::size_t i = 0; i < out.size(); ++i)
    {
        const std::string path = v->is_array() ? item(r.at("doc_needed"), i) : r.at("doc_needed");
        check_determination_code(path, out[i], {"clinical", "admin", "patient", "both", "conditional"}, source);
        if (std::find(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(i), out[i]) != out.begin() + static_cast<std::ptrdiff_t>(i))
            fail(path, "repeats '" + out[i] + "'");
    }
    // `both` is CRD 2.0's clinical + admin; with either of them it says one thing twice.
    if (contains(out, "both") && (contains(out, "clinical") || contains(out, "admin")))
        fail(r.at("doc_needed"), "cannot list 'both' with 'clinical' or 'admin' ('both' is clinical and admin)");
    return out;
}

// The reason codes a rule can give (temp CodeSystem, CRDCoverageAssertionReasons). The others
// (technical, no-member-found, no-active-coverage, coverage-not-found) describe what the server
// finds about a request, which it says by itself.
const std::map<std::string, std::string, std::less<>>& rule_reason_codes()
{
    static const std::map<std::string, std::string, std::less<>> codes{
        {std::string(reason_code::gold_card), "Gold card"},
        {std::string(reason_code::auth_out_network), "Authorization needed out-of-network"},
    };
    return codes;
}

// The situations a decision service finds about a request (its member lookup failed, ...): it may
// give these codes, which a rule cannot.
const std::map<std::string, std::string, std::less<>>& finding_reason_codes()
{
    static const std::map<std::string, std::string, std::less<>> codes{
        {std::string(reason_code::technical), "Technical issue"},
        {std::string(reason_code::no_member_found), "No member found"},
        {std::string(reason_code::no_active_coverage), "No active coverage"},
        {std::string(reason_code::coverage_not_found), "Coverage not found"},
    };
    return codes;
}

std::vector<coded> read_reason_codes(reader& r, determination_source source)
{
    std::vector<coded> out;
    const auto codes = r.strings("reason_codes");
    for (std::size_t i = 0; i < codes.size(); ++i)
    {
        auto known = rule_reason_codes().find(codes[i]);
        if (known == rule_reason_codes().end())
        {
            const auto finding = finding_reason_codes().find(codes[i]);
            if (finding == finding_reason_codes().end())
                fail(item(r.at("reason_codes"), i), source == determination_source::rule
                                                        ? "must be one of gold-card, auth-out-network (got '" + codes[i] + "')"
                                                        : "must be one of gold-card, auth-out-network, technical, no-member-found, "
                                                          "no-active-coverage, coverage-not-found (got '" +
                                                              codes[i] + "')");
            if (source == determination_source::rule)
                fail(item(r.at("reason_codes"), i),
                    "cannot be '" + codes[i] + "' in a rule: the server gives it by itself when it finds that situation");
            known = finding;
        }
        out.push_back({std::string(crd_temp_system), known->first, known->second, {}});
    }
    return out;
}

// THO crd-coverage-detail (CRD 2.2 detail codes): display, the category its parent names, and the
// value type its definition asks for.
struct detail_code_info
{
    std::string_view display;
    std::string_view category;
    std::string_view value;  // boolean | string | url | quantity | period
};

const std::map<std::string, detail_code_info, std::less<>>& coverage_detail_codes()
{
    static const std::map<std::string, detail_code_info, std::less<>> codes{
        {"allowed-quantity", {"Maximum quantity", "cat-limitation", "quantity"}},
        {"allowed-period", {"Maximum allowed period", "cat-limitation", "period"}},
        {"in-network-copay", {"Copay for in-network", "cat-decisional", "quantity"}},
        {"out-network-copay", {"Copay for out-of-network", "cat-decisional", "quantity"}},
        {"concurrent-review", {"Concurrent review", "cat-decisional", "boolean"}},
        {"appropriate-use-needed", {"Appropriate use", "cat-decisional", "boolean"}}, {"policy-link", {"Policy Link", "cat-other", "url"}},
        {"instructions", {"Instructions", "", "string"}},  // "Category may vary"
    };
    return codes;
}

std::string known_codes(const std::map<std::string, detail_code_info, std::less<>>& codes)
{
    std::string list;
    for (const auto& kv : codes)
        list += (list.empty() ? "" : ", ") + kv.first;
    return list;
}

// A code system given as an alias of code_systems or as an absolute URI.
std::string read_system(reader& r, std::string_view key, const rule_set& rs, bool required)
{
    std::string system = r.string(key, required);
    if (system.empty())
        return system;
    system = std::string(rs.canonical_system(system));
    if (!is_absolute_uri(system))
        fail(r.at(key), "must be an alias from code_systems or an absolute URI (got '" + system + "')");
    return system;
}

coded read_detail_code(const json::value& v, const std::string& path, const rule_set& rs)
{
    coded code;
    if (v.is_string())
    {
        code.system = crd_coverage_detail_system;
        code.code = std::string(v.get_string());
    }
    else
    {
        reader c(v, path);
        code.system = read_system(c, "system", rs, false);
        if (code.system.empty())
            code.system = crd_coverage_detail_system;
        code.code = c.string("code", true);
        code.display = c.string("display");
        c.done();
    }
    if (code.system == crd_coverage_detail_system)
    {
        const auto known = coverage_detail_codes().find(code.code);
        if (known == coverage_detail_codes().end())
            fail(path, "must be a code of " + std::string(crd_coverage_detail_system) + ": " + known_codes(coverage_detail_codes()) + " (got '" +
                           code.code + "'); codes of another system need its system");
        if (code.display.empty())
            code.display = known->second.display;
    }
    return code;
}

// {"quantity": {value, unit, system?, code?}} -> a SimpleQuantity (no comparator).
json::object read_quantity(const json::value& v, const std::string& path)
{
    reader q(v, path);
    json::object out;
    const json::value* value = q.find("value");
    if (!value || !value->is_number())
        fail(q.at("value"), "is required: a number");
    out["value"] = *value;
    out["unit"] = q.string("unit", true);
    const std::string system = q.string("system");
    const std::string code = q.string("code");
    if (!system.empty() && !is_absolute_uri(system))
        fail(q.at("system"), "must be an absolute URI such as http://unitsofmeasure.org");
    // FHIR qty-3: a coded unit names its system.
    if (!code.empty() && system.empty())
        fail(q.at("system"), "is required when code is given (FHIR qty-3)");
    if (!system.empty())
        out["system"] = system;
    if (!code.empty())
        out["code"] = code;
    q.done();
    return out;
}

json::object read_period(const json::value& v, const std::string& path)
{
    reader p(v, path);
    json::object out;
    const std::string start = p.string("start");
    const std::string end = p.string("end");
    if (start.empty() && end.empty())
        fail(path, "needs start, end or both (YYYY-MM-DD)");
    if (!start.empty() && !is_date(start))
        fail(p.at("start"), "must be a date YYYY-MM-DD (got '" + start + "')");
    if (!end.empty() && !is_date(end))
        fail(p.at("end"), "must be a date YYYY-MM-DD (got '" + end + "')");
    if (!start.empty() && !end.empty() && end < start)
        fail(p.at("end"), "must not be before start");
    if (!start.empty())
        out["start"] = start;
    if (!end.empty())
        out["end"] = end;
    p.done();
    return out;
}

// "value": exactly one of boolean, string, url, quantity, period -> {"value<Type>": ...}.
// Returns the type read ("boolean", ...).
std::string read_detail_value(const json::value& v, const std::string& path, json::object& out)
{
    if (!v.is_object() || v.get_object().size() != 1)
        fail(path, "must be an object with exactly one of boolean, string, url, quantity, period");
    const auto& [key, value] = *v.get_object().begin();
    const std::string at = path + "." + std::string(key);
    if (key == "boolean")
    {
        if (!value.is_bool())
            fail(at, "must be true or false");
        out["valueBoolean"] = value.get_bool();
    }
    else if (key == "string")
    {
        if (!value.is_string() || value.get_string().empty())
            fail(at, "must be a non-empty string");
        out["valueString"] = value.get_string();
    }
    else if (key == "url")
    {
        if (!value.is_string() || !core::is_http_url(value.get_string()))
            fail(at, "must be an absolute http(s) URL");
        out["valueUrl"] = value.get_string();
    }
    else if (key == "quantity")
        out["valueQuantity"] = read_quantity(value, at);
    else if (key == "period")
        out["valuePeriod"] = read_period(value, at);
    else
        fail(at, "is not a detail value type: use one of boolean, string, url, quantity, period");
    return std::string(key);
}

std::vector<coverage_detail> read_details(reader& r, const rule_set& rs)
{
    std::vector<coverage_detail> out;
    const json::array* list = r.array("details", "{category?, code, value, qualification?}");
    if (!list)
        return out;
    for (std::size_t i = 0; i < list->size(); ++i)
    {
        const std::string path = item(r.at("details"), i);
        reader d((*list)[i], path);
        coverage_detail detail;
        const json::value* code = d.find("code");
        if (!code)
            fail(d.at("code"), "is required: a crd-coverage-detail code or {system?, code, display?}");
        detail.code = read_detail_code(*code, d.at("code"), rs);
        const json::value* value = d.find("value");
        if (!value)
            fail(d.at("value"), "is required: one of {boolean}, {string}, {url}, {quantity}, {period}");
        const std::string type = read_detail_value(*value, d.at("value"), detail.value);
        const auto known =
            detail.code.system == crd_coverage_detail_system ? coverage_detail_codes().find(detail.code.code) : coverage_detail_codes().end();
        // The code's definition says what its value is ("Value should be a Quantity").
        if (known != coverage_detail_codes().end() && type != known->second.value)
            fail(d.at("value"), "must be a " + std::string(known->second.value) + " for detail code '" + detail.code.code + "' (got " + type + ")");
        detail.category = d.string("category");
        if (!detail.category.empty())
            check_code(d.at("category"), detail.category, {"cat-limitation", "cat-decisional", "cat-other"});
        else if (known != coverage_detail_codes().end())
            detail.category = std::string(known->second.category);  // the code's parent in crd-coverage-detail
        detail.qualification = d.string("qualification");
        d.done();
        out.push_back(std::move(detail));
    }
    return out;
}

std::vector<coded> read_billing_codes(reader& r, const rule_set& rs)
{
    std::vector<coded> out;
    const json::array* list = r.array("billing_codes", "{system, code, display?}");
    if (!list)
        return out;
    for (std::size_t i = 0; i < list->size(); ++i)
    {
        reader b((*list)[i], item(r.at("billing_codes"), i));
        coded code;
        code.system = read_system(b, "system", rs, true);
        code.code = b.string("code", true);
        code.display = b.string("display");
        b.done();
        out.push_back(std::move(code));
    }
    return out;
}

std::vector<contact_detail> read_contacts(reader& r)
{
    std::vector<contact_detail> out;
    const json::array* list = r.array("contacts", "{name?, telecom: [{system, value}]}");
    if (!list)
        return out;
    for (std::size_t i = 0; i < list->size(); ++i)
    {
        reader c((*list)[i], item(r.at("contacts"), i));
        contact_detail contact;
        contact.name = c.string("name");
        const json::array* telecom = c.array("telecom", "{system, value}");
        if (!telecom || telecom->empty())
            fail(c.at("telecom"), "is required: at least one {system, value} (before CRD 2.2 each one is the contact)");
        for (std::size_t k = 0; k < telecom->size(); ++k)
        {
            reader t((*telecom)[k], item(c.at("telecom"), k));
            contact_point point{t.string("system", true), t.string("value", true)};
            check_code(t.at("system"), point.system, {"phone", "fax", "email", "pager", "url", "sms", "other"});
            if (point.system == "url" && !core::is_http_url(point.value))
                fail(t.at("value"), "must be an absolute http(s) URL when system is url");
            t.done();
            contact.telecom.push_back(std::move(point));
        }
        c.done();
        out.push_back(std::move(contact));
    }
    return out;
}

std::optional<unsigned> read_valid_days(reader& r)
{
    const json::value* v = r.find("valid_days");
    if (!v)
        return std::nullopt;
    constexpr std::int64_t max_days = 3650;  // ten years: a longer-lived assertion is a typo
    if (!v->is_int64() && !v->is_uint64())
        fail(r.at("valid_days"), "must be a whole number of days");
    const auto days = v->is_int64() ? v->get_int64() : static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), max_days + 1));
    if (days < 1 || days > max_days)
        fail(r.at("valid_days"), "must be between 1 and 3650 days (got " + std::to_string(days) + ")");
    return static_cast<unsigned>(days);
}

// Reads the determination fields of a rule or of "default", and checks the ext-coverage-information
// invariants a rule could break (CRD 2.0.1 to 2.2.1 CoverageInformation.fsh) so that the engine can
// never emit an invalid extension in any version. `reason_text`: the rule has a `reason` (a
// default has none).
determination read_determination(reader& r, const rule_set& rs, bool reason_text, determination_source source = determination_source::rule)
{
    const bool from_service = source == determination_source::decision_service;
    determination d;
    d.covered = r.string("covered", true);
    check_determination_code(r.at("covered"), d.covered, {"covered", "not-covered", "conditional"}, source);
    d.pa_needed = r.string("pa_needed");
    if (!d.pa_needed.empty())
    {
        // `satisfied` names an existing authorization: a decision service knows one, a rule cannot.
        if (from_service)
            check_determination_code(r.at("pa_needed"), d.pa_needed, {"no-auth", "auth-needed", "satisfied", "performpa", "conditional"}, source);
        else
            check_determination_code(r.at("pa_needed"), d.pa_needed, {"no-auth", "auth-needed", "performpa", "conditional"}, source);
    }
    d.doc_needed = read_doc_needed(r, source);
    d.doc_purpose = r.strings("doc_purpose");
    for (std::size_t i = 0; i < d.doc_purpose.size(); ++i)
        check_code(item(r.at("doc_purpose"), i), d.doc_purpose[i], {"withpa", "withclaim", "withorder", "retain-doc", "OTH"});
    d.info_needed = r.strings("info_needed");
    for (std::size_t i = 0; i < d.info_needed.size(); ++i)
        check_code(item(r.at("info_needed"), i), d.info_needed[i], {"performer", "location", "timeframe", "contract-window", "detail-code", "OTH"});
    d.questionnaire = r.strings("questionnaire");
    for (std::size_t i = 0; i < d.questionnaire.size(); ++i)
        if (!core::is_http_url(d.questionnaire[i]))
            fail(item(r.at("questionnaire"), i), "must be an absolute Questionnaire canonical URL");
    d.reason_codes = read_reason_codes(r, source);
    d.details = read_details(r, rs);
    d.billing_codes = read_billing_codes(r, rs);
    d.contacts = read_contacts(r);
    d.valid_days = read_valid_days(r);
    if (from_service)
    {
        d.satisfied_pa_id = r.string("satisfied_pa_id");
        d.expiry_date = r.string("expiry_date");
        if (!d.expiry_date.empty() && !is_date(d.expiry_date))
            fail(r.at("expiry_date"), "must be a date YYYY-MM-DD (got '" + d.expiry_date + "')");
        if (!d.expiry_date.empty() && d.valid_days)
            fail(r.at("expiry_date"), "and valid_days say the same thing: give one of them");
        // crd-ci-q5: an authorization is named exactly when it satisfies the requirement.
        if (d.pa_needed == "satisfied" && d.satisfied_pa_id.empty())
            fail(r.at("satisfied_pa_id"), "is required when pa_needed is 'satisfied' (crd-ci-q5)");
        if (d.pa_needed != "satisfied" && !d.satisfied_pa_id.empty())
            fail(r.at("satisfied_pa_id"), "is only allowed when pa_needed is 'satisfied' (crd-ci-q5)");
    }

    const std::string where_reason = reason_text ? "reason or reason_codes" : "reason_codes";
    const bool has_reason = reason_text || !d.reason_codes.empty();
    // crd-ci-q2: 2.0.1 (as its expression is written) needs pa-needed unless not-covered; 2.1+
    // forbids it with not-covered.
    if (d.covered != "not-covered" && d.pa_needed.empty())
        fail(r.at("pa_needed"), "is required when covered is '" + d.covered + "'");
    if (d.covered == "not-covered" && !d.pa_needed.empty())
        fail(r.at("pa_needed"), "must be absent when covered is 'not-covered' (crd-ci-q2)");
    // crd-ci-q1: questionnaires only come with a documentation requirement.
    if (!d.questionnaire.empty() && d.doc_needed.empty())
        fail(r.at("questionnaire"), "needs doc_needed to be set");
    if (!d.doc_purpose.empty() && d.doc_needed.empty())
        fail(r.at("doc_purpose"), "needs doc_needed to be set");
    // crd-ci-q3: info-needed only when something is conditional.
    if (!d.info_needed.empty() && d.covered != "conditional" && d.pa_needed != "conditional" && !contains(d.doc_needed, "conditional"))
        fail(r.at("info_needed"), "needs covered, pa_needed or doc_needed to be 'conditional'");
    // crd-ci-q4 (2.2): documentation is not sent with a prior authorization that is not needed.
    if (contains(d.doc_purpose, "withpa") && (d.pa_needed == "no-auth" || d.covered == "not-covered"))
        fail(r.at("doc_purpose"), "cannot hold 'withpa' when " +
                                      (d.covered == "not-covered" ? std::string("covered is 'not-covered'") : "pa_needed is 'no-auth'") +
                                      " (crd-ci-q4)");
    // crd-ci-q6 (2.2): info-needed OTH says in a reason what is needed.
    if (contains(d.info_needed, "OTH") && !has_reason)
        fail(r.at("info_needed"), "holds 'OTH', which needs " + where_reason + " to say what is needed (crd-ci-q6)");
    // crd-ci-q8 (2.2): a documentation purpose comes with a reason.
    if (!d.doc_purpose.empty() && !has_reason)
        fail(r.at("doc_purpose"), "needs " + where_reason + " (crd-ci-q8)");
    // crd-ci-q9 (2.2): indeterminate says why.
    const bool indeterminate = d.covered == "indeterminate" || d.pa_needed == "indeterminate" || contains(d.doc_needed, "indeterminate");
    if (indeterminate && !has_reason)
        fail(r.at("covered"), "is 'indeterminate' somewhere, which needs " + where_reason + " to say why (crd-ci-q9)");
    return d;
}

bool is_reference(const std::string& s)
{
    const auto slash = s.find('/');
    return slash != std::string::npos && slash > 0 && slash + 1 < s.size() && s.find('/', slash + 1) == std::string::npos;
}

// What a rule (or a decision) says about an order: its determination, the reason, and the cards
// that explain it (summary, topic, indicator, links, instructions).
void read_advice(reader& r, const rule_set& rs, rule& x, determination_source source)
{
    x.reason = r.string("reason");
    x.result = read_determination(r, rs, !x.reason.empty(), source);
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
            if (!core::is_http_url(link.url))
                fail(l.at("url"), "must be an absolute http(s) URL (CRD External Reference links are absolute)");
            l.done();
            x.links.push_back(std::move(link));
        }
    }
    x.instructions = r.string("instructions");
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
        if (!out.payer_url.empty() && !core::is_http_url(out.payer_url))
            fail("payer.url", "must be an absolute URL");
        out.payer_references = payer.strings("references");
        for (std::size_t i = 0; i < out.payer_references.size(); ++i)
            if (!out.payer_references[i].starts_with("Organization/") || !is_reference(out.payer_references[i]))
                fail(item("payer.references", i), "must be a reference of the form Organization/id (got '" + out.payer_references[i] + "')");
        if (const json::array* ids = payer.array("identifiers", "{system, value}"))
            for (std::size_t i = 0; i < ids->size(); ++i)
            {
                reader id((*ids)[i], item("payer.identifiers", i));
                coded_value identifier{id.string("system", true), id.string("value", true)};
                if (!is_absolute_uri(identifier.system))
                    fail(id.at("system"), "must be an absolute URI (got '" + identifier.system + "')");
                id.done();
                out.payer_identifiers.push_back(std::move(identifier));
            }
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
        out.fallback = read_determination(d, out, false);
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
        read_advice(r, out, x, determination_source::rule);
        r.done();
        out.rules.push_back(std::move(x));
    }
    root.done();
    // Most specific first; stable, so file order decides among equals.
    std::stable_sort(out.rules.begin(), out.rules.end(), [](const rule& a, const rule& b) { return a.specificity() > b.specificity(); });
    return out;
}

order_decision parse_order_decision(const json::value& v, const std::string& path)
{
    static const rule_set no_aliases;  // a decision names code systems by URI
    try
    {
        order_decision out;
        reader r(v, path);
        out.order = r.string("order", true);
        if (!is_reference(out.order))
            fail(r.at("order"), "must be the reference of an order of the request, Type/id (got '" + core::quote_for_diagnostics(out.order) + "')");
        read_advice(r, no_aliases, out.advice, determination_source::decision_service);
        out.advice.id = out.order;
        out.ignored_fields = r.unknown_keys();
        return out;
    }
    catch (const rules_error& e)
    {
        // fail() speaks of the rules file; this is the decision service's answer.
        std::string what = e.what();
        constexpr std::string_view rules_prefix = "rules field ";
        if (what.starts_with(rules_prefix))
            what.replace(0, rules_prefix.size(), "decision field ");
        throw rules_error(what);
    }
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
