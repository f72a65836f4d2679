#include <crd/core/json_document.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>

namespace json = boost::json;

namespace crd::core {

struct document_arena
{
    explicit document_arena(std::size_t initial_bytes) : resource(initial_bytes) {}
    json::monotonic_resource resource;
    // Declared after the resource, so destroyed before it; a typed pointer marks deallocation
    // trivial, which lets the value skip destroying its nodes.
    json::value value = json::value(json::storage_ptr(&resource));
};

void document_deleter::operator()(json::value* v) const noexcept
{
    if (arena)
        delete arena;
    else
        delete v;
}

document_ptr parse_document(std::string_view text, std::size_t max_depth, boost::system::error_code& ec)
{
    // The parser's temporary stack stays on this stack frame: inside the arena its growth would
    // be kept for the life of the request.
    unsigned char temporary[4096];
    json::parse_options options;
    options.max_depth = max_depth;
    json::parser parser({}, options, temporary, sizeof temporary);
    auto arena = std::make_unique<document_arena>(arena_bytes_for(text.size()));
    parser.reset(json::storage_ptr(&arena->resource));
    // write() takes the whole text: an incomplete document is an error, not a wait for more.
    parser.write(text.data(), text.size(), ec);
    if (ec)
        return nullptr;
    arena->value = parser.release();  // the same resource on both sides: a move, not a copy
    auto* owner = arena.release();
    return document_ptr(&owner->value, document_deleter(owner));
}

}  // namespace crd::core
