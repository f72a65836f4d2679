#include <crd/core/hook_request.hpp>
#include <crd/core/hooks.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace json = boost::json;
using namespace crd::core;
using crd::test::edit;
using crd::test::load_fixture;

namespace {

// Validates with the service of the request's own hook (order-sign-crd when it has none).
crd::result<hook_request, crd::error> validate(const json::value& doc, std::string id = {})
{
    if (id.empty())
        id = doc.is_object() && doc.as_object().contains("hook") ? crd::test::service_id_for(doc) : "order-sign-crd";
    const auto* service = find_service(id);
    BOOST_TEST_REQUIRE(service != nullptr);
    return validate_hook_request(*service, std::make_unique<json::value>(doc));
}

struct bad_case
{
    const char* fixture;
    const char* pointer;     // JSON pointer of the field to change
    const char* value;       // new JSON value; nullptr erases the field
    const char* expression;  // the field the OperationOutcome must name
    const char* code;        // FHIR issue type
};

// One row per validation rule: a valid published request with exactly one thing broken.
const bad_case bad_cases[] = {
    // Request envelope (CDS Hooks 2.0 request fields)
    {"crd-order-sign-5.json", "/hook", nullptr, "hook", "required"},
    {"crd-order-sign-5.json", "/hook", "42", "hook", "structure"},
    {"crd-order-sign-5.json", "/hook", "\"\"", "hook", "value"},
    {"crd-order-sign-5.json", "/hookInstance", nullptr, "hookInstance", "required"},
    {"crd-order-sign-5.json", "/hookInstance", "\"\"", "hookInstance", "value"},
    {"crd-order-sign-5.json", "/hookInstance", "123", "hookInstance", "structure"},
    // Values that become upstream header fields (X-CDS-Hook-Instance, Authorization): no CTLs.
    {"crd-order-sign-5.json", "/hookInstance", "\"x\\r\\nContent-Length: 0\\r\\n\\r\\nGET /smuggled HTTP/1.1\"", "hookInstance", "value"},
    {"crd-order-sign-5.json", "/hookInstance", "\"a\\u0000b\"", "hookInstance", "value"},
    {"crd-order-sign-5.json", "/hookInstance", "\"a\\u007fb\"", "hookInstance", "value"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", "\"abc\\r\\nX-Evil: 1\"", "fhirAuthorization.access_token", "value"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", "\"two words\"", "fhirAuthorization.access_token", "value"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", "\"a=b\"", "fhirAuthorization.access_token", "value"},
    {"crd-order-sign-5.json", "/fhirServer", "\"not a url\"", "fhirServer", "value"},
    {"crd-order-sign-5.json", "/fhirServer", "17", "fhirServer", "structure"},
    {"crd-order-sign-5.json", "/fhirServer", nullptr, "fhirServer", "required"},  // fhirAuthorization needs it
    {"crd-order-sign-5.json", "/fhirAuthorization", "\"token\"", "fhirAuthorization", "structure"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", nullptr, "fhirAuthorization.access_token", "required"},
    {"crd-order-sign-5.json", "/fhirAuthorization/token_type", "\"MAC\"", "fhirAuthorization.token_type", "value"},
    {"crd-order-sign-5.json", "/fhirAuthorization/expires_in", "\"300\"", "fhirAuthorization.expires_in", "structure"},
    {"crd-order-sign-5.json", "/fhirAuthorization/expires_in", "-5", "fhirAuthorization.expires_in", "structure"},
    {"crd-order-sign-5.json", "/fhirAuthorization/scope", nullptr, "fhirAuthorization.scope", "required"},
    {"crd-order-sign-5.json", "/fhirAuthorization/subject", "\"\"", "fhirAuthorization.subject", "value"},
    {"crd-order-sign-5.json", "/fhirAuthorization/patient", "7", "fhirAuthorization.patient", "structure"},
    {"crd-order-sign-5.json", "/context", nullptr, "context", "required"},
    {"crd-order-sign-5.json", "/context", "[]", "context", "structure"},
    {"crd-order-sign-5.json", "/prefetch", "\"x\"", "prefetch", "structure"},
    {"crd-order-sign-5.json", "/prefetch/patient", "\"Patient/1\"", "prefetch.patient", "structure"},
    {"crd-order-sign-5.json", "/prefetch/patient", "{\"id\": \"1\"}", "prefetch.patient.resourceType", "structure"},
    {"crd-order-sign-5.json", "/extension", "[]", "extension", "structure"},
    {"crd-order-sign-5.json", "/extension/davinci-crd.configuration", "true", "extension.davinci-crd.configuration", "structure"},
    // order-sign context
    {"crd-order-sign-5.json", "/context/patientId", nullptr, "context.patientId", "required"},
    {"crd-order-sign-5.json", "/context/patientId", "\"pat 015\"", "context.patientId", "value"},
    {"crd-order-sign-5.json", "/context/userId", nullptr, "context.userId", "required"},
    {"crd-order-sign-5.json", "/context/userId", "\"pra1234\"", "context.userId", "value"},
    {"crd-order-sign-5.json", "/context/userId", "\"Organization/org1\"", "context.userId", "value"},
    {"crd-order-sign-5.json", "/context/encounterId", "5", "context.encounterId", "structure"},
    {"crd-order-sign-5.json", "/context/draftOrders", nullptr, "context.draftOrders", "required"},
    {"crd-order-sign-5.json", "/context/draftOrders", "[]", "context.draftOrders", "structure"},
    {"crd-order-sign-5.json", "/context/draftOrders/resourceType", "\"Parameters\"", "context.draftOrders.resourceType", "structure"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry", nullptr, "context.draftOrders.entry", "required"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry", "[]", "context.draftOrders.entry", "value"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0", "7", "context.draftOrders.entry[0]", "structure"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource", nullptr, "context.draftOrders.entry[0].resource", "required"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/resourceType", "\"Patient\"",
        "context.draftOrders.entry[0].resource.resourceType", "value"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/resourceType", nullptr, "context.draftOrders.entry[0].resource.resourceType",
        "required"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/id", nullptr, "context.draftOrders.entry[0].resource.id", "required"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/id", "\"a/b\"", "context.draftOrders.entry[0].resource.id", "value"},
    // order-select context
    {"crd-order-select-3.json", "/context/selections", nullptr, "context.selections", "required"},
    {"crd-order-select-3.json", "/context/selections", "[]", "context.selections", "value"},
    {"crd-order-select-3.json", "/context/selections", "\"NutritionOrder/pureeddiet-simple\"", "context.selections", "structure"},
    {"crd-order-select-3.json", "/context/selections/0", "\"pureeddiet-simple\"", "context.selections[0]", "value"},
    {"crd-order-select-3.json", "/context/selections/1", "\"MedicationRequest/other\"", "context.selections[1]", "value"},
    {"crd-order-select-3.json", "/context/draftOrders", nullptr, "context.draftOrders", "required"},
    // appointment-book context
    {"crd-appointment-book-2.json", "/context/appointments", nullptr, "context.appointments", "required"},
    {"crd-appointment-book-2.json", "/context/appointments/entry/0/resource/resourceType", "\"ServiceRequest\"",
        "context.appointments.entry[0].resource.resourceType", "value"},
    {"crd-appointment-book-2.json", "/context/userId", nullptr, "context.userId", "required"},
    // encounter hooks
    {"crd-encounter-start-1.json", "/context/encounterId", nullptr, "context.encounterId", "required"},
    {"crd-encounter-discharge-1.json", "/context/encounterId", "\"\"", "context.encounterId", "value"},
    {"crd-encounter-discharge-1.json", "/context/userId", nullptr, "context.userId", "required"},
    // order-dispatch 1.1 and 1.0
    {"crd-order-dispatch-1.json", "/context/performer", nullptr, "context.performer", "required"},
    {"crd-order-dispatch-1.json", "/context/performer", "\"pharm1\"", "context.performer", "value"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders", nullptr, "context.dispatchedOrders", "required"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders", "[]", "context.dispatchedOrders", "value"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders/0", "\"Patient/123\"", "context.dispatchedOrders[0]", "value"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders/1", "\"MedicationRequest/1111\"", "context.dispatchedOrders[1]", "value"},
    {"crd-order-dispatch-1.json", "/context/order", "\"MedicationRequest/1111\"", "context.order", "structure"},
    {"crd-order-dispatch-1.json", "/context/fulfillmentTasks", "{}", "context.fulfillmentTasks", "structure"},
    {"crd-order-dispatch-1.json", "/context/fulfillmentTasks/0/resourceType", "\"Patient\"", "context.fulfillmentTasks[0].resourceType", "structure"},
    {"crd-order-dispatch-1.json", "/context/task", "{\"resourceType\": \"Task\"}", "context.task", "structure"},
    {"crd-order-dispatch-4.json", "/context/order", "42", "context.order", "structure"},
    {"crd-order-dispatch-4.json", "/context/task", "[]", "context.task", "structure"},
    {"crd-order-dispatch-4.json", "/context/patientId", nullptr, "context.patientId", "required"},
    {"crd-order-dispatch-4.json", "/context/userId", "\"Device/1\"", "context.userId", "value"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(hook_request_)

BOOST_AUTO_TEST_CASE(every_published_request_is_accepted_by_its_service)
{
    for (const auto& name : crd::test::request_fixture_names())
    {
        BOOST_TEST_CONTEXT(name)
        {
            auto result = validate(load_fixture(name));
            const auto p = crd::test::problem_if(result);
            BOOST_TEST(!p, (p ? p->diagnostics : ""));
            if (!p)
                BOOST_TEST(!result.value().hook_instance.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(each_rule_rejects_its_bad_input_naming_the_field)
{
    for (const auto& c : bad_cases)
    {
        BOOST_TEST_CONTEXT(c.fixture << " " << c.pointer << " = " << (c.value ? c.value : "<erased>"))
        {
            auto doc = load_fixture(c.fixture);
            const auto service = crd::test::service_id_for(doc);
            edit(doc, c.pointer, c.value ? std::optional<json::value>(json::parse(c.value)) : std::nullopt);
            auto result = validate(doc, service);
            const auto p = crd::test::problem_if(result);
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->status == 422U);
            BOOST_TEST(p->expression == c.expression);
            BOOST_TEST(p->code == c.code);
            // The diagnostics start with the field's name, so a person reading only them knows where to look.
            BOOST_TEST(p->diagnostics.rfind(c.expression, 0) == 0U, p->diagnostics);
        }
    }
}

BOOST_AUTO_TEST_CASE(hook_must_match_the_service)
{
    auto doc = load_fixture("crd-order-select-1.json");
    auto result = validate_hook_request(*find_service("order-sign-crd"), std::make_unique<json::value>(doc));
    const auto p = crd::test::problem_if(result);
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(p->expression == "hook");
    BOOST_TEST(p->diagnostics.find("order-sign-crd") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(body_must_be_an_object)
{
    auto result = validate_hook_request(*find_service("order-sign-crd"), std::make_unique<json::value>(json::array{}));
    BOOST_TEST_REQUIRE(result.has_error());
    BOOST_TEST(crd::test::problem_if(result)->diagnostics == "request body must be a JSON object");
}

BOOST_AUTO_TEST_CASE(unknown_fields_and_extensions_are_ignored_and_orders_need_not_be_drafts)
{
    auto doc = load_fixture("crd-order-sign-5.json");
    edit(doc, "/context/somethingNew", json::value("x"));
    edit(doc, "/extension/org.example.unknown", json::object{{"a", 1}});
    edit(doc, "/futureField", json::value(true));
    edit(doc, "/context/draftOrders/entry/0/resource/status", json::value("active"));  // order-sign 1.1: revisions
    auto result = validate(doc);
    BOOST_TEST(result.has_value());
}

BOOST_AUTO_TEST_CASE(null_prefetch_keys_mean_no_data)
{
    auto doc = load_fixture("crd-order-sign-5.json");
    edit(doc, "/prefetch/coverage", json::value(nullptr));
    auto result = validate(doc);
    BOOST_TEST_REQUIRE(result.has_value());
    BOOST_TEST(result.value().first_prefetched("Coverage") == nullptr);
}

BOOST_AUTO_TEST_CASE(order_dispatch_context_shapes_become_one_model)
{
    // v1.1 (dispatchedOrders / fulfillmentTasks)
    auto v11 = validate(load_fixture("crd-order-dispatch-1.json"));
    BOOST_TEST_REQUIRE(v11.has_value());
    const auto& a = v11.value();
    BOOST_TEST(a.items.size() == 2U);
    BOOST_TEST(a.items[0].resource_type == "MedicationRequest");
    BOOST_TEST(a.items[1].id == "2222");
    BOOST_TEST(a.tasks.size() == 1U);
    BOOST_TEST(a.performer == "Organization/pharm1");

    // v1.0 (order / task), with the order in prefetch
    auto v10 = validate(load_fixture("crd-order-dispatch-2.json"));
    BOOST_TEST_REQUIRE(v10.has_value());
    const auto& b = v10.value();
    BOOST_TEST_REQUIRE(b.items.size() == 1U);
    BOOST_TEST(b.items[0].id == "servreq-g0180-1");
    BOOST_TEST(b.items[0].resource != nullptr);  // found in prefetch."order"

    // interim hyphenated names, from the hook library's own example
    auto doc = load_fixture("crd-order-dispatch-1.json");
    auto& ctx = doc.at("context").as_object();
    ctx["dispatched-orders"] = ctx["dispatchedOrders"];
    ctx["fulfillment-tasks"] = ctx["fulfillmentTasks"];
    ctx.erase("dispatchedOrders");
    ctx.erase("fulfillmentTasks");
    auto hyph = validate(doc);
    BOOST_TEST_REQUIRE(hyph.has_value());
    BOOST_TEST(hyph.value().items.size() == 2U);
    BOOST_TEST(hyph.value().tasks.size() == 1U);

    // v1.0 with a task and no prefetch
    auto v10task = validate(load_fixture("crd-order-dispatch-4.json"));
    BOOST_TEST_REQUIRE(v10task.has_value());
    BOOST_TEST(v10task.value().items.at(0).resource == nullptr);
    BOOST_TEST(v10task.value().tasks.size() == 1U);
}

BOOST_AUTO_TEST_CASE(hook_library_context_fragments_validate)
{
    // The hook library's own examples, wrapped into whole requests.
    const std::pair<const char*, const char*> fragments[] = {
        {"ctx-order-sign-lib-r4.json", "order-sign"},
        {"ctx-order-select-lib-r4.json", "order-select"},
        {"ctx-order-dispatch-lib-r4.json", "order-dispatch"},
        {"ctx-order-dispatch-docs-v1.0.json", "order-dispatch"},
        {"ctx-order-dispatch-docs-v1.1-hyphenated.json", "order-dispatch"},
        {"ctx-encounter-start-lib-1.json", "encounter-start"},
        {"ctx-encounter-discharge-lib-1.json", "encounter-discharge"},
    };
    for (const auto& [file, hook] : fragments)
    {
        BOOST_TEST_CONTEXT(file)
        {
            auto fragment = load_fixture(std::string("context-fragments/") + file);
            json::object doc{{"hook", hook}, {"hookInstance", "0f3b0c1e-3c1a-4a55-9a3e-0b1c2d3e4f50"}, {"context", fragment.at("context")}};
            auto result = validate(doc);
            const auto p = crd::test::problem_if(result);
            BOOST_TEST(!p, (p ? p->diagnostics : ""));
        }
    }
}

BOOST_AUTO_TEST_CASE(order_select_marks_the_selected_orders)
{
    auto doc = load_fixture("crd-order-select-3.json");
    edit(doc, "/context/selections", json::array{"MedicationRequest/smart-MedicationRequest-103"});
    auto result = validate(doc);
    BOOST_TEST_REQUIRE(result.has_value());
    const auto& r = result.value();
    BOOST_TEST_REQUIRE(r.items.size() == 2U);
    BOOST_TEST(!r.items[0].selected);  // NutritionOrder
    BOOST_TEST(r.items[1].selected);
}

BOOST_AUTO_TEST_CASE(prefetch_resources_are_indexed_through_bundles)
{
    auto result = validate(load_fixture("crd-order-sign-1.json"));
    BOOST_TEST_REQUIRE(result.has_value());
    const auto& r = result.value();
    BOOST_TEST(r.first_prefetched("Coverage") != nullptr);
    BOOST_TEST(r.find_prefetched("Coverage/COV1") != nullptr);
    BOOST_TEST(r.find_prefetched("http://example.org/someEHR/fhir/Coverage/COV1") != nullptr);
    BOOST_TEST(r.find_prefetched("Coverage/other") == nullptr);
    BOOST_TEST(r.find_prefetched("COV1") == nullptr);
    BOOST_TEST(r.find_prefetched("Coverage/COV1/") == nullptr);
    BOOST_TEST(r.find_prefetched("Coverage//COV1") == nullptr);
    BOOST_TEST(r.find_prefetched("Patient/COV1") == nullptr);
    BOOST_TEST(r.find_prefetched("x/y/Coverage/COV1") == r.find_prefetched("Coverage/COV1"));
}

BOOST_AUTO_TEST_CASE(reference_and_id_syntax)
{
    BOOST_TEST(is_fhir_id("pat015.a-1"));
    BOOST_TEST(!is_fhir_id(""));
    BOOST_TEST(!is_fhir_id(std::string(65, 'a')));
    BOOST_TEST(!is_fhir_id("a_b"));
    BOOST_TEST(is_relative_reference("PractitionerRole/abc"));
    BOOST_TEST(!is_relative_reference("practitioner/abc"));
    BOOST_TEST(!is_relative_reference("Practitioner/"));
    BOOST_TEST(!is_relative_reference("/abc"));
    BOOST_TEST(!is_relative_reference("http://x/Practitioner/1"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(hook_instance_is_length_bounded)
{
    auto doc = load_fixture("crd-order-sign-5.json");
    doc.as_object()["hookInstance"] = std::string(max_hook_instance_bytes, 'a');
    BOOST_TEST(validate(doc).has_value());
    doc.as_object()["hookInstance"] = std::string(max_hook_instance_bytes + 1, 'a');
    auto result = validate(doc);
    BOOST_TEST_REQUIRE(result.has_error());
    BOOST_TEST(crd::test::problem_if(result)->expression == "hookInstance");
    BOOST_TEST(crd::test::problem_if(result)->status == 422U);
}

BOOST_AUTO_TEST_CASE(token68_access_tokens_are_accepted)
{
    auto doc = load_fixture("crd-order-sign-5.json");
    // An Epic-style opaque token and a JWT with padding: RFC 6750 b64token.
    for (const char* token : {"eyJhbGciOi.J9-_~+/abc", "abc123==", "A"})
    {
        doc.as_object()["fhirAuthorization"].as_object()["access_token"] = token;
        BOOST_TEST(validate(doc).has_value(), token);
    }
}

namespace {

// An order-select with n MedicationRequests and the first `selected` of them selected.
json::value order_select_with(std::size_t n, std::size_t selected)
{
    auto doc = load_fixture("crd-order-select-1.json");
    auto& ctx = doc.as_object()["context"].as_object();
    auto& entries = ctx["draftOrders"].as_object()["entry"].as_array();
    json::value model = entries.at(0);
    entries.clear();
    json::array selections;
    for (std::size_t i = 0; i < n; ++i)
    {
        json::value e = model;
        auto& r = e.as_object()["resource"].as_object();
        r["resourceType"] = "MedicationRequest";
        r["id"] = "m" + std::to_string(i);
        entries.push_back(std::move(e));
        if (i < selected)
            selections.emplace_back("MedicationRequest/m" + std::to_string(i));
    }
    ctx["selections"] = std::move(selections);
    return doc;
}

}  // namespace

BOOST_AUTO_TEST_CASE(order_and_selection_counts_are_bounded_with_413_naming_the_limit)
{
    request_limits limits;
    limits.max_orders = 50;
    limits.max_selections = 20;
    const auto* service = find_service("order-select-crd");
    BOOST_TEST_REQUIRE(service != nullptr);

    auto at_limit = validate_hook_request(*service, std::make_unique<json::value>(order_select_with(50, 20)), limits);
    BOOST_TEST(at_limit.has_value());

    auto orders = validate_hook_request(*service, std::make_unique<json::value>(order_select_with(51, 1)), limits);
    BOOST_TEST_REQUIRE(orders.has_error());
    BOOST_TEST(crd::test::problem_if(orders)->status == 413U);
    BOOST_TEST(crd::test::problem_if(orders)->diagnostics.find("limits.max_orders") != std::string::npos);
    BOOST_TEST(crd::test::problem_if(orders)->expression == "context.draftOrders.entry");

    auto selections = validate_hook_request(*service, std::make_unique<json::value>(order_select_with(30, 21)), limits);
    BOOST_TEST_REQUIRE(selections.has_error());
    BOOST_TEST(crd::test::problem_if(selections)->status == 413U);
    BOOST_TEST(crd::test::problem_if(selections)->diagnostics.find("limits.max_selections") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(many_selections_validate_in_linear_time)
{
    // 1,000 orders all selected: a scan per selection was 10^6 comparisons of built strings;
    // indexed, this is instant. The count (not a time) is what the test asserts: all are marked.
    request_limits limits;
    auto result = validate_hook_request(*find_service("order-select-crd"), std::make_unique<json::value>(order_select_with(1000, 1000)), limits);
    BOOST_TEST_REQUIRE(result.has_value());
    const auto& items = result.value().items;
    BOOST_TEST(items.size() == 1000U);
    BOOST_TEST(std::all_of(items.begin(), items.end(), [](const request_item& i) { return i.selected; }));
}

BOOST_AUTO_TEST_CASE(diagnostics_quote_only_a_short_sanitised_prefix_of_bad_values)
{
    auto doc = load_fixture("crd-order-sign-5.json");
    doc.as_object()["hook"] = std::string(100'000, 'h') + "\x01";
    auto result = validate(doc, "order-sign-crd");
    BOOST_TEST_REQUIRE(result.has_error());
    const auto p = *crd::test::problem_if(result);
    BOOST_TEST(p.diagnostics.size() < 300U);
    BOOST_TEST(p.diagnostics.find('\x01') == std::string::npos);

    doc = load_fixture("crd-order-sign-5.json");
    doc.as_object()["context"].as_object()["patientId"] = std::string(5'000, 'p') + "!";
    result = validate(doc);
    BOOST_TEST_REQUIRE(result.has_error());
    BOOST_TEST(crd::test::problem_if(result)->diagnostics.size() < 300U);
}

BOOST_AUTO_TEST_CASE(first_prefetched_is_indexed_once)
{
    // The embedded engine asks for the Coverage once per order: with thousands of prefetch
    // entries and no Coverage that was a walk per order. The index answers the same thing.
    auto doc = load_fixture("crd-order-sign-5.json");
    auto& prefetch = doc.as_object()["prefetch"].as_object();
    json::array entries;
    for (int i = 0; i < 100; ++i)
        entries.push_back(json::object{{"resource", json::object{{"resourceType", "Observation"}, {"id", "o" + std::to_string(i)}}}});
    prefetch.erase("coverage");
    prefetch["observations"] = json::object{{"resourceType", "Bundle"}, {"entry", std::move(entries)}};
    auto result = validate(doc);
    BOOST_TEST_REQUIRE(result.has_value());
    const auto& request = result.value();
    BOOST_TEST(request.first_prefetched("Coverage") == nullptr);
    BOOST_TEST_REQUIRE(request.first_prefetched("Observation") != nullptr);
    BOOST_TEST(request.first_prefetched("Observation")->at("id").as_string() == "o0");
}

namespace {

struct exact_refusal
{
    const char* fixture;
    const char* pointer;  // JSON pointer of the field to change
    const char* value;    // new JSON value; nullptr erases the field
    unsigned status;
    const char* diagnostics;  // the whole text the OperationOutcome carries
};

// The exact words and status of each refusal, one row per branch of the validation: the
// validation is rewritten for speed from time to time (issue #19), and what a caller reads must
// not change with it. Where a request breaks several rules, the first row's rule is the one named.
const exact_refusal exact_refusals[] = {
    {"crd-order-sign-5.json", "/hook", nullptr, 422, "hook is required"},
    {"crd-order-sign-5.json", "/hook", "42", 422, "hook must be a string"},
    {"crd-order-sign-5.json", "/hook", "\"\"", 422, "hook must not be empty"},
    {"crd-order-sign-5.json", "/hook", "\"order-select\"", 422,
        "hook 'order-select' does not match service order-sign-crd, which handles 'order-sign'"},
    {"crd-order-sign-5.json", "/hookInstance", nullptr, 422, "hookInstance is required"},
    {"crd-order-sign-5.json", "/hookInstance", "123", 422, "hookInstance must be a string"},
    {"crd-order-sign-5.json", "/hookInstance", "\"\"", 422, "hookInstance must not be empty"},
    {"crd-order-sign-5.json", "/hookInstance", "\"a\\u0000b\"", 422, "hookInstance must not contain control characters"},
    {"crd-order-sign-5.json", "/fhirServer", "17", 422, "fhirServer must be a string"},
    {"crd-order-sign-5.json", "/fhirServer", nullptr, 422, "fhirServer is required when fhirAuthorization is present"},
    {"crd-order-sign-5.json", "/fhirAuthorization", "\"token\"", 422, "fhirAuthorization must be a JSON object"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", nullptr, 422, "fhirAuthorization.access_token is required"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", "7", 422, "fhirAuthorization.access_token must be a string"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", "\"\"", 422, "fhirAuthorization.access_token must not be empty"},
    {"crd-order-sign-5.json", "/fhirAuthorization/access_token", "\"two words\"", 422,
        "fhirAuthorization.access_token must be an RFC 6750 Bearer token (letters, digits and -._~+/ with = padding)"},
    {"crd-order-sign-5.json", "/fhirAuthorization/scope", nullptr, 422, "fhirAuthorization.scope is required"},
    {"crd-order-sign-5.json", "/fhirAuthorization/scope", "[]", 422, "fhirAuthorization.scope must be a string"},
    {"crd-order-sign-5.json", "/fhirAuthorization/subject", "\"\"", 422, "fhirAuthorization.subject must not be empty"},
    {"crd-order-sign-5.json", "/fhirAuthorization/subject", nullptr, 422, "fhirAuthorization.subject is required"},
    {"crd-order-sign-5.json", "/fhirAuthorization/token_type", nullptr, 422, "fhirAuthorization.token_type is required"},
    {"crd-order-sign-5.json", "/fhirAuthorization/token_type", "5", 422, "fhirAuthorization.token_type must be a string"},
    {"crd-order-sign-5.json", "/fhirAuthorization/token_type", "\"MAC\"", 422, "fhirAuthorization.token_type must be \"Bearer\""},
    {"crd-order-sign-5.json", "/fhirAuthorization/expires_in", nullptr, 422, "fhirAuthorization.expires_in is required"},
    {"crd-order-sign-5.json", "/fhirAuthorization/expires_in", "\"300\"", 422,
        "fhirAuthorization.expires_in must be a non-negative integer number of seconds"},
    {"crd-order-sign-5.json", "/fhirAuthorization/expires_in", "-5", 422,
        "fhirAuthorization.expires_in must be a non-negative integer number of seconds"},
    {"crd-order-sign-5.json", "/fhirAuthorization/expires_in", "1.5", 422,
        "fhirAuthorization.expires_in must be a non-negative integer number of seconds"},
    {"crd-order-sign-5.json", "/fhirAuthorization/patient", "7", 422, "fhirAuthorization.patient must be a string"},
    {"crd-order-sign-5.json", "/fhirAuthorization/patient", "\"\"", 422, "fhirAuthorization.patient must not be empty"},
    {"crd-order-sign-5.json", "/prefetch", "\"x\"", 422, "prefetch must be a JSON object"},
    {"crd-order-sign-5.json", "/prefetch/patient", "\"Patient/1\"", 422, "prefetch.patient must be a JSON object"},
    {"crd-order-sign-5.json", "/prefetch/patient", "{\"id\": \"1\"}", 422,
        "prefetch.patient.resourceType is required: prefetch values must be FHIR resources or null"},
    {"crd-order-sign-5.json", "/prefetch/patient", "{\"resourceType\": 5}", 422,
        "prefetch.patient.resourceType is required: prefetch values must be FHIR resources or null"},
    {"crd-order-sign-5.json", "/prefetch/coverage/entry", "{}", 422, "prefetch.coverage.entry must be an array"},
    {"crd-order-sign-5.json", "/extension", "[]", 422, "extension must be a JSON object"},
    {"crd-order-sign-5.json", "/extension/davinci-crd.configuration", "true", 422, "extension.davinci-crd.configuration must be a JSON object"},
    {"crd-order-sign-5.json", "/context", nullptr, 422, "context is required"},
    {"crd-order-sign-5.json", "/context", "[]", 422, "context must be a JSON object"},
    {"crd-order-sign-5.json", "/context/patientId", nullptr, 422, "context.patientId is required for order-sign"},
    {"crd-order-sign-5.json", "/context/patientId", "5", 422, "context.patientId must be a string"},
    {"crd-order-sign-5.json", "/context/patientId", "\"pat 015\"", 422,
        "context.patientId must be a FHIR id (letters, digits, '-' and '.', at most 64), got 'pat 015'"},
    {"crd-order-sign-5.json", "/context/encounterId", "5", 422, "context.encounterId must be a string"},
    {"crd-order-sign-5.json", "/context/encounterId", "\"a/b\"", 422,
        "context.encounterId must be a FHIR id (letters, digits, '-' and '.', at most 64), got 'a/b'"},
    {"crd-order-sign-5.json", "/context/userId", nullptr, 422, "context.userId is required for order-sign"},
    {"crd-order-sign-5.json", "/context/userId", "5", 422, "context.userId must be a string"},
    {"crd-order-sign-5.json", "/context/userId", "\"pra1234\"", 422, "context.userId must be a reference of the form Type/id, got 'pra1234'"},
    {"crd-order-sign-5.json", "/context/userId", "\"Organization/org1\"", 422,
        "context.userId must reference one of Practitioner, PractitionerRole, Patient, RelatedPerson"},
    {"crd-order-sign-5.json", "/context/draftOrders", nullptr, 422, "context.draftOrders is required for order-sign"},
    {"crd-order-sign-5.json", "/context/draftOrders", "[]", 422, "context.draftOrders must be a JSON object"},
    {"crd-order-sign-5.json", "/context/draftOrders/resourceType", nullptr, 422, "context.draftOrders.resourceType must be \"Bundle\""},
    {"crd-order-sign-5.json", "/context/draftOrders/resourceType", "\"Parameters\"", 422, "context.draftOrders.resourceType must be \"Bundle\""},
    {"crd-order-sign-5.json", "/context/draftOrders/resourceType", "1", 422, "context.draftOrders.resourceType must be \"Bundle\""},
    {"crd-order-sign-5.json", "/context/draftOrders/entry", nullptr, 422,
        "context.draftOrders.entry is required: context.draftOrders must contain at least one resource"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry", "{}", 422, "context.draftOrders.entry must be an array"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry", "[]", 422, "context.draftOrders.entry must not be empty"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0", "7", 422, "context.draftOrders.entry[0] must be a JSON object"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource", nullptr, 422, "context.draftOrders.entry[0].resource is required"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource", "[]", 422, "context.draftOrders.entry[0].resource must be a JSON object"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/resourceType", nullptr, 422,
        "context.draftOrders.entry[0].resource.resourceType is required"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/resourceType", "5", 422,
        "context.draftOrders.entry[0].resource.resourceType must be a string"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/resourceType", "\"\"", 422,
        "context.draftOrders.entry[0].resource.resourceType must not be empty"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/resourceType", "\"Patient\"", 422,
        "context.draftOrders.entry[0].resource.resourceType 'Patient' is not allowed here; expected one of DeviceRequest, MedicationRequest, "
        "NutritionOrder, ServiceRequest, VisionPrescription, CommunicationRequest, Task"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/id", nullptr, 422, "context.draftOrders.entry[0].resource.id is required"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/id", "5", 422, "context.draftOrders.entry[0].resource.id must be a string"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/id", "\"\"", 422, "context.draftOrders.entry[0].resource.id must not be empty"},
    {"crd-order-sign-5.json", "/context/draftOrders/entry/0/resource/id", "\"a/b\"", 422,
        "context.draftOrders.entry[0].resource.id must be a FHIR id (letters, digits, '-' and '.', at most 64), got 'a/b'"},
    {"crd-order-select-3.json", "/context/draftOrders/entry/1",
        "{\"resource\": {\"resourceType\": \"NutritionOrder\", \"id\": \"pureeddiet-simple\"}}", 422,
        "context.draftOrders.entry[1].resource.id repeats 'NutritionOrder/pureeddiet-simple' in the same Bundle"},
    {"crd-order-select-3.json", "/context/selections", nullptr, 422, "context.selections is required for order-select"},
    {"crd-order-select-3.json", "/context/selections", "[]", 422, "context.selections must not be empty"},
    {"crd-order-select-3.json", "/context/selections", "\"NutritionOrder/pureeddiet-simple\"", 422, "context.selections must be an array"},
    {"crd-order-select-3.json", "/context/selections/0", "\"pureeddiet-simple\"", 422,
        "context.selections[0] must be a reference of the form Type/id, got 'pureeddiet-simple'"},
    {"crd-order-select-3.json", "/context/selections/1", "\"MedicationRequest/other\"", 422,
        "context.selections[1] 'MedicationRequest/other' does not match any resource in context.draftOrders"},
    {"crd-appointment-book-2.json", "/context/appointments", nullptr, 422, "context.appointments is required for appointment-book"},
    {"crd-appointment-book-2.json", "/context/appointments/entry/0/resource/resourceType", "\"ServiceRequest\"", 422,
        "context.appointments.entry[0].resource.resourceType 'ServiceRequest' is not allowed here; expected one of Appointment"},
    {"crd-encounter-start-1.json", "/context/encounterId", nullptr, 422, "context.encounterId is required for encounter-start"},
    {"crd-encounter-start-1.json", "/context/userId", nullptr, 422, "context.userId is required for encounter-start"},
    {"crd-order-dispatch-1.json", "/context/performer", nullptr, 422, "context.performer is required for order-dispatch"},
    {"crd-order-dispatch-1.json", "/context/performer", "\"pharm1\"", 422, "context.performer must be a reference of the form Type/id, got 'pharm1'"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders", nullptr, 422,
        "context.dispatchedOrders is required for order-dispatch (or context.order in order-dispatch 1.0)"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders", "[]", 422, "context.dispatchedOrders must not be empty"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders/0", "\"Patient/123\"", 422,
        "context.dispatchedOrders[0] must reference an order (DeviceRequest, MedicationRequest, NutritionOrder, ServiceRequest, VisionPrescription, "
        "CommunicationRequest, Task)"},
    {"crd-order-dispatch-1.json", "/context/dispatchedOrders/1", "\"MedicationRequest/1111\"", 422,
        "context.dispatchedOrders[1] repeats 'MedicationRequest/1111'"},
    {"crd-order-dispatch-1.json", "/context/order", "\"MedicationRequest/1111\"", 422,
        "context.order cannot be combined with context.dispatchedOrders; send one list of dispatched orders"},
    {"crd-order-dispatch-1.json", "/context/fulfillmentTasks", "{}", 422, "context.fulfillmentTasks must be an array of Task resources"},
    {"crd-order-dispatch-1.json", "/context/fulfillmentTasks/0/resourceType", "\"Patient\"", 422,
        "context.fulfillmentTasks[0].resourceType must be \"Task\""},
    {"crd-order-dispatch-1.json", "/context/task", "{\"resourceType\": \"Task\"}", 422,
        "context.task cannot be combined with context.fulfillmentTasks"},
    {"crd-order-dispatch-4.json", "/context/order", "42", 422, "context.order must be a string"},
    {"crd-order-dispatch-4.json", "/context/task", "[]", 422, "context.task must be a JSON object"},
    {"crd-order-dispatch-4.json", "/context/userId", "\"Device/1\"", 422,
        "context.userId must reference one of Practitioner, PractitionerRole, Patient, RelatedPerson"},
};

}  // namespace

BOOST_AUTO_TEST_CASE(refusals_keep_their_exact_words_and_status)
{
    for (const auto& c : exact_refusals)
    {
        BOOST_TEST_CONTEXT(c.fixture << " " << c.pointer << " = " << (c.value ? c.value : "<erased>"))
        {
            auto doc = load_fixture(c.fixture);
            const auto service = crd::test::service_id_for(doc);
            edit(doc, c.pointer, c.value ? std::optional<json::value>(json::parse(c.value)) : std::nullopt);
            const auto p = crd::test::problem_if(validate(doc, service));
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->status == c.status);
            BOOST_TEST(p->diagnostics == c.diagnostics);
            BOOST_TEST(p->diagnostics.rfind(p->expression + " ", 0) == 0U, p->diagnostics);
        }
    }
}

BOOST_AUTO_TEST_CASE(when_several_rules_are_broken_the_first_checked_is_named)
{
    struct broken_twice
    {
        std::vector<std::pair<const char*, const char*>> edits;  // pointer, value (nullptr erases)
        const char* diagnostics;
    };
    const broken_twice cases[] = {
        {{{"/fhirAuthorization/access_token", "\"two words\""}, {"/fhirAuthorization/scope", nullptr}}, "fhirAuthorization.scope is required"},
        {{{"/fhirServer", nullptr}, {"/fhirAuthorization/access_token", nullptr}}, "fhirServer is required when fhirAuthorization is present"},
        {{{"/fhirAuthorization/token_type", "\"MAC\""}, {"/fhirAuthorization/expires_in", nullptr}},
            "fhirAuthorization.token_type must be \"Bearer\""},
        {{{"/fhirAuthorization/access_token", "\"a b\""}, {"/fhirAuthorization/token_type", nullptr}},
            "fhirAuthorization.access_token must be an RFC 6750 Bearer token (letters, digits and -._~+/ with = padding)"},
        {{{"/fhirAuthorization/patient", "1"}, {"/prefetch", "[]"}}, "fhirAuthorization.patient must be a string"},
        {{{"/prefetch", "[]"}, {"/extension", "[]"}}, "prefetch must be a JSON object"},
        {{{"/extension", "[]"}, {"/context", nullptr}}, "extension must be a JSON object"},
        {{{"/context/patientId", nullptr}, {"/context/userId", nullptr}}, "context.patientId is required for order-sign"},
        {{{"/context/encounterId", "5"}, {"/context/userId", nullptr}}, "context.encounterId must be a string"},
        {{{"/context/userId", nullptr}, {"/context/draftOrders", nullptr}}, "context.userId is required for order-sign"},
        {{{"/context/draftOrders/resourceType", nullptr}, {"/context/draftOrders/entry", nullptr}},
            "context.draftOrders.resourceType must be \"Bundle\""},
        {{{"/context/draftOrders/entry/0/resource/resourceType", "\"Patient\""}, {"/context/draftOrders/entry/0/resource/id", nullptr}},
            "context.draftOrders.entry[0].resource.resourceType 'Patient' is not allowed here; expected one of DeviceRequest, MedicationRequest, "
            "NutritionOrder, ServiceRequest, VisionPrescription, CommunicationRequest, Task"},
    };
    for (const auto& c : cases)
    {
        BOOST_TEST_CONTEXT(c.diagnostics)
        {
            auto doc = load_fixture("crd-order-sign-5.json");
            for (const auto& [pointer, value] : c.edits)
                edit(doc, pointer, value ? std::optional<json::value>(json::parse(value)) : std::nullopt);
            const auto p = crd::test::problem_if(validate(doc));
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->status == 422U);
            BOOST_TEST(p->diagnostics == c.diagnostics);
        }
    }
}

BOOST_AUTO_TEST_CASE(too_many_orders_and_selections_say_the_count_and_the_limit)
{
    request_limits limits;
    limits.max_orders = 50;
    limits.max_selections = 20;
    const auto* service = find_service("order-select-crd");
    const auto orders = crd::test::problem_if(validate_hook_request(*service, std::make_unique<json::value>(order_select_with(51, 1)), limits));
    BOOST_TEST_REQUIRE(orders.has_value());
    BOOST_TEST(orders->status == 413U);
    BOOST_TEST(orders->diagnostics == "context.draftOrders.entry has 51 entries; this server accepts at most 50 (limits.max_orders)");
    const auto selections = crd::test::problem_if(validate_hook_request(*service, std::make_unique<json::value>(order_select_with(30, 21)), limits));
    BOOST_TEST_REQUIRE(selections.has_value());
    BOOST_TEST(selections->status == 413U);
    BOOST_TEST(selections->diagnostics == "context.selections has 21 entries; this server accepts at most 20 (limits.max_selections)");
    BOOST_TEST(selections->expression == "context.selections");
}

BOOST_AUTO_TEST_CASE(a_repeat_among_many_orders_names_its_first_repetition)
{
    // Above a few orders the repeats are found through an index, below by a scan: both name the
    // first entry that repeats an earlier one.
    for (std::size_t n : {3U, 40U, 200U})
    {
        BOOST_TEST_CONTEXT(n)
        {
            auto doc = order_select_with(n, 1);
            auto& entries = doc.as_object()["context"].as_object()["draftOrders"].as_object()["entry"].as_array();
            entries.at(n - 1).as_object()["resource"].as_object()["id"] = "m1";
            entries.at(n - 2).as_object()["resource"].as_object()["id"] = "m0";
            const auto p = crd::test::problem_if(validate(doc));
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->status == 422U);
            BOOST_TEST(p->diagnostics ==
                       "context.draftOrders.entry[" + std::to_string(n - 2) + "].resource.id repeats 'MedicationRequest/m0' in the same Bundle");
            BOOST_TEST(p->expression == "context.draftOrders.entry[" + std::to_string(n - 2) + "].resource.id");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_repeat_and_another_fault_are_reported_in_entry_order)
{
    // Whichever comes first in the Bundle is the one reported, at every size: a repeat before a
    // bad entry, a bad entry before a repeat; among several repeats the earliest repetition.
    for (std::size_t n : {6U, 40U, 200U})
        BOOST_TEST_CONTEXT(n)
        {
            auto doc = order_select_with(n, 1);
            auto& entries = doc.as_object()["context"].as_object()["draftOrders"].as_object()["entry"].as_array();
            const auto id_of = [&](std::size_t i) -> json::value& { return entries.at(i).as_object()["resource"].as_object()["id"]; };
            id_of(n - 1) = "m0";  // repeats entry 0, last
            id_of(4) = "m2";      // repeats entry 2, earlier
            auto p = crd::test::problem_if(validate(doc));
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->expression == "context.draftOrders.entry[4].resource.id");

            entries.at(5).as_object()["resource"].as_object()["resourceType"] = "Patient";  // after the repeat
            p = crd::test::problem_if(validate(doc));
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->expression == "context.draftOrders.entry[4].resource.id");

            entries.at(3).as_object()["resource"].as_object()["resourceType"] = "Patient";  // before it
            p = crd::test::problem_if(validate(doc));
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->expression == "context.draftOrders.entry[3].resource.resourceType");
        }
}

namespace {

// The request as a hook call has it: parsed from `text`, validated, the text kept as its own.
hook_request parsed_request(const std::string& text, std::string_view service_id)
{
    boost::system::error_code ec;
    auto doc = parse_document(text, max_json_depth, ec);
    BOOST_TEST_REQUIRE(!ec);
    auto r = validate_hook_request(*find_service(service_id), std::move(doc));
    BOOST_TEST_REQUIRE(r.has_value());
    r->source_text = text;
    return std::move(*r);
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_order_gets_its_own_bytes_only_when_every_one_is_accounted_for)
{
    const std::string text = json::serialize(crd::test::load_fixture("crd-order-sign-1.json"));
    auto request = parsed_request(text, "order-sign-crd");
    locate_item_texts(request);
    BOOST_TEST_REQUIRE(request.items.size() == 2U);
    for (const auto& item : request.items)
    {
        BOOST_TEST_REQUIRE(!item.text.empty());
        BOOST_TEST((item.text.data() >= text.data() && item.text.data() + item.text.size() <= text.data() + text.size()));  // a view into the text
        BOOST_TEST(json::parse(item.text) == json::value(*item.resource));
    }

    // An item more or less than the text's entries: none is given bytes, rather than the wrong ones.
    request = parsed_request(text, "order-sign-crd");
    request.items.pop_back();
    locate_item_texts(request);
    BOOST_TEST(request.items.at(0).text.empty());
    request = parsed_request(text, "order-sign-crd");
    request.items.push_back(request.items.at(0));
    locate_item_texts(request);
    for (const auto& item : request.items)
        BOOST_TEST(item.text.empty());

    // Another copy of the text than the one parsed, or none: nothing.
    request = parsed_request(text, "order-sign-crd");
    const std::string copy = text;
    request.source_text = copy;
    locate_item_texts(request);
    BOOST_TEST(request.items.at(0).text.empty());
    request.source_text = {};
    locate_item_texts(request);
    BOOST_TEST(request.items.at(0).text.empty());

    // Appointments are their bundle's; an encounter hook has no bundle of its own.
    const std::string appointments = json::serialize(crd::test::load_fixture("crd-appointment-book-1.json"));
    auto booked = parsed_request(appointments, "appointment-book-crd");
    locate_item_texts(booked);
    BOOST_TEST_REQUIRE(!booked.items.empty());
    for (const auto& item : booked.items)
        BOOST_TEST(json::parse(item.text) == json::value(*item.resource));
}

BOOST_AUTO_TEST_CASE(ids_references_and_tokens_are_ascii_only)
{
    BOOST_TEST(!is_fhir_id("caf\xC3\xA9"));
    BOOST_TEST(!is_fhir_id("a\xB2"));
    BOOST_TEST(!is_relative_reference("\xC3\x89tat/1"));
    BOOST_TEST(!is_relative_reference("Patient\xAA/1"));
    BOOST_TEST(!is_relative_reference("Patient/\xB5"));
    BOOST_TEST(!is_token68("tok\xE9n"));
    BOOST_TEST(!is_token68("\xAA"));
    BOOST_TEST(is_token68("AZaz09-._~+/=="));
    BOOST_TEST(is_fhir_id("AZaz09-."));
    BOOST_TEST(is_relative_reference("AZaz/09-.x"));
    BOOST_TEST(!is_relative_reference("aZ/1"));
    BOOST_TEST(!is_relative_reference("Z9/1"));
}
