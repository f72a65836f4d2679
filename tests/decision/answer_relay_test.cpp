// relayable_as_written (issue 19): one pass over a decision service's answer that says whether the
// tree path (normalise_response, render_in_version, apply_options) would relay it unchanged. It
// may say no where the tree path would relay it (it is then only slower), never yes where the tree
// path would change anything: the EHR would get an unrepaired answer.

#include <crd/core/hook.hpp>
#include <crd/core/json_document.hpp>
#include <crd/decision/answer_relay.hpp>
#include <crd/decision/coverage_information.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/response_normaliser.hpp>

#include "fixtures.hpp"
#include "validated_request.hpp"

#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

constexpr core::crd_version all_versions[] = {core::crd_version::v2_0, core::crd_version::v2_1, core::crd_version::v2_2};

// What the tree path does with `text` for a caller of `version` keeping `max_cards` cards: true
// when it relays the text as written (nothing edited, repaired, noted, cut or moved).
bool tree_path_relays_as_written(const std::string& text, const core::hook_request& request, core::crd_version version, std::size_t max_cards)
{
    boost::system::error_code ec;
    auto doc = core::parse_document_keeping_text(std::string(text), core::max_json_depth, ec, core::entry_placing::off);
    if (!doc)
        return false;
    normalise_report report;
    auto out = normalise_response(std::move(*doc), report);
    if (!out)
        return false;
    rendering_report rendering;
    render_in_version(*out, request, version, report, rendering);
    crd_options options;
    options.max_cards = max_cards;
    const bool options_changed = apply_options(*out, options);
    return !report.edited && !report.changed() && report.notes.empty() && !rendering.changed() && !options_changed &&
           !core::exact_text_of(doc).empty();
}

const std::string card = R"({"uuid": "u1", "summary": "Prior authorization required", "indicator": "warning",
    "source": {"label": "Example Health Plan", "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "coverage-info"}}})";

std::string card_with(const std::string& members)
{
    return R"({"uuid": "u1", "summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}, )" + members + "}";
}

// Coverage information as `version` says it: what a service answering in the caller's version sends.
// `indeterminate` (2.2's own value) is said otherwise before 2.2.
std::string coverage_information(core::crd_version version, bool indeterminate = false)
{
    coverage_assertion a;
    a.coverage_reference = "Coverage/cov-1";
    a.covered = indeterminate ? "indeterminate" : "covered";
    a.pa_needed = indeterminate ? "indeterminate" : "no-auth";
    if (indeterminate)
        a.reasons.push_back(crd_reason(reason_code::technical, "The payer's systems could not decide"));
    a.date = "2026-12-01";
    a.assertion_id = "ca-17";
    rendering_report rendering;
    return json::serialize(render_coverage_information(a, version, rendering));
}

std::string update_of(const std::string& type, const std::string& id, const std::string& extensions)
{
    return R"({"type": "update", "description": "Coverage information", "resource": {"resourceType": ")" + type + R"(", "id": ")" + id +
           R"(", "status": "draft", "extension": [)" + extensions + "]}}";
}

std::string to_hex(unsigned char c)
{
    constexpr const char* digits = "0123456789abcdef";
    return {digits[c >> 4U], digits[c & 0xFU]};
}

std::string read_text(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

struct refusal
{
    std::string answer;
    std::string why_not;
    core::crd_version version = core::crd_version::v2_0;
    std::size_t cards_kept = default_max_cards;
};

// One bad input per rule the reader follows, each with the reason it stops at.
std::vector<refusal> refusals()
{
    const std::string ci = coverage_information(core::crd_version::v2_0);
    const std::string other_extension = R"({"url": "http://example.org/other", "valueString": "x"})";
    return {
        {"[]", "the answer is not an object"},
        {"{}", "the answer has no cards"},
        {R"({"systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D"}], "cards": []})",
            "the answer has members other than cards, then systemActions"},
        {R"({"cards": [], "extension": {"x": 1}})", "the answer has members other than cards, then systemActions"},
        {R"({"cards": {}})", "cards is not an array"},
        {R"({"cards": [], "systemActions": {}})", "systemActions is not an array"},
        {R"({"cards": [], "systemActions": []})", "systemActions is empty"},
        {R"({"cards": [1]})", "a card is not an object"},
        {R"({"cards": [{"summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}}]})", "a card has no uuid"},
        {R"({"cards": [{"uuid": 7, "summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}}]})", "a card has no uuid"},
        {R"({"cards": [{"uuid": "u", "summary": ")" + std::string(140, 'x') +
                R"(", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}}]})",
            "a card's summary, indicator or source.label would drop or cut it"},
        {R"({"cards": [{"uuid": "u", "summary": "S", "indicator": "nope", "source": {"label": "P", "topic": {"code": "c"}}}]})",
            "a card's summary, indicator or source.label would drop or cut it"},
        {R"({"cards": [{"uuid": "u", "summary": "S", "indicator": "info", "source": {"topic": {"code": "c"}}}]})",
            "a card's summary, indicator or source.label would drop or cut it"},
        {R"({"cards": [{"uuid": "u", "summary": "S", "indicator": "info", "source": "P"}]})", "a card's source is not an object"},
        {R"({"cards": [{"uuid": "u", "summary": "S", "indicator": "info", "source": {"label": "P"}}]})", "a card's source.topic has no code"},
        {R"({"cards": [{"uuid": "u", "summary": "S", "indicator": "info", "source": {"label": "P", "topic": "coverage-info"}}]})",
            "a card's source.topic has no code"},
        // The card type's CodeSystem of the caller's version: cdshooks-card-type from 2.2 on.
        {"{\"cards\": [" + card + "]}", "a card's topic system is not the caller's version's", core::crd_version::v2_2},
        {R"({"cards": [{"uuid": "u", "summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "coverage-info"}}}]})",
            "a card's topic system is not the caller's version's"},
        {"{\"cards\": [" + card_with(R"("links": {"label": "L"})") + "]}", "a card's links is not an array"},
        {"{\"cards\": [" + card_with(R"("links": [{"url": "https://p.example/x", "type": "absolute"}])") + "]}", "a link is invalid"},
        {"{\"cards\": [" + card_with(R"("links": [{"label": "L", "url": "ftp://p.example/x", "type": "absolute"}])") + "]}", "a link is invalid"},
        {"{\"cards\": [" + card_with(R"("links": [{"label": "L", "url": "https://p.example/x", "type": "web"}])") + "]}", "a link is invalid"},
        {"{\"cards\": [" + card_with(R"("links": ["https://p.example/x"])") + "]}", "a link is not an object"},
        {"{\"cards\": [" + card_with(R"("links": [{"label": "L", "url": "https://p.example/x", "type": "absolute", "appContext": "a"}])") + "]}",
            "an absolute link has an appContext"},
        {"{\"cards\": [" + card_with(R"("suggestions": [{"label": "L", "uuid": "s1"}], "selectionBehavior": "any")") + "]}",
            "a card has suggestions"},
        {"{\"cards\": [" + card_with(R"("detail": "")") + "]}", "a member is an empty string"},
        {"{\"cards\": [" + card_with(R"("detail": null)") + "]}", "a member is null"},
        {"{\"cards\": [" + card_with(R"("overrideReasons": [])") + "]}", "a member is an empty array"},
        {"{\"cards\": [" + card_with(R"("extension": {"x": {}})") + "]}", "a member is an empty object"},
        {"{\"cards\": [" + card_with(R"("links": [])") + "]}", "a member is an empty array"},
        {"{\"cards\": [" + card_with(R"("detail": "a", "detail": "b")") + "]}", "a key is given twice in one object"},
        {"{\"cards\": [" + card_with(R"("extension": {"x": 1, "y": {"z": 1, "z": 2}})") + "]}", "a key is given twice in one object"},
        // Conservative: keys are compared for repeats as the text writes them, so one with an
        // escape (in parts, or unescaped whole into the parser's buffer) takes the tree path.
        {"{\"cards\": [" + card_with(R"("d\u0065tail": "a")") + "]}", "a key is written with an escape"},
        {"{\"cards\": [" + card_with(R"("\u0064etail": "a", "detail": "b")") + "]}", "a key is written with an escape"},
        // Strings are read unescaped, as the tree holds them.
        {"{\"cards\": [" + card_with(R"("links": [{"label": "L", "url": "ftp:\/\/p.example\/x", "type": "absolute"}])") + "]}", "a link is invalid"},
        {"{\"cards\": [" + card_with(R"("detail": 1e400)") + "]}", "a number is outside double range"},
        // apply_options: most severe first, at most max-cards.
        {R"({"cards": [{"uuid": "u1", "summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}},
                       {"uuid": "u2", "summary": "S", "indicator": "critical", "source": {"label": "P", "topic": {"code": "c"}}}]})",
            "the cards are not the most severe first"},
        {"{\"cards\": [" + card + ", " + card + "]}", "more cards than the caller keeps", core::crd_version::v2_0, 1},
        // System actions.
        {R"({"cards": [], "systemActions": ["delete"]})", "a system action is not an object"},
        {R"({"cards": [], "systemActions": [{"type": "merge", "resourceId": "Task/1", "description": "D"}]})",
            "a system action's type is not create, update or delete"},
        {R"({"cards": [], "systemActions": [{"type": "update", "description": "D", "resource": {"id": "x"}}]})",
            "a system action lacks the resource or resourceId its type needs"},
        {R"({"cards": [], "systemActions": [{"type": "delete", "description": "D"}]})",
            "a system action lacks the resource or resourceId its type needs"},
        {R"({"cards": [], "systemActions": [{"type": "delete", "resourceId": "Task/1"}]})", "a system action has no description"},
        {R"({"cards": [], "systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D", "extension": []}]})",
            "a member is an empty array"},
        {R"({"cards": [], "systemActions": [)" +
                update_of("DeviceRequest", "d1",
                    R"({"url": "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information", "extension": [{"url": "pa-needed", "valueCode": "no-auth"}]})") +
                "]}",
            "coverage information without covered"},
        {R"({"cards": [], "systemActions": [)" + update_of("DeviceRequest", "d1", ci + ", " + other_extension) + "]}",
            "an extension comes after coverage information"},
        // 2.2's indeterminate is conditional before 2.2: said again, so not as written.
        {R"({"cards": [], "systemActions": [)" + update_of("DeviceRequest", "d1", coverage_information(core::crd_version::v2_2, true)) + "]}",
            "coverage information is not as the caller's version says it"},
        {R"({"cards": [], "systemActions": [)" + update_of("DeviceRequest", "d1", R"({"url": "x", "extension": [{"url": "y", "valueString": ""}]})") +
                "]}",
            "a member is an empty string"},
        // Not what the tree path reads either.
        {R"({"cards": [)", "not JSON the tree path reads"},
        {R"({"cards": []} {"cards": []})", "text after the answer"},
    };
}

// Answers the tree path relays as written, in the versions given.
struct relayable
{
    std::string answer;
    std::vector<core::crd_version> versions;
};

std::vector<relayable> relayables()
{
    const std::vector<core::crd_version> all(std::begin(all_versions), std::end(all_versions));
    const std::string ci_2_0 = coverage_information(core::crd_version::v2_0);
    const std::string other_extension = R"({"url": "http://example.org/other", "valueString": "x"})";
    std::vector<relayable> out{
        {R"({"cards": []})", all},
        {"  {\"cards\": [" + card + "]}\n", {core::crd_version::v2_0, core::crd_version::v2_1}},
        {"{\"cards\": [" + card_with(R"("links": [{"label": "L", "url": "https://p.example/x", "type": "smart", "appContext": "a"},
                                                 {"label": "M", "url": "http://p.example/y", "type": "absolute"}])") +
                "]}",
            all},
        // Escapes, spacing and number spellings the rules do not read go as they are.
        {"{ \"cards\" : [" +
                card_with(R"("detail": "Caf\u00e9\n1.50", "extension": {"x-score": 1.50, "n": -0, "ok": false, "list": [null, "", [], {}]})") + "] }",
            all},
        {R"({"cards": [{"uuid": "u1", "summary": "S", "indicator": "critical", "source": {"label": "P", "topic": {"code": "c"}}},
                       {"uuid": "u2", "summary": "S", "indicator": "warning", "source": {"label": "P", "topic": {"code": "c"}}},
                       {"uuid": "u3", "summary": "S", "indicator": "warning", "source": {"label": "P", "topic": {"code": "c"}}},
                       {"uuid": "u4", "summary": ")" +
                std::string(139, 'x') + R"(", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}}]})",
            all},
        // Values the rules read, written with escapes: read unescaped, as the tree holds them.
        {R"({"cards": [{"uuid": "u", "summary": "S", "indicator": "inf\u006f", "source": {"label": "P", "topic": {"code": "c"}}},
                       {"uuid": "v", "summary": "S", "indicator": "\u0069nfo", "source": {"label": "P", "topic": {"code": "c"}},
                        "links": [{"label": "L", "url": "https:\/\/p.example\/x", "type": "\u0061bsolute"}]}]})",
            all},
        {R"({"cards": [], "systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D"}]})", all},
        {R"({"cards": [], "systemActions": [{"type": "create", "description": "D", "resource": {"resourceType": "Task", "status": "draft"}}]})", all},
        {R"({"cards": [], "systemActions": [)" + update_of("DeviceRequest", "d1", other_extension + ", " + ci_2_0) + "]}", {core::crd_version::v2_0}},
    };
    for (const auto version : all_versions)
        out.push_back({R"({"cards": [], "systemActions": [)" + update_of("DeviceRequest", "d1", coverage_information(version)) + "]}", {version}});
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(answer_relay)

BOOST_AUTO_TEST_CASE(each_rule_stops_the_one_pass_at_a_bad_input)
{
    for (const auto& r : refusals())
        BOOST_TEST_CONTEXT(r.answer << " in " << core::to_string(r.version))
        {
            const auto verdict = relayable_as_written(r.answer, core::hook_request{}, r.version, r.cards_kept);
            BOOST_TEST(!verdict.relayable);
            BOOST_TEST(verdict.why_not == r.why_not);
        }
}

BOOST_AUTO_TEST_CASE(answers_that_need_nothing_go_as_written)
{
    for (const auto& r : relayables())
        for (const auto version : r.versions)
            BOOST_TEST_CONTEXT(r.answer << " in " << core::to_string(version))
            {
                const auto verdict = relayable_as_written(r.answer, core::hook_request{}, version, default_max_cards);
                BOOST_TEST(verdict.relayable, verdict.why_not);
                BOOST_TEST(tree_path_relays_as_written(r.answer, core::hook_request{}, version, default_max_cards));
            }
}

// The claim itself, on every answer above and the public examples, in every version, with and
// without a max-cards of one: a yes is a yes of the tree path's too.
BOOST_AUTO_TEST_CASE(a_yes_is_never_an_answer_the_tree_path_would_change)
{
    std::vector<std::string> answers;
    for (const auto& r : refusals())
        answers.push_back(r.answer);
    for (const auto& r : relayables())
        answers.push_back(r.answer);
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(test::fixture_path("responses"))))
        answers.push_back(read_text(entry.path()));
    answers.push_back(read_text(CRD_SOURCE_DIR "/bench/bodies/cds-hooks-answer-order-sign.json"));
    std::size_t yes = 0;
    for (const auto& answer : answers)
        for (const auto version : all_versions)
            for (const std::size_t cards_kept : {default_max_cards, std::size_t{1}})
                BOOST_TEST_CONTEXT(answer << " in " << core::to_string(version) << ", max-cards " << cards_kept)
                {
                    if (!relayable_as_written(answer, core::hook_request{}, version, cards_kept).relayable)
                        continue;
                    ++yes;
                    BOOST_TEST(tree_path_relays_as_written(answer, core::hook_request{}, version, cards_kept));
                }
    BOOST_TEST(yes > 20U);
}

// CRD 2.1+: an update of an order the request still holds must be that order as sent plus the
// extension, which only the tree can compare; with the request released there is nothing to compare.
BOOST_AUTO_TEST_CASE(coverage_information_for_an_order_the_request_holds_takes_the_tree_from_2_1)
{
    for (const char* version_text : {"2.1", "2.2"})
        BOOST_TEST_CONTEXT(version_text)
        {
            json::value doc = test::load_fixture("crd-order-sign-1.json");
            json::value& ext = doc.as_object()["extension"];
            if (!ext.is_object())
                ext.emplace_object();
            ext.as_object()["davinci-crd.requestedVersion"] = version_text;
            const core::hook_request request = test::validated(std::move(doc));
            BOOST_TEST_REQUIRE(!request.items.empty());
            const auto& item = request.items.front();
            const std::string answer = R"({"cards": [], "systemActions": [)" +
                                       update_of(std::string(item.resource_type), std::string(item.id), coverage_information(request.version)) + "]}";
            const auto held = relayable_as_written(answer, request, request.version, default_max_cards);
            BOOST_TEST(!held.relayable);
            BOOST_TEST(held.why_not == "a system action's resource is an order the request holds, in 2.1+");
            // Named with an escape, it is the same order: the id is compared unescaped, as the tree holds it.
            std::string escaped_id = answer;
            escaped_id.replace(escaped_id.find(R"("id": ")") + 7, 1, "\\u00" + to_hex(static_cast<unsigned char>(item.id.front())));
            const auto escaped = relayable_as_written(escaped_id, request, request.version, default_max_cards);
            BOOST_TEST(!escaped.relayable);
            BOOST_TEST(escaped.why_not == "a system action's resource is an order the request holds, in 2.1+");
            BOOST_TEST(relayable_as_written(answer, core::hook_request{}, request.version, default_max_cards).relayable);
            // Another order's update is no concern of the request's.
            const std::string other = R"({"cards": [], "systemActions": [)" +
                                      update_of(std::string(item.resource_type), "not-in-the-request", coverage_information(request.version)) + "]}";
            BOOST_TEST(relayable_as_written(other, request, request.version, default_max_cards).relayable);
            BOOST_TEST(tree_path_relays_as_written(other, request, request.version, default_max_cards));
        }
}

// A service whose answers keep needing the tree stops paying for a pass that says no: after eight
// refusals in a row it is tried on one answer in 64, and every answer again once one goes as written.
BOOST_AUTO_TEST_CASE(the_pass_backs_off_from_a_service_whose_answers_keep_needing_the_tree)
{
    relay_pass_backoff backoff;
    for (unsigned i = 1; i < relay_pass_backoff::refusals_before_backoff; ++i)
    {
        BOOST_TEST(backoff.should_try());
        backoff.record(false);
    }
    BOOST_TEST(backoff.should_try());
    backoff.record(false);  // the eighth in a row
    std::vector<unsigned> tried;
    for (unsigned call = 1; call <= 2 * relay_pass_backoff::retry_every; ++call)
        if (backoff.should_try())
        {
            tried.push_back(call);
            backoff.record(false);
        }
    BOOST_TEST(tried == (std::vector<unsigned>{relay_pass_backoff::retry_every, 2 * relay_pass_backoff::retry_every}));
    // One yes, and every answer is tried again; a single no does not stop that.
    while (!backoff.should_try())
    {
    }
    backoff.record(true);
    for (unsigned call = 0; call < 3; ++call)
    {
        BOOST_TEST(backoff.should_try());
        backoff.record(call != 1);
    }
}

BOOST_AUTO_TEST_CASE(a_text_only_document_is_its_text_and_no_tree)
{
    auto doc = core::text_only_document("\n {\"cards\": []} \n");
    BOOST_TEST(core::is_text_only(doc));
    BOOST_TEST(core::exact_text_of(doc) == R"({"cards": []})");
    BOOST_TEST(doc->is_null());
    boost::system::error_code ec;
    auto parsed = core::parse_document_keeping_text(std::string(R"({"cards": []})"), core::max_json_depth, ec);
    BOOST_TEST(!core::is_text_only(parsed));
    // An answer holding such a document is its text; one holding a parsed answer is its tree.
    const core::api_response unread(200, nullptr, core::text_only_document(" {\"cards\": []}\n"), nullptr);
    BOOST_TEST(unread.body_text() == R"({"cards": []})");
    const core::api_response parsed_answer(200, nullptr, std::move(parsed), json::object{{"cards", json::array{}}});
    BOOST_TEST(parsed_answer.body_text().empty());
}

BOOST_AUTO_TEST_SUITE_END()
