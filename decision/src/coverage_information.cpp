#include <crd/decision/coverage_information.hpp>

#include <crd/core/ids.hpp>

#include <boost/json/array.hpp>

#include <algorithm>

namespace json = boost::json;

namespace crd::decision {
namespace {

using core::crd_version;

bool contains(const std::vector<std::string>& list, std::string_view value)
{
    return std::find(list.begin(), list.end(), value) != list.end();
}

void note(rendering_report& report, unsigned& counter, std::string text)
{
    ++counter;
    report.notes.push_back(std::move(text));
}

// Sized once and filled by emplace: operator[] on an empty object grows its table twice, and this
// runs a dozen times per order (the renderer is on every primary-hook call's path).
json::object value_ext(std::string_view url, std::string_view value_key, json::value value, const json::storage_ptr& sp)
{
    json::object e(2, sp);
    e.emplace("url", url);
    e.emplace(value_key, std::move(value));
    return e;
}

json::object coding_of(const coded& c, const json::storage_ptr& sp)
{
    json::object coding(3, sp);
    if (!c.system.empty())
        coding.emplace("system", c.system);
    coding.emplace("code", c.code);
    if (!c.display.empty())
        coding.emplace("display", c.display);
    return coding;
}

json::object codeable_concept(const coded& c, const json::storage_ptr& sp)
{
    json::object cc(2, sp);
    if (!c.code.empty())
        cc.emplace("coding", json::array({coding_of(c, sp)}, sp));
    if (!c.text.empty())
        cc.emplace("text", c.text);
    return cc;
}

// Reason codes each version's value set holds (CRDCoverageAssertionReasons).
bool reason_in_value_set(const coded& r, crd_version v)
{
    if (r.system != crd_temp_system)
        return false;
    if (r.code == reason_code::gold_card)
        return true;
    if (v < crd_version::v2_2)
        return r.code == "detail-code";
    return r.code == reason_code::technical || r.code == reason_code::no_member_found || r.code == reason_code::no_active_coverage ||
           r.code == reason_code::coverage_not_found || r.code == reason_code::auth_out_network;
}

bool is_conditional_anywhere(const coverage_assertion& a)
{
    return a.covered == "conditional" || a.pa_needed == "conditional" || contains(a.doc_needed, "conditional");
}

// Brings `a` to what `v` can say and what its invariants demand, noting each change.
void fit_to_version(coverage_assertion& a, crd_version v, rendering_report& report)
{
    const std::string_view name = core::to_string(v);
    // indeterminate (2.2) -> conditional with info-needed OTH; the reason says why (q9's reason).
    if (v < crd_version::v2_2)
    {
        bool downgraded = false;
        if (a.covered == "indeterminate")
            a.covered = "conditional", downgraded = true;
        if (a.pa_needed == "indeterminate")
            a.pa_needed = "conditional", downgraded = true;
        for (auto& d : a.doc_needed)
            if (d == "indeterminate")
                d = "conditional", downgraded = true;
        if (downgraded)
        {
            note(report, report.downgraded, "indeterminate is said as conditional in CRD " + std::string(name));
            if (!contains(a.info_needed, "OTH"))
                a.info_needed.emplace_back("OTH");
        }
        if (contains(a.info_needed, "detail-code"))
        {
            std::erase(a.info_needed, "detail-code");
            if (!contains(a.info_needed, "OTH"))
                a.info_needed.emplace_back("OTH");
            note(report, report.downgraded, "info-needed detail-code is said as OTH in CRD " + std::string(name));
        }
    }
    // Detail codes: 2.0.1 and 2.1.0 bind them to the temp CodeSystem, which holds the codes 2.2
    // moved to crd-coverage-detail.
    if (v < crd_version::v2_2)
        for (auto& d : a.details)
            if (d.code.system == crd_coverage_detail_system)
                d.code.system = crd_temp_system;
    // A detail's valueUrl arrived in 2.1.0.
    if (v == crd_version::v2_0)
        for (auto& d : a.details)
            if (auto* url = d.value.if_contains("valueUrl"))
            {
                json::value kept = std::move(*url);
                d.value.clear();
                d.value["valueString"] = std::move(kept);
                note(report, report.downgraded, "detail value url is said as a string in CRD " + std::string(name));
            }
    // doc-needed: one code in 2.0 (both = clinical + admin), several and no `both` from 2.1.
    if (v == crd_version::v2_0)
    {
        if (std::erase(a.doc_needed, "patient") > 0)
            note(report, report.dropped, "doc-needed patient has no code in CRD 2.0");
        const bool clinical = contains(a.doc_needed, "clinical") || contains(a.doc_needed, "both");
        const bool admin = contains(a.doc_needed, "admin") || contains(a.doc_needed, "both");
        if (a.doc_needed.size() > 1)
        {
            std::string one = clinical && admin ? "both" : contains(a.doc_needed, "conditional") ? "conditional" : a.doc_needed.front();
            a.doc_needed = {std::move(one)};
            note(report, report.downgraded, "several doc-needed codes are said as one in CRD 2.0");
        }
        if (!a.expiry_date.empty())
        {
            a.expiry_date.clear();
            note(report, report.dropped, "expiry-date has no place in CRD 2.0");
        }
    }
    else
    {
        if (auto both = std::find(a.doc_needed.begin(), a.doc_needed.end(), "both"); both != a.doc_needed.end())
        {
            a.doc_needed.erase(both);
            for (const char* each : {"clinical", "admin"})
                if (!contains(a.doc_needed, each))
                    a.doc_needed.emplace_back(each);
            note(report, report.downgraded, "doc-needed both is said as clinical and admin in CRD " + std::string(name));
        }
        if (!a.responses.empty())
        {
            a.responses.clear();
            note(report, report.dropped, "response has no place after CRD 2.0");
        }
    }
    if (v < crd_version::v2_2)
        for (auto& d : a.details)
            d.category.clear();
    else
        for (auto& d : a.details)
            if (d.category.empty())
                d.category = "cat-other";

    // q2: not-covered has no pa-needed.
    if (a.covered == "not-covered" && !a.pa_needed.empty())
    {
        a.pa_needed.clear();
        note(report, report.dropped, "pa-needed dropped: not-covered (crd-ci-q2)");
    }
    // q5: satisfied-pa-id if and only if pa-needed is satisfied. An id without `satisfied` is
    // dropped; `satisfied` without an id cannot be made true, so pa-needed is dropped.
    if (a.pa_needed == "satisfied" && a.satisfied_pa_id.empty())
    {
        a.pa_needed.clear();
        note(report, report.dropped, "pa-needed satisfied dropped: no satisfied-pa-id (crd-ci-q5)");
    }
    else if (a.pa_needed != "satisfied" && !a.satisfied_pa_id.empty())
    {
        a.satisfied_pa_id.clear();
        note(report, report.dropped, "satisfied-pa-id dropped: pa-needed is not satisfied (crd-ci-q5)");
    }
    // q2 as the 2.0.1 package writes it (and its validators enforce): anything but not-covered
    // carries pa-needed. Not said is not known: conditional.
    if (v == crd_version::v2_0 && a.covered != "not-covered" && a.pa_needed.empty())
    {
        a.pa_needed = "conditional";
        note(report, report.repaired, "pa-needed conditional added: CRD 2.0 requires pa-needed unless not-covered (crd-ci-q2)");
    }
    // q4: no withpa when prior authorization is satisfied (2.2: or not needed, or not covered).
    const bool no_pa = a.pa_needed == "satisfied" || (v == crd_version::v2_2 && (a.pa_needed == "no-auth" || a.covered == "not-covered"));
    if (no_pa && std::erase(a.doc_purpose, "withpa") > 0)
        note(report, report.dropped, "doc-purpose withpa dropped: no prior authorization to send it with (crd-ci-q4)");
    // q1: questionnaires (and 2.0 responses) only with doc-needed.
    if (a.doc_needed.empty() && !(a.questionnaires.empty() && a.responses.empty()))
    {
        a.questionnaires.clear();
        a.responses.clear();
        note(report, report.dropped, "questionnaire dropped: no doc-needed (crd-ci-q1)");
    }
    // q3: info-needed only when something is conditional; from 2.1: and always then.
    const bool conditional = is_conditional_anywhere(a);
    if (!conditional && !a.info_needed.empty())
    {
        a.info_needed.clear();
        note(report, report.dropped, "info-needed dropped: nothing is conditional (crd-ci-q3)");
    }
    else if (conditional && a.info_needed.empty() && v >= crd_version::v2_1)
    {
        a.info_needed.emplace_back("OTH");
        note(report, report.repaired, "info-needed OTH added: a conditional assertion says what it needs (crd-ci-q3)");
    }
    // Reasons: q7 (2.1+) a code outside the value set carries text; q6 (2.1+) info-needed OTH,
    // q8 (2.2) doc-purpose and q9 (2.2) indeterminate need a reason.
    if (v >= crd_version::v2_1)
    {
        for (auto& r : a.reasons)
            if (r.text.empty() && !reason_in_value_set(r, v))
            {
                r.text = r.display.empty() ? r.code : r.display;
                note(report, report.repaired, "reason text added for a code outside the value set (crd-ci-q7)");
            }
        const bool needs_reason = contains(a.info_needed, "OTH") ||
                                  (v == crd_version::v2_2 && (!a.doc_purpose.empty() || a.covered == "indeterminate" ||
                                                                 a.pa_needed == "indeterminate" || contains(a.doc_needed, "indeterminate")));
        if (needs_reason && a.reasons.empty())
        {
            a.reasons.push_back({{}, {}, {}, "The payer needs more information to determine coverage."});
            note(report, report.repaired, "reason added (crd-ci-q6/q8/q9)");
        }
    }
    // date and coverage-assertion-id are 1..1 in every version, and a FHIR date or string is never
    // empty: an assertion a decision service sent without them is dated today (the day the payer
    // asserts it to the EHR) and given an id of its own, not said with "".
    if (a.date.empty())
    {
        a.date = core::today_utc();
        note(report, report.repaired, "date added: required, the day of the answer");
    }
    if (a.assertion_id.empty())
    {
        a.assertion_id = core::new_uuid();
        note(report, report.repaired, "coverage-assertion-id added: required, a new id");
    }
}

}  // namespace

coded crd_reason(std::string_view code, std::string text)
{
    coded c;
    c.system = crd_temp_system;
    c.code = code;
    c.text = std::move(text);
    return c;
}

bool is_coverage_information(const json::value& extension) noexcept
{
    const json::value* url = extension.is_object() ? extension.get_object().if_contains("url") : nullptr;
    return url && url->is_string() && url->get_string() == coverage_information_url;
}

json::object with_coverage_information(json::object resource, json::object extension)
{
    // Any coverage information the EHR already holds for this order is replaced by the current one.
    json::array extensions(resource.storage());
    if (json::value* existing = resource.if_contains("extension"); existing && existing->is_array())
        for (auto& e : existing->get_array())
            if (!is_coverage_information(e))
                extensions.push_back(std::move(e));
    extensions.push_back(std::move(extension));
    resource["extension"] = std::move(extensions);
    return resource;
}

namespace {

// The sub-extensions of a fitted assertion in the profile's order, each handed to `out`: one with a
// single string value as out.text(url, value key, value), a valueReference as out.reference(url,
// reference), any other as out.structured(make), `make(sp)` building it. The one place that order
// is written: rendering builds from it, and says_exactly compares an extension with it.
template <class Out>
void each_sub_extension(const coverage_assertion& a, crd_version v, rendering_report& report, Out& out)
{
    if (!a.coverage_reference.empty())
        out.reference("coverage", a.coverage_reference);
    else
        out.structured([&](const json::storage_ptr& sp) {
            const std::string_view display =
                a.coverage_display.empty() ? std::string_view("No coverage was identified in the request") : std::string_view(a.coverage_display);
            json::object coverage(1, sp);
            coverage.emplace("display", display);
            return value_ext("coverage", "valueReference", std::move(coverage), sp);
        });
    out.text("covered", "valueCode", a.covered);
    if (!a.pa_needed.empty())
        out.text("pa-needed", "valueCode", a.pa_needed);
    for (const auto& d : a.doc_needed)
        out.text("doc-needed", "valueCode", d);
    for (const auto& p : a.doc_purpose)
        out.text("doc-purpose", "valueCode", p);
    for (const auto& i : a.info_needed)
        out.text("info-needed", "valueCode", i);
    for (const auto& b : a.billing_codes)
        out.structured([&](const json::storage_ptr& sp) { return value_ext("billingCode", "valueCoding", coding_of(b, sp), sp); });
    for (const auto& r : a.reasons)
        out.structured([&](const json::storage_ptr& sp) { return value_ext("reason", "valueCodeableConcept", codeable_concept(r, sp), sp); });
    for (const auto& d : a.details)
        out.structured([&](const json::storage_ptr& sp) {
            json::array parts(sp);
            if (!d.category.empty())
                parts.push_back(value_ext("category", "valueCode", json::string(d.category, sp), sp));
            parts.push_back(value_ext("code", "valueCodeableConcept", codeable_concept(d.code, sp), sp));
            json::object value(d.value, sp);
            value["url"] = "value";
            parts.push_back(std::move(value));
            if (!d.qualification.empty())
                parts.push_back(value_ext("qualification", "valueString", json::string(d.qualification, sp), sp));
            json::object detail(sp);
            detail["url"] = "detail";
            detail["extension"] = std::move(parts);
            return detail;
        });
    for (const auto& d : a.dependencies)
        out.reference("dependency", d);
    for (const auto& q : a.questionnaires)
        out.text("questionnaire", "valueCanonical", q);
    for (const auto& r : a.responses)
        out.reference("response", r);
    out.text("date", "valueDate", a.date);
    out.text("coverage-assertion-id", "valueString", a.assertion_id);
    if (!a.satisfied_pa_id.empty())
        out.text("satisfied-pa-id", "valueString", a.satisfied_pa_id);
    for (const auto& c : a.contacts)
    {
        if (v == crd_version::v2_2)
        {
            out.structured([&](const json::storage_ptr& sp) {
                json::object detail(sp);
                if (!c.name.empty())
                    detail["name"] = c.name;
                json::array telecom(sp);
                for (const auto& t : c.telecom)
                    telecom.push_back(json::object({{"system", t.system}, {"value", t.value}}, sp));
                if (!telecom.empty())
                    detail["telecom"] = std::move(telecom);
                return value_ext("contact", "valueContactDetail", std::move(detail), sp);
            });
        }
        else
        {
            if (!c.name.empty())
                note(report, report.downgraded, "contact name has no place in a CRD " + std::string(core::to_string(v)) + " ContactPoint");
            for (const auto& t : c.telecom)
                out.structured([&](const json::storage_ptr& sp) {
                    return value_ext("contact", "valueContactPoint", json::object({{"system", t.system}, {"value", t.value}}, sp), sp);
                });
        }
    }
    if (!a.expiry_date.empty())
        out.text("expiry-date", "valueDate", a.expiry_date);
}

// Builds the sub-extensions in `sp`.
struct building_out
{
    json::array& ext;
    const json::storage_ptr& sp;

    void text(std::string_view url, std::string_view value_key, std::string_view value)
    {
        ext.push_back(value_ext(url, value_key, json::string(value, sp), sp));
    }
    void reference(std::string_view url, std::string_view reference)
    {
        json::object r(1, sp);
        r.emplace("reference", reference);
        ext.push_back(value_ext(url, "valueReference", std::move(r), sp));
    }
    template <class Make>
    void structured(const Make& make)
    {
        ext.push_back(make(sp));
    }
};

json::object render_fitted(const coverage_assertion& a, crd_version v, rendering_report& report, const json::storage_ptr& sp)
{
    json::array ext(sp);
    ext.reserve(6 + a.doc_needed.size() + a.doc_purpose.size() + a.info_needed.size() + a.billing_codes.size() + a.reasons.size() + a.details.size() +
                a.dependencies.size() + a.questionnaires.size() + a.responses.size() + a.contacts.size());
    building_out out{ext, sp};
    each_sub_extension(a, v, report, out);
    json::object rendered(2, sp);
    rendered.emplace("url", coverage_information_url);
    rendered.emplace("extension", std::move(ext));
    return rendered;
}

// The value of `o`'s member at `index` (< o.size()) when its key is `key`; null otherwise.
const json::value* member_at(const json::object& o, std::size_t index, std::string_view key)
{
    const auto& m = *(o.begin() + static_cast<std::ptrdiff_t>(index));
    return m.key() == key ? &m.value() : nullptr;
}

bool is_string(const json::value* v, std::string_view s)
{
    return v && v->is_string() && v->get_string() == s;
}

// Compares an extension's sub-extensions, in order, with what building_out would write. Only
// sub-extensions with one string or a reference are compared: anything structured counts as a
// difference (the extension is then rendered as before).
struct comparing_out
{
    const json::array& ext;
    std::size_t next = 0;
    bool same = true;

    const json::object* take(std::string_view url)
    {
        if (!same || next == ext.size() || !ext[next].is_object())
            return nullptr;
        const auto& o = ext[next++].get_object();
        return o.size() == 2 && is_string(member_at(o, 0, "url"), url) ? &o : nullptr;
    }
    void text(std::string_view url, std::string_view value_key, std::string_view value)
    {
        const json::object* o = take(url);
        same = o && is_string(member_at(*o, 1, value_key), value);
    }
    void reference(std::string_view url, std::string_view reference)
    {
        const json::object* o = take(url);
        const json::value* r = o ? member_at(*o, 1, "valueReference") : nullptr;
        same = r && r->is_object() && r->get_object().size() == 1 && is_string(member_at(r->get_object(), 0, "reference"), reference);
    }
    template <class Make>
    void structured(const Make&)
    {
        same = false;
    }
};

// True when rendering `a` (fitted to `v`) would write exactly `extension`, member for member and
// in order: then the extension can stay as it is. Assertions with structured sub-extensions
// (billing codes, reasons, details, contacts, a coverage display) are never taken for the same
// (comparing_out::structured).
bool says_exactly(const json::object& extension, const coverage_assertion& a, crd_version v)
{
    if (extension.size() != 2 || !is_string(member_at(extension, 0, "url"), coverage_information_url))
        return false;
    const json::value* subs = member_at(extension, 1, "extension");
    if (!subs || !subs->is_array())
        return false;
    comparing_out out{subs->get_array()};
    // Its own report: whatever the walk notes is noted again by the rendering, if one follows.
    rendering_report ignored;
    each_sub_extension(a, v, ignored, out);
    return out.same && out.next == out.ext.size();
}

}  // namespace

json::object render_coverage_information(coverage_assertion in, crd_version v, rendering_report& report, json::storage_ptr sp)
{
    fit_to_version(in, v, report);
    return render_fitted(in, v, report, sp);
}

bool rerender_coverage_information(json::object& extension, coverage_assertion a, crd_version v, rendering_report& report)
{
    fit_to_version(a, v, report);
    if (says_exactly(extension, a, v))
        return false;
    extension = render_fitted(a, v, report, extension.storage());
    return true;
}

// --- reading -----------------------------------------------------------------------------------

namespace {

const json::string* string_member(const json::object& o, std::string_view key)
{
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? &v->get_string() : nullptr;
}

bool read_coded_concept(const json::value& v, coded& out)
{
    if (!v.is_object())
        return false;
    const auto& cc = v.get_object();
    if (const auto* text = string_member(cc, "text"))
        out.text = *text;
    if (const json::value* codings = cc.if_contains("coding"); codings && codings->is_array())
        for (const auto& c : codings->get_array())
            if (c.is_object())
                if (const auto* code = string_member(c.get_object(), "code"))
                {
                    out.code = *code;
                    if (const auto* system = string_member(c.get_object(), "system"))
                        out.system = *system;
                    if (const auto* display = string_member(c.get_object(), "display"))
                        out.display = *display;
                    break;
                }
    return !out.empty();
}

bool read_coding(const json::value& v, coded& out)
{
    if (!v.is_object())
        return false;
    const auto* code = string_member(v.get_object(), "code");
    if (!code || code->empty())
        return false;
    out.code = *code;
    if (const auto* system = string_member(v.get_object(), "system"))
        out.system = *system;
    if (const auto* display = string_member(v.get_object(), "display"))
        out.display = *display;
    return true;
}

std::string reference_of(const json::value& v)
{
    if (!v.is_object())
        return {};
    const auto* r = string_member(v.get_object(), "reference");
    return r ? std::string(*r) : std::string();
}

bool read_contact_point(const json::value& v, contact_point& out)
{
    if (!v.is_object())
        return false;
    const auto* system = string_member(v.get_object(), "system");
    const auto* value = string_member(v.get_object(), "value");
    if (!value || value->empty())
        return false;
    out.system = system ? std::string(*system) : std::string("other");
    out.value = *value;
    return true;
}

bool read_detail(const json::object& detail, coverage_detail& out)
{
    const json::value* parts = detail.if_contains("extension");
    if (!parts || !parts->is_array())
        return false;
    for (const auto& p : parts->get_array())
    {
        if (!p.is_object())
            continue;
        const auto& part = p.get_object();
        const auto* url = string_member(part, "url");
        if (!url)
            continue;
        if (*url == "category")
        {
            if (const auto* c = string_member(part, "valueCode"))
                out.category = *c;
        }
        else if (*url == "code")
        {
            if (const json::value* c = part.if_contains("valueCodeableConcept"))
                read_coded_concept(*c, out.code);
        }
        else if (*url == "value")
        {
            for (const char* key : {"valueBoolean", "valueString", "valueUrl", "valueQuantity", "valuePeriod"})
                if (const json::value* val = part.if_contains(key))
                {
                    out.value.clear();
                    out.value[key] = *val;
                    break;
                }
        }
        else if (*url == "qualification")
        {
            if (const auto* q = string_member(part, "valueString"))
                out.qualification = *q;
        }
    }
    return !out.code.empty() && !out.value.empty();
}

}  // namespace

bool read_coverage_information(const json::object& extension, coverage_assertion& out, rendering_report& report)
{
    const json::value* parts = extension.if_contains("extension");
    if (!parts || !parts->is_array())
        return false;
    for (const auto& p : parts->get_array())
    {
        const auto* part = p.is_object() ? &p.get_object() : nullptr;
        const auto* url = part ? string_member(*part, "url") : nullptr;
        if (!url)
        {
            note(report, report.dropped, "coverage-information element without a url dropped");
            continue;
        }
        const std::string_view name = *url;
        bool understood = true;
        auto code = [&](std::string& into) {
            const auto* c = string_member(*part, "valueCode");
            if (c && !c->empty())
                into = *c;
            else
                understood = false;
        };
        auto codes = [&](std::vector<std::string>& into) {
            const auto* c = string_member(*part, "valueCode");
            if (c && !c->empty() && !contains(into, *c))
                into.emplace_back(*c);
            else if (!c || c->empty())
                understood = false;
        };
        auto text = [&](std::string_view key, std::string& into) {
            const auto* s = string_member(*part, key);
            if (s && !s->empty())
                into = *s;
            else
                understood = false;
        };
        if (name == "coverage")
        {
            const json::value* ref = part->if_contains("valueReference");
            out.coverage_reference = ref ? reference_of(*ref) : std::string();
            if (out.coverage_reference.empty() && ref && ref->is_object())
                if (const auto* display = string_member(ref->get_object(), "display"))
                    out.coverage_display = *display;
            understood = ref && ref->is_object();
        }
        else if (name == "covered")
            code(out.covered);
        else if (name == "pa-needed")
            code(out.pa_needed);
        else if (name == "doc-needed")
            codes(out.doc_needed);
        else if (name == "doc-purpose")
            codes(out.doc_purpose);
        else if (name == "info-needed")
            codes(out.info_needed);
        else if (name == "billingCode")
        {
            coded c;
            const json::value* v = part->if_contains("valueCoding");
            if ((understood = v && read_coding(*v, c)))
                out.billing_codes.push_back(std::move(c));
        }
        else if (name == "reason")
        {
            coded c;
            const json::value* v = part->if_contains("valueCodeableConcept");
            if ((understood = v && read_coded_concept(*v, c)))
                out.reasons.push_back(std::move(c));
        }
        else if (name == "detail")
        {
            coverage_detail d;
            if ((understood = read_detail(*part, d)))
                out.details.push_back(std::move(d));
        }
        else if (name == "dependency" || name == "response")
        {
            const json::value* v = part->if_contains("valueReference");
            std::string ref = v ? reference_of(*v) : std::string();
            if ((understood = !ref.empty()))
                (name == "dependency" ? out.dependencies : out.responses).push_back(std::move(ref));
        }
        else if (name == "questionnaire")
        {
            std::string q;
            text("valueCanonical", q);
            if (understood)
                out.questionnaires.push_back(std::move(q));
        }
        else if (name == "date")
            text("valueDate", out.date);
        else if (name == "expiry-date")
            text("valueDate", out.expiry_date);
        else if (name == "coverage-assertion-id")
            text("valueString", out.assertion_id);
        else if (name == "satisfied-pa-id")
            text("valueString", out.satisfied_pa_id);
        else if (name == "contact")
        {
            contact_detail c;
            if (const json::value* point = part->if_contains("valueContactPoint"))
            {
                contact_point t;
                if ((understood = read_contact_point(*point, t)))
                    c.telecom.push_back(std::move(t));
            }
            else if (const json::value* detail = part->if_contains("valueContactDetail"); detail && detail->is_object())
            {
                if (const auto* n = string_member(detail->get_object(), "name"))
                    c.name = *n;
                if (const json::value* telecom = detail->get_object().if_contains("telecom"); telecom && telecom->is_array())
                    for (const auto& each : telecom->get_array())
                        if (contact_point t; read_contact_point(each, t))
                            c.telecom.push_back(std::move(t));
                understood = !c.name.empty() || !c.telecom.empty();
            }
            else
                understood = false;
            if (understood)
                out.contacts.push_back(std::move(c));
        }
        else
            understood = false;
        if (!understood)
            note(report, report.dropped,
                "coverage-information element '" + std::string(name.substr(0, 64)) + "' dropped: unknown or of the wrong type");
    }
    return !out.covered.empty();
}

}  // namespace crd::decision
