#include <crd/core/json_document.hpp>

#include <boost/json/basic_parser_impl.hpp>

#include <limits>
#include <set>
#include <string>
#include <vector>

namespace json = boost::json;

namespace crd::core {
namespace {

// A basic_parser handler that builds nothing: it only remembers the keys of each open object.
struct duplicate_finder
{
    static constexpr std::size_t max_object_size = std::numeric_limits<std::size_t>::max();
    static constexpr std::size_t max_array_size = std::numeric_limits<std::size_t>::max();
    static constexpr std::size_t max_key_size = std::numeric_limits<std::size_t>::max();
    static constexpr std::size_t max_string_size = std::numeric_limits<std::size_t>::max();

    struct container
    {
        bool is_object = false;
        std::string path;
        std::set<std::string, std::less<>> keys;  // objects
        std::string last_key;                     // objects: the member being read
        std::size_t index = 0;                    // arrays: the element being read
    };
    std::vector<container> open;
    std::string key;
    std::optional<std::string> duplicate;

    static std::string member_path(const std::string& parent, std::string_view name)
    {
        return parent.empty() ? std::string(name) : parent + "." + std::string(name);
    }
    std::string child_path() const
    {
        if (open.empty())
            return {};
        const auto& parent = open.back();
        return parent.is_object ? member_path(parent.path, parent.last_key) : parent.path + "[" + std::to_string(parent.index) + "]";
    }
    bool value_done()
    {
        if (!open.empty() && !open.back().is_object)
            ++open.back().index;
        return true;
    }
    bool begin(bool is_object)
    {
        container c;
        c.is_object = is_object;
        c.path = child_path();
        open.push_back(std::move(c));
        return true;
    }
    bool end()
    {
        open.pop_back();
        return value_done();
    }

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_object_begin(json::error_code&) { return begin(true); }
    bool on_object_end(std::size_t, json::error_code&) { return end(); }
    bool on_array_begin(json::error_code&) { return begin(false); }
    bool on_array_end(std::size_t, json::error_code&) { return end(); }
    bool on_key_part(json::string_view s, std::size_t, json::error_code&)
    {
        key.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code&)
    {
        key.append(s.data(), s.size());
        auto& object = open.back();
        if (!object.keys.insert(key).second && !duplicate)
            duplicate = member_path(object.path, key);
        object.last_key = std::move(key);
        key.clear();
        return true;
    }
    bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
    bool on_string(json::string_view, std::size_t, json::error_code&) { return value_done(); }
    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, json::error_code&) { return value_done(); }
    bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return value_done(); }
    bool on_double(double, json::string_view, json::error_code&) { return value_done(); }
    bool on_bool(bool, json::error_code&) { return value_done(); }
    bool on_null(json::error_code&) { return value_done(); }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

std::optional<std::string> first_duplicate_key(std::string_view text)
{
    json::basic_parser<duplicate_finder> parser{json::parse_options{}};
    json::error_code ec;
    parser.write_some(false, text.data(), text.size(), ec);
    if (ec)
        return std::nullopt;  // not JSON: the caller's own parse reports that
    return parser.handler().duplicate;
}

}  // namespace crd::core
