#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cctype>
#include <sys/socket.h>
#include <sys/time.h>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace crd::test {

http_client::http_client(std::uint16_t port) : socket_(ioc_)
{
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
    timeval tv{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

http_result http_client::request(std::string_view method, std::string_view target, std::string body, header_list headers)
{
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.method_string(method);
    req.set(http::field::host, "127.0.0.1");
    for (auto& [name, value] : headers)
        req.set(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(socket_, req);
    return read_response();
}

void http_client::send_raw(std::string_view bytes)
{
    net::write(socket_, net::buffer(bytes.data(), bytes.size()));
}

http_result http_client::read_response()
{
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    http_result out;
    out.status = res.result_int();
    out.body = std::move(res.body());
    out.keep_alive = res.keep_alive();
    for (const auto& f : res)
    {
        std::string name(f.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
        out.headers[name] = std::string(f.value());
    }
    return out;
}

std::string http_client::read_until_closed()
{
    std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    char chunk[4096];
    for (;;)
    {
        boost::system::error_code ec;
        const auto n = socket_.read_some(net::buffer(chunk), ec);
        out.append(chunk, n);
        if (ec)
            return out;
    }
}

bool http_client::closed_by_server()
{
    char byte;
    boost::system::error_code ec;
    socket_.read_some(net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
}

}  // namespace crd::test
