#pragma once
// A hook call's parsed body and the arena it lives in.
//
// The tree's nodes hold a plain (non-owning) pointer to a monotonic arena, so building it costs no
// reference counting and freeing it no walk over the nodes: the arena goes in one piece. Boost.JSON
// copies a node into its source's memory resource, so a copy made from a document lives in that
// document's arena too: whatever holds such copies must keep the document (see api_response).

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crd::core {

struct document_arena;

// Frees a document: its whole arena at once, or a lone heap value (tests, tools).
struct document_deleter
{
    document_deleter() noexcept = default;
    explicit document_deleter(document_arena* owner) noexcept : arena(owner) {}
    // std::unique_ptr<json::value> converts: a value made with new and no arena.
    document_deleter(std::default_delete<boost::json::value>) noexcept {}  // NOLINT(google-explicit-constructor)
    void operator()(boost::json::value* v) const noexcept;

    document_arena* arena = nullptr;
};

using document_ptr = std::unique_ptr<boost::json::value, document_deleter>;

// The first block for a monotonic arena holding the tree of `text_bytes` of JSON: a tree takes
// about 1.4 to 2.2 times its text (measured on the CRD examples), so one block in most cases.
constexpr std::size_t arena_bytes_for(std::size_t text_bytes) noexcept
{
    return 2 * text_bytes + 1024;
}

// The one depth limit for documents we read from callers, peers and files: a request served
// at this depth is also re-parsed at it (audit), never rejected further down the line.
inline constexpr std::size_t max_json_depth = 64;

// JSON's four whitespace characters (RFC 8259 §2), for the places that read a text beside its parse.
constexpr bool is_json_whitespace(char c) noexcept
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// A span of a text, [begin, end) in bytes.
struct byte_range
{
    std::size_t begin = 0;
    std::size_t end = 0;
    bool empty() const noexcept { return begin == end; }
    std::size_t size() const noexcept { return end - begin; }
};

// Where one order or appointment of a hook request lies in its text: the object that is
// context.<bundle>.entry[i].resource, its braces included. `range` is empty when it could not be
// placed exactly (a key written with an escape, a literal right after the object): that resource
// is then written from the tree.
struct located_resource
{
    std::string_view bundle;  // "draftOrders" or "appointments"
    byte_range range;
};

// What parse_document saw of its text while it built the tree: enough for
// compare_text_to_document to check the two agree without another pass over the text.
struct parse_facts
{
    std::string_view text;      // the text the tree was parsed from
    bool repeated_key = false;  // an object of the text gives a key twice (its tree kept the last)
    bool tree_changed = false;  // the tree no longer says what the text says (mark_tree_changed)
    bool text_only = false;     // no tree was built: the document is its text (text_only_document)
    // Offset of each top-level key's opening quote, in text order (a hook request has about ten
    // members: room for a fixed few, no allocation). keys_located is false when one could not be
    // placed: written with an escape (Boost.JSON unescapes it into its own buffer), or past room.
    static constexpr std::size_t key_room = 32;
    std::array<std::size_t, key_room> top_level_keys{};
    std::size_t top_level_key_count = 0;
    bool keys_located = true;
    // One per key "resource" of an object in context.draftOrders.entry or context.appointments.entry,
    // in text order (issue 19: an echoed order is written as the caller's own bytes, see
    // core::verbatim_object). Meaningful only while the text says exactly what the tree says.
    std::vector<located_resource> entry_resources;
    bool entries_placed = true;  // false: parse_document was asked not to (entry_placing::off)
};

// The facts of a document from parse_document; nullptr for any other (a value made with new).
const parse_facts* parse_facts_of(const document_ptr& doc) noexcept;

// Parses `text` (one whole JSON text) into a document of its own arena. nullptr, with `ec` set,
// when the text is not JSON, nests deeper than `max_depth`, or holds a number outside double range
// (errc::json_number_out_of_range: Boost.JSON 1.81 reads 1e400 as inf and 0e400 as NaN, which
// would be written back as Infinity/NaN, not JSON).
// Whether parse_document places the orders' resources in the text (parse_facts::entry_resources):
// only a caller whose answer echoes the request's own orders uses them.
enum class entry_placing
{
    off,
    on,
};
document_ptr parse_document(std::string_view text, std::size_t max_depth, boost::system::error_code& ec, entry_placing placing = entry_placing::on);

// The same, keeping `text` in the document's arena (parse_facts::text views it there): for a text
// that must live as long as its tree, as a decision answer that may be relayed as it is.
document_ptr parse_document_keeping_text(
    std::string&& text, std::size_t max_depth, boost::system::error_code& ec, entry_placing placing = entry_placing::on);

// The text of a document from parse_document without the whitespace around it, when it says exactly
// what the tree says: no key given twice in one object (Boost.JSON keeps the last of a repeated key,
// a reader of the text may take the first), and nothing marked it changed since. Empty otherwise.
// The tree may have been moved out of the document.
std::string_view exact_text_of(const document_ptr& doc) noexcept;

// A document of `text` alone, with no tree (its value is null): a decision service's answer found
// relayable as written in one pass over its text (decision::relayable_as_written), kept until it is
// written. exact_text_of gives the text; nothing may read a tree from it (is_text_only).
document_ptr text_only_document(std::string&& text);
bool is_text_only(const document_ptr& doc) noexcept;

// Says that the document's tree (wherever it was moved) no longer says what its text says:
// exact_text_of gives nothing from now on. Does nothing for a document not from parse_document.
void mark_tree_changed(const document_ptr& doc) noexcept;

// The strict reader for every other JSON we take in (decision answers, FHIR resources, JWKS, JOSE
// headers, configuration and rules files, feedback): the same errors as parse_document.
boost::json::value parse_json(
    std::string_view text, boost::system::error_code& ec, std::size_t max_depth = max_json_depth, boost::json::storage_ptr sp = {});

// The JSON text of `v`, byte for byte as boost::json::serialize writes it, at a third of its cost:
// written straight into a string reserved for `size_hint` bytes, where boost::json::serialize runs
// a resumable serializer through a buffer and zero-fills the string as it doubles it.
std::string serialize_json(const boost::json::value& v, std::size_t size_hint = 4096);

// The same text appended to `out`; append_json_string writes `s` as a JSON string (quoted, escaped).
void append_json(std::string& out, const boost::json::value& v);
// The same for an object or an array as it is: without these overloads one would be copied into a
// temporary boost::json::value (every member, deep) to call the ones above.
std::string serialize_json(const boost::json::object& o, std::size_t size_hint = 4096);
void append_json(std::string& out, const boost::json::object& o);
void append_json(std::string& out, const boost::json::array& a);
void append_json_string(std::string& out, std::string_view s);

// An object of an answer to be written as the caller's own bytes (issue 19: an order echoed in an
// update action is most of a large answer, and its text is already at hand): its first
// `members_as_sent` members are exactly what `text` says (the object with its braces, as the caller
// wrote it), and any members after them were added since. `members` is where the object's members
// lie (its begin()), which stays with the object when it is moved.
//
// `whole`: the object is exactly its text, nothing added (a decision service's answer relayed as it
// came, when nothing in it was repaired: remote_decision). It is then taken only while it has
// exactly `members_as_sent` members.
struct verbatim_object
{
    const boost::json::key_value_pair* members = nullptr;
    std::size_t members_as_sent = 0;
    std::string_view text;
    bool whole = false;
};

// serialize_json, writing the objects of `verbatim`, in the order the writer meets them, as their
// text followed by the members added since. An object is only taken for the next of `verbatim` while
// its members still lie where they were and it has more of them than the text holds; otherwise it,
// and any later one, is written from the tree. The texts must outlive the call.
std::string serialize_json(const boost::json::value& v, std::size_t size_hint, std::span<const verbatim_object> verbatim);

// The path ("context.draftOrders.entry[0].resource.quantity.value") of the first number that is
// infinite or NaN, if any.
std::optional<std::string> first_nonfinite_number(const boost::json::value& v);

// The one reader of configuration and rules files: the strict parser above, and a key given twice
// in one object refused (Boost.JSON would keep the last silently). Throws json_file_error whose
// message names the file, the problem and, for a repeated key, its path; `what` is "configuration"
// or "rules".
class json_file_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};
boost::json::value read_json_file(const std::string& path, std::string_view what);

// The path ("decision.services.order-sign-crd.url", "auth.clients[0].client_id") of the first key
// that appears twice in one object of `text`, if any. Boost.JSON keeps the last one silently; a
// configuration or rules file must not. nullopt also when `text` is not JSON or nests deeper than
// `max_depth`.
std::optional<std::string> first_duplicate_key(std::string_view text, std::size_t max_depth = max_json_depth);

// Bytes [begin, end) of a text.

// How a JSON text compares with the tree parsed from it (parse_document). Boost.JSON keeps the last
// of a repeated key silently, so a reader keeping the first would read a value we never saw.
struct text_and_tree
{
    // The path of the first key given twice in one object ("context.draftOrders[0].id").
    std::optional<std::string> repeated_key;
    // Every object and array of the text has the tree's members, in the tree's order: the bytes say
    // what the tree says (only spelling differs: whitespace, escapes, number forms).
    bool same_members = false;
    // When same_members: the top-level member named `cut_key`, with one adjacent comma and the
    // whitespace between (the last member: from the end of the value before it to the closing
    // brace), so the text without these bytes is the tree without that member.
    // Empty when there is no such member.
    byte_range cut;
};

// Cheap enough for every hook call: one string-aware pass over `text` (the text `tree` was parsed
// from), comparing each object's and array's member count with the tree's, in document order (a
// repeated key leaves its object smaller in the tree). Only on a difference is the text read again,
// slowly, for the repeated key's path (first_duplicate_key, at most max_json_depth deep).
text_and_tree compare_text_to_tree(std::string_view text, const boost::json::value& tree, std::string_view cut_key);

// The same answer for a document exactly as parse_document returned it from `text`, from the
// facts its parse recorded, with no pass over the text or walk over the tree (a 2 KB request:
// about 7,400 instructions down to a few dozen). The facts speak for the tree as parsed: call it
// before anything changes the tree (a changed one is compared with compare_text_to_tree). Falls
// back to compare_text_to_tree whenever the facts cannot settle it: another text, a key written
// with an escape, or a repeated key (whose path the slow reader names).
text_and_tree compare_text_to_document(std::string_view text, const document_ptr& doc, std::string_view cut_key);

}  // namespace crd::core
