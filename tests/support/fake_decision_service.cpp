#include "fake_decision_service.hpp"

#include "tls_cert.hpp"

#include <crd/core/async.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <cctype>
#include <thread>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using crd::use_tuple;

namespace crd::test {

struct fake_decision_service::impl
{
    fake_decision_service& owner;
    net::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    std::optional<net::ssl::context> ssl;
    std::thread thread;

    explicit impl(fake_decision_service& o) : owner(o) {}

    template <class Stream>
    net::awaitable<void> serve(Stream& stream, beast::tcp_stream& lowest)
    {
        beast::flat_buffer buffer;
        for (;;)
        {
            http::request<http::string_body> req;
            if (auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple); ec)
                co_return;
            ++owner.requests_;
            {
                std::lock_guard lock(owner.mutex_);
                owner.last_body_ = req.body();
                owner.last_headers_.clear();
                for (const auto& f : req)
                {
                    std::string name(f.name_string());
                    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
                    owner.last_headers_ += name + ": " + std::string(f.value()) + "\n";
                }
            }
            const auto mode = owner.mode_.load();
            if (mode == fake_mode::close_before_answer)
                co_return;
            if (mode == fake_mode::slow)
            {
                net::steady_timer t(ioc, std::chrono::milliseconds(owner.delay_ms_.load()));
                co_await t.async_wait(use_tuple);
            }
            http::response<http::string_body> res{http::status::ok, 11};
            res.set(http::field::content_type, "application/json");
            {
                std::lock_guard lock(owner.mutex_);
                res.body() = owner.body_;
            }
            if (mode == fake_mode::client_error)
            {
                res.result(http::status::bad_request);
                res.body() = R"({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid", "diagnostics": "unknown plan"}]})";
            }
            else if (mode == fake_mode::server_error)
            {
                res.result(http::status::internal_server_error);
                res.body() = R"({"error": "boom"})";
            }
            else if (mode == fake_mode::not_json)
            {
                res.set(http::field::content_type, "text/html");
                res.body() = "<html>gateway error</html>";
            }
            else if (mode == fake_mode::oversized)
                res.body() = "{\"cards\": [], \"pad\": \"" + std::string(owner.oversized_bytes_.load(), 'x') + "\"}";
            res.keep_alive(req.keep_alive());
            res.prepare_payload();

            if (mode == fake_mode::reset_mid_response)
            {
                const std::string partial = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"cards\": [";
                co_await net::async_write(stream, net::buffer(partial), use_tuple);
                lowest.socket().set_option(net::socket_base::linger(true, 0));  // RST on close
                beast::error_code ignored;
                lowest.socket().close(ignored);
                co_return;
            }
            if (auto [ec, n] = co_await http::async_write(stream, res, use_tuple); ec)
                co_return;
            if (mode == fake_mode::close_after_response || !req.keep_alive())
                co_return;
        }
    }

    net::awaitable<void> session(tcp::socket socket)
    {
        ++owner.connections_;
        const auto now_active = ++owner.active_;
        auto seen = owner.max_concurrent_.load();
        while (now_active > seen && !owner.max_concurrent_.compare_exchange_weak(seen, now_active))
        {
        }
        beast::tcp_stream plain(std::move(socket));
        if (ssl)
        {
            beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *ssl);
            if (auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, use_tuple); !ec)
                co_await serve(stream, beast::get_lowest_layer(stream));
        }
        else
            co_await serve(plain, plain);
        --owner.active_;
    }

    net::awaitable<void> accept_loop()
    {
        for (;;)
        {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec)
                co_return;
            net::co_spawn(ioc, session(std::move(socket)), net::detached);
        }
    }
};

fake_decision_service::fake_decision_service(bool tls) : impl_(std::make_unique<impl>(*this)), body_(default_body()), tls_(tls)
{
    if (tls)
    {
        const auto& files = localhost_certificate();
        impl_->ssl.emplace(net::ssl::context::tls_server);
        impl_->ssl->use_certificate_chain_file(files.certificate);
        impl_->ssl->use_private_key_file(files.private_key, net::ssl::context::pem);
    }
    const tcp::endpoint ep{net::ip::make_address("127.0.0.1"), 0};
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(net::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

fake_decision_service::~fake_decision_service()
{
    impl_->ioc.stop();
    impl_->thread.join();
}

std::uint16_t fake_decision_service::port() const noexcept
{
    return impl_->acceptor.local_endpoint().port();
}

std::string fake_decision_service::url(const std::string& path) const
{
    return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(port()) + path;
}

void fake_decision_service::set_body(std::string body)
{
    std::lock_guard lock(mutex_);
    body_ = std::move(body);
}

std::string fake_decision_service::last_body() const
{
    std::lock_guard lock(mutex_);
    return last_body_;
}

std::string fake_decision_service::last_header(const std::string& name) const
{
    std::lock_guard lock(mutex_);
    const auto key = name + ": ";
    const auto pos = last_headers_.find(key);
    if (pos == std::string::npos || (pos > 0 && last_headers_[pos - 1] != '\n'))
        return {};
    const auto end = last_headers_.find('\n', pos);
    return last_headers_.substr(pos + key.size(), end - pos - key.size());
}

std::string fake_decision_service::default_body()
{
    return R"({
      "cards": [{
        "uuid": "6e0a6b3e-1c1b-4f0e-9d0a-2b0c7f5e9a11",
        "summary": "Prior authorization required for the hospital bed",
        "indicator": "warning",
        "source": {"label": "Remote Plan", "topic": {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "coverage-info"}},
        "links": [{"label": "Submit", "url": "https://plan.example/pa", "type": "absolute"}]
      }],
      "systemActions": [{
        "type": "update",
        "description": "Coverage information",
        "resource": {"resourceType": "DeviceRequest", "id": "devreq-015-e0250",
          "extension": [{"url": "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information",
                         "extension": [{"url": "covered", "valueCode": "covered"}]}]}
      }]
    })";
}

}  // namespace crd::test
