#pragma once
// A scripted HTTP/1.1 service on loopback (plain or TLS), serving on a thread of its own: a route
// table maps method + target (exact, or by prefix) to a script that says what to answer, after
// how long, how often to fail instead, and how to deliver it (including the faults a client must
// survive). What it received is recorded for assertions. The tests' decision service, FHIR server
// and JWKS host and the bench's crd-fake-decision are scripts on it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crd::testing {

using header_fields = std::vector<std::pair<std::string, std::string>>;

struct http_answer
{
    unsigned status = 200;
    header_fields headers;  // sent as given (Content-Length is computed)
    std::string body;
};

// A JSON answer: Content-Type application/json unless another media type is given.
http_answer json_answer(unsigned status, std::string body, std::string content_type = "application/json");

// A request as read off the wire.
struct received_request
{
    std::string method;
    std::string target;     // path and query, as sent
    header_fields headers;  // lower-case names, in arrival order
    std::string body;

    // The first value of a header (lower-case name), or "" when absent.
    std::string header(std::string_view lower_name) const;
};

// How an answer reaches the client: normally, or as one of the faults a client must survive.
enum class delivery
{
    respond,               // the answer; the connection stays open if the request allows keep-alive
    close_after_response,  // the answer (offering keep-alive), then close: a stale pooled connection
    close_without_answer,  // read the request, close without sending a byte
    reset_mid_response,    // the answer's head and half its body, then a TCP reset
};

struct route_script
{
    // Computes the answer; runs on the service's thread, so it must not block.
    std::function<http_answer(const received_request&)> answer;
    std::chrono::microseconds latency{0};  // waited before answering
    std::chrono::microseconds jitter{0};   // standard deviation of normal noise on latency (clamped at 0)
    double error_rate = 0;                 // share of calls answered 500 {"error":"injected"} instead
    delivery how = delivery::respond;

    // The same answer to every call.
    static route_script fixed(http_answer a);
};

struct service_options
{
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: an ephemeral port, read back with port()
    // Both set: serve HTTPS with this PEM certificate chain and key (url() then names "localhost").
    std::string tls_certificate_chain;
    std::string tls_private_key;
    // Off for benchmarks: then nothing is kept per request (counters still count).
    bool record_requests = true;
    std::uint32_t random_seed = 42;  // jitter and error draws: runs are comparable
};

class fake_http_service
{
public:
    // Binds (throws std::system_error when it cannot) and starts serving.
    explicit fake_http_service(service_options options = {});
    // Stops the service's thread and joins it before anything it serves with is destroyed.
    ~fake_http_service();
    fake_http_service(const fake_http_service&) = delete;
    fake_http_service& operator=(const fake_http_service&) = delete;

    std::uint16_t port() const noexcept;
    // http://127.0.0.1:P/path, or https://localhost:P/path with TLS (the certificate's name).
    std::string url(std::string_view path) const;

    // Routes; a method of "" matches any. An exact target wins over prefixes, a longer prefix over
    // a shorter one; otherwise() answers what no route matches (by default 404). Setting a route
    // again replaces it; calls already under way finish with the script they started with.
    void on(std::string method, std::string target, route_script script);
    void on_prefix(std::string method, std::string prefix, route_script script);
    void otherwise(route_script script);

    // Every request received, in order (empty when record_requests is off).
    std::vector<received_request> requests() const;
    std::optional<received_request> last_request() const;

    std::uint64_t request_count() const noexcept { return requests_; }
    std::uint64_t connection_count() const noexcept { return connections_; }
    std::uint64_t max_concurrent_connections() const noexcept { return max_concurrent_; }

    struct impl;

private:
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> connections_{0};
    std::atomic<std::uint64_t> active_{0};
    std::atomic<std::uint64_t> max_concurrent_{0};
    std::unique_ptr<impl> impl_;  // last: destroyed first, while the counters it updates still exist
};

}  // namespace crd::testing
