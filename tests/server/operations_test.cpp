// Operations: /metrics, the audit log (redaction, reopen, a failing disk), overload limits, the
// TLS listener, and the real binary under systemd's notify protocol and SIGTERM.

#include <crd/server/server_metrics.hpp>
#include <crd/server/application.hpp>
#include <crd/server/audit_log.hpp>
#include <crd/server/systemd_notify.hpp>

#include "fake_decision_service.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"
#include "tls_cert.hpp"
#include "tls_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace crd;
using namespace std::chrono_literals;
using test::fake_decision_service;
using test::fake_mode;

namespace {

fs::path temp_dir()
{
    static int n = 0;
    auto dir = fs::temp_directory_path() / ("crd-ops-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir);
    return dir;
}

std::string sign_body(const std::string& access_token = "")
{
    auto doc = test::load_fixture("crd-order-sign-5.json");
    auto& o = doc.as_object();
    o["fhirServer"] = "http://127.0.0.1:9/fhir";
    if (!access_token.empty())
        o["fhirAuthorization"] = json::object{
            {"access_token", access_token}, {"token_type", "Bearer"}, {"expires_in", 300}, {"scope", "user/Patient.read"}, {"subject", "crd"}};
    return json::serialize(doc);
}

// Parses Prometheus text: every sample line must be `name{labels} value`; returns them by series.
std::map<std::string, double> parse_metrics(const std::string& text)
{
    static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$)");
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
    {
        if (line.empty() || line[0] == '#')
            continue;
        std::smatch m;
        BOOST_TEST_REQUIRE(std::regex_match(line, m, sample), "not a Prometheus sample: " << line);
        out[m[1].str() + m[2].str()] = std::stod(m[3].str());
    }
    return out;
}

std::string read_all(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// Waits for `pred` up to `limit`: the audit writer and child processes run on their own time.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 3s)
{
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until)
    {
        if (pred())
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(operations_)

BOOST_AUTO_TEST_CASE(metrics_parse_and_move_with_calls)
{
    test::running_application s(test::test_config());
    test::http_client client(s.port());
    test::http_client admin(s.admin_port());
    auto before = admin.request("GET", "/metrics");
    BOOST_TEST(before.status == 200U);
    BOOST_TEST(before.header("content-type").find("text/plain; version=0.0.4") == 0U);
    auto m0 = parse_metrics(before.body);
    // The test process links no jemalloc: glibc's malloc is the "system" one.
    BOOST_TEST(m0.count("crd_build_info{version=\"" CRD_VERSION_STRING "\",allocator=\"system\"}") == 1U);
    BOOST_TEST(m0.count("crd_request_duration_seconds_bucket{service=\"order-sign-crd\",le=\"5\"}") == 1U);
    BOOST_TEST(m0.count("crd_request_duration_seconds_bucket{service=\"order-sign-crd\",le=\"10\"}") == 1U);

    const std::string ok200 = "crd_http_requests_total{route=\"order-sign-crd\",status=\"200\"}";
    const std::string bad422 = "crd_http_requests_total{route=\"order-sign-crd\",status=\"422\"}";
    const std::string count = "crd_request_duration_seconds_count{service=\"order-sign-crd\"}";
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 200U);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 200U);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", R"({"hook":"order-sign"})").status == 422U);

    auto m1 = parse_metrics(test::http_client(s.admin_port()).request("GET", "/metrics").body);
    BOOST_TEST(m1[ok200] - m0[ok200] == 2.0);
    BOOST_TEST(m1[bad422] - m0[bad422] == 1.0);
    BOOST_TEST(m1[count] - m0[count] == 3.0);
    BOOST_TEST(m1["crd_in_flight_requests"] == 0.0);
    BOOST_TEST(m1["crd_open_connections"] >= 1.0);
    // Histogram buckets are cumulative and end at the count.
    BOOST_TEST(m1["crd_request_duration_seconds_bucket{service=\"order-sign-crd\",le=\"+Inf\"}"] == m1[count]);
    BOOST_TEST(m1["crd_request_duration_seconds_bucket{service=\"order-sign-crd\",le=\"0.001\"}"] <=
               m1["crd_request_duration_seconds_bucket{service=\"order-sign-crd\",le=\"10\"}"]);
    BOOST_TEST(admin.request("POST", "/metrics").status == 405U);
    // Not on the public listener: only /health and a bare /ready are shared with the world.
    BOOST_TEST(client.request("GET", "/metrics").status == 404U);
    BOOST_TEST(admin.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 404U);
}

BOOST_AUTO_TEST_CASE(decision_outcomes_and_pool_gauges_are_exported)
{
    fake_decision_service fake;
    auto cfg = test::test_config();
    cfg.decision.endpoint = *core::parse_http_url(fake.url());
    cfg.decision.timeout = 300ms;
    test::running_application s(std::move(cfg));
    test::http_client client(s.port());
    auto m0 = parse_metrics(test::http_client(s.admin_port()).request("GET", "/metrics").body);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 200U);
    fake.set_mode(fake_mode::slow);
    fake.set_delay(600ms);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 504U);
    auto m1 = parse_metrics(test::http_client(s.admin_port()).request("GET", "/metrics").body);
    // The timed-out call's connection was discarded, none is idle or open now...
    BOOST_TEST(m1["crd_upstream_pool_connections{pool=\"decision\",state=\"open\"}"] == 0.0);
    fake.set_mode(fake_mode::normal);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 200U);
    // ...and a clean exchange leaves its connection idle in the pool.
    auto m2 = parse_metrics(test::http_client(s.admin_port()).request("GET", "/metrics").body);
    BOOST_TEST(m2["crd_upstream_pool_connections{pool=\"decision\",state=\"idle\"}"] == 1.0);
    BOOST_TEST(m2["crd_upstream_pool_connections{pool=\"decision\",state=\"open\"}"] == 1.0);
    BOOST_TEST(m1["crd_decision_calls_total{outcome=\"ok\"}"] - m0["crd_decision_calls_total{outcome=\"ok\"}"] == 1.0);
    BOOST_TEST(m1["crd_decision_calls_total{outcome=\"timeout\"}"] - m0["crd_decision_calls_total{outcome=\"timeout\"}"] == 1.0);
    BOOST_TEST(m1["crd_decision_duration_seconds_count"] - m0["crd_decision_duration_seconds_count"] == 2.0);
    BOOST_TEST(m1["crd_upstream_connects_total{pool=\"decision\"}"] - m0["crd_upstream_connects_total{pool=\"decision\"}"] >= 1.0);
    BOOST_TEST(m1["crd_upstream_pool_waiting{pool=\"decision\"}"] == 0.0);
}

BOOST_AUTO_TEST_CASE(audit_line_per_call_without_tokens_and_after_reopen)
{
    const auto dir = temp_dir();
    const auto audit_path = dir / "audit.jsonl";
    const auto config_path = dir / "crd.json";
    {
        std::ofstream out(config_path);
        out << R"({"listen": {"address": "127.0.0.1", "port": 0, "threads": 1}, "auth": {"required": false},
                  "decision": {"rules": ")"
            << CRD_SOURCE_DIR << R"(/etc/rules.json"},
                  "audit": {"path": "audit.jsonl", "fsync_ms": 50}})";
    }
    auto no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
    test::running_application s(core::load_config_file(config_path.string(), no_env, ""));
    test::http_client client(s.port());
    const std::string secret = "eyJhbGciOiJSUzM4NCJ9.secret-ehr-token.signature";
    auto r = client.request("POST", "/cds-services/order-sign-crd", sign_body(secret));
    BOOST_TEST(r.status == 200U);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", "{not json").status == 400U);

    const auto lines_in = [](const std::string& t) { return std::count(t.begin(), t.end(), '\n'); };
    BOOST_TEST_REQUIRE(eventually([&] { return lines_in(read_all(audit_path)) >= 2; }));
    const auto text = read_all(audit_path);
    BOOST_TEST(text.find(secret) == std::string::npos);  // never a token
    std::istringstream lines(text);
    std::string first, second;
    std::getline(lines, first);
    std::getline(lines, second);
    auto rec = json::parse(first).as_object();
    BOOST_TEST(rec.at("kind").as_string() == "hook");
    BOOST_TEST(rec.at("service").as_string() == "order-sign-crd");
    BOOST_TEST(rec.at("status").as_int64() == 200);
    BOOST_TEST(rec.at("decision").as_string() == "ok");
    BOOST_TEST(rec.at("hookInstance").as_string() == json::parse(sign_body()).at("hookInstance").as_string());
    BOOST_TEST(rec.at("latency_ms").as_double() >= 0.0);
    BOOST_TEST(rec.at("request").at("fhirAuthorization").at("access_token").as_string() == "[redacted]");
    BOOST_TEST(rec.at("request").at("context").at("patientId").is_string());
    BOOST_TEST(rec.at("response") == json::parse(r.body));
    auto bad = json::parse(second).as_object();
    BOOST_TEST(bad.at("status").as_int64() == 400);
    BOOST_TEST(bad.at("request_unparsed").at("bytes").as_int64() == 9);

    // logrotate: move the file away, SIGHUP (reload), and the next call lands in a new file.
    fs::rename(audit_path, dir / "audit.jsonl.1");
    BOOST_TEST(s.reload(config_path.string()));
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 200U);
    BOOST_TEST(eventually([&] { return fs::exists(audit_path) && read_all(audit_path).find("order-sign-crd") != std::string::npos; }));
    BOOST_TEST(lines_in(text) == 2);
}

BOOST_AUTO_TEST_CASE(a_bad_reload_keeps_the_running_configuration)
{
    const auto dir = temp_dir();
    const auto config_path = dir / "crd.json";
    const auto rules_path = dir / "rules.json";
    fs::copy_file(fs::path(CRD_SOURCE_DIR) / "etc/rules.json", rules_path);
    {
        std::ofstream out(config_path);
        out << R"({"listen": {"port": 0, "threads": 1}, "auth": {"required": false}, "decision": {"rules": "rules.json"}})";
    }
    auto no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
    test::running_application s(core::load_config_file(config_path.string(), no_env, ""));
    test::http_client client(s.port());
    auto m0 = parse_metrics(test::http_client(s.admin_port()).request("GET", "/metrics").body);
    {
        std::ofstream out(rules_path);
        out << R"({"rules": [{"bogus": true}]})";
    }
    BOOST_TEST(!s.reload(config_path.string()));
    {
        std::ofstream out(config_path);
        out << R"({"listen": {"port": 0}, "limits": {"max_body_byte": 5}})";
    }
    BOOST_TEST(!s.reload(config_path.string()));
    // Still serving with the old rules.
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 200U);
    auto m1 = parse_metrics(test::http_client(s.admin_port()).request("GET", "/metrics").body);
    BOOST_TEST(m1["crd_config_reloads_total{result=\"refused\"}"] - m0["crd_config_reloads_total{result=\"refused\"}"] == 2.0);
}

BOOST_AUTO_TEST_CASE(the_audit_keeps_deep_bodies_as_json_and_caps_huge_strings)
{
    // Served at depth 64 by the router, the audit re-parsed at Boost's default 32 and kept only
    // a hash; a 1 MB hookInstance made a 2 MB line.
    auto doc = test::load_fixture("crd-order-sign-5.json");
    json::value deep = "bottom";
    for (int i = 0; i < 50; ++i)
        deep = json::object{{"n", std::move(deep)}};
    doc.as_object()["extension"] = json::object{{"deep", std::move(deep)}};
    doc.as_object()["hookInstance"] = std::string(1024 * 1024, 'h');
    server::audit_record r;
    r.kind = "hook";
    r.hook_instance = std::string(1024 * 1024, 'h');
    r.request_body = json::serialize(doc);
    r.response_body = std::string(100'000, 'x');  // not JSON: kept as a capped string
    const auto line = server::format_audit_line(r);
    BOOST_TEST(line.size() < 20'000U);
    json::parse_options deep_enough;
    deep_enough.max_depth = 100;
    const auto parsed = json::parse(line, {}, deep_enough);
    BOOST_TEST(parsed.as_object().contains("request"));  // kept as JSON, not size + hash
    BOOST_TEST(!parsed.as_object().contains("request_unparsed"));
    const auto& kept = parsed.at("hookInstance").as_string();
    BOOST_TEST(kept.size() < 2'000U);
    BOOST_TEST(std::string_view(kept).find("truncated by crd-server: 1048576 bytes, sha256 ") != std::string_view::npos);
    BOOST_TEST(parsed.at("request").at("hookInstance").as_string().size() < 2'000U);
}

BOOST_AUTO_TEST_CASE(the_audit_redacts_and_a_failing_disk_pushes_back_instead_of_dropping)
{
    server::audit_record r;
    r.kind = "hook";
    r.request_body = sign_body("tok-123");
    r.response_body = R"({"cards":[]})";
    const auto line = server::format_audit_line(r);
    BOOST_TEST(line.find("tok-123") == std::string::npos);
    BOOST_TEST(line.find("[redacted]") != std::string::npos);

    // /dev/full: every write fails with ENOSPC. Records stay queued; once the queue is full a
    // required audit log refuses new calls at once (the caller answers 503), and it is counted.
    core::audit_config cfg;
    cfg.path = "/dev/full";
    cfg.queue_size = 2;
    cfg.required = true;
    cfg.fsync_interval = 20ms;
    auto& counted = server::server_metrics::instance();
    const auto rejected0 = counted.audit_rejected.value();
    const auto errors0 = counted.audit_write_errors.value();
    server::audit_log log(cfg);
    net::io_context ioc;
    const auto give_up = clock::now() + 200ms;
    BOOST_TEST(test::run_coro(ioc, log.append(r, give_up)));
    BOOST_TEST(test::run_coro(ioc, log.append(r, give_up)));
    BOOST_TEST(!test::run_coro(ioc, log.append(r, give_up)));
    BOOST_TEST(counted.audit_rejected.value() == rejected0 + 1);
    BOOST_TEST(eventually([&] { return counted.audit_write_errors.value() > errors0; }));
    // A durable append (feedback) does not report success while the disk fails.
    cfg.required = false;
    cfg.queue_size = 10;
    server::audit_log durable(cfg);
    BOOST_TEST(!test::run_coro(ioc, durable.append_durable(r, clock::now() + 200ms)));
}

BOOST_AUTO_TEST_CASE(durable_append_completes_after_the_record_is_on_disk)
{
    const auto path = temp_dir() / "audit.jsonl";
    core::audit_config cfg;
    cfg.path = path.string();
    cfg.fsync_interval = 5s;  // durability must not wait for the periodic fsync
    server::audit_log log(cfg);
    server::audit_record r;
    r.kind = "feedback";
    r.service = "order-sign-crd";
    r.request_body = R"({"feedback":[]})";
    r.response_body = "{}";
    net::io_context ioc;
    const auto started = clock::now();
    BOOST_TEST(test::run_coro(ioc, log.append_durable(r, clock::now() + 2s)));
    BOOST_TEST(read_all(path).find("\"kind\":\"feedback\"") != std::string::npos);
    BOOST_TEST((clock::now() - started < 2s));
}

BOOST_AUTO_TEST_CASE(max_in_flight_answers_503_with_retry_after)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::slow);
    fake.set_delay(500ms);
    auto cfg = test::test_config();
    cfg.decision.endpoint = *core::parse_http_url(fake.url());
    cfg.limits.max_in_flight = 1;
    test::running_application s(std::move(cfg));
    unsigned first_status = 0;
    std::thread first([&] {
        test::http_client c(s.port());
        first_status = c.request("POST", "/cds-services/order-sign-crd", sign_body()).status;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return fake.requests() >= 1; }));
    test::http_client second(s.port());
    auto r = second.request("POST", "/cds-services/order-sign-crd", sign_body());
    BOOST_TEST(r.status == 503U);
    BOOST_TEST(r.header("retry-after") == "1");
    BOOST_TEST(json::parse(r.body).at("resourceType").as_string() == "OperationOutcome");
    BOOST_TEST(second.request("GET", "/health").status == 200U);  // ops still see the server
    first.join();
    BOOST_TEST(first_status == 200U);
    BOOST_TEST(second.request("POST", "/cds-services/order-sign-crd", sign_body()).status == 200U);
}

BOOST_AUTO_TEST_CASE(max_connections_answers_503_and_closes)
{
    auto cfg = test::test_config();
    cfg.limits.max_connections = 1;
    cfg.listen.threads = 1;
    test::running_application s(std::move(cfg));
    test::http_client held(s.port());
    BOOST_TEST(held.request("GET", "/health").status == 200U);
    test::http_client extra(s.port());
    auto r = extra.request("GET", "/health");
    BOOST_TEST(r.status == 503U);
    BOOST_TEST(r.header("retry-after") == "1");
    BOOST_TEST(!r.keep_alive);
    BOOST_TEST(held.request("GET", "/health").status == 200U);
}

namespace {

// A TLS handshake with the client pinned to one protocol version.
bool handshake_with(std::uint16_t port, int version)
{
    net::io_context ioc;
    net::ssl::context ctx(net::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), version);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), version);
    SSL_CTX_set_security_level(ctx.native_handle(), 0);  // let the client offer TLS 1.0/1.1 at all
    ctx.load_verify_file(test::localhost_certificate().certificate);
    ctx.set_verify_mode(net::ssl::verify_peer);
    net::ssl::stream<net::ip::tcp::socket> stream(ioc, ctx);
    stream.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>("localhost"));
    boost::system::error_code ec;
    stream.handshake(net::ssl::stream_base::client, ec);
    return !ec;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tls_listener_accepts_1_2_and_1_3_and_refuses_older)
{
    auto cfg = test::test_config();
    cfg.tls.certificate = test::localhost_certificate().certificate;
    cfg.tls.private_key = test::localhost_certificate().private_key;
    test::running_application s(std::move(cfg));
    BOOST_TEST(handshake_with(s.port(), TLS1_3_VERSION));
    BOOST_TEST(handshake_with(s.port(), TLS1_2_VERSION));
    BOOST_TEST(!handshake_with(s.port(), TLS1_1_VERSION));
    BOOST_TEST(!handshake_with(s.port(), TLS1_VERSION));

    // A whole request over TLS.
    test::tls_client client(s.port());
    client.send("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const std::string reply = client.read_until_closed();
    BOOST_TEST(reply.rfind("HTTP/1.1 200", 0) == 0U);
}

BOOST_AUTO_TEST_CASE(bad_tls_files_are_refused_at_start_naming_the_key)
{
    auto cfg = test::test_config();
    cfg.tls.certificate = "/nonexistent/cert.pem";
    cfg.tls.private_key = test::localhost_certificate().private_key;
    try
    {
        server::application app(std::move(cfg));
        app.start();
        BOOST_FAIL("a missing certificate must stop start-up");
    }
    catch (const std::exception& e)
    {
        BOOST_TEST(std::string(e.what()).find("tls.certificate") != std::string::npos);
    }
}

namespace {

// A unix datagram socket standing in for systemd's notify socket.
struct notify_socket
{
    int fd = -1;
    std::string path;
    notify_socket()
    {
        path = (temp_dir() / "notify.sock").string();
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~notify_socket() { ::close(fd); }
    std::string receive() const
    {
        char buf[512];
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(notify_sends_to_the_socket_it_is_given)
{
    notify_socket sock;
    BOOST_TEST(server::notify_systemd("READY=1", sock.path));
    BOOST_TEST(sock.receive() == "READY=1");
    BOOST_TEST(!server::notify_systemd("READY=1", ""));
}

BOOST_AUTO_TEST_CASE(the_binary_notifies_systemd_and_finishes_a_request_in_flight_on_sigterm)
{
    fake_decision_service fake;
    fake.set_mode(fake_mode::slow);
    fake.set_delay(700ms);
    notify_socket sock;
    const auto dir = temp_dir();
    const auto config_path = dir / "crd.json";
    const auto audit_path = dir / "audit.jsonl";
    // A fixed port is unavoidable for a child process; pick a free one by binding 0 first.
    std::uint16_t port = 0;
    {
        net::io_context ioc;
        net::ip::tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }
    {
        std::ofstream out(config_path);
        out << R"({"listen": {"address": "127.0.0.1", "port": )" << port << R"(, "threads": 1}, "admin": {"port": 0},
                  "auth": {"required": false}, "decision": {"url": ")"
            << fake.url() << R"("},
                  "audit": {"path": "audit.jsonl"}, "limits": {"shutdown_grace_ms": 5000}, "log": {"level": "warning"}})";
    }
    const std::string notify_env = "NOTIFY_SOCKET=" + sock.path;
    std::vector<char*> env;
    env.push_back(const_cast<char*>(notify_env.c_str()));
    env.push_back(nullptr);
    const std::string binary = CRD_SERVER_BINARY;
    const std::string cfg_arg = config_path.string();
    char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>("--config"), const_cast<char*>(cfg_arg.c_str()), nullptr};
    pid_t pid = 0;
    BOOST_TEST_REQUIRE(::posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv, env.data()) == 0);

    const auto ready = sock.receive();
    BOOST_TEST(ready.find("READY=1") == 0U);  // sent once the port is bound
    unsigned status = 0;
    std::string body;
    std::thread caller([&] {
        test::http_client c(port);
        auto r = c.request("POST", "/cds-services/order-sign-crd", sign_body());
        status = r.status;
        body = r.body;
    });
    BOOST_TEST_REQUIRE(eventually([&] { return fake.requests() >= 1; }));
    BOOST_TEST(::kill(pid, SIGTERM) == 0);
    BOOST_TEST(sock.receive() == "STOPPING=1");
    caller.join();
    BOOST_TEST(status == 200U);  // the request in flight got its answer
    BOOST_TEST(json::parse(body).at("cards").is_array());
    int wstatus = 0;
    BOOST_TEST(::waitpid(pid, &wstatus, 0) == pid);
    BOOST_TEST(WIFEXITED(wstatus));
    BOOST_TEST(WEXITSTATUS(wstatus) == 0);
    // ...and its audit record is on disk when the process has exited.
    BOOST_TEST(read_all(audit_path).find("\"status\":200") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
