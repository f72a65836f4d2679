// The embedded engine's answers, byte for byte (issue 19): the answer builder is tuned for speed,
// and a faster answer must be the same answer. Each case's serialised answer is compared with the
// one stored in tests/data/expected-answers, written by the code before the tuning. What differs
// per call is normalised first: uuids (card uuids, coverage-assertion-ids) become "<uuid>", and a
// valueDate becomes its distance from today ("<today+30>"), since dates follow the calendar.
// The 100-order answers are pinned by hash (see `pinned`). After a deliberate change to the
// answers, running this suite with CRD_WRITE_EXPECTED_ANSWERS=1 rewrites the files.
#include <crd/core/hook_request.hpp>
#include <crd/core/ids.hpp>
#include <crd/decision/rules_engine.hpp>

#include "fixtures.hpp"
#include "validated_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

const std::string expected_dir = std::string(CRD_SOURCE_DIR) + "/tests/data/expected-answers";

const rules_engine& shipped_engine()
{
    static const rules_engine e(load_rules(std::string(CRD_SOURCE_DIR) + "/etc/rules.json"));
    return e;
}

// A rule for the oxygen order (HCPCS E0431) of crd-order-sign-1 with every determination field
// the rules file has (details, billing codes, contacts, valid_days), and links and instructions.
const rules_engine& every_field_engine()
{
    static const rules_engine e(parse_rules(json::parse(R"({
        "payer": {"name": "Example Health Plan", "url": "https://plan.example"},
        "code_systems": {"hcpcs": ["https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"]},
        "default": {"covered": "conditional", "pa_needed": "conditional", "doc_needed": ["both"], "info_needed": ["detail-code"]},
        "rules": [{
            "id": "oxygen", "codes": [{"system": "hcpcs", "code": "E0431"}],
            "covered": "covered", "pa_needed": "auth-needed", "doc_needed": ["clinical", "patient"], "doc_purpose": ["withpa"],
            "questionnaire": ["https://plan.example/Questionnaire/oxygen"],
            "reason_codes": ["gold-card"],
            "reason": "The ordering practice is gold-carded for home oxygen.",
            "details": [
                {"code": "allowed-quantity", "value": {"quantity": {"value": 1, "unit": "system"}}},
                {"code": "policy-link", "value": {"url": "https://plan.example/oxygen"}}
            ],
            "billing_codes": [{"system": "hcpcs", "code": "E0431"}],
            "contacts": [{"name": "DME desk", "telecom": [{"system": "phone", "value": "+1-555-0142"}, {"system": "fax", "value": "+1-555-0143"}]}],
            "valid_days": 30,
            "topic": "claim",
            "links": [{"label": "Oxygen policy", "url": "https://plan.example/oxygen"}],
            "instructions": "Send the oximetry results with the order."
        }]
    })")));
    return e;
}

json::value in_version(json::value doc, std::string_view version)
{
    json::value& ext = doc.as_object()["extension"];
    if (!ext.is_object())
        ext.emplace_object();
    ext.as_object()["davinci-crd.requestedVersion"] = version;
    return doc;
}

using test::validated;

bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_uuid_at(std::string_view s, std::size_t at)
{
    if (s.size() - at < 36)
        return false;
    for (std::size_t i = 0; i < 36; ++i)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[at + i] != '-' : !is_hex(s[at + i]))
            return false;
    return true;
}

std::chrono::sys_days today()
{
    return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
}

// "<today+N>" for a YYYY-MM-DD N days from today; the date itself when it is not one.
std::string date_from_today(std::string_view ymd)
{
    int y = 0;
    unsigned m = 0, d = 0;
    if (std::sscanf(std::string(ymd).c_str(), "%d-%u-%u", &y, &m, &d) != 3)
        return std::string(ymd);
    const auto days = (std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}} - today()).count();
    return "<today" + std::string(days < 0 ? "" : "+") + std::to_string(days) + ">";
}

// The serialised answer with uuids and valueDates normalised (a hand-written scan: std::regex is
// too slow for the 100-order answer).
std::string normalised(const json::object& answer)
{
    const std::string s = json::serialize(answer);
    constexpr std::string_view date_key = R"("valueDate":")";
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();)
    {
        if (is_uuid_at(s, i))
        {
            out += "<uuid>";
            i += 36;
        }
        else if (std::string_view(s).substr(i, date_key.size()) == date_key && s.size() - i >= date_key.size() + 11)
        {
            out += date_key;
            out += date_from_today(std::string_view(s).substr(i + date_key.size(), 10));
            i += date_key.size() + 10;
        }
        else
            out += s[i++];
    }
    return out;
}

// FNV-1a, 64 bits: stable across compilers and runs, for pinning an answer too large to store.
std::uint64_t fnv1a(std::string_view s)
{
    std::uint64_t h = 14695981039346656037ULL;
    for (const char c : s)
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return h;
}

// How an answer is pinned: its normalised bytes in full, or (the 100-order answers, 300 KB each)
// their FNV-1a hash and length.
enum class pinned
{
    bytes,
    hash,
};

std::string pin_of(const std::string& normalised_answer, pinned how)
{
    if (how == pinned::bytes)
        return normalised_answer + "\n";
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a(normalised_answer)));
    return "fnv1a64 " + std::string(hash) + " bytes " + std::to_string(normalised_answer.size()) + "\n";
}

void check_against_expected(const std::string& name, const json::object& answer, pinned how = pinned::bytes)
{
    const std::string path = expected_dir + "/" + name + (how == pinned::bytes ? ".json" : ".hash");
    const std::string normalised_answer = normalised(answer);
    const std::string actual = pin_of(normalised_answer, how);
    if (const char* write = std::getenv("CRD_WRITE_EXPECTED_ANSWERS"); write && std::string_view(write) == "1")
    {
        std::ofstream(path, std::ios::binary) << actual;
        return;
    }
    const std::string expected = test::read_file(path);
    if (actual == expected)
        return;
    if (how == pinned::hash)
    {
        // Kept for a diff against the same file written by the code before the change.
        const auto kept = std::filesystem::temp_directory_path() / (name + ".json");
        std::ofstream(kept, std::ios::binary) << normalised_answer << "\n";
        BOOST_ERROR(name << ": the answer's hash differs from " << path << " (" << actual << " vs " << expected << "); the answer is in " << kept);
        return;
    }
    std::size_t at = 0;
    while (at < actual.size() && at < expected.size() && actual[at] == expected[at])
        ++at;
    const std::size_t from = at < 120 ? 0 : at - 120;
    BOOST_ERROR(name << ": the answer differs from " << path << " at byte " << at << "\n expected: ..." << expected.substr(from, 240)
                     << "\n   actual: ..." << actual.substr(from, 240));
}

// The answer evaluate(const request&) builds (orders copied) and the one evaluate(request&)
// builds (orders moved, as decide() does), each against the expected bytes.
void check_both_overloads(const rules_engine& engine, const std::string& name, const json::value& doc, pinned how = pinned::bytes)
{
    BOOST_TEST_CONTEXT(name)
    {
        const auto copied_from = validated(doc);
        check_against_expected(name, engine.evaluate(copied_from), how);
        auto moved_from = validated(doc);
        check_against_expected(name, engine.evaluate(moved_from), how);
    }
}

constexpr std::string_view versions[] = {"2.0", "2.1", "2.2"};

// bench/make-large-order-sign.sh's 100-order order-sign body: the body issue 19 is measured on.
json::value hundred_order_body()
{
    const std::string command = "bash '" + std::string(CRD_SOURCE_DIR) + "/bench/make-large-order-sign.sh' 100";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    BOOST_TEST_REQUIRE(pipe != nullptr);
    std::string body;
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe.get())) > 0;)
        body.append(buf, n);
    return json::parse(body);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(answer_bytes)

BOOST_AUTO_TEST_CASE(every_published_request_gets_the_same_bytes_in_every_version)
{
    for (const auto& fixture : test::request_fixture_names())
        for (const auto version : versions)
        {
            const std::string name = fixture.substr(0, fixture.size() - 5) + "." + std::string(version);
            check_both_overloads(shipped_engine(), name, in_version(test::load_fixture(fixture), version));
        }
}

BOOST_AUTO_TEST_CASE(a_hundred_order_call_gets_the_same_bytes_in_every_version)
{
    const json::value body = hundred_order_body();
    for (const auto version : versions)
        check_both_overloads(shipped_engine(), "large-order-sign-100." + std::string(version), in_version(body, version), pinned::hash);
}

BOOST_AUTO_TEST_CASE(every_assertion_and_every_card_of_a_hundred_orders_has_its_own_id)
{
    // The normalised bytes cannot tell one id from another: orders sharing one rendered assertion
    // must still get an id each.
    const json::value body = hundred_order_body();
    for (const auto version : versions)
    {
        auto request = validated(in_version(body, version));
        const json::object answer = shipped_engine().evaluate(request);
        std::set<std::string> ids;
        std::size_t assertions = 0;
        for (const auto& action : answer.at("systemActions").as_array())
            for (const auto& e : action.at("resource").at("extension").as_array())
                if (is_coverage_information(e))
                    for (const auto& sub : e.at("extension").as_array())
                        if (sub.at("url") == "coverage-assertion-id")
                        {
                            ++assertions;
                            ids.emplace(sub.at("valueString").as_string());
                        }
        BOOST_TEST(assertions == 100U);
        const auto& cards = answer.at("cards").as_array();
        BOOST_TEST(!cards.empty());
        for (const auto& card : cards)
            ids.emplace(card.at("uuid").as_string());
        BOOST_TEST(ids.size() == assertions + cards.size());
    }
}

BOOST_AUTO_TEST_CASE(a_rule_with_every_field_gets_the_same_bytes_in_every_version)
{
    for (const std::string fixture : {"crd-order-sign-1", "crd-appointment-book-2", "crd-order-dispatch-4"})
        for (const auto version : versions)
            check_both_overloads(every_field_engine(), "every-field." + fixture + "." + std::string(version),
                in_version(test::load_fixture(fixture + ".json"), version));
}

BOOST_AUTO_TEST_CASE(the_failure_answers_get_the_same_bytes_in_every_version)
{
    for (const std::string fixture : {"crd-order-sign-1", "crd-appointment-book-2", "crd-order-dispatch-4", "crd-order-select-1"})
        for (const auto version : versions)
        {
            const auto request = validated(in_version(test::load_fixture(fixture + ".json"), version));
            const std::string suffix = fixture + "." + std::string(version);
            check_against_expected("undetermined." + suffix, undetermined_response(request, "Example Health Plan"));
            check_against_expected("no-coverage." + suffix, no_coverage_response(request, "Example Health Plan", reason_code::coverage_not_found));
        }
}

BOOST_AUTO_TEST_SUITE_END()
