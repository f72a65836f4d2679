// Black-box attacks on the real crd-server binary: each case starts the binary as a child process
// on a loopback port and talks raw HTTP to it over TCP, with the bytes written by hand. The fakes
// it calls (decision service, EHR FHIR server) run in this process on loopback; the raw recorder
// keeps every byte it was sent, so a request smuggled through a header shows up as a request line.

#include "child_server.hpp"
#include "raw_http.hpp"

#include <crd/auth/jose.hpp>

#include "closed_port.hpp"
#include "fake_decision_service.hpp"
#include "fake_fhir_server.hpp"
#include "fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include <sys/resource.h>

namespace json = boost::json;
using namespace crd::attack;
using steady = std::chrono::steady_clock;

namespace {

// A hookInstance or token that ends one request's header block and starts another request.
const std::string smuggle = "x\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: d\r\nX-A: ";

// order-sign-5 (one DeviceRequest, complete prefetch); its fhirServer points nowhere reachable.
json::object sign_request()
{
    auto doc = crd::test::load_fixture("crd-order-sign-5.json").as_object();
    doc["fhirServer"] = "http://127.0.0.1:9/fhir";
    return doc;
}

// The same with coverage left out of prefetch, so the server fetches it from `fhir_base`.
json::object sign_request_fetching_coverage(const std::string& fhir_base, const std::string& token = "ehr-access-token")
{
    auto doc = sign_request();
    doc["fhirServer"] = fhir_base;
    doc["prefetch"].as_object().erase("coverage");
    doc["fhirAuthorization"].as_object()["access_token"] = token;
    return doc;
}

json::object remote_config(const std::string& decision_url)
{
    auto cfg = base_config();
    cfg["decision"] = json::object{{"url", decision_url}};
    return cfg;
}

json::object fhir_prefetch_config(json::object extra = {})
{
    auto cfg = base_config();
    json::object prefetch{{"allow_http", true}};
    for (auto& kv : extra)
        prefetch[kv.key()] = kv.value();
    cfg["prefetch"] = std::move(prefetch);
    return cfg;
}

std::string hook_bytes(const json::object& doc, const std::string& service = "order-sign-crd")
{
    return request_bytes("POST", "/cds-services/" + service, json::serialize(doc));
}

// One hook call on a fresh connection; status 0 when no answer came in time.
response call(std::uint16_t port, const json::object& doc, const std::string& service = "order-sign-crd", std::chrono::milliseconds timeout = 5s)
{
    return exchange(port, hook_bytes(doc, service), timeout).value_or(response{});
}

response get(std::uint16_t port, const std::string& target)
{
    return exchange(port, request_bytes("GET", target, "", {}), 5s).value_or(response{});
}

// For failure messages: the status and the start of the body.
std::string brief(const response& r)
{
    return "status " + std::to_string(r.status) + ", body " + r.body.substr(0, 400) + (r.body.size() > 400 ? "..." : "");
}

// An OperationOutcome one of whose issues names `field` in its expression or diagnostics.
bool outcome_names(const response& r, std::string_view field)
{
    boost::system::error_code ec;
    const auto doc = json::parse(r.body, ec);
    if (ec || !doc.is_object())
        return false;
    const auto* type = doc.get_object().if_contains("resourceType");
    const auto* issues = doc.get_object().if_contains("issue");
    if (!type || *type != "OperationOutcome" || !issues || !issues->is_array())
        return false;
    for (const auto& issue : issues->get_array())
    {
        if (!issue.is_object())
            continue;
        if (const auto* d = issue.get_object().if_contains("diagnostics"); d && d->is_string() && d->get_string().find(field) != json::string::npos)
            return true;
        if (const auto* e = issue.get_object().if_contains("expression"); e && e->is_array())
            for (const auto& x : e->get_array())
                if (x.is_string() && x.get_string().find(field) != json::string::npos)
                    return true;
    }
    return false;
}

// A request line for /smuggled reached the recorder (the JSON-escaped text in a body does not count).
bool saw_smuggled_request(const raw_recorder& upstream)
{
    const auto targets = upstream.targets();
    return std::find(targets.begin(), targets.end(), "/smuggled") != targets.end() || upstream.bytes().find("\r\nGET /smuggled") != std::string::npos;
}

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : " ") + i;
    return out;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 3s)
{
    const auto until = steady::now() + limit;
    while (steady::now() < until)
    {
        if (pred())
            return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

double seconds_since(steady::time_point t)
{
    return std::chrono::duration<double>(steady::now() - t).count();
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    return s;
}

// Whatever the server sends on one connection after `bytes`, until it closes or `wait` passes.
struct exchange_log
{
    std::vector<response> responses;
    bool closed = false;
};

exchange_log send_and_collect(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds wait = 3s)
{
    raw_conn c(port);
    c.send(bytes);
    exchange_log out;
    auto raw = c.read_until_closed(wait, out.closed);
    while (auto r = take_response(raw, out.closed))
        out.responses.push_back(std::move(*r));
    return out;
}

std::string statuses(const exchange_log& log)
{
    std::string s;
    for (const auto& r : log.responses)
        s += std::to_string(r.status) + " ";
    return "responses: [" + s + "] closed: " + (log.closed ? "yes" : "no");
}

// A POST to order-sign whose body is `framing_body`, framed by `framing_headers` only (no
// Content-Length of ours), followed on the same connection by a pipelined GET /health.
std::string framed_then_pipelined(const crd::attack::header_list& framing_headers, const std::string& framing_body)
{
    header_list headers{{"Content-Type", "application/json"}};
    headers.insert(headers.end(), framing_headers.begin(), framing_headers.end());
    return request_bytes("POST", "/cds-services/order-sign-crd", framing_body, headers, "HTTP/1.1", "127.0.0.1", false) +
           request_bytes("GET", "/health", "", {});
}

const std::string empty_json_as_chunks = "2\r\n{}\r\n0\r\n\r\n";

// The longest string value anywhere in a JSON document.
std::size_t longest_string(const json::value& v)
{
    if (v.is_string())
        return v.get_string().size();
    std::size_t longest = 0;
    if (v.is_object())
        for (const auto& kv : v.get_object())
            longest = std::max(longest, longest_string(kv.value()));
    if (v.is_array())
        for (const auto& e : v.get_array())
            longest = std::max(longest, longest_string(e));
    return longest;
}

// An order-select with `orders` MedicationRequests (ids 1..orders) and `selections` references to them.
json::object order_select(std::size_t orders, std::size_t selections)
{
    auto doc = crd::test::load_fixture("crd-order-select-1.json").as_object();
    doc["fhirServer"] = "http://127.0.0.1:9/fhir";
    json::array entries;
    entries.reserve(orders);
    for (std::size_t i = 1; i <= orders; ++i)
        entries.push_back(json::object{{"resource", json::object{{"resourceType", "MedicationRequest"}, {"id", std::to_string(i)}}}});
    json::array selected;
    selected.reserve(selections);
    for (std::size_t i = 0; i < selections; ++i)
        selected.push_back(json::string("MedicationRequest/" + std::to_string(i % orders + 1)));
    auto& ctx = doc["context"].as_object();
    ctx["draftOrders"].as_object()["entry"] = std::move(entries);
    ctx["selections"] = std::move(selected);
    return doc;
}

json::object auth_required_config()
{
    static const auto key = [] {
        auto k = crd::auth::generate_signing_key(crd::auth::key_family::ec_p384);
        k.kid = "ehr-key-1";
        return k;
    }();
    auto cfg = base_config();
    cfg["auth"] = json::object{
        {"required", true},
        {"clients", json::array{json::object{
                        {"client_id", "ehr"},
                        {"jwks", json::object{{"keys", json::array{crd::auth::public_jwk(key)}}}},
                        {"scope", "system/cds.hooks"},
                    }}},
    };
    return cfg;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(attack_)

// --- 1. header injection -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hook_instance_with_crlf_is_refused_and_nothing_is_smuggled)
{
    raw_recorder decision;
    decision.answer(200, crd::test::fake_decision_service::default_body());
    child_server s(remote_config(decision.url("/decide")));

    auto doc = sign_request();
    doc["hookInstance"] = smuggle;
    const auto r = call(s.port(), doc);
    BOOST_TEST(r.status == 422U, brief(r));
    BOOST_TEST(outcome_names(r, "hookInstance"), brief(r));

    for (int i = 0; i < 2; ++i)
    {
        const auto ok = call(s.port(), sign_request());
        BOOST_TEST(ok.status == 200U, "valid call " << i + 1 << " after the attack: " << brief(ok));
    }
    BOOST_TEST(!saw_smuggled_request(decision), "the decision service received a smuggled request; request targets: " << joined(decision.targets()));
}

BOOST_AUTO_TEST_CASE(access_token_with_crlf_is_refused_and_nothing_is_smuggled_to_the_fhir_server)
{
    raw_recorder fhir;
    fhir.answer(200, R"({"resourceType":"Bundle","type":"searchset","entry":[]})", "application/fhir+json");
    child_server s(fhir_prefetch_config());

    const auto r = call(s.port(), sign_request_fetching_coverage(fhir.url("/fhir"), smuggle));
    BOOST_TEST(r.status == 422U, brief(r));
    BOOST_TEST(outcome_names(r, "fhirAuthorization.access_token"), brief(r));
    BOOST_TEST(!saw_smuggled_request(fhir), "the FHIR server received a smuggled request; request targets: " << joined(fhir.targets()));
}

BOOST_AUTO_TEST_CASE(access_token_with_a_space_is_refused)
{
    raw_recorder fhir;
    child_server s(fhir_prefetch_config());

    const auto r = call(s.port(), sign_request_fetching_coverage(fhir.url("/fhir"), "abc def"));
    BOOST_TEST(r.status == 422U, brief(r));
    BOOST_TEST(outcome_names(r, "fhirAuthorization.access_token"), brief(r));
    BOOST_TEST(fhir.requests() == 0U, "the token was used for a FHIR request");
}

BOOST_AUTO_TEST_CASE(hook_instance_longer_than_256_bytes_is_refused)
{
    raw_recorder decision;
    decision.answer(200, crd::test::fake_decision_service::default_body());
    child_server s(remote_config(decision.url("/decide")));

    auto doc = sign_request();
    doc["hookInstance"] = std::string(257, 'a');
    const auto r = call(s.port(), doc);
    BOOST_TEST(r.status == 422U, brief(r));
    BOOST_TEST(outcome_names(r, "hookInstance"), brief(r));
    BOOST_TEST(decision.requests() == 0U);
}

// --- 3. file-descriptor exhaustion -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(idle_connections_beyond_the_open_file_limit_neither_spin_the_acceptor_nor_hang)
{
    // This process holds 600 sockets: make sure its own open-file limit allows them.
    rlimit own{};
    ::getrlimit(RLIMIT_NOFILE, &own);
    if (own.rlim_cur < 2048 && own.rlim_max > own.rlim_cur)
    {
        own.rlim_cur = std::min<rlim_t>(own.rlim_max, 4096);
        ::setrlimit(RLIMIT_NOFILE, &own);
    }
    child_server s(base_config(), {.open_file_limit = 256});

    std::vector<std::unique_ptr<raw_conn>> idle;
    std::size_t refused = 0;
    const auto connecting = steady::now();
    for (int i = 0; i < 600 && seconds_since(connecting) < 3.0; ++i)
    {
        try
        {
            idle.push_back(std::make_unique<raw_conn>(s.port(), 1s));
        }
        catch (const std::exception&)
        {
            ++refused;
        }
    }
    BOOST_TEST_MESSAGE("opened " << idle.size() << " idle connections, " << refused << " refused");

    const double cpu_before = s.cpu_seconds();
    std::this_thread::sleep_for(3s);
    const double cpu_used = s.cpu_seconds() - cpu_before;
    const auto accept_failed = s.count_log_lines([](const std::string& line) { return line.find("\"accept_failed\"") != std::string::npos; });
    BOOST_TEST(accept_failed <= 20U, accept_failed << " accept_failed log lines");
    BOOST_TEST(cpu_used < 1.0, "the server used " << cpu_used << " s of CPU in 3 s with idle connections");

    // Every connection, asked something now, is answered (200, or 503 when it could not be
    // served) or closed within 5 s: none waits unseen in the listen backlog.
    for (auto& c : idle)
        c->send(request_bytes("GET", "/health", "", {}));
    std::size_t unsettled = idle.size();
    const auto until = steady::now() + 5s;
    while (unsettled > 0 && steady::now() < until)
    {
        std::this_thread::sleep_for(20ms);
        unsettled = static_cast<std::size_t>(std::count_if(idle.begin(), idle.end(), [](auto& c) { return !c->settled(); }));
    }
    BOOST_TEST(unsettled == 0U, unsettled << " of " << idle.size() << " connections got neither an answer nor a close within 5 s");
    std::size_t odd_status = 0;
    for (auto& c : idle)
    {
        auto buffered = c->pending();
        if (auto r = take_response(buffered, true); r && r->status != 200U && r->status != 503U)
            ++odd_status;
    }
    BOOST_TEST(odd_status == 0U, odd_status << " connections were answered with neither 200 nor 503");

    // Once the idle connections are gone, a hook call is served again within 5 s.
    idle.clear();
    const auto started = steady::now();
    unsigned status = 0;
    while (status != 200U && seconds_since(started) < 5.0)
    {
        try
        {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(5s - (steady::now() - started));
            status = call(s.port(), sign_request(), "order-sign-crd", std::max(left, 100ms)).status;
        }
        catch (const std::exception&)
        {
            std::this_thread::sleep_for(50ms);
        }
    }
    BOOST_TEST(status == 200U, "no 200 for a valid order-sign within 5 s after the idle connections closed (last status " << status << ")");
}

BOOST_AUTO_TEST_CASE(max_connections_above_the_open_file_limit_is_warned_at_start)
{
    child_server s(base_config(), {.open_file_limit = 256});
    const auto warned = [&] {
        return s.count_log_lines([](const std::string& line) {
            const auto l = lower(line);
            return l.find("\"level\":\"warning\"") != std::string::npos &&
                   (l.find("nofile") != std::string::npos || l.find("open-file") != std::string::npos || l.find("open_file") != std::string::npos ||
                       l.find("open file") != std::string::npos || l.find("max_connections") != std::string::npos);
        }) > 0;
    };
    BOOST_TEST(eventually(warned, 2s), "no warning about limits.max_connections and the open-file limit; output:\n" << s.log());
}

// --- 4. quadratic work -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(order_select_with_11500_orders_and_33000_selections_is_refused_quickly)
{
    auto cfg = base_config();
    // The request is about 1.5 MB: let it past the body limit so the order/selection limits decide.
    cfg["limits"] = json::object{{"max_body_bytes", 4 * 1024 * 1024}};
    child_server s(cfg);

    const auto body = hook_bytes(order_select(11'500, 33'000), "order-select-crd");
    BOOST_TEST_MESSAGE("order-select request of " << body.size() << " bytes");
    const auto started = steady::now();
    const auto r = exchange(s.port(), body, 10s).value_or(response{});
    const double took = seconds_since(started);
    BOOST_TEST(r.status == 413U, brief(r) << " after " << took << " s");
    BOOST_TEST((outcome_names(r, "limits.max_orders") || outcome_names(r, "limits.max_selections")), brief(r));
    BOOST_TEST(took < 5.0, "answered after " << took << " s");

    const auto ok = call(s.port(), sign_request());
    BOOST_TEST(ok.status == 200U, "valid order-sign afterwards: " << brief(ok));
}

BOOST_AUTO_TEST_CASE(order_select_with_1000_orders_and_1000_selections_is_served_at_the_default_limits)
{
    child_server s(base_config());
    const auto r = call(s.port(), order_select(1'000, 1'000), "order-select-crd");
    BOOST_TEST(r.status == 200U, brief(r));
}

// --- 5. circuit breaker ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(decision_service_400_is_relayed_and_does_not_open_the_breaker)
{
    raw_recorder decision;
    decision.answer(
        400, R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"the payer refuses this request"}]})");
    child_server s(remote_config(decision.url("/decide")));

    for (int i = 0; i < 10; ++i)
    {
        const auto r = call(s.port(), sign_request(), "order-sign-crd", 1500ms);
        BOOST_TEST(r.status == 400U, "call " << i + 1 << ": " << brief(r));
    }
    BOOST_TEST(decision.requests() == 10U, "the decision service received " << decision.requests() << " of 10 calls");
    const auto ready = get(s.port(), "/ready");
    BOOST_TEST(ready.status == 200U, brief(ready));
}

BOOST_AUTO_TEST_CASE(decision_service_500_still_opens_the_breaker)
{
    crd::test::fake_decision_service decision;
    decision.set_mode(crd::test::fake_mode::server_error);
    child_server s(remote_config(decision.url()));

    for (int i = 0; i < 5; ++i)
    {
        const auto r = call(s.port(), sign_request());
        BOOST_TEST((r.status >= 500U && r.status < 600U), "call " << i + 1 << ": " << brief(r));
    }
    BOOST_TEST(decision.requests() == 5U);
    const auto r = call(s.port(), sign_request());
    BOOST_TEST((r.status == 503U || r.status == 502U), brief(r));
    BOOST_TEST(decision.requests() == 5U, "the call after the breaker opened reached the decision service");
}

// --- 6. FHIR origins ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(many_unreachable_fhir_origins_do_not_lock_out_a_new_one)
{
    crd::test::fake_fhir_server fhir;
    fhir.answer("/fhir/Coverage?patient=pat015&status=active",
        {200, R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"cov015","status":"active"}}]})",
            ""});
    child_server s(fhir_prefetch_config());

    // 260 distinct origins on loopback (127.0.1.1 ... 127.0.2.10), all at a closed port.
    const crd::test::closed_port closed_holder;
    const auto closed = std::to_string(closed_holder.port());
    std::size_t server_errors = 0;
    unsigned last_bad = 0;
    for (int i = 0; i < 260; ++i)
    {
        const auto host = "127.0." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
        const auto r = call(s.port(), sign_request_fetching_coverage("http://" + host + ":" + closed + "/fhir"));
        if (r.status == 0 || r.status >= 500)
        {
            ++server_errors;
            last_bad = r.status;
            if (r.status == 0)
                break;  // no answer at all: do not wait 5 s 260 times
        }
    }
    BOOST_TEST(server_errors == 0U, server_errors << " of the 260 calls got no answer or a 5xx (last " << last_bad << ")");

    const auto r = call(s.port(), sign_request_fetching_coverage(fhir.base()));
    BOOST_TEST(r.status == 200U, brief(r));
    const auto seen = fhir.requests();
    const bool fetched = std::any_of(seen.begin(), seen.end(), [](const auto& q) { return q.target.find("/fhir/Coverage") == 0; });
    BOOST_TEST(fetched, "the FHIR server named after 260 others was never asked for the coverage (" << seen.size() << " requests)");
}

BOOST_AUTO_TEST_CASE(prefetch_allowed_origins_keep_other_fhir_servers_unconnected)
{
    crd::test::fake_fhir_server fhir;
    fhir.answer("/fhir/Coverage?patient=pat015&status=active",
        {200, R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"cov015","status":"active"}}]})",
            ""});
    raw_recorder other;
    child_server s(fhir_prefetch_config(json::object{{"allowed_origins", json::array{"http://127.0.0.1:" + std::to_string(fhir.port())}}}));

    const auto refused = call(s.port(), sign_request_fetching_coverage(other.url("/fhir")));
    BOOST_TEST(refused.status == 412U, brief(refused));
    std::this_thread::sleep_for(200ms);
    BOOST_TEST(other.connections() == 0U, "the server connected to an origin outside prefetch.allowed_origins");

    const auto allowed = call(s.port(), sign_request_fetching_coverage(fhir.base()));
    BOOST_TEST(allowed.status == 200U, brief(allowed));
    BOOST_TEST(!fhir.requests().empty(), "the allowed origin was not fetched from");
}

// --- 8. audit on any outcome -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_70k_hook_instance_is_refused_and_audited_with_capped_strings)
{
    crd::test::fake_decision_service decision;
    auto cfg = remote_config(decision.url());
    cfg["audit"] = json::object{{"path", "audit.jsonl"}, {"fsync_ms", 50}};
    child_server s(cfg);

    auto doc = sign_request();
    doc["hookInstance"] = std::string(70'000, 'a');
    const auto r = call(s.port(), doc);
    BOOST_TEST((r.status >= 400U && r.status < 500U), brief(r));

    const auto audit_path = s.dir() / "audit.jsonl";
    std::string line;
    const auto find_line = [&] {
        std::ifstream in(audit_path);
        std::string l;
        while (std::getline(in, l))
            if (l.find("\"kind\":\"hook\"") != std::string::npos)
            {
                line = l;
                return true;
            }
        return false;
    };
    BOOST_TEST_REQUIRE(eventually(find_line, 3s), "no audit line for the call");
    boost::system::error_code ec;
    const auto record = json::parse(line, ec);
    BOOST_TEST_REQUIRE(!ec, "the audit line is not JSON");
    BOOST_TEST(longest_string(record) <= 8U * 1024U + 256U, "the audit line has a string of " << longest_string(record) << " bytes");
}

// --- 9. admin surface --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(metrics_and_detailed_readiness_are_on_the_admin_port_only)
{
    const auto admin_port = free_port();
    auto cfg = base_config();
    cfg["admin"] = json::object{{"address", "127.0.0.1"}, {"port", admin_port}};
    child_server s(cfg);

    const auto metrics = get(s.port(), "/metrics");
    BOOST_TEST(metrics.status == 404U, brief(metrics));
    const auto ready = get(s.port(), "/ready");
    BOOST_TEST(ready.status == 200U, brief(ready));
    BOOST_TEST(ready.body == R"({"status":"ready"})");
    BOOST_TEST(get(s.port(), "/health").status == 200U);

    const auto admin_metrics = get(admin_port, "/metrics");
    BOOST_TEST(admin_metrics.status == 200U, brief(admin_metrics));
    BOOST_TEST(std::regex_search(admin_metrics.body, std::regex("(^|\n)crd_[a-z_]+")), brief(admin_metrics));
    const auto admin_ready = get(admin_port, "/ready");
    BOOST_TEST(admin_ready.status == 200U, brief(admin_ready));
    boost::system::error_code ec;
    json::parse(admin_ready.body, ec);
    BOOST_TEST(!ec, "admin /ready is not JSON: " << brief(admin_ready));
}

BOOST_AUTO_TEST_CASE(public_ready_does_not_disclose_the_decision_origin)
{
    const crd::test::closed_port closed_holder;
    const auto closed = closed_holder.port();
    child_server s(remote_config(closed_holder.url("/decide")));
    for (int i = 0; i < 6; ++i)  // enough failures to open the breaker
        call(s.port(), sign_request());
    const auto ready = get(s.port(), "/ready");
    BOOST_TEST((ready.status == 200U || ready.status == 503U), brief(ready));
    BOOST_TEST(ready.body.find("127.0.0.1") == std::string::npos, brief(ready));
    BOOST_TEST(ready.body.find(std::to_string(closed)) == std::string::npos, brief(ready));
}

// --- 11. HTTP framing (RFC 9112) ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(unknown_transfer_coding_is_refused_and_the_connection_closed)
{
    child_server s(base_config());
    const auto log = send_and_collect(s.port(), framed_then_pipelined({{"Transfer-Encoding", "xchunked"}}, empty_json_as_chunks));
    BOOST_TEST_REQUIRE(!log.responses.empty(), statuses(log));
    BOOST_TEST(log.responses.front().status == 400U, statuses(log));
    BOOST_TEST(log.responses.size() == 1U, "the pipelined request was answered: " << statuses(log));
    BOOST_TEST(log.closed, statuses(log));
}

BOOST_AUTO_TEST_CASE(chunked_not_last_is_refused_and_the_connection_closed)
{
    child_server s(base_config());
    const auto log = send_and_collect(s.port(), framed_then_pipelined({{"Transfer-Encoding", "chunked, identity"}}, empty_json_as_chunks));
    BOOST_TEST_REQUIRE(!log.responses.empty(), statuses(log));
    BOOST_TEST(log.responses.front().status == 400U, statuses(log));
    BOOST_TEST(log.responses.size() == 1U, "the pipelined request was answered: " << statuses(log));
    BOOST_TEST(log.closed, statuses(log));
}

BOOST_AUTO_TEST_CASE(transfer_encoding_with_content_length_is_refused_and_the_connection_closed)
{
    child_server s(base_config());
    const auto length = std::to_string(empty_json_as_chunks.size());
    const std::vector<std::pair<std::string, crd::attack::header_list>> variants{
        {"chunked then Content-Length", {{"Transfer-Encoding", "chunked"}, {"Content-Length", length}}},
        {"Content-Length then chunked", {{"Content-Length", length}, {"Transfer-Encoding", "chunked"}}},
        {"xchunked then Content-Length", {{"Transfer-Encoding", "xchunked"}, {"Content-Length", length}}},
    };
    for (const auto& [name, headers] : variants)
    {
        const auto log = send_and_collect(s.port(), framed_then_pipelined(headers, empty_json_as_chunks));
        BOOST_TEST_REQUIRE(!log.responses.empty(), name << ": " << statuses(log));
        BOOST_TEST(log.responses.front().status == 400U, name << ": " << statuses(log));
        BOOST_TEST(log.responses.size() == 1U, name << ": the pipelined request was answered: " << statuses(log));
        BOOST_TEST(log.closed, name << ": " << statuses(log));
    }
}

BOOST_AUTO_TEST_CASE(http11_request_without_host_is_refused)
{
    child_server s(base_config());
    const auto r = exchange(s.port(), request_bytes("GET", "/health", "", {}, "HTTP/1.1", ""), 3s).value_or(response{});
    BOOST_TEST(r.status == 400U, brief(r));
}

BOOST_AUTO_TEST_CASE(expect_100_continue_without_credentials_gets_401_without_waiting_for_the_body)
{
    child_server s(auth_required_config());
    const auto body = json::serialize(sign_request());
    const auto head = request_bytes("POST", "/cds-services/order-sign-crd", "",
        {{"Content-Type", "application/json"}, {"Content-Length", std::to_string(body.size())}, {"Expect", "100-continue"}}, "HTTP/1.1", "127.0.0.1",
        false);
    raw_conn c(s.port());
    c.send(head);  // the body is never sent
    const auto first = c.read_response(3s);
    BOOST_TEST_REQUIRE(first.has_value(), "no response within 3 s to a header without credentials");
    BOOST_TEST(first->status == 401U, "the first response was " << brief(*first));
}

BOOST_AUTO_TEST_CASE(http10_request_with_expect_gets_no_100_continue)
{
    child_server s(base_config());
    const auto body = json::serialize(sign_request());
    const auto head = request_bytes("POST", "/cds-services/order-sign-crd", "",
        {{"Content-Type", "application/json"}, {"Content-Length", std::to_string(body.size())}, {"Expect", "100-continue"}}, "HTTP/1.0", "127.0.0.1",
        false);
    raw_conn c(s.port());
    c.send(head);
    std::this_thread::sleep_for(1s);  // a 100 Continue, if any, is sent now, before the body
    c.send(body);
    bool closed = false;
    auto all = c.read_until_closed(5s, closed);
    const std::regex continue_line(R"(HTTP/1\.[01] 100)");
    BOOST_TEST(!std::regex_search(all, continue_line), "an HTTP/1.0 client was sent 100 Continue: " << all.substr(0, 200));
    std::optional<response> final_answer;
    while ((final_answer = take_response(all, closed)) && final_answer->status < 200U)
    {
    }
    BOOST_TEST_REQUIRE(final_answer.has_value(), "no final response");
    BOOST_TEST(final_answer->status == 200U, brief(*final_answer));
}

// --- 14. no echo of large input ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_100k_hook_value_is_refused_without_echoing_it)
{
    child_server s(base_config());
    auto doc = sign_request();
    doc["hook"] = std::string(100'000, 'h');
    const auto r = call(s.port(), doc);
    BOOST_TEST(r.status == 422U, brief(r));
    BOOST_TEST(r.body.size() < 2048U, "the 422 body has " << r.body.size() << " bytes");
}

BOOST_AUTO_TEST_CASE(a_10k_content_type_is_refused_without_echoing_it)
{
    child_server s(base_config());
    const auto bytes = request_bytes(
        "POST", "/cds-services/order-sign-crd", json::serialize(sign_request()), {{"Content-Type", "text/" + std::string(10'240, 'x')}});
    const auto r = exchange(s.port(), bytes, 5s).value_or(response{});
    BOOST_TEST(r.status == 415U, brief(r));
    BOOST_TEST(r.body.size() < 2048U, "the 415 body has " << r.body.size() << " bytes");
}

BOOST_AUTO_TEST_SUITE_END()
