#include <crd/testing/fake_http_service.hpp>

#include <crd/core/async.hpp>

#include <boost/asio/co_spawn.hpp>
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
#include <exception>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using crd::use_tuple;

namespace crd::testing {

http_answer json_answer(unsigned status, std::string body, std::string content_type)
{
    return {status, {{"Content-Type", std::move(content_type)}}, std::move(body)};
}

std::string received_request::header(std::string_view lower_name) const
{
    for (const auto& [name, value] : headers)
        if (name == lower_name)
            return value;
    return {};
}

route_script route_script::fixed(http_answer a)
{
    route_script s;
    s.answer = [a = std::move(a)](const received_request&) { return a; };
    return s;
}

namespace {

struct route
{
    std::string method;  // "" matches any
    std::string pattern;
    bool exact = true;
    std::shared_ptr<const route_script> script;
};

received_request to_received(http::request<http::string_body>& req)
{
    received_request out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    out.headers.reserve(8);
    for (const auto& field : req)
    {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
        out.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    out.body = std::move(req.body());
    return out;
}

}  // namespace

// A coroutine of the service that ended with an exception is a bug in the fake or a test's
// script: said on stderr (the test's output), never dropped. The io_context owns the coroutines
// and is stopped and joined by ~fake_http_service.
static void report_exception(std::exception_ptr e)
{
    if (!e)
        return;
    try
    {
        std::rethrow_exception(e);
    }
    catch (const std::exception& ex)
    {
        std::cerr << "fake_http_service: a coroutine ended with an exception: " << ex.what() << '\n';
    }
    catch (...)
    {
        std::cerr << "fake_http_service: a coroutine ended with an unknown exception\n";
    }
}

// Member order is teardown order, in reverse: the thread is joined and the acceptor closed before
// the io_context is destroyed, and destroying the io_context destroys the suspended session
// coroutines, whose streams use the TLS context and whose frames point at the route table; those
// are declared before the io_context so they outlive it.
struct fake_http_service::impl
{
    fake_http_service& owner;
    const service_options options;
    std::optional<net::ssl::context> ssl;

    mutable std::mutex mutex;  // guards routes, fallback and recorded: tests script from their thread
    std::vector<route> routes;
    std::shared_ptr<const route_script> fallback;
    std::vector<received_request> recorded;

    std::mt19937 rng;  // only the service's thread draws

    net::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    std::thread thread;

    impl(fake_http_service& o, service_options opts) : owner(o), options(std::move(opts)), rng(options.random_seed)
    {
        fallback = std::make_shared<route_script>(route_script::fixed(json_answer(404, R"({"error":"no route"})")));
    }

    void set_route(std::string method, std::string pattern, bool exact, route_script script)
    {
        auto shared = std::make_shared<const route_script>(std::move(script));
        std::lock_guard lock(mutex);
        for (auto& r : routes)
            if (r.method == method && r.pattern == pattern && r.exact == exact)
            {
                r.script = std::move(shared);
                return;
            }
        routes.push_back({std::move(method), std::move(pattern), exact, std::move(shared)});
    }

    std::shared_ptr<const route_script> find(const received_request& req) const
    {
        std::lock_guard lock(mutex);
        const route* longest_prefix = nullptr;
        for (const auto& r : routes)
        {
            if (!r.method.empty() && r.method != req.method)
                continue;
            if (r.exact)
            {
                if (r.pattern == req.target)
                    return r.script;
            }
            else if (req.target.starts_with(r.pattern) && (!longest_prefix || r.pattern.size() > longest_prefix->pattern.size()))
                longest_prefix = &r;
        }
        return longest_prefix ? longest_prefix->script : fallback;
    }

    std::chrono::microseconds wait_for(const route_script& s)
    {
        if (s.jitter.count() <= 0)
            return s.latency;
        std::normal_distribution<double> noise(0.0, static_cast<double>(s.jitter.count()));
        const double us = static_cast<double>(s.latency.count()) + noise(rng);
        return std::chrono::microseconds(static_cast<long>(std::max(0.0, us)));
    }

    bool inject_error(const route_script& s) { return s.error_rate > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng) < s.error_rate; }

    // The head and half the body, then an RST: the client has read part of an answer when it fails.
    template <class Stream>
    static net::awaitable<void> write_half_then_reset(Stream& stream, beast::tcp_stream& lowest, const http::response<http::string_body>& res)
    {
        std::ostringstream whole;
        whole << res;
        const std::string bytes = whole.str();
        const auto head_end = bytes.find("\r\n\r\n") + 4;
        const std::string partial = bytes.substr(0, head_end + (bytes.size() - head_end) / 2);
        co_await net::async_write(stream, net::buffer(partial), use_tuple);
        lowest.socket().set_option(net::socket_base::linger(true, 0));
        beast::error_code ignored;
        lowest.socket().close(ignored);
    }

    template <class Stream>
    net::awaitable<void> serve(Stream& stream, beast::tcp_stream& lowest)
    {
        beast::flat_buffer buffer;
        net::steady_timer timer(ioc);
        for (;;)
        {
            http::request<http::string_body> req;
            if (auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple); ec)
                co_return;
            const bool keep_alive = req.keep_alive();
            const auto version = req.version();
            const received_request seen = to_received(req);
            if (options.record_requests)
            {
                std::lock_guard lock(mutex);
                recorded.push_back(seen);
            }
            ++owner.requests_;  // after recording: a test that sees the count can read the request
            const auto script = find(seen);
            if (script->how == delivery::close_without_answer)
                co_return;
            if (const auto wait = wait_for(*script); wait.count() > 0)
            {
                timer.expires_after(wait);
                co_await timer.async_wait(use_tuple);
            }
            http_answer answer = inject_error(*script) ? json_answer(500, R"({"error":"injected"})") : script->answer(seen);

            http::response<http::string_body> res{static_cast<http::status>(answer.status), version};
            for (const auto& [name, value] : answer.headers)
                res.set(name, value);
            res.body() = std::move(answer.body);
            res.keep_alive(keep_alive);
            res.prepare_payload();
            if (script->how == delivery::reset_mid_response)
            {
                co_await write_half_then_reset(stream, lowest, res);
                co_return;
            }
            if (auto [ec, n] = co_await http::async_write(stream, res, use_tuple); ec)
                co_return;
            if (script->how == delivery::close_after_response || !keep_alive)
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
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
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
            net::co_spawn(ioc, session(std::move(socket)), report_exception);
        }
    }
};

fake_http_service::fake_http_service(service_options options) : impl_(std::make_unique<impl>(*this, std::move(options)))
{
    const auto& opts = impl_->options;
    if (!opts.tls_certificate_chain.empty() && !opts.tls_private_key.empty())
    {
        impl_->ssl.emplace(net::ssl::context::tls_server);
        impl_->ssl->use_certificate_chain_file(opts.tls_certificate_chain);
        impl_->ssl->use_private_key_file(opts.tls_private_key, net::ssl::context::pem);
    }
    const tcp::endpoint ep{net::ip::make_address(opts.address), opts.port};
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(net::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen(net::socket_base::max_listen_connections);
    net::co_spawn(impl_->ioc, impl_->accept_loop(), report_exception);
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

fake_http_service::~fake_http_service()
{
    impl_->ioc.stop();
    impl_->thread.join();
    impl_.reset();  // see impl's member order
}

std::uint16_t fake_http_service::port() const noexcept
{
    return impl_->acceptor.local_endpoint().port();
}

std::string fake_http_service::url(std::string_view path) const
{
    const std::string origin = impl_->ssl ? "https://localhost:" : "http://" + impl_->options.address + ":";
    return origin + std::to_string(port()) + std::string(path);
}

void fake_http_service::on(std::string method, std::string target, route_script script)
{
    impl_->set_route(std::move(method), std::move(target), true, std::move(script));
}

void fake_http_service::on_prefix(std::string method, std::string prefix, route_script script)
{
    impl_->set_route(std::move(method), std::move(prefix), false, std::move(script));
}

void fake_http_service::otherwise(route_script script)
{
    auto shared = std::make_shared<const route_script>(std::move(script));
    std::lock_guard lock(impl_->mutex);
    impl_->fallback = std::move(shared);
}

std::vector<received_request> fake_http_service::requests() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->recorded;
}

std::optional<received_request> fake_http_service::last_request() const
{
    std::lock_guard lock(impl_->mutex);
    if (impl_->recorded.empty())
        return std::nullopt;
    return impl_->recorded.back();
}

}  // namespace crd::testing
