// Real client shapes (issue 14): what the CDS Hooks Sandbox and Epic actually send, replayed
// against the configuration a new user writes — the defaults plus one client entry, nothing else.
//
// tests/fixtures/clients/cds-hooks-sandbox/*.json are the sandbox's own requests (service id, hook
// or feedback body with its prefetch, and each JWT's header and claims without the signature).
// Each replay signs a token of the same header and claim names with a test P-384 key under the
// sandbox's kid; only exp/iat (same lifetime, from now), jti (fresh) and jku (our fake key host,
// since the recorded one names the sandbox's port 8091) differ from what was recorded.

#include <crd/auth/jose.hpp>

#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace json = boost::json;
using namespace crd;

namespace {

const std::string sandbox_dir = std::string(CRD_SOURCE_DIR) + "/tests/fixtures/clients/cds-hooks-sandbox/";

// Where the sandbox's requests and the Epic-shaped one point fhirServer: a loopback port nobody
// serves. Every fixture carries its prefetch, so nothing should be fetched from it.
constexpr const char* harmless_fhir_server = "http://127.0.0.1:9";

std::int64_t now_s()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string fresh_jti()
{
    static std::atomic<int> n{0};
    return "real-client-" + std::to_string(now_s()) + "-" + std::to_string(++n);
}

// One recorded sandbox call.
struct client_recording
{
    std::string service;  // "order-select-crd", or "order-sign-crd-feedback" for feedback
    json::object request;
    json::object header;  // of the JWT the sandbox sent
    json::object claims;

    bool is_feedback() const { return request.contains("feedback"); }

    // The service called: the recorded id, whose feedback the sandbox records as "{id}-feedback".
    std::string service_id() const
    {
        if (!is_feedback())
            return service;
        constexpr std::string_view suffix = "-feedback";
        BOOST_TEST_REQUIRE(service.size() > suffix.size());
        BOOST_TEST_REQUIRE(service.substr(service.size() - suffix.size()) == suffix);
        return service.substr(0, service.size() - suffix.size());
    }

    // /cds-services/{id}, or /cds-services/{id}/feedback for a feedback body.
    std::string path() const { return "/cds-services/" + service_id() + (is_feedback() ? "/feedback" : ""); }

    std::string aud() const { return std::string(claims.at("aud").as_string()); }
    std::string iss() const { return std::string(claims.at("iss").as_string()); }
    std::string kid() const { return std::string(header.at("kid").as_string()); }

    // The base the sandbox was told to call ("http://127.0.0.1:8090"): its aud without the path.
    std::string public_base_url() const
    {
        const auto a = aud();
        const auto scheme_end = a.find("://");
        BOOST_TEST_REQUIRE(scheme_end != std::string::npos);
        return a.substr(0, a.find('/', scheme_end + 3));
    }

    // The body as sent, with fhirServer moved somewhere harmless.
    std::string body() const
    {
        json::object out = request;
        if (out.contains("fhirServer"))
            out["fhirServer"] = harmless_fhir_server;
        return json::serialize(out);
    }
};

client_recording load_recording(const std::string& name)
{
    const auto doc = json::parse(test::read_file(sandbox_dir + name)).as_object();
    const auto& jwt = doc.at("jwt_without_signature").as_object();
    return client_recording{
        std::string(doc.at("service").as_string()),
        doc.at("request").as_object(),
        jwt.at("header").as_object(),
        jwt.at("claims").as_object(),
    };
}

// The test key standing in for the sandbox's (P-384, ES384), under the kid the sandbox used.
auth::signing_key sandbox_key(const std::string& kid)
{
    static const auto k = auth::generate_signing_key(auth::key_family::ec_p384);
    auto key = k;
    key.kid = kid;
    return key;
}

// A token of the recorded shape: every header member and claim the sandbox sent, with the same
// values except jku (ours), exp/iat (now, same lifetime) and jti (fresh).
std::string sandbox_shaped_token(const client_recording& rec, const auth::signing_key& key, const std::string& jku)
{
    json::object header = rec.header;
    BOOST_TEST_REQUIRE(header.at("alg").as_string() == key.alg);  // the test key signs with the recorded alg
    BOOST_TEST_REQUIRE(header.contains("jku"));
    header["jku"] = jku;
    json::object claims = rec.claims;
    const auto lifetime = claims.at("exp").to_number<std::int64_t>() - claims.at("iat").to_number<std::int64_t>();
    const auto now = now_s();
    claims["iat"] = now;
    claims["exp"] = now + lifetime;
    claims["jti"] = fresh_jti();
    return auth::sign_compact(key, header, claims);
}

// crd-server as a new user configures it: loopback on an ephemeral port, the public URL EHRs
// call, auth required, one client entry. Nothing else: every other setting is its default.
json::value new_user_config(const std::string& public_base_url, json::object client)
{
    return {
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}}},
        {"admin", {{"port", 0}}},
        {"public_base_url", public_base_url},
        {"auth", {{"required", true}, {"clients", json::array{std::move(client)}}}},
    };
}

// The sandbox registered as it would be: client_id its iss, keys at a URL of its own (our fake key
// host serving the test key's JWK Set), which is also the jku its tokens carry.
struct sandbox_setup
{
    client_recording rec;
    auth::signing_key key;
    test::fake_decision_service key_host;  // serves the JWK Set
    std::string jku;
    std::unique_ptr<test::running_application> crd;

    explicit sandbox_setup(const std::string& fixture) : rec(load_recording(fixture)), key(sandbox_key(rec.kid()))
    {
        jku = key_host.url("/.well-known/jwks.json");
        key_host.set_body(json::serialize(json::object{{"keys", json::array{auth::public_jwk(key)}}}));
        crd = std::make_unique<test::running_application>(
            new_user_config(rec.public_base_url(), json::object{{"client_id", rec.iss()}, {"jwks_url", jku}}));
    }

    test::http_result replay()
    {
        // The sandbox's aud is the URL of the very endpoint it calls.
        BOOST_TEST_REQUIRE(rec.aud() == rec.public_base_url() + rec.path());
        test::http_client c(crd->port());
        return c.request("POST", rec.path(), rec.body(),
            {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + sandbox_shaped_token(rec, key, jku)}});
    }
};

// The CRD coverage-information extensions of the systemActions that update the draft orders.
std::vector<json::object> coverage_information(const json::value& answer)
{
    std::vector<json::object> out;
    const auto* actions = answer.as_object().if_contains("systemActions");
    if (!actions)
        return out;
    for (const auto& action : actions->as_array())
    {
        const auto* resource = action.as_object().if_contains("resource");
        const auto* extensions = resource ? resource->as_object().if_contains("extension") : nullptr;
        if (!extensions)
            continue;
        for (const auto& ext : extensions->as_array())
        {
            const std::string url(ext.at("url").as_string());
            constexpr std::string_view suffix = "ext-coverage-information";
            if (url.size() >= suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0)
                out.push_back(ext.as_object());
        }
    }
    return out;
}

// A sub-extension's value in a coverage-information extension ("covered" -> "covered", ...).
std::string coverage_value(const json::object& info, std::string_view name)
{
    for (const auto& sub : info.at("extension").as_array())
        if (sub.at("url").as_string() == name)
        {
            const auto& o = sub.as_object();
            if (const auto* code = o.if_contains("valueCode"))
                return std::string(code->as_string());
            if (const auto* coding = o.if_contains("valueCoding"))
                return std::string(coding->at("code").as_string());
            if (const auto* s = o.if_contains("valueString"))
                return std::string(s->as_string());
        }
    return {};
}

json::value answer_of(const test::http_result& r)
{
    BOOST_TEST_REQUIRE(r.status == 200U, "status " << r.status << ": " << r.body);
    auto answer = json::parse(r.body);
    BOOST_TEST_REQUIRE(answer.is_object());
    BOOST_TEST_REQUIRE(answer.as_object().contains("cards"), answer);  // CDS Hooks: always present
    return answer;
}

const json::array& cards_of(const json::value& answer)
{
    return answer.at("cards").as_array();
}

bool has_system_actions(const json::value& answer)
{
    return answer.as_object().contains("systemActions");
}

// The only card's summary, after checking it is a coverage-info card about `reference`.
std::string coverage_card_summary(const json::value& answer, const std::string& reference)
{
    const auto& cards = cards_of(answer);
    BOOST_TEST_REQUIRE(cards.size() == 1U, answer);
    const auto& card = cards[0];
    BOOST_TEST(card.at("source").at("topic").at("code").as_string() == "coverage-info");
    BOOST_TEST(json::serialize(card.at("extension").at("davinci-crd.associated-resource")) == json::serialize(json::array{reference.c_str()}));
    return std::string(card.at("summary").as_string());
}

// crd_auth_failures_total by reason, from the admin listener (the counters are process-wide, so a
// test compares before and after). Shows why a 401 happened when its body says only "refused".
std::map<std::string, long> auth_failures(std::uint16_t admin_port)
{
    test::http_client admin(admin_port);
    const auto text = admin.request("GET", "/metrics").body;
    std::map<std::string, long> out;
    const std::string prefix = "crd_auth_failures_total{reason=\"";
    for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1))
    {
        const auto name_start = at + prefix.size();
        const auto name_end = text.find('"', name_start);
        const auto value_start = text.find(' ', name_end) + 1;
        out[text.substr(name_start, name_end - name_start)] = std::stol(text.substr(value_start));
    }
    return out;
}

std::string failures_between(const std::map<std::string, long>& before, const std::map<std::string, long>& after)
{
    std::string out;
    for (const auto& [reason, n] : after)
    {
        const auto it = before.find(reason);
        if (n != (it == before.end() ? 0 : it->second))
            out += (out.empty() ? "" : ", ") + reason;
    }
    return out.empty() ? "none" : out;
}

// An Epic-shaped client JWT: header {alg, typ: JWT, kid} without jku; claims iss = sub = the
// client id, aud, iat = now, nbf = iat - 300, exp = iat + 900 (Epic's 15 minutes), jti.
std::string epic_shaped_token(const auth::signing_key& key, const std::string& client_id, const std::string& aud)
{
    const auto iat = now_s();
    return auth::sign_compact(key, json::object{{"alg", key.alg}, {"typ", "JWT"}, {"kid", key.kid}},
        json::object{
            {"iss", client_id}, {"sub", client_id}, {"aud", aud}, {"iat", iat}, {"nbf", iat - 300}, {"exp", iat + 900}, {"jti", fresh_jti()}});
}

// Epic signs its CDS Hooks JWTs with RS384 by default (ES384 is the other algorithm it offers).
const auth::signing_key& epic_key()
{
    static const auto k = [] {
        auto key = auth::generate_signing_key(auth::key_family::rsa);
        key.kid = "epic-nonprod-2026";
        return key;
    }();
    return k;
}

const std::vector<std::string>& sandbox_fixtures()
{
    static const std::vector<std::string> names{"01-order-select-crd.json", "02-order-select-crd.json", "03-order-select-crd.json",
        "04-order-sign-crd.json", "05-order-sign-crd-feedback.json", "06-order-select-crd.json", "07-order-select-crd.json"};
    return names;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(real_clients_)

// ---- The CDS Hooks Sandbox: its bodies, its prefetch, tokens of its shape ----------------------
// Every sandbox body carries its prefetch (patient, user and coverage as a searchset Bundle), so
// the default's required coverage prefetch is met as sent: nothing is added to them.

BOOST_AUTO_TEST_CASE(sandbox_order_sign_with_its_token_shape_is_answered_with_coverage_information)
{
    sandbox_setup s("04-order-sign-crd.json");
    const auto answer = answer_of(s.replay());
    // order-sign is a primary hook: a coverage-information systemAction on the draft order, with
    // the plan found in the sandbox's coverage Bundle, and the rule's card (Methotrexate, RxNorm 105585).
    const auto info = coverage_information(answer);
    BOOST_TEST_REQUIRE(info.size() == 1U, answer);
    BOOST_TEST(answer.at("systemActions").at(0).at("resource").at("id").as_string() == "request-123");
    BOOST_TEST(coverage_value(info[0], "covered") == "covered");
    BOOST_TEST(coverage_value(info[0], "pa-needed") == "auth-needed");
    BOOST_TEST(coverage_value(info[0], "doc-needed") == "clinical");
    BOOST_TEST(json::serialize(info[0]).find(R"("valueReference":{"reference":"Coverage/cov-1"})") != std::string::npos, info[0]);
    BOOST_TEST(coverage_card_summary(answer, "MedicationRequest/request-123").find("Prior authorization required") == 0U);
}

BOOST_AUTO_TEST_CASE(sandbox_feedback_with_its_token_shape_is_accepted)
{
    // The sandbox's aud for feedback is the feedback URL itself; the card it names is one this
    // server instance never issued (it came from the recorded session), which feedback allows.
    sandbox_setup s("05-order-sign-crd-feedback.json");
    const auto r = s.replay();
    BOOST_TEST(r.status == 200U, r.body);
    BOOST_TEST(json::parse(r.body).is_object());
}

BOOST_AUTO_TEST_CASE(sandbox_order_select_of_methotrexate_is_answered_with_a_prior_authorization_card)
{
    sandbox_setup s("03-order-select-crd.json");
    const auto answer = answer_of(s.replay());
    // order-select is not a primary hook: the determination comes as a card, without systemActions.
    BOOST_TEST(coverage_card_summary(answer, "MedicationRequest/request-123") == "Prior authorization required: Methotrexate 2.5 MG Oral Tablet");
    BOOST_TEST(cards_of(answer).at(0).at("indicator").as_string() == "warning");
    BOOST_TEST(!has_system_actions(answer), answer);
}

BOOST_AUTO_TEST_CASE(sandbox_order_select_of_a_lumbar_mri_is_answered_with_a_prior_authorization_card)
{
    sandbox_setup s("07-order-select-crd.json");  // ServiceRequest, CPT 72148
    const auto answer = answer_of(s.replay());
    BOOST_TEST(coverage_card_summary(answer, "ServiceRequest/example-request-id").find("Prior authorization required: Magnetic resonance") == 0U);
    BOOST_TEST(!has_system_actions(answer), answer);
}

// The sandbox's first selections carry no code at all (its order form not yet filled in), and in
// ways FHIR R4 does not allow: reasonCode as an object, an empty coding, an empty reasonCode array.
// The payer cannot determine anything without a code, but must not refuse what a real client sends
// while the clinician is still typing: 200 with no cards (and, order-select not being primary, no
// systemActions).

BOOST_AUTO_TEST_CASE(sandbox_order_select_of_a_medication_without_a_code_is_answered_with_no_cards)
{
    sandbox_setup s("01-order-select-crd.json");
    const auto answer = answer_of(s.replay());
    BOOST_TEST(cards_of(answer).empty(), answer);
    BOOST_TEST(!has_system_actions(answer), answer);
}

BOOST_AUTO_TEST_CASE(sandbox_order_select_with_reason_code_as_an_object_is_answered_with_no_cards)
{
    sandbox_setup s("02-order-select-crd.json");
    BOOST_TEST_REQUIRE(s.rec.request.at("context").at("draftOrders").at("entry").at(0).at("resource").at("reasonCode").is_object());
    const auto answer = answer_of(s.replay());
    BOOST_TEST(cards_of(answer).empty(), answer);
    BOOST_TEST(!has_system_actions(answer), answer);
}

BOOST_AUTO_TEST_CASE(sandbox_order_select_of_a_service_request_with_an_empty_coding_is_answered_with_no_cards)
{
    sandbox_setup s("06-order-select-crd.json");
    const auto answer = answer_of(s.replay());
    BOOST_TEST(cards_of(answer).empty(), answer);
    BOOST_TEST(!has_system_actions(answer), answer);
}

BOOST_AUTO_TEST_CASE(the_whole_sandbox_session_in_its_order_is_answered_on_one_connection)
{
    // As the sandbox ran it: one client registration, one key host, seven calls; the key is fetched
    // once and each call's fresh jti passes the replay cache.
    sandbox_setup first(sandbox_fixtures().front());
    test::http_client c(first.crd->port());
    for (const auto& name : sandbox_fixtures())
    {
        const auto rec = load_recording(name);
        BOOST_TEST_REQUIRE(rec.iss() == first.rec.iss());
        BOOST_TEST_REQUIRE(rec.kid() == first.rec.kid());
        const auto r = c.request("POST", rec.path(), rec.body(),
            {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + sandbox_shaped_token(rec, first.key, first.jku)}});
        BOOST_TEST(r.status == 200U, name << ": " << r.body);
    }
    BOOST_TEST(first.key_host.requests() == 1U);
}

// ---- Epic: a 15-minute token with nbf and sub, no jku, keys registered inline ------------------

BOOST_AUTO_TEST_CASE(an_epic_shaped_token_is_accepted_by_default)
{
    const std::string base = "https://crd.example-payer.org";
    const std::string client_id = "epic-ehr-client";
    test::running_application crd(
        new_user_config(base, json::object{{"client_id", client_id}, {"jwks", json::object{{"keys", json::array{auth::public_jwk(epic_key())}}}}}));
    // The body: the sandbox's order-sign, the same CRD hook with its prefetch.
    const auto rec = load_recording("04-order-sign-crd.json");
    const auto before = auth_failures(crd.admin_port());
    test::http_client c(crd.port());
    const auto r = c.request("POST", "/cds-services/order-sign-crd", rec.body(),
        {{"Content-Type", "application/json"},
            {"Authorization", "Bearer " + epic_shaped_token(epic_key(), client_id, base + "/cds-services/order-sign-crd")}});
    BOOST_TEST_REQUIRE(r.status == 200U,
        "status " << r.status << " (auth failures: " << failures_between(before, auth_failures(crd.admin_port())) << "): " << r.body);
    const auto answer = answer_of(r);
    const auto info = coverage_information(answer);
    BOOST_TEST_REQUIRE(info.size() == 1U, answer);
    BOOST_TEST(coverage_value(info[0], "pa-needed") == "auth-needed");
}

// ---- Discovery --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(discovery_is_open_by_default)
{
    // Inferno's CRD suites and the sandbox call discovery without a token; it holds no patient data.
    sandbox_setup s(sandbox_fixtures().front());
    test::http_client c(s.crd->port());
    const auto r = c.request("GET", "/cds-services", "", {});
    BOOST_TEST_REQUIRE(r.status == 200U, "status " << r.status << ": " << r.body);
    const auto doc = json::parse(r.body);
    std::set<std::string> ids;
    for (const auto& service : doc.at("services").as_array())
        ids.insert(std::string(service.at("id").as_string()));
    // Every service the sandbox went on to call is listed.
    for (const auto& name : sandbox_fixtures())
    {
        const auto id = load_recording(name).service_id();
        BOOST_TEST(ids.count(id) == 1U, name << " calls " << id);
    }
}

BOOST_AUTO_TEST_SUITE_END()
