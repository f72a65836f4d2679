// negotiate_crd_version and its use in request validation (issue 15; CRD 2.2.1 deviations.md
// "CRD Version declaration", /tmp/research/crd-versions-spec.md §5): the version a call's
// extension."davinci-crd.requestedVersion" gets its answer in, or the 400/422 it gets instead.
#include <crd/core/crd_version.hpp>
#include <crd/core/hook_request.hpp>
#include <crd/core/hooks.hpp>
#include <crd/core/operation_outcome.hpp>

#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <ostream>

namespace json = boost::json;
using namespace crd::core;

namespace crd::core {
// Boost.Test prints values of failed comparisons.
inline std::ostream& operator<<(std::ostream& os, crd_version v)
{
    return os << to_string(v);
}
}  // namespace crd::core

namespace {

constexpr const char* requested_version_path = "extension.davinci-crd.requestedVersion";

crd::result<crd_version, crd::error> negotiate(const char* json_text)
{
    return negotiate_crd_version(json::parse(json_text));
}

// A published order-sign request with its requestedVersion set to `value` (JSON text), or without
// a root extension at all when `value` is null.
crd::result<hook_request, crd::error> validate_with(const char* value)
{
    auto doc = crd::test::load_fixture("crd-order-sign-5.json");
    if (value == nullptr)
        doc.as_object().erase("extension");
    else
        crd::test::edit(doc, "/extension", json::object{{"davinci-crd.requestedVersion", json::parse(value)}});
    const auto* service = find_service("order-sign-crd");
    BOOST_TEST_REQUIRE(service != nullptr);
    return validate_hook_request(*service, std::make_unique<json::value>(std::move(doc)));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crd_version_)

BOOST_AUTO_TEST_CASE(names_are_major_minor_as_discovery_lists_them)
{
    BOOST_TEST(to_string(crd_version::v2_0) == "2.0");
    BOOST_TEST(to_string(crd_version::v2_1) == "2.1");
    BOOST_TEST(to_string(crd_version::v2_2) == "2.2");
    BOOST_TEST(default_crd_version == crd_version::v2_0);
}

BOOST_AUTO_TEST_CASE(a_served_version_is_answered_in_itself)
{
    const std::pair<const char*, crd_version> cases[] = {
        {R"("2.0")", crd_version::v2_0},
        {R"("2.1")", crd_version::v2_1},
        {R"("2.2")", crd_version::v2_2},
        // The patch node never changes the wire (deviations.md); some clients send it anyway.
        {R"("2.2.1")", crd_version::v2_2},
        {R"("2.0.1")", crd_version::v2_0},
        {R"("2.1.0")", crd_version::v2_1},
    };
    for (const auto& [text, expected] : cases)
    {
        BOOST_TEST_CONTEXT(text)
        {
            const auto r = negotiate(text);
            BOOST_TEST_REQUIRE(r.has_value());
            BOOST_TEST(r.value() == expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_newer_version_gets_the_newest_served_below_it)
{
    for (const char* text : {R"("2.3")", R"("3.0")", R"("2.10")", R"("9999.9999")"})
    {
        BOOST_TEST_CONTEXT(text)
        {
            const auto r = negotiate(text);
            BOOST_TEST_REQUIRE(r.has_value());
            BOOST_TEST(r.value() == crd_version::v2_2);
        }
    }
}

BOOST_AUTO_TEST_CASE(an_older_version_than_any_served_is_a_400_naming_the_versions_served)
{
    for (const char* text : {R"("1.0")", R"("1.9")", R"("0.1")", R"("1.9.9")"})
    {
        BOOST_TEST_CONTEXT(text)
        {
            const auto r = negotiate(text);
            BOOST_TEST_REQUIRE(r.has_error());
            BOOST_TEST(r.error().code == make_error_code(request_errc::unsupported_version));
            BOOST_TEST(r.error().expression == requested_version_path);
            BOOST_TEST(r.error().detail.find("2.0, 2.1, 2.2") != std::string::npos, r.error().detail);
            const auto p = to_problem(r.error());
            BOOST_TEST(p.status == 400U);
            BOOST_TEST(p.code == "not-supported");
            BOOST_TEST(p.expression == requested_version_path);
            BOOST_TEST(p.diagnostics.find("2.0, 2.1, 2.2") != std::string::npos, p.diagnostics);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_value_that_is_not_a_string_is_wrong_structure)
{
    for (const char* text : {"2.2", "2", R"({"version": "2.2"})", R"(["2.2"])", "null", "true"})
    {
        BOOST_TEST_CONTEXT(text)
        {
            const auto r = negotiate(text);
            BOOST_TEST_REQUIRE(r.has_error());
            BOOST_TEST(r.error().code == make_error_code(request_errc::wrong_structure));
            BOOST_TEST(r.error().expression == requested_version_path);
            const auto p = to_problem(r.error());
            BOOST_TEST(p.status == 422U);
            BOOST_TEST(p.code == "structure");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_string_that_is_not_a_version_is_bad_value)
{
    for (const char* text : {R"("")", R"("two")", R"("2")", R"("2.2.1.1")", R"("2.-1")", R"("2.2 ")", R"(" 2.2")", R"("2.")", R"(".2")", R"("v2.2")",
             R"("2..2")", R"("+2.2")", R"("2.2-ballot")", R"("12345.1")"})
    {
        BOOST_TEST_CONTEXT(text)
        {
            const auto r = negotiate(text);
            BOOST_TEST_REQUIRE(r.has_error());
            BOOST_TEST(r.error().code == make_error_code(request_errc::bad_value));
            BOOST_TEST(r.error().expression == requested_version_path);
            const auto p = to_problem(r.error());
            BOOST_TEST(p.status == 422U);
            BOOST_TEST(p.code == "value");
        }
    }
}

BOOST_AUTO_TEST_CASE(diagnostics_quote_a_long_or_hostile_value_only_briefly)
{
    const auto r = negotiate_crd_version(json::value(std::string(10'000, '2') + "\x01"));
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().detail.size() < 300U);
    BOOST_TEST(r.error().detail.find('\x01') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(validation_without_the_extension_answers_in_2_0)
{
    const auto r = validate_with(nullptr);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r.value().version == crd_version::v2_0);

    // An extension object without requestedVersion (a configuration only) is the same.
    auto doc = crd::test::load_fixture("crd-order-sign-5.json");
    crd::test::edit(doc, "/extension", json::object{{"davinci-crd.configuration", json::object{{"coverage-info", true}}}});
    const auto with_configuration = validate_hook_request(*find_service("order-sign-crd"), std::make_unique<json::value>(std::move(doc)));
    BOOST_TEST_REQUIRE(with_configuration.has_value());
    BOOST_TEST(with_configuration.value().version == crd_version::v2_0);
}

BOOST_AUTO_TEST_CASE(every_published_request_validates_in_its_requested_version_or_2_0)
{
    // The IG 2.2.1 example requests carry "2.2"; the older ones carry nothing.
    for (const auto& name : crd::test::request_fixture_names())
    {
        BOOST_TEST_CONTEXT(name)
        {
            auto doc = crd::test::load_fixture(name);
            const json::value* requested = nullptr;
            if (const auto* ext = doc.as_object().if_contains("extension"); ext && ext->is_object())
                requested = ext->as_object().if_contains("davinci-crd.requestedVersion");
            const auto* service = find_service(crd::test::service_id_for(doc));
            BOOST_TEST_REQUIRE(service != nullptr);
            const auto r = validate_hook_request(*service, std::make_unique<json::value>(doc));
            BOOST_TEST_REQUIRE(r.has_value());
            BOOST_TEST(r.value().version == (requested ? negotiate_crd_version(*requested).value() : crd_version::v2_0));
        }
    }
}

BOOST_AUTO_TEST_CASE(validation_answers_in_the_version_asked_for)
{
    const std::pair<const char*, crd_version> cases[] = {
        {R"("2.0")", crd_version::v2_0},
        {R"("2.1")", crd_version::v2_1},
        {R"("2.2")", crd_version::v2_2},
        {R"("2.2.1")", crd_version::v2_2},
        {R"("3.0")", crd_version::v2_2},
    };
    for (const auto& [text, expected] : cases)
    {
        BOOST_TEST_CONTEXT(text)
        {
            const auto r = validate_with(text);
            const auto p = crd::test::problem_if(r);
            BOOST_TEST_REQUIRE(!p, (p ? p->diagnostics : ""));
            BOOST_TEST(r.value().version == expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(validation_refuses_a_bad_version_naming_the_field)
{
    struct bad
    {
        const char* value;
        unsigned status;
        const char* code;
    };
    const bad cases[] = {
        {R"("1.0")", 400, "not-supported"},
        {R"("1.9")", 400, "not-supported"},
        {"2.2", 422, "structure"},
        {R"({"v": "2.2"})", 422, "structure"},
        {R"("two")", 422, "value"},
        {R"("")", 422, "value"},
        {R"("2.2 ")", 422, "value"},
    };
    for (const auto& c : cases)
    {
        BOOST_TEST_CONTEXT(c.value)
        {
            const auto p = crd::test::problem_if(validate_with(c.value));
            BOOST_TEST_REQUIRE(p.has_value());
            BOOST_TEST(p->status == c.status);
            BOOST_TEST(p->code == c.code);
            BOOST_TEST(p->expression == requested_version_path);
            // Like every other validation error (hook_request_test,
            // each_rule_rejects_its_bad_input_naming_the_field): the diagnostics start with the
            // field's name, so a person reading only them knows where to look.
            BOOST_TEST(p->diagnostics.rfind(requested_version_path, 0) == 0U, p->diagnostics);
            if (c.status == 400U)
                BOOST_TEST(p->diagnostics.find("2.0, 2.1, 2.2") != std::string::npos, p->diagnostics);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
