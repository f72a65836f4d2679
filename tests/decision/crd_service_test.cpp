#include <crd/decision/crd_service.hpp>
#include <crd/decision/rules_engine.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <regex>
#include <string>
#include <set>

namespace json = boost::json;
using namespace crd;
using namespace crd::decision;

namespace {

rules_engine& engine()
{
    static rules_engine e(load_rules(std::string(CRD_SOURCE_DIR) + "/etc/rules.json"));
    return e;
}

core::api_response call(core::hook_handler& h, json::value doc)
{
    core::request_context ctx;
    ctx.received = clock::now();
    return test::run_coro(h.handle(std::make_unique<json::value>(std::move(doc)), ctx));
}

// A decision source that always fails with the given error.
class failing_decision final : public core::decision_service
{
public:
    explicit failing_decision(errc e) : error_(e) {}
    net::awaitable<result<json::object>> decide(core::hook_request&, clock::time_point) override { co_return error_code(error_); }
    std::string_view mode() const noexcept override { return "failing"; }
    std::vector<std::string> card_types(const core::service_definition&) const override { return {}; }

private:
    errc error_;
};

// A decision service that answers `status` with an OperationOutcome when asked to keep it, as
// remote_decision does, and records what the handler gave it.
class outcome_decision final : public core::decision_service
{
public:
    explicit outcome_decision(unsigned status) : status_(status) {}
    net::awaitable<result<json::object>> decide(core::hook_request& request, clock::time_point) override
    {
        client_id = request.client_id;
        asked_to_keep = request.relay_upstream_outcome;
        if (request.relay_upstream_outcome)
            request.upstream_outcome = core::upstream_failure{status_,
                json::object{{"resourceType", "OperationOutcome"}, {"id", "theirs"}, {"issue", json::array{json::object{{"severity", "error"}}}}}};
        co_return status_ >= 500 ? error_code(errc::decision_unavailable) : decision_refused(status_);
    }
    std::string_view mode() const noexcept override { return "outcome"; }
    std::vector<std::string> card_types(const core::service_definition&) const override { return {}; }

    std::string client_id;
    bool asked_to_keep = false;

private:
    unsigned status_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(crd_service_)

BOOST_AUTO_TEST_CASE(relay_passes_the_decision_services_outcome_and_the_client_id_reaches_the_decision)
{
    for (const unsigned status : {422U, 503U})
        for (const auto policy : {core::failure_policy::error, core::failure_policy::relay})
            BOOST_TEST_CONTEXT("HTTP " << status << ", policy " << static_cast<int>(policy))
            {
                outcome_decision decision(status);
                crd_service sign(*core::find_service("order-sign-crd"), decision, std::chrono::seconds(4), nullptr, 0.5, {}, policy);
                core::request_context ctx;
                ctx.received = clock::now();
                ctx.client_id = "ehr-north";
                auto res = test::run_coro(sign.handle(std::make_unique<json::value>(test::load_fixture("crd-order-sign-5.json")), ctx));
                BOOST_TEST(decision.client_id == "ehr-north");
                BOOST_TEST(decision.asked_to_keep == (policy == core::failure_policy::relay));
                const bool relayed = res.body.as_object().contains("id") && res.body.at("id") == "theirs";
                BOOST_TEST(relayed == (policy == core::failure_policy::relay));
                BOOST_TEST(res.status == (relayed || status < 500 ? status : 502U));
                BOOST_TEST(res.decision == (status < 500 ? "rejected" : "error"));
            }
}

BOOST_AUTO_TEST_CASE(discovery_lists_every_service_with_cds_hooks_2_0_prefetch_tokens)
{
    auto cfg = test::test_config();
    auto registry = make_registry(cfg, engine());
    const auto doc = registry.discovery();
    const auto& services = doc.at("services").as_array();
    BOOST_TEST(services.size() == 6U);

    // Only root-level primitive context fields and the user* tokens (checklist CH-31).
    const std::regex token("\\{\\{([^}]*)\\}\\}");
    const std::set<std::string> allowed{"context.patientId", "context.userId", "context.encounterId", "context.performer", "context.order",
        "userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"};
    std::set<std::string> ids;
    for (const auto& s : services)
    {
        BOOST_TEST_CONTEXT(json::serialize(s.at("id")))
        {
            for (const char* key : {"id", "hook", "title", "description", "usageRequirements"})
                BOOST_TEST(!s.at(key).as_string().empty());
            ids.insert(std::string(s.at("id").as_string()));
            BOOST_TEST(std::string(s.at("id").as_string()) == std::string(s.at("hook").as_string()) + "-crd");
            for (const auto& kv : s.at("prefetch").as_object())
            {
                const std::string tmpl(kv.value().as_string());
                for (std::sregex_iterator it(tmpl.begin(), tmpl.end(), token), end; it != end; ++it)
                    BOOST_TEST(allowed.count((*it)[1].str()) == 1U, "token " << (*it)[1].str());
            }
            BOOST_TEST(s.at("prefetch").at("coverage").as_string() == "Coverage?patient={{context.patientId}}&status=active");
            const auto& options = s.at("extension").at("davinci-crd.configuration-options").as_array();
            BOOST_TEST(options.back().at("code").as_string() == "max-cards");
        }
    }
    BOOST_TEST(ids.count("encounter-discharge-crd") == 1U);
    // Primary hooks offer coverage-info as an option.
    const auto& sign_options = services[0].at("extension").at("davinci-crd.configuration-options").as_array();
    BOOST_TEST(sign_options[0].at("code") == "claim");
    BOOST_TEST(std::any_of(sign_options.begin(), sign_options.end(), [](const json::value& o) { return o.at("code") == "coverage-info"; }));
}

BOOST_AUTO_TEST_CASE(enabled_services_restrict_the_registry)
{
    auto cfg = test::test_config();
    cfg.enabled_services = std::vector<std::string>{"order-sign-crd", "appointment-book-crd"};
    auto registry = make_registry(cfg, engine());
    BOOST_TEST(registry.find("order-sign-crd") != nullptr);
    BOOST_TEST(registry.find("order-select-crd") == nullptr);
    BOOST_TEST(registry.discovery().at("services").as_array().size() == 2U);
}

BOOST_AUTO_TEST_CASE(timeouts_come_from_the_most_specific_setting)
{
    auto cfg = test::test_config();
    const auto& sign = *core::find_service("order-sign-crd");
    const auto& book = *core::find_service("appointment-book-crd");
    BOOST_TEST(decision_timeout(cfg, sign).count() == 4000);
    BOOST_TEST(decision_timeout(cfg, book).count() == 9000);
    cfg.decision.timeout = std::chrono::milliseconds(2500);
    BOOST_TEST(decision_timeout(cfg, book).count() == 2500);
    cfg.decision.services["appointment-book-crd"].timeout = std::chrono::milliseconds(8000);
    BOOST_TEST(decision_timeout(cfg, book).count() == 8000);
}

BOOST_AUTO_TEST_CASE(handle_honours_the_request_configuration)
{
    crd_service sign(*core::find_service("order-sign-crd"), engine(), std::chrono::seconds(4));

    auto full = call(sign, test::load_fixture("crd-order-sign-5.json"));
    BOOST_TEST(full.status == 200U);
    BOOST_TEST(full.body.at("cards").as_array().size() == 2U);
    BOOST_TEST(full.body.as_object().contains("systemActions"));

    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"max-cards", 1}};
    auto limited = call(sign, doc);
    BOOST_TEST(limited.status == 200U);
    BOOST_TEST_REQUIRE(limited.body.at("cards").as_array().size() == 1U);
    BOOST_TEST(limited.body.at("cards").at(0).at("indicator").as_string() == "warning");  // the most severe kept
    BOOST_TEST(limited.body.as_object().contains("systemActions"));

    // coverage-info false: neither the coverage-information systemAction nor coverage-info cards.
    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"coverage-info", false}};
    auto no_coverage = call(sign, doc);
    BOOST_TEST(no_coverage.status == 200U);
    BOOST_TEST(!no_coverage.body.as_object().contains("systemActions"));
    BOOST_TEST(no_coverage.body.at("cards").as_array().empty());

    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"max-cards", "one"}};
    auto bad = call(sign, doc);
    BOOST_TEST(bad.status == 422U);
    BOOST_TEST(bad.body.at("resourceType").as_string() == "OperationOutcome");
    BOOST_TEST(bad.body.at("issue").at(0).at("expression").at(0).as_string() == "extension.davinci-crd.configuration.max-cards");
}

BOOST_AUTO_TEST_CASE(max_cards_with_a_disabled_card_type_counts_only_the_enabled_cards)
{
    // A coverage-info warning (mammography) before a network warning (oxygen from a supplier out
    // of network): with coverage-info disabled and max-cards 1, the network card is the one card
    // kept. Had the rules engine been told to build at most one card, it would have stopped at the
    // disabled one.
    crd_service sign(*core::find_service("order-sign-crd"), engine(), std::chrono::seconds(4));
    auto doc = test::load_fixture("crd-order-sign-1.json");
    doc.at("context").at("draftOrders").at("entry").at(1).at("resource").as_object()["performer"] =
        json::array{json::object{{"reference", "Organization/dme-nonpar-77"}}};
    auto everything = call(sign, doc);
    BOOST_TEST_REQUIRE(everything.status == 200U);
    BOOST_TEST_REQUIRE(everything.body.at("cards").as_array().size() == 2U);
    BOOST_TEST(everything.body.at("cards").at(0).at("source").at("topic").at("code").as_string() == "coverage-info");

    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"max-cards", 1}, {"coverage-info", false}};
    auto limited = call(sign, doc);
    BOOST_TEST_REQUIRE(limited.status == 200U);
    BOOST_TEST_REQUIRE(limited.body.at("cards").as_array().size() == 1U);
    BOOST_TEST(limited.body.at("cards").at(0).at("source").at("topic").at("code").as_string() == "network");
}

namespace {

// `v` written with a line per member and element, indented: a caller's own spacing, which a
// re-serialised tree would not keep.
void write_spaced(const json::value& v, std::string& out, int indent = 0)
{
    const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
    if (v.is_object() && !v.get_object().empty())
    {
        out += "{\n";
        bool first = true;
        for (const auto& kv : v.get_object())
        {
            out += first ? "" : ",\n";
            first = false;
            out += pad + json::serialize(json::value(kv.key())) + " : ";
            write_spaced(kv.value(), out, indent + 2);
        }
        out += "\n" + std::string(static_cast<std::size_t>(indent), ' ') + "}";
    }
    else if (v.is_array() && !v.get_array().empty())
    {
        out += "[\n";
        bool first = true;
        for (const auto& e : v.get_array())
        {
            out += first ? "" : ",\n";
            first = false;
            out += pad;
            write_spaced(e, out, indent + 2);
        }
        out += "\n" + std::string(static_cast<std::size_t>(indent), ' ') + "]";
    }
    else
        out += json::serialize(v);
}

// A call as the listener makes it: the document parsed from `text`, which is the context's body.
core::api_response call_with_text(core::hook_handler& h, const std::string& text)
{
    boost::system::error_code ec;
    auto doc = core::parse_document(text, core::max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    core::request_context ctx;
    ctx.received = clock::now();
    ctx.body = text;
    return test::run_coro(h.handle(std::move(doc), ctx));
}

}  // namespace

BOOST_AUTO_TEST_CASE(echoed_orders_are_written_as_the_callers_own_bytes)
{
    crd_service sign(*core::find_service("order-sign-crd"), engine(), std::chrono::seconds(4));
    for (const char* version : {"2.0", "2.2"})
        BOOST_TEST_CONTEXT(version)
        {
            auto doc = test::load_fixture("crd-order-sign-1.json");
            doc.at("extension").as_object()["davinci-crd.requestedVersion"] = version;
            std::string text;
            write_spaced(doc, text);
            const auto r = call_with_text(sign, text);
            BOOST_TEST_REQUIRE(r.status == 200U);
            BOOST_TEST_REQUIRE(r.verbatim.size() == 2U);
            const std::string written = core::serialize_json(r.body, 4096, r.verbatim);
            BOOST_TEST(json::parse(written) == r.body);
            // Each order as the caller spaced it, then its coverage information.
            const auto& entries = doc.at("context").at("draftOrders").at("entry").as_array();
            for (const auto& entry : entries)
            {
                std::string order;
                write_spaced(entry.at("resource"), order, 10);
                order.pop_back();  // the closing brace: the coverage information follows
                const auto at = written.find(order);
                BOOST_TEST_REQUIRE(at != std::string::npos);
                BOOST_TEST(written.compare(at + order.size(), 13, R"(,"extension":)") == 0);
            }
            BOOST_TEST(written.size() > core::serialize_json(r.body).size());  // the caller's spaces kept
        }
}

BOOST_AUTO_TEST_CASE(an_order_with_extensions_or_an_answer_without_its_updates_is_written_from_the_tree)
{
    crd_service sign(*core::find_service("order-sign-crd"), engine(), std::chrono::seconds(4));
    // The first order has an extension of its own: the coverage information joins it, so that
    // order is written from the tree and only the second from the caller's bytes.
    auto doc = test::load_fixture("crd-order-sign-1.json");
    doc.at("context").at("draftOrders").at("entry").at(0).at("resource").as_object()["extension"] =
        json::array{json::object{{"url", "http://example.org/own"}, {"valueString", "kept"}}};
    std::string text;
    write_spaced(doc, text);
    const auto r = call_with_text(sign, text);
    BOOST_TEST_REQUIRE(r.status == 200U);
    BOOST_TEST_REQUIRE(r.verbatim.size() == 1U);
    auto written = core::serialize_json(r.body, 4096, r.verbatim);
    BOOST_TEST(json::parse(written) == r.body);
    const auto& first = r.body.at("systemActions").at(0).at("resource").at("extension").as_array();
    BOOST_TEST_REQUIRE(first.size() == 2U);
    BOOST_TEST(first.at(0).at("valueString").as_string() == "kept");

    // coverage-info false: the updates are left out, their texts are never met.
    doc.at("extension").as_object()["davinci-crd.configuration"] = json::object{{"coverage-info", false}};
    std::string without_updates_text;
    write_spaced(doc, without_updates_text);
    // (A new answer, not assigned over `r`: an api_response holds the arena its body lives in.)
    const auto without_updates = call_with_text(sign, without_updates_text);
    BOOST_TEST_REQUIRE(without_updates.status == 200U);
    BOOST_TEST(!without_updates.body.as_object().contains("systemActions"));
    written = core::serialize_json(without_updates.body, 4096, without_updates.verbatim);
    BOOST_TEST(json::parse(written) == without_updates.body);
    BOOST_TEST(written == core::serialize_json(without_updates.body));

    // A failed decision answers from the request: nothing is taken as the caller's bytes.
    failing_decision down(errc::decision_timeout);
    crd_service degraded(
        *core::find_service("order-sign-crd"), down, std::chrono::seconds(4), nullptr, 0.5, {}, core::failure_policy::conditional, "Plan");
    auto undetermined = call_with_text(degraded, without_updates_text);
    BOOST_TEST(undetermined.status == 200U);
    BOOST_TEST(undetermined.verbatim.empty());
}

BOOST_AUTO_TEST_CASE(invalid_requests_get_an_operation_outcome)
{
    crd_service sign(*core::find_service("order-sign-crd"), engine(), std::chrono::seconds(4));
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.at("context").as_object().erase("draftOrders");
    auto res = call(sign, doc);
    BOOST_TEST(res.status == 422U);
    const auto& issue = res.body.at("issue").at(0);
    BOOST_TEST(issue.at("severity").as_string() == "error");
    BOOST_TEST(issue.at("code").as_string() == "required");
    BOOST_TEST(issue.at("diagnostics").as_string() == "context.draftOrders is required for order-sign");
}

BOOST_AUTO_TEST_CASE(decision_failures_are_errors_not_empty_cards)
{
    const std::pair<errc, unsigned> cases[] = {
        {errc::decision_timeout, 504U},
        {errc::decision_unavailable, 502U},
        {errc::decision_bad_response, 502U},
        {errc::decision_circuit_open, 503U},
    };
    for (const auto& [error, status] : cases)
    {
        failing_decision decision(error);
        crd_service sign(*core::find_service("order-sign-crd"), decision, std::chrono::seconds(4));
        auto res = call(sign, test::load_fixture("crd-order-sign-5.json"));
        BOOST_TEST(res.status == status);
        BOOST_TEST(res.body.at("resourceType").as_string() == "OperationOutcome");
    }
}

BOOST_AUTO_TEST_SUITE_END()
