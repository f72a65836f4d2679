#pragma once
// A scripted decision service for tests: the fake HTTP service (plain or TLS) answering every
// method and path with the behaviour the test switches to, among the failure modes the client must
// survive. Set it up from one thread; calls under way finish with the behaviour they started with.

#include <crd/testing/fake_http_service.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace crd::test {

enum class fake_mode
{
    normal,                // 200 with `body`; a decisions-protocol request gets testing::decisions_for's answer
    slow,                  // waits `delay`, then as normal
    server_error,          // 500
    client_error,          // 400 with an OperationOutcome: the request's fault
    not_json,              // 200 with a body that is not JSON
    reset_mid_response,    // sends part of a response, then resets the connection
    close_before_answer,   // reads the request and closes without answering
    oversized,             // 200 with a body of `oversized_bytes`
    close_after_response,  // answers (keep-alive) and then closes: a stale pooled connection
    answer,                // `status` with `body` (JSON) and `headers`: a test's own answer
};

class fake_decision_service
{
public:
    explicit fake_decision_service(bool tls = false);

    std::uint16_t port() const noexcept { return service_.port(); }
    std::string url(const std::string& path = "/decide") const { return service_.url(path); }  // http://127.0.0.1:P/... or https://localhost:P/...

    void set_mode(fake_mode m);
    void set_delay(std::chrono::milliseconds d);
    void set_body(std::string body);
    void set_oversized_bytes(std::size_t n);
    // fake_mode::answer: this status, the current body and these extra headers.
    void set_answer(unsigned status, std::string body, testing::header_fields headers = {});

    std::uint64_t connections() const noexcept { return service_.connection_count(); }
    std::uint64_t requests() const noexcept { return service_.request_count(); }
    std::uint64_t max_concurrent() const noexcept { return service_.max_concurrent_connections(); }
    std::string last_body() const;
    std::string last_header(const std::string& lower_name) const;
    // The last request as received (every header line, in order), if any came.
    std::optional<testing::received_request> last_request() const { return service_.last_request(); }

    // The default answer: one valid card and one coverage-information systemAction.
    static std::string default_body();

private:
    void script();  // puts the current mode, delay and body on the service

    fake_mode mode_ = fake_mode::normal;
    std::chrono::milliseconds delay_{0};
    std::string body_ = default_body();
    std::size_t oversized_bytes_ = 8 * 1024 * 1024;
    unsigned status_ = 200;
    testing::header_fields headers_;
    testing::fake_http_service service_;
};

}  // namespace crd::test
