// CRD 2.0.1, 2.1 and 2.2 from one server (issue 15), over HTTP: each caller is answered in the
// version it asks for (extension."davinci-crd.requestedVersion"), from the same rules and the same
// decision-service answer; failures of ours are determinations for 2.1+ callers; what Inferno's
// re-invocations send is accepted; the audit record names the version.

#include "closed_port.hpp"
#include "fake_decision_service.hpp"
#include "fake_fhir_server.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace std::chrono_literals;
using test::fake_decision_service;
using test::fake_mode;

namespace {

constexpr std::string_view coverage_information_url = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information";
constexpr std::string_view temp_system = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp";
constexpr std::string_view cdshooks_card_type_system = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type";
constexpr std::string_view requested_version_expression = "extension.davinci-crd.requestedVersion";

// One request per primary hook, each with its patient's active Coverage in prefetch and cards from
// the shipped rules where a rule matches (hospital bed, home oxygen; the appointment matches none).
struct primary_hook
{
    const char* fixture;
    const char* service;
};
constexpr std::array<primary_hook, 3> primary_hooks{{
    {"crd-order-sign-5.json", "order-sign-crd"},
    {"crd-order-dispatch-3.json", "order-dispatch-crd"},
    {"crd-appointment-book-2.json", "appointment-book-crd"},
}};

// The versions a caller can ask for: nullopt is no requestedVersion at all (answered as 2.0).
const std::array<std::optional<std::string>, 4> asked_versions{std::nullopt, "2.0", "2.1", "2.2"};

std::string answered_version(const std::optional<std::string>& asked)
{
    return asked ? *asked : "2.0";
}

// The fixture with its requestedVersion set (or removed), and no FHIR server to call: its
// prefetch is what the payer sees.
json::value request_in(const std::string& fixture, const std::optional<std::string>& version)
{
    auto doc = test::load_fixture(fixture);
    auto& o = doc.as_object();
    o.erase("fhirServer");
    o.erase("fhirAuthorization");
    if (!o.contains("extension"))
        o["extension"] = json::object{};
    auto& ext = o["extension"].as_object();
    if (version)
        ext["davinci-crd.requestedVersion"] = *version;
    else
        ext.erase("davinci-crd.requestedVersion");
    return doc;
}

test::http_result post(std::uint16_t port, const std::string& service, const json::value& doc)
{
    test::http_client c(port);
    return c.request("POST", "/cds-services/" + service, json::serialize(doc));
}

json::value parse_ok(const test::http_result& r)
{
    BOOST_TEST_REQUIRE(r.status == 200U, r.body);
    return json::parse(r.body);
}

// --- reading coverage information --------------------------------------------------------------

const json::object* coverage_information(const json::object& resource)
{
    const json::value* ext = resource.if_contains("extension");
    if (!ext || !ext->is_array())
        return nullptr;
    for (const auto& e : ext->as_array())
        if (e.is_object() && e.as_object().contains("url") && e.at("url").as_string() == coverage_information_url)
            return &e.as_object();
    return nullptr;
}

// (No overload taking a json::value: an object would convert to a temporary value, and the
// pointer returned would point into it.)
const json::object* coverage_information(const json::value& resource) = delete;

std::size_t coverage_information_count(const json::object& resource)
{
    std::size_t n = 0;
    if (const json::value* ext = resource.if_contains("extension"); ext && ext->is_array())
        for (const auto& e : ext->as_array())
            if (e.is_object() && e.as_object().contains("url") && e.at("url").as_string() == coverage_information_url)
                ++n;
    return n;
}

std::vector<const json::object*> parts(const json::object& ci, std::string_view url)
{
    std::vector<const json::object*> out;
    for (const auto& p : ci.at("extension").as_array())
        if (p.at("url").as_string() == url)
            out.push_back(&p.as_object());
    return out;
}

bool has(const json::object& ci, std::string_view url)
{
    return !parts(ci, url).empty();
}

std::string code_of(const json::object& ci, std::string_view url)
{
    const auto found = parts(ci, url);
    return found.empty() ? std::string() : std::string(found.front()->at("valueCode").as_string());
}

std::set<std::string> codes_of(const json::object& ci, std::string_view url)
{
    std::set<std::string> out;
    for (const auto* p : parts(ci, url))
        out.emplace(p->at("valueCode").as_string());
    return out;
}

// True when a reason carries `code` of the CRD temp CodeSystem.
bool has_reason(const json::object& ci, std::string_view code)
{
    for (const auto* p : parts(ci, "reason"))
        if (const json::value* codings = p->at("valueCodeableConcept").as_object().if_contains("coding"))
            for (const auto& c : codings->as_array())
                if (c.at("code").as_string() == code && c.at("system").as_string() == temp_system)
                    return true;
    return false;
}

const json::array& system_actions(const json::value& body)
{
    static const json::array none;
    const json::value* a = body.as_object().if_contains("systemActions");
    return a ? a->as_array() : none;
}

bool any_coverage_information_action(const json::value& body)
{
    for (const auto& a : system_actions(body))
        if (a.as_object().contains("resource") && coverage_information(a.at("resource").as_object()))
            return true;
    return false;
}

// Card suggestions that carry coverage information (CRD 2.1+: never; only systemActions do).
std::size_t coverage_information_in_cards(const json::value& body)
{
    std::size_t n = 0;
    for (const auto& card : body.at("cards").as_array())
        if (const json::value* suggestions = card.as_object().if_contains("suggestions"))
            for (const auto& s : suggestions->as_array())
                if (const json::value* actions = s.as_object().if_contains("actions"))
                    for (const auto& a : actions->as_array())
                        if (a.as_object().contains("resource") && coverage_information(a.at("resource").as_object()))
                            ++n;
    return n;
}

std::string expected_topic_system(const std::string& version)
{
    return std::string(version == "2.2" ? cdshooks_card_type_system : temp_system);
}

// The answer without what differs from call to call (uuids, assertion ids): for comparing two
// answers to the same request.
void scrub(json::value& v)
{
    if (v.is_object())
    {
        auto& o = v.as_object();
        o.erase("uuid");
        if (const json::value* url = o.if_contains("url"); url && url->is_string() && url->as_string() == "coverage-assertion-id")
            o["valueString"] = "";
        for (auto& kv : o)
            scrub(kv.value());
    }
    else if (v.is_array())
        for (auto& x : v.as_array())
            scrub(x);
}

json::value scrubbed(json::value v)
{
    scrub(v);
    return v;
}

const json::object& first_issue(const test::http_result& r)
{
    static json::value holder;
    holder = json::parse(r.body);
    BOOST_TEST_REQUIRE(holder.at("resourceType").as_string() == "OperationOutcome");
    return holder.at("issue").at(0).as_object();
}

// The resource without its extensions, for comparing with the order as the EHR sent it.
json::object without_extension(json::object resource)
{
    resource.erase("extension");
    return resource;
}

core::config remote_config(const std::string& decision_url)
{
    auto cfg = test::test_config();
    cfg.decision.endpoint = *core::parse_http_url(decision_url);
    cfg.decision.timeout = 500ms;
    cfg.decision.breaker_failures = 1000;  // every call reaches the failing service
    cfg.listen.threads = 1;
    return cfg;
}

std::string response_fixture(const std::string& name, const std::function<void(json::value&)>& edit_answer = {})
{
    auto answer = test::load_fixture("responses/" + name);
    if (edit_answer)
        edit_answer(answer);
    return json::serialize(answer);
}

// The shipped rules (etc/rules.json) after `edit_rules`, written into `dir`; the configuration
// that decides from them.
core::config with_rules(const test::temp_dir& dir, const std::function<void(json::object&)>& edit_rules)
{
    auto rules = json::parse(test::read_file(std::string(CRD_SOURCE_DIR) + "/etc/rules.json")).as_object();
    edit_rules(rules);
    const auto path = (dir / "rules.json").string();
    std::ofstream(path) << json::serialize(rules);
    auto cfg = test::test_config();
    cfg.decision.rules_path = path;
    return cfg;
}

json::object& rule_named(json::object& rules, std::string_view id)
{
    for (auto& r : rules.at("rules").as_array())
        if (r.at("id").as_string() == id)
            return r.as_object();
    throw std::runtime_error("no rule " + std::string(id) + " in etc/rules.json");
}

// "YYYY-MM-DD" plus `days`.
std::string date_plus(std::string_view ymd, int days)
{
    using namespace std::chrono;
    const year_month_day d{year{std::stoi(std::string(ymd.substr(0, 4)))}, month{static_cast<unsigned>(std::stoi(std::string(ymd.substr(5, 2))))},
        day{static_cast<unsigned>(std::stoi(std::string(ymd.substr(8, 2))))}};
    const year_month_day later{sys_days{d} + std::chrono::days{days}};
    char out[16];
    std::snprintf(
        out, sizeof out, "%04d-%02u-%02u", static_cast<int>(later.year()), static_cast<unsigned>(later.month()), static_cast<unsigned>(later.day()));
    return out;
}

// The hospital-bed rule (crd-order-sign-5's DeviceRequest) with what 2.1 and 2.2 added.
void hospital_bed_with_details(json::object& rules)
{
    auto& bed = rule_named(rules, "dme-hospital-bed");
    bed["details"] = json::array{
        json::object{{"code", "allowed-quantity"}, {"value", {{"quantity", {{"value", 1}, {"unit", "bed"}}}}}, {"qualification", "Per episode"}},
        json::object{{"code", "policy-link"}, {"value", {{"url", "https://www.example-health-plan.org/policies/dme/hospital-beds"}}}},
    };
    bed["valid_days"] = 30;
    bed["contacts"] = json::array{json::object{{"name", "DME prior authorization desk"},
        {"telecom", json::array{json::object{{"system", "phone"}, {"value", "+1-555-0100"}},
                        json::object{{"system", "url"}, {"value", "https://provider.example-health-plan.org/dme"}}}}}};
}

// The detail whose code is `code`, as {sub-extension url: the sub-extension}.
std::map<std::string, json::object> detail_with_code(const json::object& ci, std::string_view code)
{
    for (const auto* detail : parts(ci, "detail"))
    {
        std::map<std::string, json::object> out;
        for (const auto& p : detail->at("extension").as_array())
            out[std::string(p.at("url").as_string())] = p.as_object();
        if (out.count("code") == 1 && out["code"].at("valueCodeableConcept").at("coding").at(0).at("code").as_string() == code)
            return out;
    }
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crd_versions_)

// --- 1. the same rules, each answer in its own version --------------------------------------------

BOOST_AUTO_TEST_CASE(each_primary_hook_answers_each_version_in_its_own_rendering)
{
    test::running_application app;
    for (const auto& hook : primary_hooks)
    {
        std::optional<json::value> as_2_0;  // the first, no requestedVersion: today's answer
        for (const auto& asked : asked_versions)
        {
            const std::string version = answered_version(asked);
            BOOST_TEST_CONTEXT(hook.fixture << " requestedVersion " << (asked ? *asked : "(none)"))
            {
                const auto body = parse_ok(post(app.port(), hook.service, request_in(hook.fixture, asked)));

                // Card topics: temp before 2.2, the CDS Hooks card-type CodeSystem from 2.2.
                for (const auto& card : body.at("cards").as_array())
                {
                    BOOST_TEST(card.at("source").at("topic").at("system").as_string() == expected_topic_system(version));
                    // associated-resource: a string in 2.0, a Reference from 2.1 (the IG's examples).
                    const auto& associated = card.at("extension").at("davinci-crd.associated-resource").at(0);
                    BOOST_TEST(associated.is_string() == (version == "2.0"));
                    BOOST_TEST(associated.is_object() == (version != "2.0"));
                }
                BOOST_TEST(coverage_information_in_cards(body) == 0U);

                // One coverage-information update per order, in the version's shape.
                const auto& actions = system_actions(body);
                BOOST_TEST_REQUIRE(actions.size() == 1U);
                const auto& resource = actions.at(0).at("resource").as_object();
                BOOST_TEST(coverage_information_count(resource) == 1U);
                const auto* ci = coverage_information(resource);
                BOOST_TEST_REQUIRE(ci != nullptr);
                if (version == "2.0")
                    BOOST_TEST(!has(*ci, "expiry-date"));  // 2.0 has none (see the rules-file test for 2.1+)
                BOOST_TEST(!has(*ci, "response"));
                BOOST_TEST(code_of(*ci, "covered") != "indeterminate");
                BOOST_TEST(has(*ci, "date"));
                BOOST_TEST(has(*ci, "coverage-assertion-id"));
                BOOST_TEST(parts(*ci, "coverage").at(0)->at("valueReference").at("reference").as_string() == "Coverage/cov015");
                for (const auto* detail : parts(*ci, "detail"))  // category only in 2.2
                {
                    bool category = false;
                    for (const auto& p : detail->at("extension").as_array())
                        category = category || p.at("url").as_string() == "category";
                    BOOST_TEST(category == (version == "2.2"));
                }
                if (version == "2.2")  // crd-ci-q3 (2.2): info-needed if and only if something is conditional
                {
                    const bool conditional = code_of(*ci, "covered") == "conditional" || code_of(*ci, "pa-needed") == "conditional" ||
                                             codes_of(*ci, "doc-needed").count("conditional") == 1;
                    BOOST_TEST(has(*ci, "info-needed") == conditional);
                    if (has(*ci, "doc-purpose"))
                        BOOST_TEST(has(*ci, "reason"));  // crd-ci-q8
                }

                if (!as_2_0)
                    as_2_0 = body;
                else
                {
                    // The same determination in every version (the same rules).
                    const auto* first = coverage_information(system_actions(*as_2_0).at(0).at("resource").as_object());
                    BOOST_TEST(code_of(*ci, "covered") == code_of(*first, "covered"));
                    BOOST_TEST(code_of(*ci, "pa-needed") == code_of(*first, "pa-needed"));
                    BOOST_TEST(codes_of(*ci, "doc-needed") == codes_of(*first, "doc-needed"));
                    BOOST_TEST(body.at("cards").as_array().size() == as_2_0->at("cards").as_array().size());
                    if (asked == "2.0")  // asking for 2.0 is asking for nothing
                        BOOST_TEST(json::serialize(scrubbed(body)) == json::serialize(scrubbed(*as_2_0)));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(rules_with_cards_give_cards_in_every_version)
{
    // Guards the test above: the topic and associated-resource checks had cards to look at.
    test::running_application app;
    for (const auto& asked : asked_versions)
        for (const char* fixture : {"crd-order-sign-5.json", "crd-order-dispatch-3.json"})
            BOOST_TEST_CONTEXT(fixture << " " << answered_version(asked))
            {
                const auto doc = request_in(fixture, asked);
                const auto body = parse_ok(post(app.port(), test::service_id_for(doc), doc));
                BOOST_TEST(body.at("cards").as_array().size() >= 2U);
            }
}

BOOST_AUTO_TEST_CASE(a_2_1_conditional_determination_says_what_it_needs)
{
    // CRD 2.1.0 crd-ci-q3 (input/fsh/extensions/CoverageInformation.fsh at tag 2.1.0): "'info-needed'
    // SHALL exist if and only if at least one of 'covered', 'pa-needed', or 'doc-needed' is set to
    // 'conditional'", expression conditional.count() >= 1 implies info-needed.exists(). The shipped
    // home-oxygen rule is conditional without info_needed: 2.2 gets info-needed OTH added; 2.1 must too.
    test::running_application app;
    for (const std::string version : {"2.1", "2.2"})
        BOOST_TEST_CONTEXT("requestedVersion " << version)
        {
            const auto doc = request_in("crd-order-dispatch-3.json", version);
            const auto body = parse_ok(post(app.port(), "order-dispatch-crd", doc));
            const auto* ci = coverage_information(system_actions(body).at(0).at("resource").as_object());
            BOOST_TEST_REQUIRE(ci != nullptr);
            BOOST_TEST(code_of(*ci, "covered") == "conditional");
            BOOST_TEST(has(*ci, "info-needed"));
        }
}

BOOST_AUTO_TEST_CASE(a_version_newer_than_any_served_is_answered_in_the_newest_below_it)
{
    test::running_application app;
    const auto as_2_2 = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-5.json", "2.2")));
    for (const std::string asked : {"2.3", "2.2.1", "3.0"})
        BOOST_TEST_CONTEXT("requestedVersion " << asked)
        {
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-5.json", asked)));
            BOOST_TEST(body.at("cards").at(0).at("source").at("topic").at("system").as_string() == cdshooks_card_type_system);
            BOOST_TEST(json::serialize(scrubbed(body)) == json::serialize(scrubbed(as_2_2)));
        }
    // 2.1.5 is a 2.1 patch release: answered as 2.1.
    const auto patch = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-5.json", "2.1.5")));
    BOOST_TEST(patch.at("cards").at(0).at("source").at("topic").at("system").as_string() == temp_system);
    BOOST_TEST(patch.at("cards").at(0).at("extension").at("davinci-crd.associated-resource").at(0).is_object());
}

BOOST_AUTO_TEST_CASE(a_version_older_than_any_served_is_a_400_naming_the_versions_served)
{
    test::running_application app;
    for (const auto& hook : primary_hooks)
        for (const std::string asked : {"1.0", "1.9.9", "0.1"})
            BOOST_TEST_CONTEXT(hook.fixture << " requestedVersion " << asked)
            {
                const auto r = post(app.port(), hook.service, request_in(hook.fixture, asked));
                BOOST_TEST(r.status == 400U);
                const auto& issue = first_issue(r);
                BOOST_TEST(issue.at("code").as_string() == "not-supported");
                BOOST_TEST(issue.at("diagnostics").as_string().find("2.0, 2.1, 2.2") != std::string::npos, r.body);
                BOOST_TEST(issue.at("expression").at(0).as_string() == requested_version_expression);
            }
}

BOOST_AUTO_TEST_CASE(a_requested_version_that_is_not_a_version_names_the_field)
{
    test::running_application app;
    const std::vector<json::value> not_versions{
        42, 2.2, true, json::array{"2.2"}, json::object{{"version", "2.2"}}, "two", "", "2", "2.x", "v2.2", " 2.2", "2.2.1.0", "-2.2"};
    for (const auto& asked : not_versions)
        BOOST_TEST_CONTEXT("requestedVersion " << json::serialize(asked))
        {
            auto doc = request_in("crd-order-sign-5.json", std::nullopt);
            doc.at("extension").as_object()["davinci-crd.requestedVersion"] = asked;
            const auto r = post(app.port(), "order-sign-crd", doc);
            BOOST_TEST((r.status == 400U || r.status == 422U), r.status << " " << r.body);
            BOOST_TEST(first_issue(r).at("expression").at(0).as_string() == requested_version_expression);
        }
}

BOOST_AUTO_TEST_CASE(discovery_lists_the_versions_of_every_service)
{
    test::running_application app;
    test::http_client c(app.port());
    const auto r = c.request("GET", "/cds-services");
    const auto body = parse_ok(r);
    const auto& services = body.at("services").as_array();
    BOOST_TEST_REQUIRE(services.size() >= 3U);
    std::set<std::string> ids;
    for (const auto& s : services)
        BOOST_TEST_CONTEXT(s.at("id").as_string())
        {
            ids.emplace(s.at("id").as_string());
            BOOST_TEST(s.at("extension").at("davinci-crd.version") == (json::array{"2.0", "2.1", "2.2"}));
            BOOST_TEST(s.at("extension").as_object().contains("davinci-crd.configuration-options"));
        }
    for (const auto& hook : primary_hooks)
        BOOST_TEST(ids.count(hook.service) == 1U);
}

BOOST_AUTO_TEST_CASE(a_rule_with_details_contacts_and_valid_days_is_said_in_each_version)
{
    test::temp_dir dir("crd-versions-rules");
    test::running_application app(with_rules(dir, hospital_bed_with_details));
    for (const auto& asked : asked_versions)
    {
        const std::string version = answered_version(asked);
        BOOST_TEST_CONTEXT("requestedVersion " << (asked ? *asked : "(none)"))
        {
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-5.json", asked)));
            const auto* ci = coverage_information(system_actions(body).at(0).at("resource").as_object());
            BOOST_TEST_REQUIRE(ci != nullptr);

            // expiry-date: the assertion's date plus valid_days, from 2.1.
            const std::string date(parts(*ci, "date").at(0)->at("valueDate").as_string());
            if (version == "2.0")
                BOOST_TEST(!has(*ci, "expiry-date"));
            else
                BOOST_TEST(parts(*ci, "expiry-date").at(0)->at("valueDate").as_string() == date_plus(date, 30));

            // details: a category in 2.2 only (the code's own: allowed-quantity is a limitation,
            // policy-link other); a url value from 2.1, a string in 2.0.
            BOOST_TEST(parts(*ci, "detail").size() == 2U);
            auto quantity = detail_with_code(*ci, "allowed-quantity");
            auto policy = detail_with_code(*ci, "policy-link");
            BOOST_TEST_REQUIRE(quantity.size() >= 3U);
            BOOST_TEST_REQUIRE(policy.size() >= 2U);
            BOOST_TEST(quantity.at("value").at("valueQuantity").at("value").to_number<double>() == 1.0);
            BOOST_TEST(quantity.at("qualification").at("valueString").as_string() == "Per episode");
            const std::string policy_url = "https://www.example-health-plan.org/policies/dme/hospital-beds";
            if (version == "2.0")
                BOOST_TEST(policy.at("value").at("valueString").as_string() == policy_url);
            else
                BOOST_TEST(policy.at("value").at("valueUrl").as_string() == policy_url);
            if (version == "2.2")
            {
                BOOST_TEST(quantity.at("category").at("valueCode").as_string() == "cat-limitation");
                BOOST_TEST(policy.at("category").at("valueCode").as_string() == "cat-other");
            }
            else
            {
                BOOST_TEST(quantity.count("category") == 0U);
                BOOST_TEST(policy.count("category") == 0U);
            }

            // contacts: a ContactPoint per telecom before 2.2 (the name lost), one ContactDetail in 2.2.
            const auto contacts = parts(*ci, "contact");
            if (version == "2.2")
            {
                BOOST_TEST_REQUIRE(contacts.size() == 1U);
                const auto& detail = contacts[0]->at("valueContactDetail");
                BOOST_TEST(detail.at("name").as_string() == "DME prior authorization desk");
                BOOST_TEST(detail.at("telecom").as_array().size() == 2U);
            }
            else
            {
                BOOST_TEST_REQUIRE(contacts.size() == 2U);
                BOOST_TEST(contacts[0]->at("valueContactPoint") == (json::object{{"system", "phone"}, {"value", "+1-555-0100"}}));
                BOOST_TEST(contacts[1]->at("valueContactPoint").at("system").as_string() == "url");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(detail_codes_before_2_2_come_from_the_temp_code_system)
{
    // CRD 2.0.1 and 2.1.0 bind detail.code (extensibly) to coverageDetail, codes of the IG's temp
    // CodeSystem (allowed-quantity is one of them). An extensible binding asks for the value set's
    // code when it has one; http://terminology.hl7.org/CodeSystem/crd-coverage-detail is 2.2's
    // (valuesets/CoverageInformationValuesets.fsh at tags 2.0.1, 2.1.0, 2.2.1).
    test::temp_dir dir("crd-versions-rules");
    test::running_application app(with_rules(dir, hospital_bed_with_details));
    for (const std::string version : {"2.0", "2.1", "2.2"})
        BOOST_TEST_CONTEXT("requestedVersion " << version)
        {
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-5.json", version)));
            const auto* ci = coverage_information(system_actions(body).at(0).at("resource").as_object());
            BOOST_TEST_REQUIRE(ci != nullptr);
            auto quantity = detail_with_code(*ci, "allowed-quantity");
            BOOST_TEST_REQUIRE(quantity.count("code") == 1U);
            const auto& system = quantity.at("code").at("valueCodeableConcept").at("coding").at(0).at("system").as_string();
            BOOST_TEST(system == (version == "2.2" ? "http://terminology.hl7.org/CodeSystem/crd-coverage-detail" : std::string(temp_system)));
        }
}

BOOST_AUTO_TEST_CASE(a_primary_coverage_of_another_payer_is_a_400_in_every_version)
{
    test::temp_dir dir("crd-versions-payer");
    test::running_application app(with_rules(dir, [](json::object& rules) {
        rules.at("payer").as_object()["references"] = json::array{"Organization/ours"};
        rules.at("payer").as_object()["identifiers"] = json::array{json::object{{"system", "urn:oid:2.16.840.1.113883.6.300"}, {"value", "99999"}}};
    }));
    for (const auto& hook : primary_hooks)
        for (const auto& asked : asked_versions)
            BOOST_TEST_CONTEXT(hook.fixture << " requestedVersion " << (asked ? *asked : "(none)"))
            {
                // cov015 is paid by Organization/org1234.
                const auto r = post(app.port(), hook.service, request_in(hook.fixture, asked));
                BOOST_TEST(r.status == 400U, r.body);
                BOOST_TEST(first_issue(r).at("code").as_string() == "business-rule");

                // The same Coverage paid by us: by reference (relative or absolute), or by identifier.
                const std::array<json::value, 3> ours{
                    json::array{json::object{{"reference", "Organization/ours"}}},
                    json::array{json::object{{"reference", "http://example.org/fhir/Organization/ours"}}},
                    json::array{json::object{{"identifier", {{"system", "urn:oid:2.16.840.1.113883.6.300"}, {"value", "99999"}}}}},
                };
                for (const auto& payor : ours)
                    BOOST_TEST_CONTEXT("payor " << payor)
                    {
                        auto doc = request_in(hook.fixture, asked);
                        doc.at("prefetch").at("coverage").at("entry").at(0).at("resource").as_object()["payor"] = payor;
                        BOOST_TEST(post(app.port(), hook.service, doc).status == 200U);
                    }
                // Another payer's identifier is not ours.
                auto other = request_in(hook.fixture, asked);
                other.at("prefetch").at("coverage").at("entry").at(0).at("resource").as_object()["payor"] =
                    json::array{json::object{{"identifier", {{"system", "urn:oid:2.16.840.1.113883.6.300"}, {"value", "11111"}}}}};
                BOOST_TEST(post(app.port(), hook.service, other).status == 400U);
            }
    // No Coverage at all is not another payer's: a 2.2 caller hears coverage-not-found.
    auto none = request_in("crd-order-sign-5.json", "2.2");
    none.at("prefetch").as_object()["coverage"] = json::object{{"resourceType", "Bundle"}, {"type", "searchset"}, {"total", 0}};
    none.at("context").at("draftOrders").at("entry").at(0).at("resource").as_object().erase("insurance");
    const auto body = parse_ok(post(app.port(), "order-sign-crd", none));
    const auto* ci = coverage_information(system_actions(body).at(0).at("resource").as_object());
    BOOST_TEST_REQUIRE(ci != nullptr);
    BOOST_TEST(code_of(*ci, "covered") == "not-covered");
    BOOST_TEST(has_reason(*ci, "coverage-not-found"));
}

// --- 2. one decision-service answer, rendered per version -----------------------------------------

BOOST_AUTO_TEST_CASE(the_ig_2_1_example_answer_is_rendered_in_each_callers_version)
{
    // The IG 2.1.0 CRDServiceResponse example, its coverage-information update aimed at the order
    // this request sends (the example says "idfromcontext").
    fake_decision_service fake;
    const auto fake_body = response_fixture("crd-2.1.0-CRDServiceResponse.json", [](json::value& a) {
        auto& resource = a.at("systemActions").at(0).at("resource").as_object();
        resource["id"] = "servreq-g0180-1";
        // 2.1's expiry-date, which a 2.0 caller cannot be told.
        resource.at("extension").at(0).at("extension").as_array().push_back(json::object{{"url", "expiry-date"}, {"valueDate", "2019-05-15"}});
    });
    fake.set_body(fake_body);
    test::running_application app(remote_config(fake.url()));
    const auto sent_order = test::load_fixture("crd-order-sign-6.json").at("context").at("draftOrders").at("entry").at(0).at("resource").as_object();
    const auto answer_resource = json::parse(fake_body).at("systemActions").at(0).at("resource").as_object();

    for (const std::string version : {"2.0", "2.1", "2.2"})
        BOOST_TEST_CONTEXT("requestedVersion " << version)
        {
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-6.json", version)));
            BOOST_TEST_REQUIRE(body.at("cards").as_array().size() == 3U);
            for (const auto& card : body.at("cards").as_array())
                BOOST_TEST(card.at("source").at("topic").at("system").as_string() == expected_topic_system(version));

            const auto& actions = system_actions(body);
            BOOST_TEST_REQUIRE(actions.size() == 1U);
            const auto& resource = actions.at(0).at("resource").as_object();
            BOOST_TEST(coverage_information_count(resource) == 1U);
            const auto* ci = coverage_information(resource);
            BOOST_TEST_REQUIRE(ci != nullptr);
            // The determination itself is the service's, in every version.
            BOOST_TEST(code_of(*ci, "covered") == "covered");
            BOOST_TEST(code_of(*ci, "pa-needed") == "satisfied");
            BOOST_TEST(parts(*ci, "satisfied-pa-id").at(0)->at("valueString").as_string() == "Q8U119");
            BOOST_TEST(parts(*ci, "coverage-assertion-id").at(0)->at("valueString").as_string() == "12345ABC");
            BOOST_TEST(parts(*ci, "date").at(0)->at("valueDate").as_string() == "2019-02-15");
            BOOST_TEST(parts(*ci, "billingCode").size() == 3U);
            BOOST_TEST(parts(*ci, "dependency").size() == 1U);
            if (version == "2.0")
                BOOST_TEST(!has(*ci, "expiry-date"));
            else
                BOOST_TEST(parts(*ci, "expiry-date").at(0)->at("valueDate").as_string() == "2019-05-15");
            // The first element is the coverage (the profile's order), whatever order the service used.
            BOOST_TEST(ci->at("extension").at(0).at("url").as_string() == "coverage");

            // contact: a ContactPoint before 2.2, a ContactDetail in 2.2.
            const auto contacts = parts(*ci, "contact");
            BOOST_TEST_REQUIRE(contacts.size() == 1U);
            const json::value url_point = json::object{{"system", "url"}, {"value", "http://some-payer/xyz-sub-org/get-help-here.html"}};
            if (version == "2.2")
            {
                BOOST_TEST(!contacts[0]->contains("valueContactPoint"));
                BOOST_TEST(contacts[0]->at("valueContactDetail").at("telecom") == json::array{url_point});
            }
            else
            {
                BOOST_TEST(!contacts[0]->contains("valueContactDetail"));
                BOOST_TEST(contacts[0]->at("valueContactPoint") == url_point);
            }
            // detail: a category in 2.2 only.
            const auto details = parts(*ci, "detail");
            BOOST_TEST_REQUIRE(details.size() == 1U);
            std::set<std::string> detail_parts;
            for (const auto& p : details[0]->at("extension").as_array())
                detail_parts.emplace(p.at("url").as_string());
            BOOST_TEST(detail_parts.count("category") == (version == "2.2" ? 1U : 0U));
            BOOST_TEST(detail_parts.count("code") == 1U);
            BOOST_TEST(detail_parts.count("value") == 1U);

            // The update: 2.1+ the order as the EHR sent it plus the extension, nothing else; 2.0
            // the resource the service sent, its coverage information re-rendered.
            if (version == "2.0")
                BOOST_TEST(without_extension(resource) == without_extension(answer_resource));
            else
            {
                BOOST_TEST(without_extension(resource) == sent_order);
                BOOST_TEST(resource.at("extension").as_array().size() == 1U);
            }
        }
}

BOOST_AUTO_TEST_CASE(the_ig_2_2_example_answer_is_rendered_in_each_callers_version)
{
    // IG 2.2.1 CRDServiceResponse3 is about CommunicationRequest/example, the order
    // crd-order-sign-2 sends. The service also changes the order (a note): only a 2.0 caller sees it.
    fake_decision_service fake;
    fake.set_body(response_fixture("crd-2.2.1-CRDServiceResponse3.json", [](json::value& a) {
        a.at("systemActions").at(0).at("resource").as_object()["note"] = json::array{json::object{{"text", "changed by the decision service"}}};
    }));
    test::running_application app(remote_config(fake.url()));
    const auto sent_order = test::load_fixture("crd-order-sign-2.json").at("context").at("draftOrders").at("entry").at(0).at("resource").as_object();

    for (const std::string version : {"2.0", "2.1", "2.2"})
        BOOST_TEST_CONTEXT("requestedVersion " << version)
        {
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-2.json", version)));
            BOOST_TEST(body.at("cards").as_array().empty());
            const auto& actions = system_actions(body);
            BOOST_TEST_REQUIRE(actions.size() == 1U);
            const auto& resource = actions.at(0).at("resource").as_object();
            const auto* ci = coverage_information(resource);
            BOOST_TEST_REQUIRE(ci != nullptr);
            BOOST_TEST(ci->at("extension").at(0).at("url").as_string() == "coverage");
            BOOST_TEST(code_of(*ci, "covered") == "covered");
            BOOST_TEST(code_of(*ci, "pa-needed") == "no-auth");
            BOOST_TEST(parts(*ci, "coverage-assertion-id").at(0)->at("valueString").as_string() == "example-assertion-id-123");
            if (version == "2.0")
                BOOST_TEST(resource.contains("note"));
            else
            {
                BOOST_TEST(!resource.contains("note"));
                BOOST_TEST(without_extension(resource) == sent_order);
            }
        }
}

BOOST_AUTO_TEST_CASE(an_indeterminate_answer_is_said_as_each_version_allows)
{
    // A 2.2 service's technical determination: indeterminate with reason technical. Before 2.2 there
    // is no indeterminate: conditional, with info-needed OTH and the reason kept.
    fake_decision_service fake;
    fake.set_body(response_fixture("crd-2.2.1-CRDServiceResponse3.json", [](json::value& a) {
        auto& parts_of = a.at("systemActions").at(0).at("resource").at("extension").at(0).at("extension").as_array();
        json::array kept;
        for (auto& p : parts_of)
            if (p.at("url").as_string() != "pa-needed")
                kept.push_back(p);
        kept.at(0).as_object()["valueCode"] = "indeterminate";  // "covered" comes first in this example
        kept.push_back(json::object{{"url", "reason"},
            {"valueCodeableConcept",
                {{"coding", json::array{json::object{{"system", temp_system}, {"code", "technical"}}}}, {"text", "Payer system down"}}}});
        parts_of = std::move(kept);
    }));
    test::running_application app(remote_config(fake.url()));
    for (const std::string version : {"2.0", "2.1", "2.2"})
        BOOST_TEST_CONTEXT("requestedVersion " << version)
        {
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-2.json", version)));
            const auto* ci = coverage_information(system_actions(body).at(0).at("resource").as_object());
            BOOST_TEST_REQUIRE(ci != nullptr);
            BOOST_TEST(has_reason(*ci, "technical"));
            if (version == "2.2")
            {
                BOOST_TEST(code_of(*ci, "covered") == "indeterminate");
                BOOST_TEST(!has(*ci, "info-needed"));
            }
            else
            {
                BOOST_TEST(code_of(*ci, "covered") == "conditional");
                BOOST_TEST(codes_of(*ci, "info-needed").count("OTH") == 1U);
            }
        }
}

BOOST_AUTO_TEST_CASE(a_2_0_determination_that_is_not_not_covered_names_pa_needed)
{
    // CRD 2.0.1 crd-ci-q2 as the package states it (input/fsh/extensions/CoverageInformation.fsh at
    // tag 2.0.1), which is what a validator of the 2.0.1 package (Inferno's crd_server_v201) runs:
    // extension.where(url = 'covered' and value != 'not-covered') implies
    // extension.where(url = 'pa-needed').exists(). A 2.2 service may leave pa-needed out of a
    // covered determination (IG 2.2.1 examples do not, this one is edited to); a 2.0 caller's
    // rendering must still name it.
    fake_decision_service fake;
    fake.set_body(response_fixture("crd-2.2.1-CRDServiceResponse3.json", [](json::value& a) {
        auto& parts_of = a.at("systemActions").at(0).at("resource").at("extension").at(0).at("extension").as_array();
        json::array kept;
        for (auto& p : parts_of)
            if (p.at("url").as_string() != "pa-needed")
                kept.push_back(p);
        parts_of = std::move(kept);
    }));
    test::running_application app(remote_config(fake.url()));
    const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-2.json", "2.0")));
    const auto* ci = coverage_information(system_actions(body).at(0).at("resource").as_object());
    BOOST_TEST_REQUIRE(ci != nullptr);
    BOOST_TEST(code_of(*ci, "covered") == "covered");
    BOOST_TEST(has(*ci, "pa-needed"), json::serialize(*ci));
}

BOOST_AUTO_TEST_CASE(coverage_information_in_a_card_moves_to_system_actions_for_2_1_and_later)
{
    // A 2.0-style service answer: the coverage information as a card suggestion's update.
    fake_decision_service fake;
    fake.set_body(response_fixture("crd-2.1.0-CRDServiceResponse.json", [](json::value& a) {
        auto update = a.at("systemActions").at(0);
        update.as_object()["resource"].as_object()["id"] = "servreq-g0180-1";
        a.as_object().erase("systemActions");
        a.at("cards").as_array().push_back(json::object{
            {"summary", "Coverage information for the home health order"},
            {"indicator", "info"},
            {"source", {{"label", "You're Covered Insurance"}, {"topic", {{"system", temp_system}, {"code", "coverage-info"}}}}},
            {"suggestions", json::array{json::object{{"label", "Record coverage information"}, {"actions", json::array{update}}}}},
            {"selectionBehavior", "any"},
        });
    }));
    test::running_application app(remote_config(fake.url()));
    for (const std::string version : {"2.0", "2.1", "2.2"})
        BOOST_TEST_CONTEXT("requestedVersion " << version)
        {
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-6.json", version)));
            if (version == "2.0")
            {
                BOOST_TEST(coverage_information_in_cards(body) == 1U);
                BOOST_TEST(!any_coverage_information_action(body));
            }
            else
            {
                BOOST_TEST(coverage_information_in_cards(body) == 0U);
                BOOST_TEST_REQUIRE(system_actions(body).size() == 1U);
                BOOST_TEST(system_actions(body).at(0).at("resource").at("id").as_string() == "servreq-g0180-1");
                BOOST_TEST(coverage_information(system_actions(body).at(0).at("resource").as_object()) != nullptr);
                // The card that only carried it has no suggestions left (and no selectionBehavior).
                for (const auto& card : body.at("cards").as_array())
                    if (card.at("source").at("topic").at("code").as_string() == "coverage-info")
                    {
                        BOOST_TEST(!card.as_object().contains("suggestions"));
                        BOOST_TEST(!card.as_object().contains("selectionBehavior"));
                    }
            }
        }
}

// --- 3. technical, no-coverage and inactive-coverage determinations -------------------------------

namespace {

enum class decision_fault
{
    down,     // the port is closed
    garbage,  // 200 with a body that is not JSON
    late,     // slower than the deadline
};

const char* name_of(decision_fault f)
{
    switch (f)
    {
    case decision_fault::down: return "down";
    case decision_fault::garbage: return "garbage";
    case decision_fault::late: return "late";
    }
    return "?";
}

// Checks a technical determination on every order of crd-order-sign-1 (ServiceRequest/1357, /2468).
void check_technical_on_every_order(const json::value& body, const std::string& version)
{
    const auto& actions = system_actions(body);
    BOOST_TEST_REQUIRE(actions.size() == 2U);
    std::set<std::string> ids;
    for (const auto& a : actions)
    {
        ids.emplace(a.at("resource").at("id").as_string());
        const auto* ci = coverage_information(a.at("resource").as_object());
        BOOST_TEST_REQUIRE(ci != nullptr);
        BOOST_TEST(has_reason(*ci, "technical"), json::serialize(*ci));
        if (version == "2.2")
            BOOST_TEST(code_of(*ci, "covered") == "indeterminate");
        else
        {
            BOOST_TEST(code_of(*ci, "covered") == "conditional");
            BOOST_TEST(codes_of(*ci, "info-needed").count("OTH") == 1U);  // 2.1 crd-ci-q3
        }
    }
    BOOST_TEST((ids == std::set<std::string>{"1357", "2468"}));
    // 2.2: coverage information travels only as systemActions, no card says it.
    if (version == "2.2")
        BOOST_TEST(body.at("cards").as_array().empty());
    for (const auto& card : body.at("cards").as_array())
        BOOST_TEST(card.at("source").at("topic").at("system").as_string() == expected_topic_system(version));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_failing_decision_service_is_a_technical_determination_for_2_1_and_later)
{
    for (const auto fault : {decision_fault::down, decision_fault::garbage, decision_fault::late})
        BOOST_TEST_CONTEXT("decision service " << name_of(fault))
        {
            std::optional<fake_decision_service> fake(std::in_place);
            const test::closed_port closed;  // held through the case: no other listener takes it
            std::string url = fake->url();
            if (fault == decision_fault::down)
                url = closed.url("/decide");
            else if (fault == decision_fault::garbage)
                fake->set_mode(fake_mode::not_json);
            else
            {
                fake->set_mode(fake_mode::slow);
                fake->set_delay(3s);
            }
            test::running_application app(remote_config(url));
            for (const std::string version : {"2.1", "2.2"})
                BOOST_TEST_CONTEXT("requestedVersion " << version)
                {
                    const auto started = std::chrono::steady_clock::now();
                    auto doc = request_in("crd-order-sign-1.json", version);
                    const auto body = parse_ok(post(app.port(), "order-sign-crd", doc));
                    check_technical_on_every_order(body, version);
                    BOOST_TEST((std::chrono::steady_clock::now() - started < 2500ms));  // the deadline (500 ms) bounds it
                }
            // The other primary hooks: every order or appointment, too.
            const std::array<std::pair<std::string, std::size_t>, 2> others{{{"crd-order-dispatch-3.json", 1}, {"crd-appointment-book-3.json", 2}}};
            for (const auto& [fixture, items] : others)
                BOOST_TEST_CONTEXT(fixture)
                {
                    const auto doc = request_in(fixture, "2.2");
                    const auto body = parse_ok(post(app.port(), test::service_id_for(doc), doc));
                    BOOST_TEST(body.at("cards").as_array().empty());
                    BOOST_TEST_REQUIRE(system_actions(body).size() == items);
                    for (const auto& a : system_actions(body))
                    {
                        const auto* ci = coverage_information(a.at("resource").as_object());
                        BOOST_TEST_REQUIRE(ci != nullptr);
                        BOOST_TEST(code_of(*ci, "covered") == "indeterminate");
                        BOOST_TEST(has_reason(*ci, "technical"));
                    }
                }
            // 2.0 with the default decision.on_failure ("error"): the error, unchanged.
            for (const auto& asked : {std::optional<std::string>{}, std::optional<std::string>{"2.0"}})
            {
                const auto r = post(app.port(), "order-sign-crd", request_in("crd-order-sign-1.json", asked));
                BOOST_TEST((r.status == 502U || r.status == 504U), r.status);
                BOOST_TEST(json::parse(r.body).at("resourceType").as_string() == "OperationOutcome");
            }
        }
}

BOOST_AUTO_TEST_CASE(a_2_0_caller_gets_conditional_when_on_failure_says_so)
{
    for (const auto fault : {decision_fault::down, decision_fault::garbage, decision_fault::late})
        BOOST_TEST_CONTEXT("decision service " << name_of(fault))
        {
            std::optional<fake_decision_service> fake(std::in_place);
            const test::closed_port closed;  // held through the case: no other listener takes it
            std::string url = fake->url();
            if (fault == decision_fault::down)
                url = closed.url("/decide");
            else if (fault == decision_fault::garbage)
                fake->set_mode(fake_mode::not_json);
            else
            {
                fake->set_mode(fake_mode::slow);
                fake->set_delay(3s);
            }
            auto cfg = remote_config(url);
            cfg.decision.on_failure = core::failure_policy::conditional;
            test::running_application app(std::move(cfg));
            const auto body = parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-1.json", std::nullopt)));
            const auto& actions = system_actions(body);
            BOOST_TEST_REQUIRE(actions.size() == 2U);
            for (const auto& a : actions)
            {
                const auto* ci = coverage_information(a.at("resource").as_object());
                BOOST_TEST_REQUIRE(ci != nullptr);
                BOOST_TEST(code_of(*ci, "covered") == "conditional");
                BOOST_TEST(codes_of(*ci, "info-needed").count("OTH") == 1U);
                BOOST_TEST(!has(*ci, "expiry-date"));
            }
            for (const auto& card : body.at("cards").as_array())
                BOOST_TEST(card.at("source").at("topic").at("system").as_string() == temp_system);
            // A 2.2 caller still gets the technical determination.
            check_technical_on_every_order(parse_ok(post(app.port(), "order-sign-crd", request_in("crd-order-sign-1.json", "2.2"))), "2.2");
        }
}

BOOST_AUTO_TEST_CASE(a_fhir_server_failure_while_the_coverage_is_missing_is_technical)
{
    const char* token = "ehr-access-token-15";
    for (const unsigned status : {500U, 401U})
        BOOST_TEST_CONTEXT("FHIR server answers " << status << " for the Coverage")
        {
            test::fake_fhir_server fhir;
            fhir.answer("/fhir/Patient/pat015", {200, R"({"resourceType":"Patient","id":"pat015"})", ""});
            fhir.answer("/fhir/Practitioner/pra1234", {200, R"({"resourceType":"Practitioner","id":"pra1234"})", ""});
            fhir.answer("/fhir/Coverage?patient=pat015&status=active",
                {status, R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]})", ""});
            auto cfg = test::test_config();
            cfg.prefetch.allow_http = true;
            test::running_application app(std::move(cfg));
            for (const std::string version : {"2.1", "2.2"})
                BOOST_TEST_CONTEXT("requestedVersion " << version)
                {
                    auto doc = request_in("crd-order-sign-5.json", version);
                    auto& o = doc.as_object();
                    o["fhirServer"] = fhir.base();
                    o["fhirAuthorization"] = json::object{{"access_token", token}, {"token_type", "Bearer"}, {"expires_in", 300},
                        {"scope", "user/Coverage.read"}, {"subject", "cds-service"}};
                    o["prefetch"].as_object().erase("coverage");
                    const auto before = fhir.requests().size();
                    const auto body = parse_ok(post(app.port(), "order-sign-crd", doc));
                    BOOST_TEST(fhir.requests().size() == before + 1U);  // the Coverage was asked for
                    const auto& actions = system_actions(body);
                    BOOST_TEST_REQUIRE(actions.size() == 1U);
                    const auto* ci = coverage_information(actions.at(0).at("resource").as_object());
                    BOOST_TEST_REQUIRE(ci != nullptr);
                    BOOST_TEST(code_of(*ci, "covered") == (version == "2.2" ? "indeterminate" : "conditional"));
                    BOOST_TEST(has_reason(*ci, "technical"));
                }
        }
}

BOOST_AUTO_TEST_CASE(no_coverage_is_not_covered_for_2_1_and_later)
{
    test::running_application app;
    // The EHR found no Coverage for the patient: an empty search, or null (CDS Hooks: no data).
    const std::array<json::value, 2> no_coverage{json::value{{"resourceType", "Bundle"}, {"type", "searchset"}, {"total", 0}}, nullptr};
    for (const auto& asked : asked_versions)
        for (const auto& coverage : no_coverage)
        {
            const std::string version = answered_version(asked);
            BOOST_TEST_CONTEXT("requestedVersion " << version << ", prefetch.coverage " << coverage)
            {
                // No Coverage anywhere: not in prefetch, not referenced by the order, no FHIR server.
                auto doc = request_in("crd-order-sign-5.json", asked);
                doc.at("prefetch").as_object()["coverage"] = coverage;
                doc.at("context").at("draftOrders").at("entry").at(0).at("resource").as_object().erase("insurance");
                const auto body = parse_ok(post(app.port(), "order-sign-crd", doc));
                const auto& actions = system_actions(body);
                BOOST_TEST_REQUIRE(actions.size() == 1U);
                const auto* ci = coverage_information(actions.at(0).at("resource").as_object());
                BOOST_TEST_REQUIRE(ci != nullptr);
                BOOST_TEST(!parts(*ci, "coverage").at(0)->at("valueReference").as_object().contains("reference"));
                if (version == "2.0")
                {
                    // Unchanged: conditional, and the missing Coverage is the information needed.
                    BOOST_TEST(code_of(*ci, "covered") == "conditional");
                    BOOST_TEST(codes_of(*ci, "info-needed").count("OTH") == 1U);
                    BOOST_TEST(!has_reason(*ci, "coverage-not-found"));
                }
                else
                {
                    BOOST_TEST(code_of(*ci, "covered") == "not-covered");
                    BOOST_TEST(has_reason(*ci, "coverage-not-found"));
                    BOOST_TEST(!has(*ci, "pa-needed"));  // crd-ci-q2
                    BOOST_TEST(!has(*ci, "info-needed"));
                }
            }
        }
}

BOOST_AUTO_TEST_CASE(an_inactive_coverage_is_not_covered_for_2_1_and_later)
{
    test::running_application app;
    for (const auto& hook : primary_hooks)
        for (const std::string version : {"2.1", "2.2"})
            BOOST_TEST_CONTEXT(hook.fixture << " requestedVersion " << version)
            {
                auto doc = request_in(hook.fixture, version);
                doc.at("prefetch").at("coverage").at("entry").at(0).at("resource").as_object()["status"] = "cancelled";
                const auto body = parse_ok(post(app.port(), hook.service, doc));
                const auto& actions = system_actions(body);
                BOOST_TEST_REQUIRE(actions.size() == 1U);
                const auto* ci = coverage_information(actions.at(0).at("resource").as_object());
                BOOST_TEST_REQUIRE(ci != nullptr);
                BOOST_TEST(code_of(*ci, "covered") == "not-covered");
                BOOST_TEST(has_reason(*ci, "no-active-coverage"));
                BOOST_TEST(!has_reason(*ci, "coverage-not-found"));
                BOOST_TEST(parts(*ci, "coverage").at(0)->at("valueReference").at("reference").as_string() == "Coverage/cov015");
                BOOST_TEST(!has(*ci, "pa-needed"));  // crd-ci-q2
            }
}

// --- 4. Inferno's re-invocations of each primary hook ---------------------------------------------

BOOST_AUTO_TEST_CASE(inferno_style_reinvocations_of_each_primary_hook_are_answered)
{
    test::running_application app;
    for (const auto& hook : primary_hooks)
        BOOST_TEST_CONTEXT(hook.fixture)
        {
            const auto base = request_in(hook.fixture, "2.2");
            BOOST_TEST(any_coverage_information_action(parse_ok(post(app.port(), hook.service, base))));

            // coverage-info: false: no coverage-information systemActions.
            auto no_coverage_info = base;
            no_coverage_info.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"coverage-info", false}};
            BOOST_TEST(!any_coverage_information_action(parse_ok(post(app.port(), hook.service, no_coverage_info))));

            // What this server does not know is ignored, and the answer is the usual one.
            auto unknown_option = base;
            unknown_option.at("extension").as_object()["davinci-crd.configuration"] =
                json::object{{"inferno-unknown-option", true}, {"another-unknown", json::object{{"x", 1}}}};
            auto unknown_context = base;
            unknown_context.at("context").as_object()["infernoUnknownContextKey"] = "some value";
            auto unknown_element = base;
            unknown_element.as_object()["infernoUnknownElement"] = json::object{{"a", json::array{1, 2}}};
            auto unknown_extension = base;
            unknown_extension.at("extension").as_object()["org.example.unknown-extension"] = json::object{{"value", "x"}};
            const std::array<std::pair<const char*, const json::value*>, 4> variants{
                {{"unknown configuration key", &unknown_option}, {"unknown context key", &unknown_context},
                    {"unknown top-level element", &unknown_element}, {"unknown extension", &unknown_extension}}};
            for (const auto& [what, doc] : variants)
                BOOST_TEST_CONTEXT(what)
                {
                    const auto body = parse_ok(post(app.port(), hook.service, *doc));
                    BOOST_TEST(any_coverage_information_action(body));
                    for (const auto& card : body.at("cards").as_array())
                        BOOST_TEST(card.at("source").at("topic").at("system").as_string() == cdshooks_card_type_system);
                }
        }
}

// --- 5. the version in the audit record and the metrics -------------------------------------------

BOOST_AUTO_TEST_CASE(the_audit_record_and_the_metrics_name_the_version_answered_in)
{
    test::temp_dir dir("crd-versions");
    const auto audit_path = dir / "audit.jsonl";
    test::running_application app(json::value{
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"threads", 1}}},
        {"admin", {{"port", 0}}},
        {"auth", {{"required", false}}},
        {"audit", {{"path", audit_path.string()}, {"fsync_ms", 20}}},
        {"log", {{"level", "error"}}},
    });
    auto count_of = [&](const std::string& version) {
        const auto metrics = test::http_client(app.admin_port()).request("GET", "/metrics").body;
        const std::string series = "crd_hook_calls_by_version_total{version=\"" + version + "\"} ";
        const auto at = metrics.find(series);
        BOOST_TEST_REQUIRE(at != std::string::npos, series);
        return std::stod(metrics.substr(at + series.size()));
    };
    const double before_2_2 = count_of("2.2");
    const double before_2_0 = count_of("2.0");

    auto sign_2_2 = request_in("crd-order-sign-5.json", "2.2");
    sign_2_2.as_object()["hookInstance"] = "a1b2c3d4-0000-4000-8000-000000000022";
    BOOST_TEST(post(app.port(), "order-sign-crd", sign_2_2).status == 200U);
    auto sign_2_0 = request_in("crd-order-sign-5.json", std::nullopt);
    sign_2_0.as_object()["hookInstance"] = "a1b2c3d4-0000-4000-8000-000000000020";
    BOOST_TEST(post(app.port(), "order-sign-crd", sign_2_0).status == 200U);
    auto refused = request_in("crd-order-sign-5.json", "1.0");
    refused.as_object()["hookInstance"] = "a1b2c3d4-0000-4000-8000-000000000010";
    BOOST_TEST(post(app.port(), "order-sign-crd", refused).status == 400U);

    BOOST_TEST(count_of("2.2") == before_2_2 + 1);
    BOOST_TEST(count_of("2.0") == before_2_0 + 1);

    app.stop();  // flushes the audit log
    std::ifstream in(audit_path);
    std::map<std::string, json::object> by_instance;
    for (std::string line; std::getline(in, line);)
    {
        auto record = json::parse(line).as_object();
        if (record.at("kind").as_string() == "hook" && record.at("hookInstance").is_string())
            by_instance[std::string(record.at("hookInstance").as_string())] = std::move(record);
    }
    BOOST_TEST_REQUIRE(by_instance.count("a1b2c3d4-0000-4000-8000-000000000022") == 1U);
    BOOST_TEST(by_instance["a1b2c3d4-0000-4000-8000-000000000022"].at("crd_version").as_string() == "2.2");
    BOOST_TEST_REQUIRE(by_instance.count("a1b2c3d4-0000-4000-8000-000000000020") == 1U);
    BOOST_TEST(by_instance["a1b2c3d4-0000-4000-8000-000000000020"].at("crd_version").as_string() == "2.0");
    // A call refused before a version was chosen names none.
    if (by_instance.count("a1b2c3d4-0000-4000-8000-000000000010") == 1U)
        BOOST_TEST(!by_instance["a1b2c3d4-0000-4000-8000-000000000010"].contains("crd_version"));
}

BOOST_AUTO_TEST_SUITE_END()
