#pragma once
// Forwards accepted feedback to the payer's decision service (decision.feedback_url): best effort,
// off the request path, bounded in time and counted. The EHR's answer never waits for it.

#include <crd/core/async.hpp>
#include <crd/core/config.hpp>
#include <crd/core/trace_context.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace crd::decision {

class feedback_forwarder
{
public:
    // Resolves the feedback host now (and logs when it cannot). Throws std::runtime_error when
    // decision.ca_file cannot be loaded.
    explicit feedback_forwarder(const core::config& cfg);
    ~feedback_forwarder();
    feedback_forwarder(const feedback_forwarder&) = delete;
    feedback_forwarder& operator=(const feedback_forwarder&) = delete;

    bool enabled() const noexcept;

    // Starts a POST of `body` (the EHR's feedback document) on `ex` and returns at once; the
    // service id goes in the X-CDS-Service header, and a child span of `trace` (the feedback
    // call's span) in traceparent/tracestate. Thread-safe; call from a server shard.
    void forward(net::any_io_executor ex, std::string service_id, std::string body, core::trace_context trace = {});

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace crd::decision
