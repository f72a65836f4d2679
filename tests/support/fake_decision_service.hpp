#pragma once
// A scripted decision service for tests: a Beast server on 127.0.0.1:0 (plain or TLS) on its own
// thread, whose behaviour the test switches between the failure modes the client must survive.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace crd::test {

enum class fake_mode
{
    normal,               // 200 with `body`
    slow,                 // waits `delay`, then as normal
    server_error,         // 500
    client_error,         // 400 with an OperationOutcome: the request's fault
    not_json,             // 200 with a body that is not JSON
    reset_mid_response,   // sends part of a response, then resets the connection
    close_before_answer,  // reads the request and closes without answering
    oversized,            // 200 with a body of `oversized_bytes`
    close_after_response, // answers (keep-alive) and then closes: a stale pooled connection
};

class fake_decision_service
{
public:
    explicit fake_decision_service(bool tls = false);
    ~fake_decision_service();

    std::uint16_t port() const noexcept;
    std::string url(const std::string& path = "/decide") const;  // http://127.0.0.1:P/... or https://localhost:P/...

    void set_mode(fake_mode m) noexcept { mode_ = m; }
    void set_delay(std::chrono::milliseconds d) noexcept { delay_ms_ = d.count(); }
    void set_body(std::string body);
    void set_oversized_bytes(std::size_t n) noexcept { oversized_bytes_ = n; }

    std::uint64_t connections() const noexcept { return connections_; }
    std::uint64_t requests() const noexcept { return requests_; }
    std::uint64_t max_concurrent() const noexcept { return max_concurrent_; }
    std::string last_body() const;
    std::string last_header(const std::string& name) const;

    // The default answer: one valid card and one coverage-information systemAction.
    static std::string default_body();

    struct impl;

private:
    std::unique_ptr<impl> impl_;
    std::atomic<fake_mode> mode_{fake_mode::normal};
    std::atomic<long> delay_ms_{0};
    std::atomic<std::size_t> oversized_bytes_{8 * 1024 * 1024};
    std::atomic<std::uint64_t> connections_{0};
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> active_{0};
    std::atomic<std::uint64_t> max_concurrent_{0};
    mutable std::mutex mutex_;
    std::string body_;
    std::string last_body_;
    std::string last_headers_;  // "name: value\n" lines, lower-case names
    bool tls_;

    friend struct impl;
};

}  // namespace crd::test
