#include <crd/decision/feedback_forwarder.hpp>

#include <crd/core/log.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/upstream/http_client.hpp>
#include <crd/upstream/pool_registry.hpp>

#include <boost/asio/co_spawn.hpp>

namespace crd::decision {

namespace {
constexpr auto forward_timeout = std::chrono::seconds(5);
}

struct feedback_forwarder::impl
{
    std::optional<core::url> url;
    std::vector<core::header_config> headers;
    std::shared_ptr<upstream::endpoint_cache> endpoints;
    std::shared_ptr<upstream::tls_context> tls;
    upstream::client_config client;

    upstream::http_client client_on(const net::any_io_executor& ex)
    {
        std::function<std::shared_ptr<upstream::http_client>()> make = [&] {
            return std::make_shared<upstream::http_client>(ex, client, endpoints, tls);
        };
        return *upstream::pool_registry::of(ex).get_or_create("feedback " + url->origin() + url->target, make);
    }
};

namespace {

net::awaitable<void> send_feedback(
    std::shared_ptr<feedback_forwarder::impl> self, std::string service_id, std::string body, core::trace_context trace)
{
    upstream::request req;
    req.target = self->url->target;
    req.body = std::move(body);
    for (const auto& h : self->headers)
        req.headers.push_back({h.name, h.value});
    req.headers.push_back({"X-CDS-Service", service_id});
    if (trace.valid())
        upstream::add_trace_headers(req, trace);
    auto client = self->client_on(co_await net::this_coro::executor);
    auto sent = co_await client.send(std::move(req), clock::now() + forward_timeout);
    if (sent && sent->status >= 200 && sent->status < 300)
    {
        decision_metrics::instance().feedback_forwarded.add(forward_result::ok);
        co_return;
    }
    decision_metrics::instance().feedback_forwarded.add(forward_result::error);
    log::warning(
        "feedback_forward_failed", {{"service", service_id}, {"error", sent ? "HTTP " + std::to_string(sent->status) : sent.error().message()}});
}

}  // namespace

feedback_forwarder::feedback_forwarder(const core::config& cfg) : impl_(std::make_shared<impl>())
{
    if (!cfg.decision.feedback_endpoint)
        return;
    impl_->url = *cfg.decision.feedback_endpoint;
    impl_->headers = cfg.decision.headers;
    impl_->endpoints = std::make_shared<upstream::endpoint_cache>(*impl_->url);
    if (auto ec = impl_->endpoints->resolve_now())
        log::warning("feedback_host_unresolved", {{"origin", impl_->url->origin()}, {"error", ec.message()}});
    if (impl_->url->is_https())
        impl_->tls = std::make_shared<upstream::tls_context>(cfg.decision.ca_file);
    impl_->client.origin = *impl_->url;
    impl_->client.max_connections = 4;
    impl_->client.max_pending = 256;  // beyond this, feedback is dropped and counted, never queued without bound
    impl_->client.idle_ttl = cfg.decision.idle_ttl;
    impl_->client.max_response_bytes = 64 * 1024;
    impl_->client.ca_file = cfg.decision.ca_file;
    impl_->client.gauges = &decision_metrics::instance().decision_pool;  // counted with the decision service, as before
}

feedback_forwarder::~feedback_forwarder() = default;

bool feedback_forwarder::enabled() const noexcept
{
    return impl_->url.has_value();
}

void feedback_forwarder::forward(net::any_io_executor ex, std::string service_id, std::string body, core::trace_context trace)
{
    if (!enabled())
        return;
    net::co_spawn(ex, send_feedback(impl_, std::move(service_id), std::move(body), std::move(trace)), [](std::exception_ptr e) {
        if (e)
        {
            decision_metrics::instance().feedback_forwarded.add(forward_result::error);
            log::error("feedback_forward_exception");
        }
    });
}

}  // namespace crd::decision
