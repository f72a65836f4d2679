#pragma once
// The body of a request the listener reads: Beast's body requirements (a reader only: we never
// serialise a request), over bytes that are not zero-filled before they are written.
//
// http::string_body grows its std::string with resize(), which zero-fills what it adds before the
// copy overwrites it: for a 184 KB request (100 orders) that was a 184 KB memset per call, half of
// what reading the body cost (issue 19). Here the room for a declared Content-Length is taken
// once, uninitialised, and each piece is copied in; a chunked body grows geometrically.

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace crd::server::detail {

// Bytes written once each, never zero-filled: what request_body reads into.
class body_bytes
{
public:
    std::string_view view() const noexcept { return {data_.get(), size_}; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }

    // Room for at least `n` bytes in all, keeping what is there.
    void reserve(std::size_t n)
    {
        if (n <= capacity_)
            return;
        std::unique_ptr<char[]> grown(new char[n]);  // uninitialised on purpose: every byte read is written first
        if (size_ != 0)
            std::memcpy(grown.get(), data_.get(), size_);
        data_ = std::move(grown);
        capacity_ = n;
    }

    void append(const char* bytes, std::size_t n)
    {
        if (n > capacity_ - size_)
            reserve(std::max(size_ + n, 2 * capacity_));
        std::memcpy(data_.get() + size_, bytes, n);
        size_ += n;
    }

private:
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

struct request_body
{
    using value_type = body_bytes;

    // The parser's body limit (http::parser::body_limit) bounds both a declared length, before
    // init is called, and a chunked body as it arrives: nothing here can grow past it.
    class reader
    {
    public:
        template <bool is_request, class Fields>
        reader(boost::beast::http::header<is_request, Fields>& /*head*/, value_type& body) : body_(body)
        {
        }

        void init(const boost::optional<std::uint64_t>& content_length, boost::system::error_code& ec)
        {
            if (content_length)
                body_.reserve(static_cast<std::size_t>(*content_length));
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec)
        {
            std::size_t taken = 0;
            for (const auto piece : boost::beast::buffers_range_ref(buffers))
            {
                body_.append(static_cast<const char*>(piece.data()), piece.size());
                taken += piece.size();
            }
            ec = {};
            return taken;
        }

        static void finish(boost::system::error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

}  // namespace crd::server::detail
