#include <crd/core/json_document.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serializer.hpp>

namespace json = boost::json;

#include <crd/core/error.hpp>

#include <array>
#include <cmath>
#include <fstream>
#include <sstream>

namespace crd::core {
namespace {

bool all_finite(const json::value& v)
{
    switch (v.kind())
    {
    case json::kind::double_: return std::isfinite(v.get_double());
    case json::kind::array:
        for (const auto& e : v.get_array())
            if (!all_finite(e))
                return false;
        return true;
    case json::kind::object:
        for (const auto& kv : v.get_object())
            if (!all_finite(kv.value()))
                return false;
        return true;
    default: return true;
    }
}

// Depth-first, building the path only on the way back from the first hit.
bool find_nonfinite(const json::value& v, std::string& path)
{
    switch (v.kind())
    {
    case json::kind::double_: return !std::isfinite(v.get_double());
    case json::kind::array:
    {
        const auto& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i)
            if (find_nonfinite(a[i], path))
            {
                path.insert(0, "[" + std::to_string(i) + "]");
                return true;
            }
        return false;
    }
    case json::kind::object:
        for (const auto& kv : v.get_object())
            if (find_nonfinite(kv.value(), path))
            {
                path.insert(0, (path.empty() || path.front() == '[' ? "" : "."));
                path.insert(0, std::string(kv.key()));
                return true;
            }
        return false;
    default: return false;
    }
}

}  // namespace

std::optional<std::string> first_nonfinite_number(const json::value& v)
{
    std::string path;
    if (!find_nonfinite(v, path))
        return std::nullopt;
    return path;
}

json::value read_json_file(const std::string& path, std::string_view what)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw json_file_error("cannot read " + std::string(what) + " file '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    boost::system::error_code ec;
    json::value doc = parse_json(text, ec);
    if (ec)
        throw json_file_error(std::string(what) + " file '" + path + "' is not valid JSON: " + ec.message());
    if (const auto twice = first_duplicate_key(text))
        throw json_file_error(path + ": '" + *twice + "' appears twice; only one may be given");
    return doc;
}

json::value parse_json(std::string_view text, boost::system::error_code& ec, std::size_t max_depth, json::storage_ptr sp)
{
    json::parse_options options;
    options.max_depth = max_depth;
    json::value v = json::parse(text, ec, std::move(sp), options);
    if (!ec && !all_finite(v))
    {
        ec = errc::json_number_out_of_range;
        return nullptr;
    }
    return v;
}

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

std::string serialize_json(const json::value& v, std::size_t size_hint)
{
    json::serializer serializer;
    serializer.reset(&v);
    std::string out;
    out.reserve(size_hint);
    std::array<char, 16 * 1024> piece;
    while (!serializer.done())
    {
        const auto written = serializer.read(piece.data(), piece.size());
        out.append(written.data(), written.size());
    }
    return out;
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
    if (!all_finite(arena->value))
    {
        ec = errc::json_number_out_of_range;
        return nullptr;
    }
    auto* owner = arena.release();
    return document_ptr(&owner->value, document_deleter(owner));
}

}  // namespace crd::core
