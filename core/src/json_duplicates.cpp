#include <crd/core/json_document.hpp>

#include <boost/container/small_vector.hpp>
#include <boost/json/basic_parser_impl.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
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

// One open object or array of the text, and the tree node it stands for.
struct open_container
{
    const json::value* node;
    std::size_t opened_at = 0;  // its opening bracket
    std::size_t commas = 0;     // at this level so far: the next member's index
    bool no_token_yet = true;   // no bracket or comma since the opening bracket
};

std::size_t size_of(const json::value& container) noexcept
{
    return container.is_object() ? container.get_object().size() : container.get_array().size();
}

// The tree's member `index` of a container, nullptr past its end.
const json::value* member_of(const json::value& container, std::size_t index) noexcept
{
    if (index >= size_of(container))
        return nullptr;
    if (const auto* o = container.if_object())
        return &(o->begin() + static_cast<std::ptrdiff_t>(index))->value();
    return &container.get_array()[index];
}

// The index of `key` among the top-level members (decoded, so an escaped spelling counts too).
std::optional<std::size_t> top_level_index(const json::value& tree, std::string_view key)
{
    const auto* o = tree.if_object();
    if (!o)
        return std::nullopt;
    std::size_t i = 0;
    for (const auto& member : *o)
    {
        if (member.key() == key)
            return i;
        ++i;
    }
    return std::nullopt;
}

// Where the top-level member to cut sits: filled while the root object is read.
struct cut_marks
{
    std::optional<std::size_t> index;
    std::size_t key_search = 0;    // where its key's opening quote is looked for (after { or ,)
    std::size_t next_search = 0;   // the same for the next member's key, if any
    std::size_t comma_before = 0;  // the comma ending the member before it, if any
    std::size_t root_close = 0;    // the root's closing brace
    bool has_next = false;
};

// Where the bytes the scan looks at sit in 64 bytes of text, one bit per byte.
struct block_bits
{
    std::uint64_t quotes = 0;
    std::uint64_t backslashes = 0;
    // , { } [ ] and also Y, y, _ and DEL (the bracket test is one comparison: (c | 0x20) & 0xF9 ==
    // 0x79): outside strings JSON has none of those, inside strings the scan ignores them.
    std::uint64_t structure = 0;
};

// 16 bytes at a time where SSE2 is there (every x86-64), one at a time otherwise.
block_bits classify(const char* p) noexcept
{
    block_bits out;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i comma = _mm_set1_epi8(',');
    const __m128i case_bit = _mm_set1_epi8(0x20);
    const __m128i bracket_bits = _mm_set1_epi8(static_cast<char>(0xF9));
    const __m128i bracket = _mm_set1_epi8(0x79);
    for (unsigned k = 0; k < 64; k += 16)
    {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + k));
        const __m128i brackets = _mm_cmpeq_epi8(_mm_and_si128(_mm_or_si128(v, case_bit), bracket_bits), bracket);
        const auto bits = [](__m128i m) { return static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(m)) & 0xFFFFU); };
        out.quotes |= bits(_mm_cmpeq_epi8(v, quote)) << k;
        out.backslashes |= bits(_mm_cmpeq_epi8(v, backslash)) << k;
        out.structure |= bits(_mm_or_si128(_mm_cmpeq_epi8(v, comma), brackets)) << k;
    }
#else
    for (unsigned k = 0; k < 64; ++k)
    {
        const std::uint64_t bit = std::uint64_t{1} << k;
        switch (p[k])
        {
        case '"': out.quotes |= bit; break;
        case '\\': out.backslashes |= bit; break;
        case ',':
        case '{':
        case '}':
        case '[':
        case ']': out.structure |= bit; break;
        default: break;
        }
    }
#endif
    return out;
}

bool only_whitespace(const char* s, std::size_t begin, std::size_t end) noexcept
{
    for (std::size_t i = begin; i < end; ++i)
        if (!is_json_whitespace(s[i]))
            return false;
    return true;
}

// Bit k set when byte k of the block is inside a string (its opening quote included, its closing
// quote not), given the unescaped quotes and whether the block starts inside a string.
std::uint64_t inside_strings(std::uint64_t quotes, bool starts_inside) noexcept
{
    std::uint64_t x = quotes;
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return starts_inside ? ~x : x;
}

// The bytes escaped by a backslash (the byte after an unescaped one), in order: rare in requests.
std::uint64_t escaped_bytes(std::uint64_t backslashes, bool first_escaped, bool& last_escapes_next) noexcept
{
    std::uint64_t escaped = first_escaped ? 1 : 0;
    last_escapes_next = false;
    for (std::uint64_t b = backslashes; b != 0; b &= b - 1)
    {
        const auto k = static_cast<unsigned>(std::countr_zero(b));
        if ((escaped >> k) & 1U)
            continue;
        if (k == 63)
            last_escapes_next = true;
        else
            escaped |= std::uint64_t{1} << (k + 1);
    }
    return escaped;
}

// The single pass: true when every container has the tree's member count. The text is known to be
// JSON (the tree was parsed from it), so only brackets and commas outside strings are looked at,
// 64 bytes at a time; bounds are checked anyway, should a caller pass another text.
bool same_member_counts(std::string_view text, const json::value& tree, cut_marks& marks)
{
    boost::container::small_vector<open_container, 32> open;
    bool in_string = false;
    bool escape_carried = false;  // the last block ended in an unescaped backslash
    const char* const s = text.data();
    const std::size_t n = text.size();
    std::array<char, 64> tail{};
    for (std::size_t base = 0; base < n; base += 64)
    {
        const char* p = s + base;
        if (n - base < 64)
        {
            // The last few bytes, padded with spaces (which the scan does not look at).
            tail.fill(' ');
            std::copy(p, s + n, tail.begin());
            p = tail.data();
        }
        const auto found = classify(p);
        std::uint64_t quotes = found.quotes;
        if (found.backslashes != 0 || escape_carried)
            quotes &= ~escaped_bytes(found.backslashes, escape_carried, escape_carried);
        const std::uint64_t strings = inside_strings(quotes, in_string);
        in_string = (strings >> 63) & 1U;
        for (std::uint64_t bits = found.structure & ~strings; bits != 0; bits &= bits - 1)
        {
            const auto k = static_cast<unsigned>(std::countr_zero(bits));
            const std::size_t i = base + k;
            const char c = p[k];
            switch (c)
            {
            case '{':
            case '[':
            {
                const json::value* node = &tree;
                if (!open.empty())
                {
                    auto& parent = open.back();
                    parent.no_token_yet = false;
                    node = member_of(*parent.node, parent.commas);
                }
                if (!node || (c == '{' ? !node->is_object() : !node->is_array()))
                    return false;
                open.push_back({node, i});
                if (open.size() == 1 && marks.index == 0)
                    marks.key_search = i + 1;
                break;
            }
            case '}':
            case ']':
            {
                if (open.empty())
                    return false;
                const auto& closing = open.back();
                // Nothing but a string, number or literal may sit between the brackets ("[1]").
                const bool empty = closing.no_token_yet && only_whitespace(s, closing.opened_at + 1, i);
                if ((empty ? 0 : closing.commas + 1) != size_of(*closing.node))
                    return false;
                if (open.size() == 1)
                    marks.root_close = i;
                open.pop_back();
                break;
            }
            case ',':
            {
                if (open.empty())
                    return false;
                auto& container = open.back();
                if (open.size() == 1 && marks.index)
                {
                    const std::size_t next_member = container.commas + 1;
                    if (next_member == *marks.index)
                    {
                        marks.comma_before = i;
                        marks.key_search = i + 1;
                    }
                    else if (next_member == *marks.index + 1)
                    {
                        marks.next_search = i + 1;
                        marks.has_next = true;
                    }
                }
                container.no_token_yet = false;
                ++container.commas;
                break;
            }
            default:  // Y, y, _ or DEL (see block_bits): never outside a string in JSON
                break;
            }
        }
    }
    return open.empty() && !in_string;
}

}  // namespace

text_and_tree compare_text_to_tree(std::string_view text, const json::value& tree, std::string_view cut_key)
{
    text_and_tree out;
    cut_marks marks;
    marks.index = top_level_index(tree, cut_key);
    if (!same_member_counts(text, tree, marks))
    {
        // Rare (a malformed or hostile request): worth the slow reader that names the key.
        out.repeated_key = first_duplicate_key(text);
        return out;
    }
    out.same_members = true;
    if (marks.index)
    {
        auto skip_whitespace = [&](std::size_t i) {
            while (i < text.size() && is_json_whitespace(text[i]))
                ++i;
            return i;
        };
        const std::size_t key_start = skip_whitespace(marks.key_search);
        if (marks.has_next)
            out.cut = {key_start, skip_whitespace(marks.next_search)};  // the member, its comma, the space after
        else if (*marks.index > 0)
        {
            // The last: from the end of the value before it (the space before its comma too).
            std::size_t previous_end = marks.comma_before;
            while (previous_end > 0 && is_json_whitespace(text[previous_end - 1]))
                --previous_end;
            out.cut = {previous_end, marks.root_close};
        }
        else
            out.cut = {key_start, marks.root_close};  // the only member
    }
    return out;
}

text_and_tree compare_text_to_document(std::string_view text, const document_ptr& doc, std::string_view cut_key)
{
    const parse_facts* facts = parse_facts_of(doc);
    if (!facts || facts->text.data() != text.data() || facts->text.size() != text.size() || !facts->keys_located || facts->repeated_key ||
        facts->tree_changed)
        return compare_text_to_tree(text, *doc, cut_key);
    // Every object has the members its text has, in its order: the i-th top-level member of the
    // tree is the i-th key of the text.
    text_and_tree out;
    out.same_members = true;
    const auto index = top_level_index(*doc, cut_key);
    if (!index)
        return out;
    const std::size_t count = facts->top_level_key_count;
    if (count != doc->get_object().size())  // cannot be, when the counts above agree; never guess
        return compare_text_to_tree(text, *doc, cut_key);
    const std::size_t key_start = facts->top_level_keys[*index];
    if (*index + 1 < count)
    {
        out.cut = {key_start, facts->top_level_keys[*index + 1]};  // the member, its comma, the space after
        return out;
    }
    // The last member: up to the closing brace, the text's last byte but whitespace.
    std::size_t root_close = text.size();
    while (root_close > 0 && is_json_whitespace(text[root_close - 1]))
        --root_close;
    --root_close;
    if (*index == 0)
    {
        out.cut = {key_start, root_close};  // the only member
        return out;
    }
    // From the end of the value before it: back over the space before the key, its comma, and the
    // space before that comma.
    std::size_t previous_end = key_start;
    while (previous_end > 0 && is_json_whitespace(text[previous_end - 1]))
        --previous_end;
    --previous_end;  // the comma
    while (previous_end > 0 && is_json_whitespace(text[previous_end - 1]))
        --previous_end;
    out.cut = {previous_end, root_close};
    return out;
}

std::string_view exact_text_of(const document_ptr& doc) noexcept
{
    const parse_facts* facts = parse_facts_of(doc);
    if (!facts || facts->repeated_key || facts->tree_changed)
        return {};
    std::string_view text = facts->text;
    while (!text.empty() && is_json_whitespace(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_json_whitespace(text.back()))
        text.remove_suffix(1);
    return text;
}

std::optional<std::string> first_duplicate_key(std::string_view text, std::size_t max_depth)
{
    json::parse_options options;
    options.max_depth = max_depth;  // Boost's default (32) would miss a repeat in a deep request
    json::basic_parser<duplicate_finder> parser{options};
    json::error_code ec;
    parser.write_some(false, text.data(), text.size(), ec);
    if (ec)
        return std::nullopt;  // not JSON: the caller's own parse reports that
    return parser.handler().duplicate;
}

}  // namespace crd::core
