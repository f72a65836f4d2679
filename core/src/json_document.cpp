#include <crd/core/json_document.hpp>

#include <crd/core/json_arena.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/detail/format.hpp>

#include <emmintrin.h>

namespace json = boost::json;

#include <crd/core/error.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace crd::core {
namespace {

// The values of a document being parsed: json::value_stack's work (boost/json/impl/value_stack.ipp,
// Boost 1.81, which Debian 12 pins), inline in the handler instead of a call into the library per
// token, and with one fact more: whether an object came out smaller than the members read into it.
// json::object keeps the last of a key given twice, so that is the one sign of a repeated key, and
// knowing it here spares compare_text_to_document and exact_text_of a walk over the whole tree.
// Values are built in place with json::detail::access, as value_stack builds them (objects and
// arrays from their members on the stack, keys as key strings), and moved by memcpy, as it moves them.
class document_stack
{
public:
    document_stack(unsigned char* temporary, std::size_t temporary_size) noexcept
    {
        // The caller's bytes need not be aligned for values: the first aligned place in them.
        void* at = temporary;
        if (std::align(alignof(json::value), 16 * sizeof(json::value), at, temporary_size) != nullptr)
        {
            temporary_ = static_cast<json::value*>(at);
            begin_ = temporary_;
            top_ = begin_;
            end_ = begin_ + temporary_size / sizeof(json::value);
        }
    }
    document_stack(const document_stack&) = delete;
    document_stack& operator=(const document_stack&) = delete;
    ~document_stack()
    {
        clear();
        if (begin_ != temporary_)
            ::operator delete(begin_);
    }

    // The document's memory resource: values destroyed by clear() only where freeing them matters.
    void reset(json::storage_ptr sp) noexcept
    {
        clear();
        sp_ = std::move(sp);
        run_destructors_ = !sp_.is_not_shared_and_deallocate_is_trivial();
    }

    // The one value left: the document.
    json::value release() noexcept
    {
        --top_;
        return json::pilfer(*top_);
    }

    bool repeated_key() const noexcept { return repeated_key_; }

    void push_object(std::size_t n)
    {
        if (n == 0)
            reserve_one();
        json::value* const first = top_ - 2 * n;
        top_ = first;
        const json::value& object = replace_with(first, json::detail::unchecked_object(first, n, sp_));
        if (object.get_object().size() != n) [[unlikely]]
            repeated_key_ = true;
    }
    void push_array(std::size_t n)
    {
        if (n == 0)
            reserve_one();
        json::value* const first = top_ - n;
        top_ = first;
        replace_with(first, json::detail::unchecked_array(first, n, sp_));
    }
    // A piece of a key or string with an escape: kept until its last piece comes.
    void push_chars(json::string_view s) { chars_.append(s.data(), s.size()); }
    void push_key(json::string_view s)
    {
        reserve_one();
        if (chars_.empty()) [[likely]]
            json::detail::access::construct_value(top_, json::detail::key_t{}, s, sp_);
        else
        {
            json::detail::access::construct_value(top_, json::detail::key_t{}, json::string_view(chars_), s, sp_);
            chars_.clear();
        }
        ++top_;
    }
    void push_string(json::string_view s)
    {
        reserve_one();
        if (chars_.empty()) [[likely]]
            json::detail::access::construct_value(top_, s, sp_);
        else
        {
            // Counted on the stack before it grows: a failed reserve leaves it to be destroyed.
            json::string& str = json::detail::access::construct_value(top_++, json::string_kind, sp_).get_string();
            str.reserve(chars_.size() + s.size());
            str.append(chars_);
            str.append(s);
            chars_.clear();
            return;
        }
        ++top_;
    }
    template <class Scalar>
    void push_scalar(Scalar x)
    {
        reserve_one();
        json::detail::access::construct_value(top_, x, sp_);
        ++top_;
    }

private:
    // The container of the values from `first` up, built aside (they are read while it is built),
    // then moved into the first one's place, which becomes the top.
    template <class Unchecked>
    const json::value& replace_with(json::value* first, Unchecked&& members)
    {
        union built_value
        {
            json::value value;
            built_value() {}
            ~built_value() {}
        } built;
        json::detail::access::construct_value(&built.value, std::forward<Unchecked>(members));
        std::memcpy(static_cast<void*>(first), &built.value, sizeof(json::value));
        top_ = first + 1;
        return *first;
    }
    void reserve_one()
    {
        if (top_ == end_) [[unlikely]]
            grow();
    }
    void grow()
    {
        const std::size_t size = static_cast<std::size_t>(top_ - begin_);
        const std::size_t capacity = std::max<std::size_t>(64, 2 * static_cast<std::size_t>(end_ - begin_));
        auto* grown = static_cast<json::value*>(::operator new(capacity * sizeof(json::value)));
        if (size != 0)
            std::memcpy(static_cast<void*>(grown), begin_, size * sizeof(json::value));
        if (begin_ != temporary_)
            ::operator delete(begin_);
        begin_ = grown;
        top_ = grown + size;
        end_ = grown + capacity;
    }
    void clear() noexcept
    {
        if (run_destructors_)
            while (top_ != begin_)
                (--top_)->~value();
        top_ = begin_;
        chars_.clear();
    }

    json::value* temporary_ = nullptr;  // the caller's bytes, when they hold the stack
    json::value* begin_ = nullptr;
    json::value* top_ = nullptr;
    json::value* end_ = nullptr;
    json::storage_ptr sp_;
    bool run_destructors_ = false;
    bool repeated_key_ = false;
    std::string chars_;
};

// Boost.JSON's own document builder (the value_stack that json::parser drives, callback for callback
// as boost/json/detail/impl/handler.ipp), plus one check: a number beyond double range (Boost.JSON
// 1.81 reads 1e400 as inf and 0e400 as NaN) fails the parse where it is met, instead of a second
// walk over the finished document. JSON has no Infinity or NaN, so such a value cannot be relayed.
struct finite_document_handler
{
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    document_stack st;
    // parse_document's record of the text (parse_facts); parse_json keeps none.
    parse_facts* facts = nullptr;
    std::size_t depth = 0;  // open objects and arrays: 1 inside the root

    // Placing the orders' resources (parse_facts::entry_resources), with facts and when asked
    // (entry_placing). The key path down to context.<bundle>.entry[i].resource, as far as it matters:
    bool place_entries = false;
    bool in_context = false;     // under the top-level key "context"
    std::string_view bundle;     // under context.draftOrders or context.appointments: which
    bool in_entries = false;     // under <bundle>.entry
    bool resource_open = false;  // the last located resource's object (at depth 6) is being read
    // Closing brackets read since the last located resource's own (included); 0 when its end is
    // placed. The parser gives no position for a bracket: the next token that has one (a key, a
    // string, a number) places it, by walking back over these brackets.
    std::size_t closes_pending = 0;
    // Keys at this depth or shallower are noted (note_key): 0 without facts, 1 for the top-level
    // keys, 5 under "context" while placing, every depth while an end is pending. One compare per
    // key, where the flags above would take several (a request has thousands of keys).
    std::size_t note_depth = 0;

    void update_note_depth() noexcept
    {
        note_depth = facts == nullptr ? 0 : closes_pending != 0 ? std::numeric_limits<std::size_t>::max() : in_context ? 5 : 1;
    }

    finite_document_handler(unsigned char* temporary, std::size_t temporary_size) : st(temporary, temporary_size) {}

    static bool on_document_begin(json::error_code& /*ec*/) { return true; }
    bool on_document_end(json::error_code& /*ec*/)
    {
        if (closes_pending != 0)
            place_pending(facts->text.size());  // the last thing in the text (but whitespace)
        if (facts)
            facts->repeated_key = st.repeated_key();
        return true;
    }
    bool on_object_begin(json::error_code& /*ec*/)
    {
        ++depth;
        return true;
    }
    bool on_object_end(std::size_t n, json::error_code& /*ec*/)
    {
        if (facts && ((resource_open && depth == 6) || closes_pending != 0)) [[unlikely]]
            note_object_close();
        --depth;
        st.push_object(n);
        return true;
    }
    bool on_array_begin(json::error_code& /*ec*/)
    {
        ++depth;
        return true;
    }
    bool on_array_end(std::size_t n, json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            ++closes_pending;
        --depth;
        st.push_array(n);
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            unplace_pending();  // a key in pieces has no place in the text to start from
        st.push_chars(s);
        return true;
    }
    bool on_key(json::string_view s, std::size_t n, json::error_code& /*ec*/)
    {
        // Keys deep in the tree or outside the context (most of them) cost a test or two: the
        // placing below is out of line.
        if (depth <= note_depth) [[unlikely]]
            note_key(s, n);
        st.push_key(s);
        return true;
    }

    [[gnu::noinline]] void note_object_close()
    {
        if (resource_open && depth == 6)
        {
            resource_open = false;
            closes_pending = 1;
            update_note_depth();
        }
        else if (closes_pending != 0)
            ++closes_pending;
    }

    [[gnu::noinline]] void note_key(json::string_view s, std::size_t n)
    {
        if (closes_pending != 0)
            place_pending(quoted_offset(s, n));
        if (depth <= 5)
            follow_key(s, n);
    }

    [[gnu::noinline]] void place_pending_at_string(json::string_view s, std::size_t n) { place_pending(quoted_offset(s, n)); }
    [[gnu::noinline]] void place_pending_at_number(json::string_view s) { place_pending(number_offset(s)); }

    // The offset of the opening quote of a string or key read in one piece (n == its size)
    // straight from the text, else npos: one with an escape was assembled in the parser's buffer.
    std::size_t quoted_offset(json::string_view s, std::size_t n) const
    {
        const auto text_begin = reinterpret_cast<std::uintptr_t>(facts->text.data());
        const auto at = reinterpret_cast<std::uintptr_t>(s.data());
        if (n != s.size() || at <= text_begin || at + s.size() >= text_begin + facts->text.size())
            return std::string_view::npos;
        const std::size_t quote = at - text_begin - 1;
        if (facts->text[quote] != '"' || facts->text[quote + 1 + s.size()] != '"')
            return std::string_view::npos;
        return quote;
    }

    // The offset of a number's first character, else npos.
    std::size_t number_offset(json::string_view s) const
    {
        const auto text_begin = reinterpret_cast<std::uintptr_t>(facts->text.data());
        const auto at = reinterpret_cast<std::uintptr_t>(s.data());
        if (s.empty() || at < text_begin || at + s.size() > text_begin + facts->text.size())
            return std::string_view::npos;
        return at - text_begin;
    }

    void follow_key(json::string_view key, std::size_t n)
    {
        // Only a key read in one piece is compared: Boost.JSON hands a key with an escape after
        // its first character over in parts, this being the last, which could equal "draftOrders"
        // or "resource" while the key does not ("x\u0064raftOrders"). A tracked key in parts is
        // then not followed: its orders go unplaced, and locate_item_texts, counting, gives none.
        const std::string_view whole = n == key.size() ? std::string_view(key) : std::string_view();
        switch (depth)
        {
        case 1:
            in_context = place_entries && whole == "context";
            bundle = {};
            in_entries = false;
            update_note_depth();
            locate_top_level_key(key, n);
            return;
        case 2:
            bundle = !in_context               ? std::string_view()
                     : whole == "draftOrders"  ? std::string_view("draftOrders")
                     : whole == "appointments" ? std::string_view("appointments")
                                               : std::string_view();
            in_entries = false;
            return;
        case 3: in_entries = !bundle.empty() && whole == "entry"; return;
        case 5:
            if (in_entries && whole == "resource")
                locate_resource_start(key, n);
            return;
        default: return;
        }
    }

    // A resource's opening brace: after its key, the colon and any whitespace. Every such key gets
    // its entry, placed or not, so that the i-th entry is the i-th order's.
    void locate_resource_start(json::string_view key, std::size_t n)
    {
        located_resource& r = facts->entry_resources.emplace_back(located_resource{bundle, {}});
        const std::string_view text = facts->text;
        const std::size_t quote = quoted_offset(key, n);
        if (quote == std::string_view::npos)
            return;
        std::size_t at = quote + 1 + key.size() + 1;
        while (at < text.size() && is_json_whitespace(text[at]))
            ++at;
        if (at == text.size() || text[at] != ':')
            return;
        ++at;
        while (at < text.size() && is_json_whitespace(text[at]))
            ++at;
        if (at == text.size() || text[at] != '{')
            return;         // not an object: validation refuses it
        r.range = {at, 0};  // end placed when the object has closed (place_pending)
        resource_open = true;
    }

    // The last located resource ends at the closes_pending-th closing bracket before `token` (the
    // offset of the next token the parser placed, or the text's end): only whitespace and
    // brackets, commas and colons lie between, as no other token was read since.
    void place_pending(std::size_t token)
    {
        byte_range& range = facts->entry_resources.back().range;
        std::size_t closes = closes_pending;
        closes_pending = 0;
        update_note_depth();
        if (token == std::string_view::npos)
        {
            range = {};
            return;
        }
        const std::string_view text = facts->text;
        for (std::size_t at = token; at > range.begin + 1;)
        {
            const char c = text[--at];
            if (c == '}' || c == ']')
            {
                if (--closes == 0)
                {
                    if (c == '}')
                    {
                        range.end = at + 1;
                        return;
                    }
                    break;
                }
            }
            else if (!is_json_whitespace(c) && c != ',' && c != ':' && c != '{' && c != '[')
                break;
        }
        range = {};
    }

    // A token with no place in the text came before the pending end could be placed.
    [[gnu::noinline]] void unplace_pending()
    {
        closes_pending = 0;
        update_note_depth();
        facts->entry_resources.back().range = {};
    }

    // Records a top-level key's opening quote; one that cannot be placed (quoted_offset) or finds
    // no room leaves the keys unlocated.
    void locate_top_level_key(json::string_view key, std::size_t n) const
    {
        const std::size_t quote = quoted_offset(key, n);
        if (quote == std::string_view::npos || facts->top_level_key_count == parse_facts::key_room)
        {
            facts->keys_located = false;
            return;
        }
        facts->top_level_keys[facts->top_level_key_count++] = quote;
    }
    bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            unplace_pending();
        st.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t n, json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            place_pending_at_string(s, n);
        st.push_string(s);
        return true;
    }
    static bool on_number_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
    bool on_int64(std::int64_t i, json::string_view s, json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            place_pending_at_number(s);
        st.push_scalar(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, json::string_view s, json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            place_pending_at_number(s);
        st.push_scalar(u);
        return true;
    }
    bool on_double(double d, json::string_view s, json::error_code& ec)
    {
        if (!std::isfinite(d))
        {
            ec = errc::json_number_out_of_range;
            return false;
        }
        if (closes_pending != 0) [[unlikely]]
            place_pending_at_number(s);
        st.push_scalar(d);
        return true;
    }
    bool on_bool(bool b, json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            unplace_pending();  // true and false have no place given
        st.push_scalar(b);
        return true;
    }
    bool on_null(json::error_code& /*ec*/)
    {
        if (closes_pending != 0) [[unlikely]]
            unplace_pending();
        st.push_scalar(nullptr);
        return true;
    }
    static bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
    static bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
};

// The whole of `text` as one document in `sp`, the temporary stack in `temporary`: what
// json::parser::write and release do, with finite_document_handler.
json::value parse_finite(std::string_view text, const json::parse_options& options, json::storage_ptr sp, unsigned char* temporary,
    std::size_t temporary_size, boost::system::error_code& ec, parse_facts* facts = nullptr)
{
    // The stack's own storage, beyond `temporary`, is the heap's; the document's is `sp`, given by
    // reset(), as json::parser does.
    json::basic_parser<finite_document_handler> parser(options, temporary, temporary_size);
    parser.handler().st.reset(std::move(sp));
    parser.handler().facts = facts;
    parser.handler().place_entries = facts != nullptr && facts->entries_placed;
    parser.handler().update_note_depth();
    // more = false: an incomplete document is an error, not a wait for more.
    const auto used = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && used < text.size())
        ec = json::error::extra_data;
    if (ec)
        return nullptr;
    return parser.handler().st.release();
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
    std::array<unsigned char, 4096> temporary{};
    return parse_finite(text, options, std::move(sp), temporary.data(), temporary.size(), ec);
}

struct document_arena
{
    explicit document_arena(std::size_t initial_bytes) : resource(initial_bytes) {}
    // The text, when the document keeps it (parse_document taking a string): facts.text views it.
    std::string owned_text;
    json_arena resource;
    // Declared after the resource, so destroyed before it; a typed pointer marks deallocation
    // trivial, which lets the value skip destroying its nodes.
    json::value value = json::value(json::storage_ptr(&resource));
    parse_facts facts;
};

void document_deleter::operator()(json::value* v) const noexcept
{
    if (arena)
        delete arena;
    else
        delete v;
}

namespace {

bool needs_escape(char c)
{
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20U;
}

// A 16-byte load at p does not cross into the next page, so it cannot fault even where the string
// ends before it.
bool block_readable(const char* p)
{
    constexpr std::uintptr_t page = 4096;
    return (reinterpret_cast<std::uintptr_t>(p) & (page - 1)) <= page - 16;
}

// How many of the 16 bytes come before the first that needs escaping (16 when none does).
std::size_t plain_prefix(__m128i bytes)
{
    const __m128i quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('"'));
    const __m128i backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1F)), bytes);
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)));
    return mask == 0 ? 16U : static_cast<unsigned>(__builtin_ctz(mask));
}

// Copies the 16 bytes at p to out (the caller has room) and returns how many are plain.
std::size_t copy_plain_block(const char* p, char* out)
{
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
    return plain_prefix(bytes);
}

// Copies the plain bytes of the `n` (< 16) bytes at p, up to the first that needs escaping, with one
// 16-byte load and store (the store's excess lands in reserved room and is overwritten); returns how
// many were plain. The load reads past the string inside its page: not a fault, but
// AddressSanitizer would flag it, so this function is not instrumented.
__attribute__((no_sanitize_address)) std::size_t copy_plain_tail(const char* p, std::size_t n, char* out)
{
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
    return std::min<std::size_t>(plain_prefix(bytes), n);
}

void write_escape(char*& cur, unsigned char c)
{
    static constexpr std::string_view hex = "0123456789abcdef";
    *cur++ = '\\';
    switch (c)
    {
    case '"': *cur++ = '"'; break;
    case '\\': *cur++ = '\\'; break;
    case '\b': *cur++ = 'b'; break;
    case '\t': *cur++ = 't'; break;
    case '\n': *cur++ = 'n'; break;
    case '\f': *cur++ = 'f'; break;
    case '\r': *cur++ = 'r'; break;
    default:
        *cur++ = 'u';
        *cur++ = '0';
        *cur++ = '0';
        *cur++ = hex[c >> 4U];
        *cur++ = hex[c & 15U];
    }
}

// Writes a value as boost::json::serialize does, byte for byte (tests/core/json_serialize_test.cpp
// compares the two, and the json_document fuzz target on every input), straight into the string's
// own bytes through a cursor: Boost's serializer is a resumable state machine that copies through a
// caller's buffer and re-checks its state per token. Capacity is checked once per string or number
// (its worst case), not per byte. Numbers and the 16-byte escape scan reuse Boost's own routines
// (boost::json::detail, pinned to 1.81 by Debian 12), so doubles keep Boost's spelling ("2.5E0").
// Recursion is bounded: every value written is a parsed document (max_json_depth deep at most) or a
// fixed shape built around one.
class json_writer
{
public:
    explicit json_writer(std::string& out, std::span<const verbatim_object> verbatim = {})
        : out_(out)
        , used_(out.size())
        , next_verbatim_(verbatim.data())
        , verbatim_end_(verbatim.data() + verbatim.size())
    {
    }
    json_writer(const json_writer&) = delete;
    json_writer& operator=(const json_writer&) = delete;
    ~json_writer() { out_.resize(used_); }  // drops the unwritten tail of the last growth

    void write(const json::value& v)
    {
        switch (v.kind())
        {
        case json::kind::null: put("null"); return;
        case json::kind::bool_: put(v.get_bool() ? std::string_view("true") : std::string_view("false")); return;
        case json::kind::int64: write_number(json::detail::format_int64, v.get_int64()); return;
        case json::kind::uint64: write_number(json::detail::format_uint64, v.get_uint64()); return;
        case json::kind::double_: write_number(json::detail::format_double, v.get_double()); return;
        case json::kind::string: write_string(v.get_string()); return;
        case json::kind::array: write_array(v.get_array()); return;
        case json::kind::object: write_object(v.get_object()); return;
        }
    }

    void write(const json::object& o) { write_object(o); }
    void write(const json::array& a) { write_array(a); }

    void write_string(std::string_view s) { write_quoted(s, '\0'); }

    // A member's key and the colon after it.
    void write_key(std::string_view s) { write_quoted(s, ':'); }

private:
    // Most strings (every key, most values) are short and need no escape: one 16-byte load, test
    // and store, inline, where the general routine's prologue alone cost a third of a short
    // string. `after` (a colon, or '\0' for nothing) follows the closing quote.
    void write_quoted(std::string_view s, char after)
    {
        const std::size_t n = s.size();
        // The store writes 16 bytes after the opening quote; the closing quote and `after` fall
        // inside them, as n < 16.
        // An empty view may have no data() to read from at all.
        if (n < 16 && out_.size() - used_ >= 1 + 16 + 2 && (n == 0 || block_readable(s.data())))
        {
            char* cur = cursor();
            *cur = '"';
            if (n == 0 || copy_plain_tail(s.data(), n, cur + 1) == n)
            {
                cur[1 + n] = '"';
                std::size_t written = n + 2;
                if (after != '\0')
                    cur[written++] = after;
                used_ += written;
                return;
            }
        }
        write_string_general(s);
        if (after != '\0')
            put(after);
    }

    // Boost's escapes: \" \\ \b \t \n \f \r, other control bytes as \u00xx (lower-case hex);
    // everything else, '/', DEL and UTF-8 included, is copied.
    [[gnu::noinline]] void write_string_general(std::string_view s)
    {
        // Room for the quotes, every byte copied as it is, and one 16-byte store past the end.
        reserve(s.size() + 2 + 16);
        char* cur = cursor();
        *cur++ = '"';
        const char* p = s.data();
        const char* const end = p + s.size();
        for (;;)
        {
            // Whole 16-byte blocks, each stored as it is loaded (the reserved room takes the
            // excess), the cursor moved past its plain bytes: no call per string, where Boost's
            // count_unescaped and a memcpy were two (most strings are short keys).
            bool at_escape = false;
            while (!at_escape && end - p >= 16)
            {
                const auto plain = copy_plain_block(p, cur);
                cur += plain;
                p += plain;
                at_escape = plain != 16;
            }
            // The tail (every key, most values): one more block when that read stays inside its
            // page, else byte by byte.
            if (!at_escape && p != end)
            {
                if (block_readable(p))
                {
                    const auto plain = copy_plain_tail(p, static_cast<std::size_t>(end - p), cur);
                    cur += plain;
                    p += plain;
                }
                else
                    while (p != end && !needs_escape(*p))
                        *cur++ = *p++;
            }
            if (p == end)
                break;
            const auto c = static_cast<unsigned char>(*p++);
            used_ = static_cast<std::size_t>(cur - out_.data());
            reserve(6 + static_cast<std::size_t>(end - p) + 1 + 16);  // this escape, the rest, the quote, a block
            cur = cursor();
            write_escape(cur, c);
        }
        *cur++ = '"';
        used_ = static_cast<std::size_t>(cur - out_.data());
    }

    char* cursor() { return out_.data() + used_; }

    // Room for `n` more bytes past what is written; the destructor cuts the string back to what was
    // written.
    void reserve(std::size_t n)
    {
        if (out_.size() - used_ >= n)
            return;
        // resize() zero-fills what it adds: a kilobyte at a time keeps that cheap (a large fill
        // goes through `rep stosb`); growing past the capacity is geometric inside std::string.
        out_.resize(used_ + std::max(n, std::size_t{1024}));
    }

    void put(std::string_view text)
    {
        reserve(text.size());
        std::memcpy(cursor(), text.data(), text.size());
        used_ += text.size();
    }

    void put(char c)
    {
        reserve(1);
        out_[used_++] = c;
    }

    template <class Format, class Number>
    void write_number(Format format, Number n)
    {
        reserve(json::detail::max_number_chars + 1);
        used_ += format(cursor(), n);
    }

    void write_array(const json::array& a)
    {
        put('[');
        bool first = true;
        for (const auto& element : a)
        {
            if (!first)
                put(',');
            first = false;
            write(element);
        }
        put(']');
    }

    void write_object(const json::object& o)
    {
        if (next_verbatim_ != verbatim_end_ && o.begin() == next_verbatim_->members &&
            (next_verbatim_->whole ? o.size() == next_verbatim_->members_as_sent : o.size() > next_verbatim_->members_as_sent) &&
            next_verbatim_->text.size() >= 2)
        {
            write_verbatim(o, *next_verbatim_++);
            return;
        }
        put('{');
        bool first = true;
        for (const auto& member : o)
        {
            if (!first)
                put(',');
            first = false;
            write_key(member.key());
            write(member.value());
        }
        put('}');
    }

    // The text but its closing brace, then the members added since, then the brace.
    void write_verbatim(const json::object& o, const verbatim_object& v)
    {
        put(v.text.substr(0, v.text.size() - 1));
        bool first = v.members_as_sent == 0;
        for (auto member = o.begin() + static_cast<std::ptrdiff_t>(v.members_as_sent); member != o.end(); ++member)
        {
            if (!first)
                put(',');
            first = false;
            write_key(member->key());
            write(member->value());
        }
        put('}');
    }

    std::string& out_;
    std::size_t used_;  // bytes of out_ written; out_.size() is its writable length
    // serialize_json's verbatim objects not met yet.
    const verbatim_object* next_verbatim_;
    const verbatim_object* verbatim_end_;
};

}  // namespace

std::string serialize_json(const json::value& v, std::size_t size_hint)
{
    std::string out;
    out.reserve(size_hint);
    append_json(out, v);
    return out;
}

std::string serialize_json(const json::value& v, std::size_t size_hint, std::span<const verbatim_object> verbatim)
{
    std::string out;
    out.reserve(size_hint);
    json_writer(out, verbatim).write(v);
    return out;
}

void append_json(std::string& out, const json::value& v)
{
    json_writer(out).write(v);
}

std::string serialize_json(const json::object& o, std::size_t size_hint)
{
    std::string out;
    out.reserve(size_hint);
    json_writer(out).write(o);
    return out;
}

void append_json(std::string& out, const json::object& o)
{
    json_writer(out).write(o);
}

void append_json(std::string& out, const json::array& a)
{
    json_writer(out).write(a);
}

void append_json_string(std::string& out, std::string_view s)
{
    json_writer(out).write_string(s);
}

namespace {

document_ptr parse_into(
    std::unique_ptr<document_arena> arena, std::string_view text, std::size_t max_depth, boost::system::error_code& ec, entry_placing placing)
{
    // The parser's temporary stack stays on this stack frame: inside the arena its growth would
    // be kept for the life of the request.
    std::array<unsigned char, 4096> temporary;  // NOLINT(cppcoreguidelines-pro-type-member-init): scratch the parser writes before it reads
    json::parse_options options;
    options.max_depth = max_depth;
    arena->facts.text = text;
    arena->facts.entries_placed = placing == entry_placing::on;
    // The same resource on both sides: release() moves the document into the arena's value.
    arena->value = parse_finite(text, options, json::storage_ptr(&arena->resource), temporary.data(), temporary.size(), ec, &arena->facts);
    if (ec)
        return nullptr;
    auto* owner = arena.release();
    return document_ptr(&owner->value, document_deleter(owner));
}

}  // namespace

document_ptr parse_document(std::string_view text, std::size_t max_depth, boost::system::error_code& ec, entry_placing placing)
{
    return parse_into(std::make_unique<document_arena>(arena_bytes_for(text.size())), text, max_depth, ec, placing);
}

document_ptr parse_document_keeping_text(std::string&& text, std::size_t max_depth, boost::system::error_code& ec, entry_placing placing)
{
    auto arena = std::make_unique<document_arena>(arena_bytes_for(text.size()));
    arena->owned_text = std::move(text);
    const std::string_view kept = arena->owned_text;
    return parse_into(std::move(arena), kept, max_depth, ec, placing);
}

document_ptr text_only_document(std::string&& text)
{
    auto arena = std::make_unique<document_arena>(0);  // no tree: the arena never allocates
    arena->owned_text = std::move(text);
    arena->facts.text = arena->owned_text;
    arena->facts.text_only = true;
    arena->facts.entries_placed = false;
    auto* owner = arena.release();
    return document_ptr(&owner->value, document_deleter(owner));
}

bool is_text_only(const document_ptr& doc) noexcept
{
    const parse_facts* facts = parse_facts_of(doc);
    return facts != nullptr && facts->text_only;
}

void mark_tree_changed(const document_ptr& doc) noexcept
{
    document_arena* arena = doc.get_deleter().arena;
    if (arena && doc.get() == &arena->value)
        arena->facts.tree_changed = true;
}

const parse_facts* parse_facts_of(const document_ptr& doc) noexcept
{
    const document_arena* arena = doc.get_deleter().arena;
    return arena && doc.get() == &arena->value ? &arena->facts : nullptr;
}

}  // namespace crd::core
