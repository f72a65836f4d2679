#include <crd/decision/coverage_information.hpp>
#include <crd/decision/response_normaliser.hpp>

#include "validated_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

json::object normalise(const char* text, normalise_report& report)
{
    auto r = normalise_response(json::parse(text), report);
    BOOST_TEST_REQUIRE(r.has_value());
    return std::move(*r);
}

const char* good_card = R"({"uuid": "u1", "summary": "S", "indicator": "info",
    "source": {"label": "P", "topic": {"system": "s", "code": "coverage-info"}}})";

}  // namespace

BOOST_AUTO_TEST_SUITE(response_normaliser_)

namespace {

// crd-order-sign-1 as a caller of `version` sends it, and a decision service's answer updating its
// first order: `resource` plus a coverage information extension (rendered in 2.2).
struct answered_order
{
    core::hook_request request;
    json::object order;
    json::object response;
};

// `edit_sent` changes the first order before the request is validated: the order as the EHR sent it.
answered_order answer_updating_first_order(
    const char* version, const std::function<void(json::object&)>& edit_resource, const std::function<void(json::object&)>& edit_sent = {})
{
    json::value doc = test::load_fixture("crd-order-sign-1.json");
    if (edit_sent)
        edit_sent(doc.at("context").at("draftOrders").at("entry").at(0).at("resource").as_object());
    json::value& ext = doc.as_object()["extension"];
    if (!ext.is_object())
        ext.emplace_object();
    ext.as_object()["davinci-crd.requestedVersion"] = version;
    answered_order out{test::validated(std::move(doc)), {}, {}};
    BOOST_TEST_REQUIRE(!out.request.items.empty());
    out.order = *out.request.items.front().resource;
    coverage_assertion a;
    a.coverage_reference = "Coverage/cov1";
    a.covered = "covered";
    a.pa_needed = "no-auth";
    a.date = "2026-05-01";
    a.assertion_id = "assertion-1";
    rendering_report rendering;
    json::object resource = out.order;
    edit_resource(resource);
    json::array extensions;
    if (const json::value* existing = resource.if_contains("extension"); existing && existing->is_array())
        extensions = existing->as_array();
    extensions.emplace_back(render_coverage_information(a, core::crd_version::v2_2, rendering));
    resource["extension"] = std::move(extensions);
    out.response = json::object{{"cards", json::array{}},
        {"systemActions", json::array{json::object{{"type", "update"}, {"description", "d"}, {"resource", std::move(resource)}}}}};
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_update_of_the_order_as_sent_is_relayed_unrepaired_from_2_1)
{
    for (const char* version : {"2.1", "2.2"})
    {
        BOOST_TEST_CONTEXT(version)
        {
            auto answered = answer_updating_first_order(version, [](json::object&) {});
            normalise_report report;
            rendering_report rendering;
            render_in_version(answered.response, answered.request, answered.request.version, report, rendering);
            BOOST_TEST(report.actions_repaired == 0U);
            BOOST_TEST(report.notes.empty());
            const auto& resource = answered.response.at("systemActions").at(0).at("resource").as_object();
            for (const auto& member : answered.order)
                if (member.key() != "extension")
                    BOOST_TEST(resource.at(member.key()) == member.value());
            BOOST_TEST(is_coverage_information(resource.at("extension").as_array().back()));
        }
    }
}

BOOST_AUTO_TEST_CASE(coverage_information_goes_after_the_orders_own_extensions_whether_rendered_again_or_left)
{
    // The order's own extension, sent by the EHR, then the service's coverage information (said in
    // 2.2). In each version the coverage information comes after the order's own extensions: moved
    // there when the service put it first, and re-rendered where the version says it otherwise.
    const json::object own{{"url", "http://example.org/own"}, {"valueString", "x"}};
    for (const char* version : {"2.0", "2.1", "2.2"})
        for (const bool coverage_first : {false, true})
            BOOST_TEST_CONTEXT(version << (coverage_first ? ", coverage information first" : ", own extension first"))
            {
                const auto add_own = [&](json::object& order) { order["extension"] = json::array{own}; };
                auto answered = answer_updating_first_order(version, add_own, add_own);
                auto& extensions = answered.response.at("systemActions").at(0).at("resource").at("extension").as_array();
                BOOST_TEST_REQUIRE(extensions.size() == 2U);
                const json::object said = extensions[1].as_object();  // as the service rendered it (2.2)
                if (coverage_first)
                    std::swap(extensions[0], extensions[1]);
                normalise_report report;
                rendering_report rendering;
                render_in_version(answered.response, answered.request, answered.request.version, report, rendering);
                const auto& out = answered.response.at("systemActions").at(0).at("resource").at("extension").as_array();
                BOOST_TEST_REQUIRE(out.size() == 2U);
                BOOST_TEST(out[0] == own);
                BOOST_TEST_REQUIRE(is_coverage_information(out[1]));
                coverage_assertion a;
                rendering_report read_report;
                BOOST_TEST_REQUIRE(read_coverage_information(said, a, read_report));
                rendering_report expected_report;
                BOOST_TEST(out[1] == render_coverage_information(a, answered.request.version, expected_report));
                BOOST_TEST(report.actions_repaired == 0U);
            }
}

BOOST_AUTO_TEST_CASE(an_update_of_the_order_with_its_members_reordered_is_the_order_as_sent)
{
    // JSON objects have no order: the same members written in another order are the same order.
    auto answered = answer_updating_first_order("2.2", [](json::object& resource) {
        json::object reversed;
        for (auto it = resource.end(); it != resource.begin();)
        {
            --it;
            json::value v = it->value();
            if (v.is_object())
            {
                json::object inner;
                const auto& o = v.get_object();
                for (auto in = o.end(); in != o.begin();)
                {
                    --in;
                    inner.emplace(in->key(), in->value());
                }
                v = std::move(inner);
            }
            reversed.emplace(it->key(), std::move(v));
        }
        resource = std::move(reversed);
    });
    normalise_report report;
    rendering_report rendering;
    render_in_version(answered.response, answered.request, answered.request.version, report, rendering);
    BOOST_TEST(report.actions_repaired == 0U);
    BOOST_TEST(report.notes.empty());
}

BOOST_AUTO_TEST_CASE(numbers_compare_as_boost_json_compares_them)
{
    // 1 and 1.0 are different values to Boost.JSON (an int64 and a double): a repair. The same 1
    // held as int64 in one tree and uint64 in the other is the same value: none.
    const auto sent_with = [](json::value n) { return [n](json::object& order) { order["crdTestNumber"] = n; }; };
    const auto service_sends = [](json::value n) { return [n](json::object& resource) { resource["crdTestNumber"] = n; }; };
    struct number_case
    {
        const char* what;
        json::value sent;
        json::value answered;
        unsigned repaired;
    };
    for (const auto& c : {number_case{"double sent, int answered", 1.0, std::int64_t{1}, 1U},
             number_case{"int64 sent, uint64 answered", std::int64_t{1}, std::uint64_t{1}, 0U},
             number_case{"the same int64", std::int64_t{7}, std::int64_t{7}, 0U}})
    {
        BOOST_TEST_CONTEXT(c.what)
        {
            auto answered = answer_updating_first_order("2.2", service_sends(c.answered), sent_with(c.sent));
            normalise_report report;
            rendering_report rendering;
            render_in_version(answered.response, answered.request, answered.request.version, report, rendering);
            BOOST_TEST(report.actions_repaired == c.repaired);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_orders_own_extensions_are_compared_and_its_old_coverage_information_is_not)
{
    // The EHR's order carries an extension of its own and an earlier coverage information; the
    // service keeps the first and replaces the second: the order as sent, not a repair.
    const json::object own{{"url", "http://example.org/fhir/StructureDefinition/order-note"}, {"valueString", "keep me"}};
    const json::object earlier_coverage_information{{"url", "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"},
        {"extension", json::array{json::object{{"url", "covered"}, {"valueCode", "not-covered"}}}}};
    const auto sent = [&](json::object& order) { order["extension"] = json::array{own, earlier_coverage_information}; };
    auto same = answer_updating_first_order(
        "2.2", [&](json::object& resource) { resource["extension"] = json::array{own}; }, sent);
    normalise_report report;
    rendering_report rendering;
    render_in_version(same.response, same.request, same.request.version, report, rendering);
    BOOST_TEST(report.actions_repaired == 0U);
    const auto& extensions = same.response.at("systemActions").at(0).at("resource").at("extension").as_array();
    BOOST_TEST_REQUIRE(extensions.size() == 2U);
    BOOST_TEST(extensions[0] == own);
    BOOST_TEST(is_coverage_information(extensions[1]));
    BOOST_TEST(extensions[1] != earlier_coverage_information);

    // Its own extension changed: a repair, and the one sent comes back.
    auto changed = answer_updating_first_order(
        "2.2",
        [&](json::object& resource) {
            json::object other = own;
            other["valueString"] = "changed";
            resource["extension"] = json::array{other};
        },
        sent);
    normalise_report changed_report;
    render_in_version(changed.response, changed.request, changed.request.version, changed_report, rendering);
    BOOST_TEST(changed_report.actions_repaired == 1U);
    BOOST_TEST(changed.response.at("systemActions").at(0).at("resource").at("extension").at(0) == own);

    // An "extension" that is not an array, on either side, is never the order as sent.
    auto not_an_array = answer_updating_first_order(
        "2.2", [](json::object&) {}, [](json::object& order) { order["extension"] = "x"; });
    normalise_report odd_report;
    render_in_version(not_an_array.response, not_an_array.request, not_an_array.request.version, odd_report, rendering);
    BOOST_TEST(odd_report.actions_repaired == 1U);
}

BOOST_AUTO_TEST_CASE(an_update_that_changes_the_order_gets_the_order_as_sent_from_2_1)
{
    const std::vector<std::pair<const char*, std::function<void(json::object&)>>> changes = {
        {"a member changed", [](json::object& r) { r["status"] = "revoked"; }},
        {"a member added",
            [](json::object& r) {
                r["note"] = json::array{json::object{{"text", "added"}}};
            }},
        {"a member removed", [](json::object& r) { r.erase("status"); }},
        {"a nested value changed",
            [](json::object& r) {
                for (auto& member : r)
                    if (member.value().is_object() && !member.value().get_object().empty())
                    {
                        member.value().get_object().begin()->value() = "changed";
                        return;
                    }
            }},
        {"another extension added",
            [](json::object& r) {
                r["extension"] = json::array{json::object{{"url", "http://example.org/x"}}};
            }},
    };
    for (const auto& [what, change] : changes)
    {
        BOOST_TEST_CONTEXT(what)
        {
            auto answered = answer_updating_first_order("2.2", change);
            normalise_report report;
            rendering_report rendering;
            render_in_version(answered.response, answered.request, answered.request.version, report, rendering);
            BOOST_TEST(report.actions_repaired == 1U);
            BOOST_TEST(report.edited);  // the service's text is not what the EHR gets
            const auto& resource = answered.response.at("systemActions").at(0).at("resource").as_object();
            for (const auto& member : answered.order)
                if (member.key() != "extension")
                    BOOST_TEST(resource.at(member.key()) == member.value());
            BOOST_TEST(resource.size() == answered.order.size() + (answered.order.contains("extension") ? 0 : 1));
            const auto& extensions = resource.at("extension").as_array();
            BOOST_TEST_REQUIRE(extensions.size() == 1U);
            BOOST_TEST(is_coverage_information(extensions.back()));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_valid_response_passes_unchanged)
{
    normalise_report report;
    const std::string text = std::string(R"({"cards": [)") + good_card + "]}";
    auto out = normalise(text.c_str(), report);
    BOOST_TEST(!report.changed());
    BOOST_TEST(out.at("cards") == json::parse(text).at("cards"));
    BOOST_TEST(!out.contains("systemActions"));
}

BOOST_AUTO_TEST_CASE(what_is_not_a_cds_hooks_response_is_an_error)
{
    for (const char* bad : {"[]", "\"x\"", "{}", R"({"cards": {}})", R"({"cards": null})"})
    {
        normalise_report report;
        auto r = normalise_response(json::parse(bad), report);
        BOOST_TEST_CONTEXT(bad)
        {
            BOOST_TEST_REQUIRE(r.has_error());
            BOOST_TEST(r.error() == error_code(errc::decision_bad_response));
        }
    }
}

BOOST_AUTO_TEST_CASE(invalid_cards_are_dropped_and_counted)
{
    normalise_report report;
    auto out = normalise(R"({"cards": [
        {"summary": "", "indicator": "info", "source": {"label": "P"}},
        {"summary": "S", "indicator": "urgent", "source": {"label": "P"}},
        {"summary": "S", "indicator": "info", "source": {}},
        {"summary": "S", "indicator": "info"},
        7,
        {"summary": "kept", "indicator": "critical", "source": {"label": "P"}}
    ]})",
        report);
    BOOST_TEST(out.at("cards").as_array().size() == 1U);
    BOOST_TEST(out.at("cards").at(0).at("summary").as_string() == "kept");
    BOOST_TEST(report.cards_dropped == 5U);
    BOOST_TEST(report.notes.size() >= 5U);
}

BOOST_AUTO_TEST_CASE(repairable_cards_are_repaired)
{
    normalise_report report;
    const std::string long_summary(200, 's');
    const std::string text = R"({"cards": [{"summary": ")" + long_summary + R"(", "indicator": "warning", "source": {"label": "P"},
        "detail": "", "overrideReasons": [], "extension": null,
        "links": [{"label": "ok", "url": "https://x.example/a", "type": "absolute", "appContext": "drop-me"},
                  {"label": "bad", "url": "relative", "type": "absolute"},
                  {"label": "bad type", "url": "https://x.example", "type": "web"}],
        "suggestions": [{"label": "Do it", "actions": [{"type": "create", "resource": {"resourceType": "Task"}},
                                                       {"type": "frobnicate", "description": "x"}]},
                        {"actions": []}]}]})";
    auto out = normalise(text.c_str(), report);
    const auto& card = out.at("cards").at(0).as_object();
    BOOST_TEST(card.at("summary").as_string().size() <= 139U);
    BOOST_TEST(!card.at("uuid").as_string().empty());
    BOOST_TEST(card.at("source").at("topic").at("code").as_string() == "coverage-info");
    BOOST_TEST(!card.contains("detail"));           // empty string removed
    BOOST_TEST(!card.contains("overrideReasons"));  // empty array removed
    BOOST_TEST(!card.contains("extension"));        // null removed
    BOOST_TEST(card.at("links").as_array().size() == 1U);
    BOOST_TEST(!card.at("links").at(0).as_object().contains("appContext"));
    const auto& suggestions = card.at("suggestions").as_array();
    BOOST_TEST_REQUIRE(suggestions.size() == 1U);  // the one without a label is dropped
    BOOST_TEST(!suggestions[0].at("uuid").as_string().empty());
    BOOST_TEST(suggestions[0].at("actions").as_array().size() == 1U);
    BOOST_TEST(suggestions[0].at("actions").at(0).at("description").as_string() == "Create Task");
    BOOST_TEST(card.at("selectionBehavior").as_string() == "at-most-one");
    BOOST_TEST(report.cards_repaired == 1U);
    BOOST_TEST(report.actions_dropped == 1U);
    BOOST_TEST(report.actions_repaired == 1U);
}

BOOST_AUTO_TEST_CASE(system_actions_get_the_same_checks)
{
    normalise_report report;
    auto out = normalise(R"({"cards": [], "systemActions": [
        {"type": "update", "resource": {"resourceType": "ServiceRequest", "id": "1"}},
        {"type": "update"},
        {"type": "delete", "resourceId": "ServiceRequest/2", "description": "Remove"},
        {"type": "remove", "description": "x"}
    ]})",
        report);
    const auto& actions = out.at("systemActions").as_array();
    BOOST_TEST(actions.size() == 2U);
    BOOST_TEST(actions[0].at("description").as_string() == "Update ServiceRequest");
    BOOST_TEST(report.actions_dropped == 2U);

    normalise_report none;
    auto empty = normalise(R"({"cards": [], "systemActions": [{"type": "bogus"}]})", none);
    BOOST_TEST(!empty.contains("systemActions"));  // never an empty array
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(response_normaliser_exact_)

// The exact answer and log notes, member order included (json::value's == ignores order): the
// normaliser is rewritten for speed from time to time (issue #19) and must not change either.
BOOST_AUTO_TEST_CASE(repairs_keep_their_exact_output_and_notes)
{
    normalise_report report;
    const std::string text = R"({"cards": [
        7,
        {"summary": "S", "indicator": "info", "source": {"label": ""}},
        {"uuid": "u2", "summary": ")" +
                             std::string(150, 's') + R"(", "indicator": "warning", "source": {"label": "P", "topic": {"code": ""}},
         "detail": "", "overrideReasons": [], "extension": null, "z": {"a": {"b": [], "c": null}}, "keep": 0, "also": false,
         "links": [{"label": "ok", "url": "https://x.example/a", "type": "absolute", "appContext": "drop-me"},
                   {"label": "smart", "url": "https://x.example/s", "type": "smart", "appContext": "kept"},
                   {"label": "bad", "url": "relative", "type": "absolute"}],
         "suggestions": [{"label": "Do it", "uuid": "s1", "actions": [{"type": "create", "resource": {"resourceType": "Task", "note": ""}},
                                                        {"type": "frobnicate", "description": "x"},
                                                        {"type": "delete", "resourceId": "Task/1"},
                                                        {"type": "update"},
                                                        {"type": "delete"}]},
                         {"actions": []}], "selectionBehavior": "all"},
        {"uuid": "u3", "summary": "T", "indicator": "critical", "source": {"label": "P", "topic": {"code": "x"}}, "links": 5}
    ], "systemActions": [{"type": "update", "resource": {"resourceType": "ServiceRequest", "id": "1", "extension": [], "note": [{"text": ""}]}},
                         7, {"type": "create", "resource": {}}]})";
    auto out = normalise(text.c_str(), report);
    auto& cards = out.at("cards").as_array();
    BOOST_TEST_REQUIRE(cards.size() == 2U);
    auto& suggestion = cards[0].as_object()["suggestions"].as_array().at(0).as_object();
    BOOST_TEST(suggestion.at("uuid").as_string() == "s1");
    const std::string expected =
        std::string(R"({"cards":[{"uuid":"u2","summary":")") + std::string(136, 's') + "\xE2\x80\xA6" +
        R"(","indicator":"warning","source":{"label":"P","topic":{"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"coverage-info","display":"Coverage Information"}},"selectionBehavior":"at-most-one","suggestions":[{"label":"Do it","uuid":"s1","actions":[{"type":"create","resource":{"resourceType":"Task"},"description":"Create Task"},{"type":"delete","resourceId":"Task/1","description":"Delete Task/1"}]}],"links":[{"label":"ok","url":"https://x.example/a","type":"absolute"},{"label":"smart","url":"https://x.example/s","type":"smart","appContext":"kept"}],"also":false,"keep":0},{"uuid":"u3","summary":"T","indicator":"critical","source":{"label":"P","topic":{"code":"x"}}}],"systemActions":[{"type":"update","resource":{"resourceType":"ServiceRequest","id":"1","note":[{}]},"description":"Update ServiceRequest"}]})";
    BOOST_TEST(json::serialize(out) == expected);
    std::string notes;
    for (const auto& n : report.notes)
        notes += n + "\n";
    BOOST_TEST(notes == "cards[0]: not an object\n"
                        "cards[1]: dropped (summary, indicator or source.label missing or invalid)\n"
                        "cards[2]: summary cut to 139 characters\n"
                        "cards[2]: source.topic set to coverage-info\n"
                        "cards[2]: invalid links dropped\n"
                        "cards[2].suggestions[0].actions[0]: description added\n"
                        "cards[2].suggestions[0].actions[1]: action type 'frobnicate' is not create, update or delete\n"
                        "cards[2].suggestions[0].actions[2]: description added\n"
                        "cards[2].suggestions[0].actions[3]: update action without a resource\n"
                        "cards[2].suggestions[0].actions[4]: delete action without resourceId\n"
                        "cards[2].suggestions[1]: dropped (no label)\n"
                        "cards[2]: selectionBehavior set to at-most-one\n"
                        "cards[3]: invalid links dropped\n"
                        "systemActions[0]: description added\n"
                        "systemActions[2]: create action without a resource\n");
    BOOST_TEST(report.cards_dropped == 2U);
    BOOST_TEST(report.cards_repaired == 2U);
    BOOST_TEST(report.actions_dropped == 5U);
    BOOST_TEST(report.actions_repaired == 3U);
}

BOOST_AUTO_TEST_CASE(system_actions_that_are_not_an_array_are_dropped_with_a_note)
{
    normalise_report report;
    auto out = normalise(R"({"cards": [], "systemActions": {"type": "create"}})", report);
    BOOST_TEST(json::serialize(out) == R"({"cards":[]})");
    BOOST_TEST_REQUIRE(report.notes.size() == 1U);
    BOOST_TEST(report.notes[0] == "systemActions: not an array, dropped");
}

BOOST_AUTO_TEST_CASE(many_cards_dropped_and_kept_keep_their_order)
{
    // Drops are made in place, the kept moving forward: every kept card, in its order, and
    // each dropped one counted once.
    json::array cards;
    for (int i = 0; i < 1000; ++i)
        cards.push_back(i % 3 == 0 ? json::value(i)
                                   : json::value(json::object{{"uuid", "u"}, {"summary", std::to_string(i)}, {"indicator", "info"},
                                         {"source", json::object{{"label", "P"}, {"topic", json::object{{"code", "c"}}}}}}));
    normalise_report report;
    auto out = normalise_response(json::object{{"cards", std::move(cards)}}, report);
    BOOST_TEST_REQUIRE(out.has_value());
    const auto& kept = out->at("cards").as_array();
    BOOST_TEST_REQUIRE(kept.size() == 666U);
    BOOST_TEST(report.cards_dropped == 334U);
    std::size_t k = 0;
    for (int i = 0; i < 1000; ++i)
        if (i % 3 != 0)
            BOOST_TEST(kept[k++].at("summary").as_string() == std::to_string(i));
}

BOOST_AUTO_TEST_CASE(the_answer_has_cards_then_system_actions_and_nothing_else)
{
    normalise_report report;
    auto out = normalise(R"({"extension": {"x": 1}, "systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D"}],
        "cards": [], "other": true})",
        report);
    BOOST_TEST(json::serialize(out) == R"({"cards":[],"systemActions":[{"type":"delete","resourceId":"Task/1","description":"D"}]})");
    normalise_report only_cards;
    auto plain = normalise(R"({"cards": [], "systemActions": []})", only_cards);
    BOOST_TEST(json::serialize(plain) == R"({"cards":[]})");
    normalise_report in_order;
    auto both = normalise(R"({"cards": [], "systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D"}, 5]})", in_order);
    BOOST_TEST(json::serialize(both) == R"({"cards":[],"systemActions":[{"type":"delete","resourceId":"Task/1","description":"D"}]})");
    BOOST_TEST(in_order.actions_dropped == 1U);
}

// report.edited decides whether the service's own bytes reach the EHR instead of the tree written
// again (remote_decision): it must be set by every change, counted as a repair or not, in
// normalising and in rendering for the caller's version, and by none when there is none.
BOOST_AUTO_TEST_CASE(edited_is_set_by_every_change_and_only_by_one)
{
    const std::string card = good_card;
    const std::string coverage_information = R"({"url": "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information",
        "extension": [{"url": "covered", "valueCode": "covered"}]})";
    const std::string coverage_action =
        R"({"type": "update", "description": "D", "resource": {"resourceType": "DeviceRequest", "id": "d1", "extension": [)" + coverage_information +
        "]}}";
    const std::string card_with_topic = R"({"uuid": "u1", "summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}})";
    struct case_
    {
        std::string answer;
        core::crd_version version;
        bool edited;
    };
    const std::vector<case_> cases{
        // Nothing to change.
        {R"({"cards": [)" + card + "]}", core::crd_version::v2_0, false}, {R"({"cards": []})", core::crd_version::v2_2, false},
        {R"({"cards": [)" + card + R"(], "systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D"}]})",
            core::crd_version::v2_0, false},
        {R"({"cards": [)" + card_with_topic + R"(, "links": [{"label": "L", "url": "https://p.example/x", "type": "smart", "appContext": "a"}]}]})",
            core::crd_version::v2_0, false},
        // Changes counted as repairs or drops.
        {R"({"cards": [{"summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}}}]})", core::crd_version::v2_0,
            true},  // uuid added
        {R"({"cards": [{"uuid": "u1", "summary": "S", "indicator": "nope", "source": {"label": "P"}}]})", core::crd_version::v2_0, true},
        {R"({"cards": [], "systemActions": [{"type": "update", "resource": {"resourceType": "Task"}}]})", core::crd_version::v2_0,
            true},  // description added
        {R"({"cards": [], "systemActions": [{"type": "merge"}]})", core::crd_version::v2_0, true},
        // Changes no counter sees.
        {R"({"cards": [)" + card_with_topic + R"(, "detail": ""}]})", core::crd_version::v2_0, true},  // an empty member pruned
        {R"({"cards": [)" + card_with_topic +
                R"(, "links": [{"label": "L", "url": "https://p.example/x", "type": "absolute", "appContext": "a"}]}]})",
            core::crd_version::v2_0, true},  // appContext of an absolute link
        {R"({"cards": [)" + card_with_topic + R"(, "suggestions": [{"label": "L", "uuid": "s1", "actions": "none"}], "selectionBehavior": "any"}]})",
            core::crd_version::v2_0, true},  // actions not a list
        {R"({"cards": [], "systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D", "extension": []}]})",
            core::crd_version::v2_0, true},                                        // an empty member of an action
        {R"({"cards": [], "systemActions": []})", core::crd_version::v2_0, true},  // an empty list removed
        {R"({"systemActions": [{"type": "delete", "resourceId": "Task/1", "description": "D"}], "cards": []})", core::crd_version::v2_0,
            true},                                                                   // members reordered
        {R"({"cards": [], "extension": {"x": 1}})", core::crd_version::v2_0, true},  // a member left out
        // Rendering for the caller's version.
        {R"({"cards": [{"uuid": "u1", "summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "coverage-info",
            "system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"}}}]})",
            core::crd_version::v2_2, true},  // the card-type CodeSystem of 2.2
        {R"({"cards": [{"uuid": "u1", "summary": "S", "indicator": "info", "source": {"label": "P", "topic": {"code": "c"}},
            "suggestions": [{"label": "L", "uuid": "s1", "actions": [)" +
                coverage_action + R"(]}], "selectionBehavior": "any"}]})",
            core::crd_version::v2_1, true},  // coverage information moved out of a card
        {R"({"cards": [], "systemActions": [{"type": "update", "description": "D", "resource": {"resourceType": "DeviceRequest", "id": "d1",
            "extension": [)" +
                coverage_information + R"(, {"url": "http://example.org/other", "valueString": "x"}]}}]})",
            core::crd_version::v2_0, true},  // coverage information moved after the order's own extensions
        {R"({"cards": [], "systemActions": [{"type": "update", "description": "D", "resource": {"resourceType": "DeviceRequest", "id": "d1",
            "extension": [{"url": "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information",
                           "extension": [{"url": "pa-needed", "valueCode": "no-auth"}]}]}}]})",
            core::crd_version::v2_0, true},  // unreadable coverage information: the action dropped
    };
    for (const auto& c : cases)
        BOOST_TEST_CONTEXT(c.answer << " in " << core::to_string(c.version))
        {
            normalise_report report;
            auto out = normalise_response(json::parse(c.answer), report);
            BOOST_TEST_REQUIRE(out.has_value());
            rendering_report rendering;
            render_in_version(*out, core::hook_request{}, c.version, report, rendering);
            BOOST_TEST(report.edited == c.edited);
            // Unedited, the tree says what the text says, member for member.
            if (!report.edited)
                BOOST_TEST(json::serialize(*out) == json::serialize(json::parse(c.answer)));
        }
    // And the coverage information a 2.0 service wrote, re-read, says exactly what 2.0 would.
    normalise_report report;
    const std::string as_2_0 = R"({"cards": [], "systemActions": [)" + coverage_action + "]}";
    auto out = normalise_response(json::parse(as_2_0), report);
    BOOST_TEST_REQUIRE(out.has_value());
    rendering_report rendering;
    render_in_version(*out, core::hook_request{}, core::crd_version::v2_0, report, rendering);
    BOOST_TEST(report.edited == (json::serialize(*out) != json::serialize(json::parse(as_2_0))));
}

BOOST_AUTO_TEST_SUITE_END()
