// The decisions protocol (docs/decision-api.yaml): the compact request crd-server sends, and the
// conformant CRD answer it writes from per-order decisions, in the caller's version, repairing
// what a decision service gets wrong.

#include <crd/core/hook_request.hpp>
#include <crd/decision/coverage_information.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/decisions_protocol.hpp>
#include <crd/decision/rules.hpp>

#include "fixtures.hpp"
#include "validated_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

// crd-order-sign-1.json (ServiceRequest/1357: CPT 77061; ServiceRequest/2468: HCPCS E0431; the
// member's Coverage COV1 in prefetch), asked in `version` ("" for none).
json::value sign_request(std::string_view version)
{
    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& ext = doc.as_object()["extension"];
    if (!ext.is_object())
        ext = json::object{};
    if (version.empty())
        ext.as_object().erase("davinci-crd.requestedVersion");
    else
        ext.as_object()["davinci-crd.requestedVersion"] = version;
    return doc;
}

using test::validated;

struct answered
{
    core::hook_request request;
    decisions_report report;
    std::optional<json::object> response;  // constructed from the answer: keeps its memory resource
};

answered answer(std::string_view decisions, std::string_view version, json::value doc = {})
{
    answered out;
    out.request = validated(doc.is_null() ? sign_request(version) : std::move(doc));
    auto r = answer_from_decisions(json::parse(decisions), out.request, "Example Plan", out.report);
    if (r)
        out.response.emplace(std::move(*r));
    return out;
}

// The update action about `reference`, or nullptr.
const json::object* action_for(const json::object& response, std::string_view reference)
{
    const json::value* actions = response.if_contains("systemActions");
    if (!actions)
        return nullptr;
    for (const auto& a : actions->as_array())
    {
        const auto& r = a.at("resource").as_object();
        if (std::string(r.at("resourceType").as_string()) + "/" + std::string(r.at("id").as_string()) == reference)
            return &a.as_object();
    }
    return nullptr;
}

// url -> values of the coverage-information extension on the action's resource.
std::multimap<std::string, json::value> coverage_info(const json::object& action)
{
    std::multimap<std::string, json::value> out;
    for (const auto& e : action.at("resource").at("extension").as_array())
        if (is_coverage_information(e))
            for (const auto& sub : e.at("extension").as_array())
                for (const auto& kv : sub.as_object())
                    if (kv.key() != "url")
                        out.emplace(std::string(sub.at("url").as_string()), kv.value());
    BOOST_TEST_REQUIRE(!out.empty());
    return out;
}

std::string code_of(const std::multimap<std::string, json::value>& info, const std::string& url)
{
    const auto it = info.find(url);
    return it == info.end() ? std::string() : std::string(it->second.as_string());
}

constexpr std::string_view both_decided = R"({"decisions": [
    {"order": "ServiceRequest/1357", "covered": "covered", "pa_needed": "no-auth"},
    {"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "auth-needed", "doc_needed": ["clinical"],
     "doc_purpose": ["withpa"], "reason": "Oxygen needs a blood-gas study.",
     "questionnaire": ["https://plan.example/fhir/Questionnaire/home-oxygen"],
     "links": [{"label": "Request prior authorization", "url": "https://plan.example/pa"}]}]})";

}  // namespace

BOOST_AUTO_TEST_SUITE(decisions_request)

BOOST_AUTO_TEST_CASE(carries_every_field_of_the_call_and_never_the_token)
{
    const auto request = validated(sign_request("2.2"));
    const auto text = decisions_request_body(request, false);
    const auto body = json::parse(text).as_object();
    BOOST_TEST(body.at("protocol").as_string() == "crd-decisions/1");
    BOOST_TEST(body.at("hook").as_string() == "order-sign");
    BOOST_TEST(body.at("service").as_string() == "order-sign-crd");
    BOOST_TEST(body.at("hookInstance").as_string() == std::string(request.hook_instance));
    BOOST_TEST(body.at("crdVersion").as_string() == "2.2");
    BOOST_TEST(body.at("patient").at("reference").as_string() == "Patient/123");
    BOOST_TEST(body.at("patient").as_object().contains("birthDate"));
    BOOST_TEST(body.at("patient").as_object().contains("gender"));
    BOOST_TEST(body.at("user").as_string() == std::string(request.user_id));
    BOOST_TEST(body.at("encounter").as_string() == "Encounter/" + std::string(request.encounter_id));

    const auto& coverages = body.at("coverages").as_array();
    BOOST_TEST_REQUIRE(coverages.size() == 1U);
    const auto& cov = coverages[0].as_object();
    BOOST_TEST(cov.at("reference").as_string() == "Coverage/COV1");
    BOOST_TEST(cov.at("status").as_string() == "active");
    BOOST_TEST(!cov.at("payers").as_array().empty());
    BOOST_TEST(cov.contains("subscriberId"));
    BOOST_TEST(cov.contains("classes"));

    const auto& orders = body.at("orders").as_array();
    BOOST_TEST_REQUIRE(orders.size() == 2U);
    const auto& oxygen = orders[1].as_object();
    BOOST_TEST(oxygen.at("reference").as_string() == "ServiceRequest/2468");
    BOOST_TEST(oxygen.at("resourceType").as_string() == "ServiceRequest");
    BOOST_TEST(oxygen.at("selected").as_bool());
    BOOST_TEST(oxygen.at("status").as_string() == "draft");
    BOOST_TEST(oxygen.at("intent").as_string() == "original-order");
    const auto& code = oxygen.at("codes").as_array().at(0).as_object();
    BOOST_TEST(code.at("code").as_string() == "E0431");
    BOOST_TEST(code.at("system").as_string() == "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets");
    BOOST_TEST(!oxygen.at("description").as_string().empty());
    BOOST_TEST(oxygen.contains("performers"));
    BOOST_TEST(oxygen.contains("dates"));

    // The EHR's access token never leaves for the decision service, nor the prefetch unasked.
    BOOST_TEST(text.find("fhirAuthorization") == std::string::npos);
    BOOST_TEST(text.find(std::string(request.document->at("fhirAuthorization").at("access_token").as_string())) == std::string::npos);
    BOOST_TEST(!body.contains("prefetch"));
    const auto with_prefetch = json::parse(decisions_request_body(request, true)).as_object();
    BOOST_TEST(with_prefetch.at("prefetch") == request.document->at("prefetch"));
}

BOOST_AUTO_TEST_CASE(order_select_marks_what_was_selected)
{
    auto doc = test::load_fixture("crd-order-select-1.json");
    const auto request = validated(std::move(doc));
    const auto body = json::parse(decisions_request_body(request, false)).as_object();
    BOOST_TEST(body.at("hook").as_string() == "order-select");
    std::size_t selected = 0;
    for (const auto& o : body.at("orders").as_array())
        selected += o.at("selected").as_bool() ? 1U : 0U;
    BOOST_TEST(selected >= 1U);
    BOOST_TEST(selected <= body.at("orders").as_array().size());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decisions_answer)

BOOST_AUTO_TEST_CASE(a_request_given_to_the_answer_gives_it_its_orders_and_keeps_them_otherwise)
{
    // The same answer either way; given (non-const), the orders move into the update actions
    // (a swap in the document's arena) where a const request has them copied.
    for (std::string_view version : {"", "2.2"})
    {
        BOOST_TEST_CONTEXT("version '" << version << "'")
        {
            auto request = validated(sign_request(version));
            std::vector<std::pair<std::string, json::object>> as_sent;
            for (const auto& item : request.items)
                as_sent.emplace_back(std::string(item.resource_type) + "/" + std::string(item.id), *item.resource);
            BOOST_TEST_REQUIRE(as_sent.size() == 2U);

            decisions_report report;
            const core::hook_request& kept = request;
            const auto copied = answer_from_decisions(json::parse(both_decided), kept, "Example Plan", report);
            BOOST_TEST_REQUIRE(copied.has_value());
            for (std::size_t i = 0; i < as_sent.size(); ++i)
                BOOST_TEST(*request.items[i].resource == as_sent[i].second);  // the request still has its orders

            const auto moved = answer_from_decisions(json::parse(both_decided), request, "Example Plan", report);
            BOOST_TEST_REQUIRE(moved.has_value());
            for (const auto& item : request.items)
                BOOST_TEST(item.resource->empty());  // taken, not copied
            BOOST_TEST(request.prefetch_resources.empty());
            for (const auto* answer : {&*copied, &*moved})
                for (const auto& [reference, order] : as_sent)
                {
                    const auto* action = action_for(*answer, reference);
                    BOOST_TEST_REQUIRE(action != nullptr);
                    const auto& resource = action->at("resource").as_object();
                    for (const auto& member : order)
                        BOOST_TEST(resource.at(member.key()) == member.value());
                    BOOST_TEST(code_of(coverage_info(*action), "covered") == "covered");
                }
            BOOST_TEST(moved->at("cards").as_array().size() == copied->at("cards").as_array().size());
        }
    }
}

BOOST_AUTO_TEST_CASE(each_decision_becomes_coverage_information_on_its_order_in_2_0_and_2_2)
{
    for (std::string_view version : {"", "2.2"})
    {
        BOOST_TEST_CONTEXT("version '" << version << "'")
        {
            auto a = answer(both_decided, version);
            BOOST_TEST_REQUIRE(a.response.has_value());
            BOOST_TEST(!a.report.changed());
            const auto* oxygen = action_for(*a.response, "ServiceRequest/2468");
            BOOST_TEST_REQUIRE(oxygen != nullptr);
            const auto info = coverage_info(*oxygen);
            BOOST_TEST(code_of(info, "covered") == "covered");
            BOOST_TEST(code_of(info, "pa-needed") == "auth-needed");
            BOOST_TEST(code_of(info, "doc-needed") == "clinical");
            BOOST_TEST(code_of(info, "doc-purpose") == "withpa");
            BOOST_TEST(info.count("questionnaire") == 1U);
            BOOST_TEST(info.count("reason") == 1U);
            BOOST_TEST(info.find("coverage")->second.at("reference").as_string() == "Coverage/COV1");
            const auto* plain = action_for(*a.response, "ServiceRequest/1357");
            BOOST_TEST_REQUIRE(plain != nullptr);
            BOOST_TEST(code_of(coverage_info(*plain), "pa-needed") == "no-auth");
            // The link becomes an External Reference card about the oxygen order.
            const auto& cards = a.response->at("cards").as_array();
            BOOST_TEST_REQUIRE(cards.size() == 1U);
            BOOST_TEST(cards[0].at("links").at(0).at("url").as_string() == "https://plan.example/pa");
            BOOST_TEST(cards[0].at("source").at("label").as_string() == "Example Plan");
            const auto& topic_system = cards[0].at("source").at("topic").at("system").as_string();
            BOOST_TEST(topic_system == (version == "2.2" ? "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
                                                         : "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"));
        }
    }
}

BOOST_AUTO_TEST_CASE(what_only_2_2_can_say_is_said_as_2_0_allows)
{
    constexpr std::string_view decisions = R"({"decisions": [
        {"order": "ServiceRequest/1357", "covered": "indeterminate", "pa_needed": "indeterminate", "reason_codes": ["no-member-found"],
         "reason": "The member could not be found in the claims system."},
        {"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "satisfied", "satisfied_pa_id": "PA-417",
         "expiry_date": "2027-03-01", "contacts": [{"name": "PA desk", "telecom": [{"system": "phone", "value": "+1-555-0100"}]}]}]})";
    auto v22 = answer(decisions, "2.2");
    BOOST_TEST_REQUIRE(v22.response.has_value());
    const auto i22 = coverage_info(*action_for(*v22.response, "ServiceRequest/1357"));
    BOOST_TEST(code_of(i22, "covered") == "indeterminate");
    BOOST_TEST(i22.find("reason")->second.at("coding").at(0).at("code").as_string() == "no-member-found");
    const auto s22 = coverage_info(*action_for(*v22.response, "ServiceRequest/2468"));
    BOOST_TEST(code_of(s22, "pa-needed") == "satisfied");
    BOOST_TEST(s22.find("satisfied-pa-id")->second.as_string() == "PA-417");
    BOOST_TEST(s22.find("expiry-date")->second.as_string() == "2027-03-01");
    BOOST_TEST(s22.find("contact")->second.as_object().contains("name"));  // ContactDetail

    auto v20 = answer(decisions, "");
    BOOST_TEST_REQUIRE(v20.response.has_value());
    const auto i20 = coverage_info(*action_for(*v20.response, "ServiceRequest/1357"));
    BOOST_TEST(code_of(i20, "covered") == "conditional");  // 2.0 has no indeterminate
    const auto s20 = coverage_info(*action_for(*v20.response, "ServiceRequest/2468"));
    BOOST_TEST(s20.count("expiry-date") == 0U);  // 2.0 has no expiry-date
    BOOST_TEST(s20.find("satisfied-pa-id")->second.as_string() == "PA-417");
    BOOST_TEST(s20.find("contact")->second.as_object().contains("system"));  // ContactPoint
}

BOOST_AUTO_TEST_CASE(an_order_without_a_decision_is_answered_as_undetermined_and_counted)
{
    constexpr std::string_view only_one = R"({"decisions": [{"order": "ServiceRequest/1357", "covered": "covered", "pa_needed": "no-auth"}]})";
    auto v22 = answer(only_one, "2.2");
    BOOST_TEST_REQUIRE(v22.response.has_value());
    BOOST_TEST(v22.report.count(decision_repair::missing_order) == 1U);
    const auto info = coverage_info(*action_for(*v22.response, "ServiceRequest/2468"));
    BOOST_TEST(code_of(info, "covered") == "indeterminate");
    BOOST_TEST(info.find("reason")->second.at("coding").at(0).at("code").as_string() == "technical");

    auto v20 = answer(only_one, "");
    const auto info20 = coverage_info(*action_for(*v20.response, "ServiceRequest/2468"));
    BOOST_TEST(code_of(info20, "covered") == "conditional");
    BOOST_TEST(code_of(info20, "info-needed") == "OTH");
}

BOOST_AUTO_TEST_CASE(unknown_and_repeated_orders_are_left_out_and_counted)
{
    constexpr std::string_view decisions = R"({"decisions": [
        {"order": "ServiceRequest/1357", "covered": "covered", "pa_needed": "no-auth"},
        {"order": "ServiceRequest/1357", "covered": "not-covered"},
        {"order": "ServiceRequest/9999", "covered": "not-covered"},
        {"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth"}]})";
    auto a = answer(decisions, "2.2");
    BOOST_TEST_REQUIRE(a.response.has_value());
    BOOST_TEST(a.report.count(decision_repair::duplicate_order) == 1U);
    BOOST_TEST(a.report.count(decision_repair::unknown_order) == 1U);
    BOOST_TEST(a.response->at("systemActions").as_array().size() == 2U);
    BOOST_TEST(code_of(coverage_info(*action_for(*a.response, "ServiceRequest/1357")), "covered") == "covered");  // the first stands
    BOOST_TEST(action_for(*a.response, "ServiceRequest/9999") == nullptr);
}

BOOST_AUTO_TEST_CASE(a_decision_with_a_bad_value_names_the_field_and_its_order_is_undetermined)
{
    const std::map<std::string, std::string> bad = {
        {R"({"order": "ServiceRequest/2468", "covered": "maybe", "pa_needed": "no-auth"})", "decisions[1].covered"},
        {R"({"order": "ServiceRequest/2468", "covered": "covered"})", "decisions[1].pa_needed"},
        {R"({"order": "ServiceRequest/2468", "covered": "not-covered", "pa_needed": "no-auth"})", "decisions[1].pa_needed"},
        {R"({"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "satisfied"})", "decisions[1].satisfied_pa_id"},
        {R"({"order": "ServiceRequest/2468", "covered": "indeterminate", "pa_needed": "no-auth"})", "decisions[1].covered"},
        {R"({"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth", "expiry_date": "tomorrow"})", "decisions[1].expiry_date"},
        {R"({"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth", "reason_codes": ["because"]})",
            "decisions[1].reason_codes[0]"},
        {R"({"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth", "links": [{"label": "x", "url": "ftp://x"}]})",
            "decisions[1].links[0].url"},
        {R"({"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth", "questionnaire": "https://q"})",
            "decisions[1].questionnaire"},
        {R"("ServiceRequest/2468")", "decisions[1]"},
    };
    for (const auto& [decision, field] : bad)
    {
        BOOST_TEST_CONTEXT(decision)
        {
            const std::string decisions =
                R"({"decisions": [{"order": "ServiceRequest/1357", "covered": "covered", "pa_needed": "no-auth"}, )" + decision + "]}";
            auto a = answer(decisions, "2.2");
            BOOST_TEST_REQUIRE(a.response.has_value());
            BOOST_TEST(a.report.count(decision_repair::invalid_decision) == 1U);
            BOOST_TEST_REQUIRE(a.report.notes.size() >= 1U);
            BOOST_TEST(a.report.notes[0].find("decision field '" + field) != std::string::npos, a.report.notes[0]);
            const auto* action = action_for(*a.response, "ServiceRequest/2468");
            BOOST_TEST_REQUIRE(action != nullptr);
            BOOST_TEST(code_of(coverage_info(*action), "covered") == "indeterminate");
            BOOST_TEST(code_of(coverage_info(*action_for(*a.response, "ServiceRequest/1357")), "covered") == "covered");
        }
    }
}

BOOST_AUTO_TEST_CASE(members_the_contract_does_not_define_are_ignored_and_listed)
{
    auto a =
        answer(R"({"trace": "t-1", "decisions": [{"order": "ServiceRequest/1357", "covered": "covered", "pa_needed": "no-auth", "internal_rule": 17},
        {"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth"}]})",
            "2.2");
    BOOST_TEST_REQUIRE(a.response.has_value());
    BOOST_TEST(!a.report.changed());
    BOOST_TEST(a.report.ignored_fields.size() == 2U);
}

BOOST_AUTO_TEST_CASE(informational_cards_are_rendered_and_bad_ones_left_out)
{
    auto a = answer(R"json({"decisions": [{"order": "ServiceRequest/1357", "covered": "covered", "pa_needed": "no-auth"},
                                      {"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth"}],
        "cards": [{"summary": "Member is in care management", "detail": "Call the care manager.", "order": "ServiceRequest/2468", "topic": "guideline"},
                  {"summary": "no indicator like this", "indicator": "urgent"},
                  {"detail": "no summary"},
                  {"summary": "about another order", "order": "ServiceRequest/9999"},
                  {"summary": "bad link", "links": [{"label": "x", "url": "javascript:alert(1)"}]}]})json",
        "2.2");
    BOOST_TEST_REQUIRE(a.response.has_value());
    BOOST_TEST(a.report.count(decision_repair::invalid_card) == 4U);
    const auto& cards = a.response->at("cards").as_array();
    BOOST_TEST_REQUIRE(cards.size() == 1U);
    BOOST_TEST(cards[0].at("indicator").as_string() == "info");
    BOOST_TEST(cards[0].at("source").at("topic").at("code").as_string() == "guideline");
    BOOST_TEST(cards[0].at("extension").at("davinci-crd.associated-resource").at(0).at("reference").as_string() == "ServiceRequest/2468");
    BOOST_TEST(!cards[0].at("uuid").as_string().empty());
}

BOOST_AUTO_TEST_CASE(cards_the_callers_max_cards_would_drop_are_not_built)
{
    // A warning card (prior authorization) before an info card: with max-cards 1 the info card
    // can never be kept, so it is not built; the service's own card is still added after them.
    constexpr std::string_view decisions = R"({"decisions": [
        {"order": "ServiceRequest/1357", "covered": "covered", "pa_needed": "auth-needed",
         "links": [{"label": "Request prior authorization", "url": "https://plan.example/pa"}]},
        {"order": "ServiceRequest/2468", "covered": "covered", "pa_needed": "no-auth",
         "links": [{"label": "Oxygen policy", "url": "https://plan.example/oxygen"}]}],
        "cards": [{"summary": "Member is in care management", "order": "ServiceRequest/2468"}]})";
    decisions_report report;
    auto everything = answer_from_decisions(json::parse(decisions), validated(sign_request("2.2")), "Example Plan", report);
    BOOST_TEST_REQUIRE(everything.has_value());
    BOOST_TEST_REQUIRE(everything->at("cards").as_array().size() == 3U);

    auto request = validated(sign_request("2.2"));
    request.cards_kept = 1;
    auto budgeted = answer_from_decisions(json::parse(decisions), request, "Example Plan", report);
    BOOST_TEST_REQUIRE(budgeted.has_value());
    const auto& cards = budgeted->at("cards").as_array();
    BOOST_TEST_REQUIRE(cards.size() == 2U);
    BOOST_TEST(cards[0].at("indicator").as_string() == "warning");
    BOOST_TEST(cards[1].at("summary").as_string() == "Member is in care management");

    crd_options one;
    one.max_cards = 1;
    apply_options(*everything, one);
    apply_options(*budgeted, one);
    BOOST_TEST_REQUIRE(budgeted->at("cards").as_array().size() == 1U);
    BOOST_TEST(budgeted->at("cards").at(0).at("summary") == everything->at("cards").at(0).at("summary"));
}

BOOST_AUTO_TEST_CASE(an_answer_that_is_not_a_decisions_response_is_a_failure)
{
    for (std::string_view garbage : {R"([])", R"({"cards": []})", R"({"decisions": {}})", R"("decisions")", R"(null)"})
    {
        BOOST_TEST_CONTEXT(garbage)
        {
            auto a = answer(garbage, "2.2");
            BOOST_TEST(!a.response.has_value());
        }
    }
    // The error the caller hears: the decision service's bad answer.
    auto request = validated(sign_request("2.2"));
    decisions_report report;
    auto r = answer_from_decisions(json::parse("[]"), request, "x", report);
    BOOST_TEST((r.error() == error_code(errc::decision_bad_response)));
}

BOOST_AUTO_TEST_CASE(order_select_gets_cards_but_no_coverage_information)
{
    auto doc = test::load_fixture("crd-order-select-1.json");
    auto request = validated(doc);
    json::array decisions;
    for (const auto& item : request.items)
        if (item.selected)
            decisions.push_back(json::object{{"order", std::string(item.resource_type) + "/" + std::string(item.id)}, {"covered", "covered"},
                {"pa_needed", "no-auth"}, {"instructions", "Order the generic."}});
    decisions_report report;
    auto r = answer_from_decisions(json::object{{"decisions", decisions}}, request, "Plan", report);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(!r->contains("systemActions"));
    BOOST_TEST(r->at("cards").as_array().size() == decisions.size());
    BOOST_TEST(!report.changed());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decisions_every_value)

// docs/decision-api/decisions-response-every-field.json, rendered for a 2.0.1 and a 2.2 caller.
BOOST_AUTO_TEST_CASE(every_decision_field_reaches_the_coverage_information_of_each_version)
{
    const auto example = test::read_file(std::string(CRD_SOURCE_DIR) + "/docs/decision-api/decisions-response-every-field.json");
    for (std::string_view version : {"", "2.2"})
    {
        BOOST_TEST_CONTEXT("version '" << version << "'")
        {
            auto a = answer(example, version);
            BOOST_TEST_REQUIRE(a.response.has_value());
            BOOST_TEST(!a.report.changed());
            const bool v22 = version == "2.2";
            const auto info = coverage_info(*action_for(*a.response, "ServiceRequest/1357"));
            BOOST_TEST(code_of(info, "covered") == "conditional");
            BOOST_TEST(code_of(info, "pa-needed") == "no-auth");
            BOOST_TEST(code_of(info, "doc-needed") == "admin");
            BOOST_TEST(code_of(info, "doc-purpose") == "withclaim");
            BOOST_TEST(info.count("info-needed") == 2U);
            BOOST_TEST(info.count("billingCode") == 1U);
            BOOST_TEST(info.find("billingCode")->second.at("code").as_string() == "77061");
            BOOST_TEST(info.count("detail") == 3U);
            BOOST_TEST(info.count("reason") >= 1U);
            // 2.2 contacts are ContactDetails (the name kept); 2.0 has one ContactPoint per telecom.
            BOOST_TEST(info.count("contact") == (v22 ? 1U : 2U));
            // expiry-date arrived in 2.1.
            BOOST_TEST(info.count("expiry-date") == (v22 ? 1U : 0U));
            if (v22)
                BOOST_TEST(info.find("expiry-date")->second.as_string() == "2027-06-30");

            const auto satisfied = coverage_info(*action_for(*a.response, "ServiceRequest/2468"));
            BOOST_TEST(code_of(satisfied, "pa-needed") == "satisfied");
            BOOST_TEST(satisfied.find("satisfied-pa-id")->second.as_string() == "PA-2026-000417");
            BOOST_TEST(satisfied.find("reason")->second.at("coding").at(0).at("code").as_string() == "gold-card");
            BOOST_TEST(satisfied.count("expiry-date") == (v22 ? 1U : 0U));

            // The links and the instructions of the first decision: two cards, the topic its own.
            const auto& cards = a.response->at("cards").as_array();
            BOOST_TEST_REQUIRE(cards.size() == 2U);
            BOOST_TEST(cards[0].at("summary").as_string() == "Covered in network; send the referral with the claim");
            BOOST_TEST(cards[0].at("source").at("topic").at("code").as_string() == "network");
            BOOST_TEST(cards[1].at("detail").as_string() == "Attach the referral number to the claim.");
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
