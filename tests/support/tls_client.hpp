#pragma once
// A blocking TLS client for integration tests: one connection to a crd-server on loopback that
// trusts localhost_certificate() (tls_cert.hpp), handshaken with SNI "localhost".

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace crd::test {

class tls_client
{
public:
    explicit tls_client(std::uint16_t port);

    void send(std::string_view bytes);
    // Every byte until the server closes the connection or an error ends the stream.
    std::string read_until_closed();

private:
    boost::asio::io_context ioc_;
    boost::asio::ssl::context ctx_{boost::asio::ssl::context::tls_client};
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_{ioc_, ctx_};
};

}  // namespace crd::test
