#include "fake_fhir_server.hpp"

#include <crd/core/async.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <thread>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using crd::use_tuple;

namespace crd::test {

struct fake_fhir_server::impl
{
    net::io_context ioc{1};
    tcp::acceptor acceptor{ioc, {net::ip::make_address("127.0.0.1"), 0}};
    std::thread thread;
    mutable std::mutex mutex;
    std::map<std::string, fhir_answer> answers;
    std::vector<fhir_request_seen> seen;
    std::chrono::milliseconds delay{0};

    net::awaitable<void> serve(tcp::socket socket)
    {
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        for (;;)
        {
            http::request<http::string_body> req;
            if (auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple); ec)
                co_return;
            fhir_answer a{404, R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found"}]})", ""};
            std::chrono::milliseconds wait{0};
            {
                std::lock_guard lock(mutex);
                seen.push_back({std::string(req.target()), std::string(req[http::field::authorization])});
                if (auto it = answers.find(std::string(req.target())); it != answers.end())
                    a = it->second;
                wait = delay;
            }
            if (wait.count() > 0)
            {
                net::steady_timer t(ioc, wait);
                co_await t.async_wait(use_tuple);
            }
            http::response<http::string_body> res{static_cast<http::status>(a.status), 11};
            res.set(http::field::content_type, "application/fhir+json");
            if (!a.location.empty())
                res.set(http::field::location, a.location);
            res.body() = a.body;
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            if (auto [ec, n] = co_await http::async_write(stream, res, use_tuple); ec)
                co_return;
        }
    }

    net::awaitable<void> accept_loop()
    {
        for (;;)
        {
            auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
            if (ec)
                co_return;
            net::co_spawn(ioc, serve(std::move(socket)), net::detached);
        }
    }
};

fake_fhir_server::fake_fhir_server() : impl_(std::make_unique<impl>())
{
    net::co_spawn(impl_->ioc, impl_->accept_loop(), net::detached);
    impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

fake_fhir_server::~fake_fhir_server()
{
    impl_->ioc.stop();
    impl_->thread.join();
}

std::uint16_t fake_fhir_server::port() const noexcept
{
    return impl_->acceptor.local_endpoint().port();
}

std::string fake_fhir_server::base() const
{
    return "http://127.0.0.1:" + std::to_string(port()) + "/fhir";
}

void fake_fhir_server::answer(const std::string& target, fhir_answer a)
{
    std::lock_guard lock(impl_->mutex);
    impl_->answers[target] = std::move(a);
}

void fake_fhir_server::set_delay(std::chrono::milliseconds d)
{
    std::lock_guard lock(impl_->mutex);
    impl_->delay = d;
}

std::vector<fhir_request_seen> fake_fhir_server::requests() const
{
    std::lock_guard lock(impl_->mutex);
    return impl_->seen;
}

}  // namespace crd::test
