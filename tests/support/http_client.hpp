#pragma once
// A blocking HTTP/1.1 client for integration tests: one connection, kept alive across calls,
// with a receive timeout so a broken server fails a test instead of hanging it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crd::test {

struct http_result
{
    unsigned status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    bool keep_alive = false;

    std::string header(const std::string& lower_name) const
    {
        const auto it = headers.find(lower_name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

class http_client
{
public:
    explicit http_client(std::uint16_t port);

    http_result request(
        std::string_view method, std::string_view target, std::string body = {}, header_list headers = {{"Content-Type", "application/json"}});

    void send_raw(std::string_view bytes);
    http_result read_response();
    // True when the server has closed the connection (reads EOF within the receive timeout).
    bool closed_by_server();
    // Every byte the server sends until it closes the connection (a test must make it close).
    std::string read_until_closed();

private:
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::socket socket_;
    boost::beast::flat_buffer buffer_;
};

}  // namespace crd::test
