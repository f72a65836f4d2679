#include <crd/core/hook_request.hpp>
#include <crd/core/ids.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/fhir_codes.hpp>
#include <crd/decision/rules_engine.hpp>

#include "fixtures.hpp"
#include "validated_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <regex>
#include <set>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

const rules_engine& engine()
{
    static const rules_engine e(load_rules(std::string(CRD_SOURCE_DIR) + "/etc/rules.json"));
    return e;
}

using test::validated;

json::object evaluate(json::value doc)
{
    return engine().evaluate(validated(std::move(doc)));
}

// Sub-extension values of the coverage-information extension on a systemAction's resource.
std::multimap<std::string, json::value> coverage_info(const json::value& action)
{
    std::multimap<std::string, json::value> out;
    const json::value* found = nullptr;
    for (const auto& e : action.at("resource").at("extension").as_array())
        if (is_coverage_information(e))
        {
            BOOST_TEST(found == nullptr);  // exactly one per resource
            found = &e;
        }
    BOOST_TEST_REQUIRE(found != nullptr);
    for (const auto& sub : found->at("extension").as_array())
    {
        const auto& o = sub.as_object();
        for (const auto& kv : o)
            if (kv.key() != "url")
                out.emplace(std::string(o.at("url").as_string()), kv.value());
    }
    return out;
}

std::string code_of(const std::multimap<std::string, json::value>& ext, const std::string& url)
{
    const auto it = ext.find(url);
    return it == ext.end() ? std::string{} : std::string(it->second.as_string());
}

const std::regex uuid_re("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");

// The card rules of CDS Hooks 2.0 and CRD 2.0.1 (checklist §1.5, §2.6).
void check_card(const json::value& card, core::crd_version version = core::crd_version::v2_0)
{
    const auto& c = card.as_object();
    BOOST_TEST(std::regex_match(std::string(c.at("uuid").as_string()), uuid_re));
    const auto summary = std::string(c.at("summary").as_string());
    BOOST_TEST(!summary.empty());
    BOOST_TEST(summary.size() < 140U);
    const auto indicator = std::string(c.at("indicator").as_string());
    BOOST_TEST((indicator == "info" || indicator == "warning" || indicator == "critical"));
    BOOST_TEST(c.at("source").at("label").as_string() == "Example Health Plan");
    // The card-type CodeSystem of the caller's version: CRD temp before 2.2, cdshooks-card-type from 2.2.
    BOOST_TEST(c.at("source").at("topic").at("system").as_string() ==
               (version >= core::crd_version::v2_2 ? cdshooks_card_type_system : crd_card_type_system));
    BOOST_TEST(crd_card_types().count(c.at("source").at("topic").at("code").as_string()) == 1U);
    if (c.contains("links"))
    {
        BOOST_TEST(!c.at("links").as_array().empty());
        for (const auto& l : c.at("links").as_array())
        {
            BOOST_TEST(l.at("type").as_string() == "absolute");
            BOOST_TEST(std::string(l.at("url").as_string()).rfind("https://", 0) == 0U);
            BOOST_TEST(!l.at("label").as_string().empty());
        }
    }
    for (const auto& kv : c)  // CH-02: no empty values
        BOOST_TEST(!(kv.value().is_null() || (kv.value().is_string() && kv.value().as_string().empty()) ||
                     (kv.value().is_array() && kv.value().as_array().empty())));
}

void check_action(const json::value& action)
{
    BOOST_TEST(action.at("type").as_string() == "update");
    BOOST_TEST(!action.at("description").as_string().empty());
    BOOST_TEST(action.at("resource").is_object());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rules_engine_)

BOOST_AUTO_TEST_CASE(prior_auth_order_gets_coverage_information_and_both_card_kinds)
{
    auto doc = test::load_fixture("crd-order-sign-5.json");  // DeviceRequest E0250, hospital bed
    const json::value original_order = doc.at_pointer("/context/draftOrders/entry/0/resource");
    auto res = evaluate(doc);

    // One systemAction: the full order back, with ext-coverage-information added.
    const auto& actions = res.at("systemActions").as_array();
    BOOST_TEST_REQUIRE(actions.size() == 1U);
    check_action(actions[0]);
    const auto& resource = actions[0].at("resource").as_object();
    for (const auto& kv : original_order.as_object())
        if (kv.key() != "extension")
            BOOST_TEST(resource.at(kv.key()) == kv.value(), "field " << kv.key() << " echoed unchanged");

    auto ext = coverage_info(actions[0]);
    BOOST_TEST(ext.find("coverage")->second.at("reference").as_string() == "Coverage/cov015");
    BOOST_TEST(code_of(ext, "covered") == "covered");
    BOOST_TEST(code_of(ext, "pa-needed") == "auth-needed");
    BOOST_TEST(code_of(ext, "doc-needed") == "clinical");
    BOOST_TEST(code_of(ext, "doc-purpose") == "withpa");
    BOOST_TEST(code_of(ext, "questionnaire") == "https://www.example-health-plan.org/fhir/Questionnaire/hospital-bed");
    BOOST_TEST(code_of(ext, "date") == core::today_utc());
    BOOST_TEST(std::regex_match(code_of(ext, "coverage-assertion-id"), uuid_re));
    BOOST_TEST(ext.count("info-needed") == 0U);

    // An External Reference card (absolute links) and an Instructions card (no links, no suggestions).
    const auto& cards = res.at("cards").as_array();
    BOOST_TEST_REQUIRE(cards.size() == 2U);
    for (const auto& c : cards)
    {
        check_card(c);
        BOOST_TEST(c.at("extension").at("davinci-crd.associated-resource").at(0).as_string() == "DeviceRequest/devreq-015-e0250");
    }
    BOOST_TEST(cards[0].at("links").as_array().size() == 2U);
    BOOST_TEST(cards[0].at("indicator").as_string() == "warning");
    BOOST_TEST(std::string(cards[0].at("summary").as_string()).rfind("Prior authorization required", 0) == 0U);
    BOOST_TEST(!cards[1].as_object().contains("links"));
    BOOST_TEST(!cards[1].as_object().contains("suggestions"));
    BOOST_TEST(std::string(cards[1].at("detail").as_string()).find("face-to-face") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_order_gets_its_own_assertion_and_not_covered_needs_no_pa)
{
    auto res = evaluate(test::load_fixture("crd-order-sign-1.json"));  // mammography (not covered) + oxygen
    const auto& actions = res.at("systemActions").as_array();
    BOOST_TEST_REQUIRE(actions.size() == 2U);
    auto first = coverage_info(actions[0]);
    auto second = coverage_info(actions[1]);
    BOOST_TEST(actions[0].at("resource").at("id").as_string() == "1357");
    BOOST_TEST(code_of(first, "covered") == "not-covered");
    BOOST_TEST(first.count("pa-needed") == 0U);
    BOOST_TEST(code_of(second, "covered") == "conditional");
    BOOST_TEST(code_of(second, "pa-needed") == "auth-needed");
    BOOST_TEST(code_of(first, "coverage-assertion-id") != code_of(second, "coverage-assertion-id"));
    BOOST_TEST(first.find("coverage")->second.at("reference").as_string() == "Coverage/COV1");
    for (const auto& c : res.at("cards").as_array())
        check_card(c, core::crd_version::v2_2);  // the 2.2.1 IG example asks for "2.2"
    // 2.2 doc-needed coverage information under q8 carries a reason: (the rule's words).
    BOOST_TEST(second.count("reason") >= 1U);
}

BOOST_AUTO_TEST_CASE(an_appointment_based_on_a_service_request_puts_coverage_information_on_it_from_2_1)
{
    // CRD 2.2 cards.md (and the 2.1 appointment-no-order profile): the ServiceRequest the
    // Appointment is based on carries the coverage information, as sent plus the extension.
    auto doc = test::load_fixture("crd-appointment-book-2.json");
    json::object service_request{{"resourceType", "ServiceRequest"}, {"id", "servreq-g0180-1"}, {"status", "active"}, {"intent", "order"},
        {"subject", json::object{{"reference", "Patient/pat015"}}}};
    doc.as_object()["prefetch"].as_object()["serviceRequests"] =
        json::object{{"resourceType", "Bundle"}, {"type", "searchset"}, {"entry", json::array{json::object{{"resource", service_request}}}}};
    auto target_of = [&](std::string_view version) {
        auto d = doc;
        d.as_object()["extension"].as_object()["davinci-crd.requestedVersion"] = version;
        auto res = evaluate(d);
        BOOST_TEST_REQUIRE(res.at("systemActions").as_array().size() == 1U);
        return res.at("systemActions").at(0).at("resource").as_object();
    };
    const auto in_2_2 = target_of("2.2");
    BOOST_TEST(in_2_2.at("resourceType").as_string() == "ServiceRequest");
    BOOST_TEST(in_2_2.at("id").as_string() == "servreq-g0180-1");
    for (const auto& kv : service_request)  // as sent: only the extension is new
        BOOST_TEST(in_2_2.at(kv.key()) == kv.value(), "field " << kv.key());
    BOOST_TEST(in_2_2.size() == service_request.size() + 1U);
    BOOST_TEST(target_of("2.1").at("resourceType").as_string() == "ServiceRequest");
    // 2.0 puts it on the Appointment, as it always did.
    BOOST_TEST(target_of("2.0").at("resourceType").as_string() == "Appointment");
    // Without the ServiceRequest in the request there is nothing to echo: the Appointment carries it.
    auto without = test::load_fixture("crd-appointment-book-2.json");
    without.as_object()["extension"].as_object()["davinci-crd.requestedVersion"] = "2.2";
    BOOST_TEST(evaluate(without).at("systemActions").at(0).at("resource").at("resourceType").as_string() == "Appointment");
}

BOOST_AUTO_TEST_CASE(unmatched_orders_get_the_default_and_missing_coverage_is_conditional)
{
    // No Coverage anywhere in the request: the plan cannot be confirmed.
    auto res = evaluate(test::load_fixture("crd-order-sign-7.json"));
    const auto& actions = res.at("systemActions").as_array();
    BOOST_TEST_REQUIRE(actions.size() == 2U);
    for (const auto& a : actions)
    {
        check_action(a);
        auto ext = coverage_info(a);
        BOOST_TEST(code_of(ext, "covered") == "conditional");
        BOOST_TEST(code_of(ext, "pa-needed") == "no-auth");
        BOOST_TEST(code_of(ext, "info-needed") == "OTH");
        BOOST_TEST(!ext.find("coverage")->second.as_object().contains("reference"));
        BOOST_TEST(!ext.find("coverage")->second.at("display").as_string().empty());
    }
    BOOST_TEST(res.at("cards").as_array().empty());

    // With coverage, an order no rule names is simply covered without authorization.
    auto doc = test::load_fixture("crd-order-sign-6.json");
    doc.at_pointer("/context/draftOrders/entry/0/resource/code/coding/0").as_object()["code"] = "99999";
    auto plain = evaluate(doc);
    auto ext = coverage_info(plain.at("systemActions").at(0));
    BOOST_TEST(code_of(ext, "covered") == "covered");
    BOOST_TEST(code_of(ext, "pa-needed") == "no-auth");
    BOOST_TEST(ext.count("info-needed") == 0U);
}

BOOST_AUTO_TEST_CASE(payer_specific_rules_apply_only_to_that_payer)
{
    auto doc = test::load_fixture("crd-order-sign-6.json");  // G0180, Coverage cov015 paid by Organization/org1234
    auto res = evaluate(doc);
    auto ext = coverage_info(res.at("systemActions").at(0));
    BOOST_TEST(code_of(ext, "doc-needed") == "admin");
    BOOST_TEST_REQUIRE(res.at("cards").as_array().size() == 1U);
    BOOST_TEST(res.at("cards").at(0).at("source").at("topic").at("code").as_string() == "claim");

    doc.at_pointer("/prefetch/coverage/entry/0/resource/payor/0").as_object()["reference"] = "Organization/other-plan";
    auto other = evaluate(doc);
    BOOST_TEST(coverage_info(other.at("systemActions").at(0)).count("doc-needed") == 0U);
    BOOST_TEST(other.at("cards").as_array().empty());
}

BOOST_AUTO_TEST_CASE(performer_specific_rules_win_for_that_performer)
{
    auto doc = test::load_fixture("crd-order-dispatch-3.json");  // DeviceRequest E0424 in prefetch
    auto in_network = evaluate(doc);
    BOOST_TEST(code_of(coverage_info(in_network.at("systemActions").at(0)), "pa-needed") == "auth-needed");

    doc.at("context").as_object()["performer"] = "Organization/dme-nonpar-77";
    auto res = evaluate(doc);
    auto ext = coverage_info(res.at("systemActions").at(0));
    BOOST_TEST(code_of(ext, "pa-needed") == "performpa");
    BOOST_TEST_REQUIRE(!res.at("cards").as_array().empty());
    BOOST_TEST(res.at("cards").at(0).at("source").at("topic").at("code").as_string() == "network");
}

BOOST_AUTO_TEST_CASE(order_dispatch_echoes_the_prefetched_order_or_a_minimal_one)
{
    auto doc = test::load_fixture("crd-order-dispatch-2.json");
    auto res = evaluate(doc);
    const auto& resource = res.at("systemActions").at(0).at("resource");
    BOOST_TEST(resource.at("id").as_string() == "servreq-g0180-1");
    BOOST_TEST(resource.at("code") == doc.at_pointer("/prefetch/order/code"));

    auto bare = evaluate(test::load_fixture("crd-order-dispatch-4.json"));  // ServiceRequest/example, no prefetch
    const auto& minimal = bare.at("systemActions").at(0).at("resource");
    BOOST_TEST(minimal.at("resourceType").as_string() == "ServiceRequest");
    BOOST_TEST(minimal.at("id").as_string() == "example");
    BOOST_TEST(minimal.at("subject").at("reference").as_string() == "Patient/example");
    check_action(bare.at("systemActions").at(0));
}

BOOST_AUTO_TEST_CASE(appointments_get_coverage_information_and_limit_cards)
{
    auto res = evaluate(test::load_fixture("crd-appointment-book-3.json"));
    const auto& actions = res.at("systemActions").as_array();
    BOOST_TEST_REQUIRE(actions.size() == 2U);
    BOOST_TEST(actions[0].at("resource").at("resourceType").as_string() == "Appointment");
    BOOST_TEST(actions[1].at("resource").at("id").as_string() == "126");
    BOOST_TEST_REQUIRE(res.at("cards").as_array().size() == 1U);
    const auto& card = res.at("cards").at(0);
    check_card(card);
    BOOST_TEST(card.at("source").at("topic").at("code").as_string() == "limits");
    BOOST_TEST(card.at("extension").at("davinci-crd.associated-resource").at(0).as_string() == "Appointment/126");
}

BOOST_AUTO_TEST_CASE(secondary_hooks_return_cards_but_no_system_actions)
{
    auto select = evaluate(test::load_fixture("crd-order-select-2.json"));  // methotrexate: PA
    BOOST_TEST(!select.contains("systemActions"));
    BOOST_TEST_REQUIRE(select.at("cards").as_array().size() == 1U);
    check_card(select.at("cards").at(0));

    // Advice only for selected orders.
    auto doc = test::load_fixture("crd-order-select-2.json");
    auto& entries = doc.at_pointer("/context/draftOrders/entry").as_array();
    json::value other = entries[0];
    other.at("resource").as_object()["id"] = "unselected";
    entries.push_back(other);
    auto res = evaluate(doc);
    BOOST_TEST(res.at("cards").as_array().size() == 1U);

    auto start = evaluate(test::load_fixture("crd-encounter-start-1.json"));  // home health encounter
    BOOST_TEST(!start.contains("systemActions"));
    BOOST_TEST_REQUIRE(start.at("cards").as_array().size() == 1U);
    BOOST_TEST(start.at("cards").at(0).at("extension").at("davinci-crd.associated-resource").at(0).as_string() == "Encounter/pat015-rad-encounter");
    // The same encounter at discharge: that rule is for encounter-start only.
    BOOST_TEST(evaluate(test::load_fixture("crd-encounter-discharge-1.json")).at("cards").as_array().empty());
}

BOOST_AUTO_TEST_CASE(medication_references_resolve_through_prefetch)
{
    auto doc = test::load_fixture("crd-order-sign-4.json");
    // The published example points medicationReference at "Patient/MED1" (sic); use the Medication.
    doc.at_pointer("/context/draftOrders/entry/0/resource/medicationReference").as_object()["reference"] =
        "http://example.org/someEHR/fhir/Medication/MED1";
    // Make the referenced Medication's NDC one that a rule names, via a custom rule set.
    const char* rules = R"({
        "payer": {"name": "Plan"},
        "code_systems": {"ndc": ["http://hl7.org/fhir/sid/ndc"]},
        "default": {"covered": "covered", "pa_needed": "no-auth"},
        "rules": [{"id": "diclofenac", "codes": [{"system": "ndc", "code": "0093-0948"}],
                   "covered": "covered", "pa_needed": "auth-needed"}]
    })";
    rules_engine custom(parse_rules(json::parse(rules)));
    auto res = custom.evaluate(validated(doc));
    BOOST_TEST(code_of(coverage_info(res.at("systemActions").at(0)), "pa-needed") == "auth-needed");
}

BOOST_AUTO_TEST_CASE(long_summaries_are_cut_below_140_characters)
{
    const char* rules = R"({
        "payer": {"name": "Plan"},
        "default": {"covered": "covered", "pa_needed": "no-auth"},
        "rules": [{"id": "x", "codes": [{"system": "http://snomed.info/sct", "code": "726551006"}],
                   "covered": "covered", "pa_needed": "auth-needed",
                   "links": [{"label": "Policy", "url": "https://plan.example/p"}]}]
    })";
    rules_engine custom(parse_rules(json::parse(rules)));
    auto doc = test::load_fixture("crd-order-sign-1.json");
    doc.at_pointer("/context/draftOrders/entry/0/resource/code/coding/0").as_object()["display"] = std::string(300, 'y');
    auto res = custom.evaluate(validated(doc));
    const auto summary = std::string(res.at("cards").at(0).at("summary").as_string());
    BOOST_TEST(summary.size() <= 139U);
    BOOST_TEST(summary.substr(summary.size() - 3) == "\xE2\x80\xA6");
}

BOOST_AUTO_TEST_CASE(card_types_follow_the_rules)
{
    const auto sign = engine().card_types(*core::find_service("order-sign-crd"));
    BOOST_TEST((std::set<std::string>(sign.begin(), sign.end()) == std::set<std::string>{"claim", "coverage-info", "network"}));
    const auto book = engine().card_types(*core::find_service("appointment-book-crd"));
    BOOST_TEST((std::set<std::string>(book.begin(), book.end()) == std::set<std::string>{"coverage-info", "limits", "network", "claim"}));
}

BOOST_AUTO_TEST_CASE(every_published_request_gets_a_conformant_answer)
{
    for (const auto& name : test::request_fixture_names())
    {
        BOOST_TEST_CONTEXT(name)
        {
            auto doc = test::load_fixture(name);
            const bool primary = core::find_service(test::service_id_for(doc))->primary;
            const auto version = validated(doc).version;
            auto res = evaluate(doc);
            BOOST_TEST(res.at("cards").is_array());
            for (const auto& c : res.at("cards").as_array())
                check_card(c, version);
            // CRD: primary hooks always return coverage information (configuration is applied later).
            BOOST_TEST(res.contains("systemActions") == primary);
            if (primary)
                for (const auto& a : res.at("systemActions").as_array())
                {
                    check_action(a);
                    coverage_info(a);
                }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// The answer with what differs per call (card uuids, coverage-information ids, dates) blanked.
json::value masked(json::value v)
{
    if (v.is_object())
    {
        for (auto& kv : v.get_object())
        {
            if (kv.key() == "uuid" || kv.key() == "valueDate" || kv.key() == "valueDateTime")
                kv.value() = "masked";
            else if (kv.key() == "url" && kv.value().is_string() && kv.value().get_string() == "coverage-assertion-id")
                return json::object{{"url", "coverage-assertion-id"}, {"masked", true}};
            else
                kv.value() = masked(std::move(kv.value()));
        }
    }
    else if (v.is_array())
        for (auto& e : v.get_array())
            e = masked(std::move(e));
    return v;
}

core::hook_request in_version(json::value doc, const char* version)
{
    doc.as_object()["extension"] = json::object{{"davinci-crd.requestedVersion", version}};
    return validated(std::move(doc));
}

}  // namespace

BOOST_AUTO_TEST_CASE(moving_the_orders_into_the_answer_gives_the_answer_copying_them_gives)
{
    // evaluate(request&) moves each echoed order out of the request document (issue 19); the
    // answer must be the one evaluate(const request&) builds from copies, for every example.
    for (const char* version : {"2.0", "2.1", "2.2"})
        for (const std::string fixture : {"crd-order-sign-1.json", "crd-order-sign-5.json", "crd-order-select-1.json", "crd-order-dispatch-1.json",
                 "crd-appointment-book-2.json", "crd-encounter-start-1.json"})
        {
            BOOST_TEST_CONTEXT(fixture << " in " << version)
            {
                const auto doc = test::load_fixture(fixture);
                const json::object copied = engine().evaluate(static_cast<const core::hook_request&>(in_version(doc, version)));
                auto request = in_version(doc, version);
                const json::object moved = engine().evaluate(request);
                BOOST_TEST(json::serialize(masked(moved)) == json::serialize(masked(copied)));
                // The request's indexes would now point at moved-from resources: emptied, not left.
                BOOST_TEST(request.prefetch_resources.empty());
                BOOST_TEST(request.first_of_type.empty());
                BOOST_TEST(request.first_prefetched("Coverage") == nullptr);
            }
        }
}

BOOST_AUTO_TEST_CASE(an_order_two_updates_echo_is_copied_for_each_not_moved_away_from_the_second)
{
    // CRD 2.1+: an Appointment basedOn a ServiceRequest in the request updates that ServiceRequest.
    // Two Appointments basedOn the same one: both updates must carry the whole ServiceRequest.
    auto doc = test::load_fixture("crd-appointment-book-2.json");
    auto& entries = doc.at("context").at("appointments").at("entry").as_array();
    json::value second = entries.at(0);
    second.at("resource").as_object()["id"] = "125";
    entries.push_back(std::move(second));
    doc.at("context").at("appointments").as_object()["total"] = 2;
    doc.at("prefetch").as_object()["serviceRequests"] = json::parse(R"({"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "ServiceRequest", "id": "servreq-g0180-1", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/pat015"},
         "code": {"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "G0180"}]}}}]})");
    auto request = in_version(doc, "2.2");
    const json::object answer = engine().evaluate(request);
    const auto& actions = answer.at("systemActions").as_array();
    BOOST_TEST_REQUIRE(actions.size() == 2U);
    for (const auto& action : actions)
    {
        const auto& resource = action.at("resource").as_object();
        BOOST_TEST(resource.at("resourceType").as_string() == "ServiceRequest");
        BOOST_TEST(resource.at("id").as_string() == "servreq-g0180-1");
        BOOST_TEST(resource.at("code").at("coding").at(0).at("code").as_string() == "G0180");
    }
}

BOOST_AUTO_TEST_CASE(the_request_gives_up_its_orders_only_to_the_non_const_evaluate)
{
    auto request = validated(test::load_fixture("crd-order-sign-1.json"));
    const auto* first_order = request.items.at(0).resource;
    BOOST_TEST_REQUIRE(first_order != nullptr);
    const auto size_before = first_order->size();
    (void)engine().evaluate(static_cast<const core::hook_request&>(request));
    BOOST_TEST(first_order->size() == size_before);  // copied: the request is untouched
    (void)engine().evaluate(request);
    BOOST_TEST(first_order->empty());  // moved into the answer
}

BOOST_AUTO_TEST_CASE(cards_the_callers_max_cards_would_drop_are_not_built)
{
    // crd-order-sign-1's two orders four times over: per pair a warning card (mammography), then a
    // warning and an info card (oxygen's links and instructions), so that an info card is built
    // before warnings that push it out.
    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& entries = doc.at("context").at("draftOrders").at("entry").as_array();
    const json::array pair = entries;
    for (int copy = 1; copy < 4; ++copy)
        for (json::value entry : pair)
        {
            auto& resource = entry.at("resource").as_object();
            resource["id"] = std::string(resource.at("id").as_string()) + "-" + std::to_string(copy);
            entries.push_back(std::move(entry));
        }
    const std::size_t all_cards = engine().evaluate(validated(doc)).at("cards").as_array().size();
    BOOST_TEST_REQUIRE(all_cards == 12U);
    for (std::size_t max_cards = 0; max_cards <= 13; ++max_cards)
        BOOST_TEST_CONTEXT("max-cards " << max_cards)
        {
            crd_options options;
            options.max_cards = max_cards;
            json::object everything = engine().evaluate(validated(doc));
            auto request = validated(doc);
            request.cards_kept = max_cards;
            json::object budgeted = engine().evaluate(request);
            const std::size_t built = budgeted.at("cards").as_array().size();
            // The first max-cards warnings, and each info card built while fewer than max-cards
            // cards were: for W W I W W I W W I W W I.
            constexpr std::size_t expected_built[] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 11, 11, 12, 12};
            BOOST_TEST(built == expected_built[max_cards]);
            apply_options(everything, options);
            apply_options(budgeted, options);
            BOOST_TEST(json::serialize(masked(budgeted)) == json::serialize(masked(everything)));
        }
}

BOOST_AUTO_TEST_CASE(orders_with_one_rule_billed_to_different_coverages_each_get_their_own)
{
    // A call reads each Coverage once and renders each assertion once for the orders that share
    // it (issue 19): two oxygen orders, one billed to the active Coverage, one to a cancelled one,
    // must still each get their own coverage and determination.
    auto doc = test::load_fixture("crd-order-sign-1.json");
    auto& coverages = doc.at("prefetch").at("coverage").at("entry").as_array();
    json::value cancelled = coverages.at(0);
    cancelled.at("resource").as_object()["id"] = "COV2";
    cancelled.at("resource").as_object()["status"] = "cancelled";
    cancelled.as_object()["fullUrl"] = "http://example.org/someEHR/fhir/Coverage/COV2";
    coverages.push_back(std::move(cancelled));
    auto& orders = doc.at("context").at("draftOrders").at("entry").as_array();
    json::value second_oxygen = orders.at(1);
    second_oxygen.at("resource").as_object()["id"] = "2469";
    second_oxygen.at("resource").as_object()["insurance"] = json::array{json::object{{"reference", "Coverage/COV2"}}};
    orders.at(1).at("resource").as_object()["insurance"] = json::array{json::object{{"reference", "Coverage/COV1"}}};
    orders.push_back(std::move(second_oxygen));

    auto request = in_version(doc, "2.1");
    const json::object answer = engine().evaluate(request);
    const auto& actions = answer.at("systemActions").as_array();
    BOOST_TEST_REQUIRE(actions.size() == 3U);
    const auto active = coverage_info(actions.at(1));
    const auto inactive = coverage_info(actions.at(2));
    BOOST_TEST(actions.at(2).at("resource").at("id").as_string() == "2469");
    BOOST_TEST(active.find("coverage")->second.at("reference").as_string() == "Coverage/COV1");
    BOOST_TEST(inactive.find("coverage")->second.at("reference").as_string() == "Coverage/COV2");
    BOOST_TEST(code_of(active, "covered") != "not-covered");
    BOOST_TEST(code_of(inactive, "covered") == "not-covered");
    BOOST_TEST(inactive.find("reason")->second.at("coding").at(0).at("code").as_string() == "no-active-coverage");
}

BOOST_AUTO_TEST_CASE(the_reusing_forms_of_service_codings_and_describe_give_what_the_plain_ones_give)
{
    // The engine reuses one codings vector and one name buffer across a call's orders (issue 19).
    const auto request = validated(test::load_fixture("crd-order-sign-1.json"));
    const json::object bare{{"resourceType", "ServiceRequest"}, {"id", "bare-1"}};
    std::vector<coding> reused{{"stale-system", "stale-code", "stale display"}};
    std::string built = "stale";
    for (const auto& item : request.items)
    {
        const auto fresh = service_codings(*item.resource, request);
        service_codings(*item.resource, request, reused);
        BOOST_TEST_REQUIRE(reused.size() == fresh.size());
        for (std::size_t i = 0; i < fresh.size(); ++i)
            BOOST_TEST((reused[i].system == fresh[i].system && reused[i].code == fresh[i].code && reused[i].display == fresh[i].display));
        BOOST_TEST(describe(*item.resource, reused, built) == describe(*item.resource, fresh));
    }
    service_codings(bare, request, reused);
    BOOST_TEST(reused.empty());
    BOOST_TEST(describe(bare, reused, built) == "ServiceRequest/bare-1");
    BOOST_TEST(describe(bare, reused) == "ServiceRequest/bare-1");
}
