// crd-fake-decision: a stand-in for a payer's decision service, for benchmarks. Answers every
// POST with a fixed CDS Hooks response after a configurable delay, failing a configurable share
// of calls with 500. One thread, keep-alive, Beast coroutines.
//
//   crd-fake-decision --port P [--latency-ms L] [--jitter-ms J] [--error-rate R] [--body FILE] [--fhir 1]
//
// With --fhir 1 it plays the EHR's FHIR server for the prefetch scenarios instead: GET
// .../Patient/{id} and .../Practitioner/{id} answer that resource, .../Coverage?... a searchset
// Bundle with one active Coverage, anything else 404.

#include <crd/core/async.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <fstream>
#include <iostream>
#include <random>
#include <string>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using crd::use_tuple;

namespace {

struct settings
{
    unsigned short port = 0;
    double latency_ms = 0;
    double jitter_ms = 0;
    double error_rate = 0;
    bool fhir = false;
    std::string body = R"({"cards":[{"uuid":"0b7c3f1e-5a2d-4c8e-9f10-3d2e1a0b9c87","summary":"Prior authorization required","indicator":"warning","source":{"label":"Example Health Plan","topic":{"system":"http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp","code":"coverage-info"}},"links":[{"label":"Submit prior authorization","url":"https://provider.example-health-plan.org/prior-auth","type":"absolute"}]}],"systemActions":[{"type":"update","description":"Coverage information for MedicationRequest/smart-MedicationRequest-103","resource":{"resourceType":"MedicationRequest","id":"smart-MedicationRequest-103","status":"draft","intent":"order","subject":{"reference":"Patient/1288992"},"extension":[{"url":"http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information","extension":[{"url":"coverage","valueReference":{"reference":"Coverage/cov-001"}},{"url":"covered","valueCode":"covered"},{"url":"pa-needed","valueCode":"auth-needed"},{"url":"date","valueDate":"2026-11-22"},{"url":"coverage-assertion-id","valueString":"a1"}]}]}}]})";
};

// A minimal FHIR read/search answer for the resource the target names.
std::string fhir_answer(std::string_view target, http::response<http::string_body>& res)
{
    res.set(http::field::content_type, "application/fhir+json");
    auto after = [&](std::string_view type) -> std::string {
        const auto p = target.find("/" + std::string(type) + "/");
        return p == std::string_view::npos ? std::string() : std::string(target.substr(p + type.size() + 2));
    };
    if (auto id = after("Patient"); !id.empty())
        return R"({"resourceType":"Patient","id":")" + id + R"(","name":[{"family":"Example"}]})";
    if (auto id = after("Practitioner"); !id.empty())
        return R"({"resourceType":"Practitioner","id":")" + id + R"("})";
    if (auto id = after("PractitionerRole"); !id.empty())
        return R"({"resourceType":"PractitionerRole","id":")" + id + R"(","practitioner":{"reference":"Practitioner/1"}})";
    if (target.find("/Coverage?") != std::string_view::npos)
        return R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Coverage","id":"cov-bench","status":"active","beneficiary":{"reference":"Patient/bench"},"payor":[{"reference":"Organization/payer"}]}}]})";
    res.result(http::status::not_found);
    return R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]})";
}

net::awaitable<void> session(tcp::socket socket, const settings& s, std::mt19937& rng)
{
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    net::steady_timer delay(stream.get_executor());
    std::normal_distribution<double> jitter(0.0, s.jitter_ms);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    for (;;)
    {
        http::request<http::string_body> req;
        if (auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple); ec)
            break;
        const double wait_ms = std::max(0.0, s.latency_ms + (s.jitter_ms > 0 ? jitter(rng) : 0.0));
        if (wait_ms > 0)
        {
            delay.expires_after(std::chrono::microseconds(static_cast<long>(wait_ms * 1000)));
            co_await delay.async_wait(use_tuple);
        }
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::content_type, "application/json");
        if (s.fhir)
            res.body() = fhir_answer(req.target(), res);
        else if (s.error_rate > 0 && coin(rng) < s.error_rate)
        {
            res.result(http::status::internal_server_error);
            res.body() = R"({"error":"injected"})";
        }
        else
            res.body() = s.body;
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        if (auto [ec, n] = co_await http::async_write(stream, res, use_tuple); ec || !req.keep_alive())
            break;
    }
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, const settings& s, std::mt19937& rng)
{
    for (;;)
    {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec)
            co_return;
        socket.set_option(tcp::no_delay(true));
        net::co_spawn(acceptor.get_executor(), session(std::move(socket), s, rng), net::detached);
    }
}

}  // namespace

int main(int argc, char** argv)
{
    settings s;
    for (int i = 1; i + 1 < argc; i += 2)
    {
        const std::string a = argv[i];
        const std::string v = argv[i + 1];
        if (a == "--port")
            s.port = static_cast<unsigned short>(std::stoul(v));
        else if (a == "--latency-ms")
            s.latency_ms = std::stod(v);
        else if (a == "--jitter-ms")
            s.jitter_ms = std::stod(v);
        else if (a == "--error-rate")
            s.error_rate = std::stod(v);
        else if (a == "--fhir")
            s.fhir = v == "1";
        else if (a == "--body")
        {
            std::ifstream in(v, std::ios::binary);
            s.body.assign(std::istreambuf_iterator<char>(in), {});
        }
        else
        {
            std::cerr << "usage: crd-fake-decision --port P [--latency-ms L] [--jitter-ms J] [--error-rate R] [--body FILE] [--fhir 1]\n";
            return 2;
        }
    }
    net::io_context ioc{1};
    tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), s.port});
    std::mt19937 rng(42);  // deterministic: runs are comparable
    net::co_spawn(ioc, accept_loop(acceptor, s, rng), net::detached);
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) { ioc.stop(); });
    ioc.run();
}
