#include "tls_client.hpp"

#include "tls_cert.hpp"

#include <boost/asio/write.hpp>

#include <array>

namespace net = boost::asio;

namespace crd::test {

tls_client::tls_client(std::uint16_t port)
{
    ctx_.load_verify_file(localhost_certificate().certificate);
    ctx_.set_verify_mode(net::ssl::verify_peer);
    stream_.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
    // SSL_set_tlsext_host_name is a macro with a C cast; the call it stands for, without one.
    SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>("localhost"));
    stream_.handshake(net::ssl::stream_base::client);
}

void tls_client::send(std::string_view bytes)
{
    net::write(stream_, net::buffer(bytes.data(), bytes.size()));
}

std::string tls_client::read_until_closed()
{
    std::string out;
    boost::system::error_code ec;
    std::array<char, 16384> piece{};
    while (!ec)
    {
        const auto n = stream_.read_some(net::buffer(piece), ec);
        out.append(piece.data(), n);
    }
    return out;
}

}  // namespace crd::test
