#pragma once
// Feeding a Beast parser what a read buffer already holds: the listener's requests and the upstream
// client's answers. Beast's async_read_header and async_read complete through a post even when they
// need no I/O, and each post costs the thread one more turn through the reactor (an epoll_wait)
// before the message goes on (issue 19). Included only by the two sources that read HTTP, so Beast
// stays out of the other headers.

#include <crd/core/block_cache.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>

namespace crd::core {

enum class parse_until
{
    header,   // the header only (a body may wait for 100-continue)
    message,  // the whole message
};

// The read buffer of the listener's connections and the upstream client's: its memory comes from
// the blocks a thread keeps for its next call (core::allocate_block), as both give it back between
// calls.
using read_buffer = boost::beast::basic_flat_buffer<block_allocator<char>>;

// True when what `buffer` holds was enough; false with `ec` clear when more must be read, or with
// `ec` set when the bytes are not HTTP we take (the errors Beast's reads give). What the parser
// took is consumed; a pipelined next message stays in the buffer.
// Any Beast parser: http::parser, or one of the client's own that keeps only what it needs.
template <bool is_request, class BufferAllocator>
bool parse_buffered(boost::beast::http::basic_parser<is_request>& parser, boost::beast::basic_flat_buffer<BufferAllocator>& buffer, parse_until until,
    boost::system::error_code& ec)
{
    const bool whole_message = until == parse_until::message;
    parser.eager(whole_message);
    const auto done = [&] { return whole_message ? parser.is_done() : parser.is_header_done(); };
    while (!done() && buffer.size() != 0)
    {
        const std::size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == boost::beast::http::error::need_more)
        {
            ec = {};
            return false;
        }
        if (ec || used == 0)
            return false;
    }
    return done();
}

}  // namespace crd::core
