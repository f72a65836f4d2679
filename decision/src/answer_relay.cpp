#include <crd/decision/answer_relay.hpp>

#include <crd/core/json_document.hpp>
#include <crd/core/url.hpp>
#include <crd/decision/coverage_information.hpp>
#include <crd/decision/crd_configuration.hpp>
#include <crd/decision/rules.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value_stack.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace json = boost::json;

namespace crd::decision {
namespace {

// Where in the answer an open object or array is; `other` is anywhere the rules only ask for
// unique keys and no empty member.
enum class place : std::uint8_t
{
    root,
    cards,
    card,
    source,
    topic,
    links,
    link,
    actions,
    action,
    resource,
    extensions,
    other,
};

// The members whose values the rules read (response_normaliser.cpp), by the object they are in.
enum class field : std::uint8_t
{
    none,
    cards,
    system_actions,
    summary,
    indicator,
    source,
    links,
    uuid,
    label,
    topic,
    code,
    system,
    type,
    url,
    resource,
    resource_id,
    description,
    resource_type,
    id,
    extension,
};

field field_of(place where, std::string_view key) noexcept
{
    switch (where)
    {
    case place::card:
        return key == "summary"     ? field::summary
               : key == "indicator" ? field::indicator
               : key == "source"    ? field::source
               : key == "links"     ? field::links
               : key == "uuid"      ? field::uuid
                                    : field::none;
    case place::source: return key == "label" ? field::label : key == "topic" ? field::topic : field::none;
    case place::topic: return key == "code" ? field::code : key == "system" ? field::system : field::none;
    case place::link: return key == "label" ? field::label : key == "type" ? field::type : key == "url" ? field::url : field::none;
    case place::action:
        return key == "type"          ? field::type
               : key == "resource"    ? field::resource
               : key == "resourceId"  ? field::resource_id
               : key == "description" ? field::description
                                      : field::none;
    case place::resource:
        return key == "resourceType" ? field::resource_type : key == "id" ? field::id : key == "extension" ? field::extension : field::none;
    default: return field::none;
    }
}

enum class value_kind : std::uint8_t
{
    object,
    array,
    string,
    number,
    boolean,
    null,
};

// Trivial, so the reader's fixed arrays of them cost nothing until used.
struct open_container
{
    place where;
    bool is_object;
    std::uint32_t keys_from;  // this object's first key in relay_reader::keys_
};

struct key_text
{
    const char* data;
    std::size_t size;
    bool operator==(std::string_view key) const noexcept { return size == key.size() && std::memcmp(data, key.data(), size) == 0; }
};

// What the rules ask of the card being read (check_card, and render_in_version's topic system).
struct card_facts
{
    bool summary = false;    // a string of 1 to 139 bytes
    bool indicator = false;  // info, warning or critical
    int severity = 2;
    bool label = false;  // source.label, a non-empty string
    bool topic_code = false;
    std::string_view code;
    bool system_is_string = false;
    std::string_view system;
    bool uuid = false;
};

enum class link_type : std::uint8_t
{
    none,
    absolute,
    smart,
};

struct link_facts
{
    bool label = false;
    link_type type = link_type::none;
    bool url = false;  // an http(s) URL
    bool app_context = false;
};

enum class action_type : std::uint8_t
{
    none,
    create,
    update,
    remove,
};

struct action_facts
{
    action_type type = action_type::none;
    bool resource_object = false;
    bool resource_id = false;
    bool description = false;
};

struct resource_facts
{
    bool has_type = false;   // resourceType, a non-empty string
    bool type_read = false;  // resourceType is a string: `type`
    std::string_view type;
    bool id_read = false;  // id is a string: `id`
    std::string_view id;
    std::size_t coverage_information = 0;  // ext-coverage-information extensions read so far
};

// A basic_parser handler that follows normalise_response, render_in_version and apply_options over
// the parser's events and stops at the first thing any of them would change. Extensions of a
// system action's resource are built (small trees, in `scratch`) so that coverage information is
// read and compared by the same code as on the tree path.
class relay_reader
{
public:
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    relay_reader(std::string_view text, const core::hook_request& request, core::crd_version version, std::size_t cards_kept,
        json::storage_ptr scratch, unsigned char* stack_buffer, std::size_t stack_buffer_size)
        : text_(text)
        , request_(request)
        , version_(version)
        , cards_kept_(cards_kept)
        , scratch_(std::move(scratch))
        , element_(json::storage_ptr(), stack_buffer, stack_buffer_size)
    {
    }

    std::string_view why_not() const noexcept { return why_not_; }

    static bool on_document_begin(json::error_code& /*ec*/) { return true; }
    bool on_document_end(json::error_code& ec)
    {
        // A safeguard: the root's first key must be cards, holding an array, and {} is refused
        // when it closes.
        if (!cards_seen_)
            return refuse("the answer has no cards", ec);
        return true;
    }

    bool on_object_begin(json::error_code& ec)
    {
        place child = place::other;
        if (!enter(value_kind::object, child, ec))
            return false;
        return open(child, true, ec);
    }
    bool on_object_end(std::size_t n, json::error_code& ec)
    {
        const open_container closed = frames_[--depth_];
        key_count_ = closed.keys_from;
        if (building_)
            element_.push_object(n);
        if (n == 0 && !empty_allowed(closed))
            return refuse(depth_ == 0 ? "the answer has no cards" : "a member is an empty object", ec);
        switch (closed.where)
        {
        case place::card:
            if (!card_done(ec))
                return false;
            break;
        case place::link:
            if (!link_done(ec))
                return false;
            break;
        case place::action:
            if (!action_done(ec))
                return false;
            break;
        default: break;
        }
        return value_done(ec);
    }
    bool on_array_begin(json::error_code& ec)
    {
        place child = place::other;
        if (!enter(value_kind::array, child, ec))
            return false;
        return open(child, false, ec);
    }
    bool on_array_end(std::size_t n, json::error_code& ec)
    {
        const open_container closed = frames_[--depth_];
        if (building_)
            element_.push_array(n);
        if (n == 0 && !empty_allowed(closed))
            return refuse(closed.where == place::actions ? "systemActions is empty" : "a member is an empty array", ec);
        return value_done(ec);
    }

    bool on_key_part(json::string_view /*s*/, std::size_t /*n*/, json::error_code& ec) { return refuse("a key is written with an escape", ec); }
    bool on_key(json::string_view s, std::size_t n, json::error_code& ec)
    {
        // One with an escape comes unescaped in the parser's own buffer (in one piece when the
        // escape is its first character and it fits that buffer, else in parts), which the next
        // escape overwrites: the keys compared for repeats must be the text's own.
        if (n != s.size() || !in_text(s))
            return refuse("a key is written with an escape", ec);
        open_container& object = frames_[depth_ - 1];
        const std::string_view key(s.data(), s.size());
        // A key given twice: the tree keeps the last, a reader of the text may take the first.
        for (std::size_t i = object.keys_from; i < key_count_; ++i)
            if (keys_[i] == key)  // NOLINT(cppcoreguidelines-pro-bounds-constant-array-index): i < key_count_ <= size
                return refuse("a key is given twice in one object", ec);
        if (key_count_ == keys_.size())
            return refuse("too many keys open at once to check", ec);
        keys_[key_count_++] = key_text{key.data(), key.size()};  // NOLINT(cppcoreguidelines-pro-bounds-constant-array-index): checked above
        if (building_)
            element_.push_key(s);
        if (object.where == place::root)
        {
            // {"cards": ...} or {"cards": ..., "systemActions": ...}: anything else is rebuilt.
            const std::size_t index = key_count_ - 1 - object.keys_from;
            if (index == 0 && key == "cards")
                pending_ = field::cards;
            else if (index == 1 && key == "systemActions")
                pending_ = field::system_actions;
            else
                return refuse("the answer has members other than cards, then systemActions", ec);
            return true;
        }
        if (object.where == place::card && key == "suggestions")
            return refuse("a card has suggestions", ec);
        if (object.where == place::link && key == "appContext")
            link_.app_context = true;  // any value: an absolute link loses it
        pending_ = field_of(object.where, key);
        return true;
    }

    // A string with an escape comes in parts: the text before the first escape, then the rest
    // unescaped (more parts for a long one). The parts are put together, so that a rule reads the
    // whole value, as the tree holds it ("https:\/\/..." as https://...).
    bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/)
    {
        string_parts_.append(s.data(), s.size());
        string_in_parts_ = true;
        if (building_)
            element_.push_chars(s);
        return true;
    }
    bool on_string(json::string_view last, std::size_t n, json::error_code& ec)
    {
        std::string_view s(last.data(), last.size());
        if (string_in_parts_)
        {
            string_parts_.append(s);
            s = string_parts_;
        }
        const bool ok = read_value_string(last, s, n, ec);
        string_parts_.clear();
        string_in_parts_ = false;
        return ok;
    }

private:
    // `last` is the parser's last part, `s` the whole string.
    bool read_value_string(json::string_view last, std::string_view s, std::size_t n, json::error_code& ec)
    {
        const bool was_building = building_;
        place child = place::other;
        if (!enter(value_kind::string, child, ec))
            return false;
        if (building_)
        {
            // Inside an extension its parts went to the builder as they came; an extension that is
            // itself a string came before building began.
            if (was_building)
                element_.push_string(last);
            else
                element_.push_string(json::string_view(s.data(), s.size()));
        }
        if (n == 0 && depth_ != 0 && frames_[depth_ - 1].is_object)
            return refuse("a member is an empty string", ec);
        if (!read_string(s, n, ec))
            return false;
        return value_done(ec);
    }

public:
    static bool on_number_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
    bool on_int64(std::int64_t i, json::string_view /*s*/, json::error_code& ec)
    {
        place child = place::other;
        if (!enter(value_kind::number, child, ec))
            return false;
        if (building_)
            element_.push_int64(i);
        return value_done(ec);
    }
    bool on_uint64(std::uint64_t u, json::string_view /*s*/, json::error_code& ec)
    {
        place child = place::other;
        if (!enter(value_kind::number, child, ec))
            return false;
        if (building_)
            element_.push_uint64(u);
        return value_done(ec);
    }
    bool on_double(double d, json::string_view /*s*/, json::error_code& ec)
    {
        if (!std::isfinite(d))
            return refuse("a number is outside double range", ec);  // the tree path answers it
        place child = place::other;
        if (!enter(value_kind::number, child, ec))
            return false;
        if (building_)
            element_.push_double(d);
        return value_done(ec);
    }
    bool on_bool(bool b, json::error_code& ec)
    {
        place child = place::other;
        if (!enter(value_kind::boolean, child, ec))
            return false;
        if (building_)
            element_.push_bool(b);
        return value_done(ec);
    }
    bool on_null(json::error_code& ec)
    {
        place child = place::other;
        if (!enter(value_kind::null, child, ec))
            return false;
        if (depth_ != 0 && frames_[depth_ - 1].is_object)
            return refuse("a member is null", ec);
        if (building_)
            element_.push_null();
        return value_done(ec);
    }
    static bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
    static bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }

private:
    // Whether `s` lies in the text: read straight from it, not unescaped into the parser's buffer.
    bool in_text(json::string_view s) const noexcept
    {
        const auto begin = reinterpret_cast<std::uintptr_t>(text_.data());
        const auto at = reinterpret_cast<std::uintptr_t>(s.data());
        return at >= begin && at + s.size() <= begin + text_.size();
    }

    // `s` as a view that outlives this callback: the text's own bytes, or a copy of an unescaped
    // string into `storage` (the parser reuses its buffer).
    std::string_view kept(std::string_view s, std::string& storage) const
    {
        if (in_text(json::string_view(s.data(), s.size())))
            return s;
        storage.assign(s);
        return storage;
    }

    bool refuse(std::string_view why, json::error_code& ec)
    {
        if (why_not_.empty())
            why_not_ = why;
        ec = json::error::exception;  // any error: the parser stops here
        return false;
    }

    // A value begins in the open container: which place it opens (containers), and whether the
    // rules allow its kind there. Sets current_ to the member it is the value of.
    [[gnu::always_inline]] bool enter(value_kind kind, place& child, json::error_code& ec)
    {
        current_ = field::none;
        if (depth_ == 0)
        {
            if (kind != value_kind::object)
                return refuse("the answer is not an object", ec);
            child = place::root;
            return true;
        }
        const open_container& parent = frames_[depth_ - 1];
        if (parent.is_object)
        {
            current_ = pending_;
            pending_ = field::none;
        }
        if (building_)
            return true;  // inside an extension: only unique keys and no empty member
        switch (parent.where)
        {
        case place::root:
            if (kind != value_kind::array)
                return refuse(current_ == field::cards ? "cards is not an array" : "systemActions is not an array", ec);
            child = current_ == field::cards ? place::cards : place::actions;
            cards_seen_ = cards_seen_ || current_ == field::cards;
            return true;
        case place::cards:
            if (kind != value_kind::object)
                return refuse("a card is not an object", ec);
            child = place::card;
            card_ = {};
            return true;
        case place::card:
            if (current_ == field::source)
            {
                if (kind != value_kind::object)
                    return refuse("a card's source is not an object", ec);
                child = place::source;
            }
            else if (current_ == field::links)
            {
                if (kind != value_kind::array)
                    return refuse("a card's links is not an array", ec);
                child = place::links;
            }
            return true;
        case place::source:
            if (current_ == field::topic && kind == value_kind::object)
                child = place::topic;  // a topic of another kind leaves topic_code false: refused with the card
            return true;
        case place::links:
            if (kind != value_kind::object)
                return refuse("a link is not an object", ec);
            child = place::link;
            link_ = {};
            return true;
        case place::actions:
            if (kind != value_kind::object)
                return refuse("a system action is not an object", ec);
            child = place::action;
            action_ = {};
            resource_ = {};
            return true;
        case place::action:
            if (current_ == field::resource && kind == value_kind::object)
            {
                child = place::resource;
                action_.resource_object = true;
            }
            return true;
        case place::resource:
            if (current_ == field::extension && kind == value_kind::array)
                child = place::extensions;
            return true;
        case place::extensions:
            // One extension of the resource: built, so that coverage information is read by the
            // tree path's own code (extension_done).
            building_ = true;
            element_depth_ = depth_;
            element_.reset(scratch_);
            return true;
        default: return true;
        }
    }

    bool open(place child, bool is_object, json::error_code& ec)
    {
        if (depth_ == frames_.size())
            return refuse("nested too deep", ec);
        frames_[depth_++] = open_container{child, is_object, static_cast<std::uint32_t>(key_count_)};
        pending_ = field::none;
        return true;
    }

    // An empty array or object is pruned where it is a member of a card, an action or anything in
    // them; elements of arrays are kept. The answer's own `cards` may be empty.
    bool empty_allowed(const open_container& closed) const noexcept
    {
        if (depth_ == 0)
            return false;  // {}: no cards (on_document_end would say so too)
        const open_container& parent = frames_[depth_ - 1];
        return !parent.is_object || closed.where == place::cards;
    }

    // A whole value was read: an extension of a resource is complete when the reader is back in
    // the resource's extension array.
    bool value_done(json::error_code& ec)
    {
        if (building_ && depth_ == element_depth_)
        {
            building_ = false;
            return extension_done(element_.release(), ec);
        }
        return true;
    }

    [[gnu::always_inline]] bool read_string(std::string_view s, std::size_t n, json::error_code& ec)
    {
        if (building_ || depth_ == 0)
            return true;
        const place where = frames_[depth_ - 1].where;
        switch (where)
        {
        case place::card:
            if (current_ == field::summary)
                card_.summary = n <= 139;  // longer is cut (check_card); n is its unescaped size
            else if (current_ == field::indicator)
            {
                card_.indicator = s == "info" || s == "warning" || s == "critical";
                card_.severity = card_severity(s);
            }
            else if (current_ == field::uuid)
                card_.uuid = true;
            return true;
        case place::source:
            if (current_ == field::label)
                card_.label = true;
            return true;
        case place::topic:
            if (current_ == field::code || current_ == field::system)
            {
                if (current_ == field::code)
                {
                    card_.topic_code = true;
                    card_.code = kept(s, code_storage_);
                }
                else
                {
                    card_.system_is_string = true;
                    card_.system = kept(s, system_storage_);
                }
            }
            return true;
        case place::link:
            if (current_ == field::label)
                link_.label = true;
            else if (current_ == field::type || current_ == field::url)
            {
                if (current_ == field::type)
                    link_.type = s == "absolute" ? link_type::absolute : s == "smart" ? link_type::smart : link_type::none;
                else
                    link_.url = core::is_http_url(s);
            }
            return true;
        case place::action:
            if (current_ == field::type)
            {
                action_.type = s == "create"   ? action_type::create
                               : s == "update" ? action_type::update
                               : s == "delete" ? action_type::remove
                                               : action_type::none;
            }
            else if (current_ == field::resource_id)
                action_.resource_id = true;
            else if (current_ == field::description)
                action_.description = true;
            return true;
        case place::resource:
            if (current_ == field::resource_type)
            {
                resource_.has_type = true;
                resource_.type_read = true;
                resource_.type = kept(s, type_storage_);
            }
            else if (current_ == field::id)
            {
                resource_.id_read = true;
                resource_.id = kept(s, id_storage_);
            }
            else
                return true;
            // 2.1+: said as soon as it is known, so the pass stops before reading the rest of the
            // resource (most of such an answer) only to hand it to the tree path. (remote_decision
            // does not try the pass for a 2.1+ request that holds orders at all; this keeps the
            // reader right on its own, as its tests call it.)
            if (version_ >= core::crd_version::v2_1 && resource_.type_read && resource_.id_read && holds_order())
                return refuse("a system action's resource is an order the request holds, in 2.1+", ec);
            return true;
        default: return true;
        }
    }

    bool card_done(json::error_code& ec)
    {
        if (!card_.summary || !card_.indicator || !card_.label)
            return refuse("a card's summary, indicator or source.label would drop or cut it", ec);
        if (!card_.topic_code)
            return refuse("a card's source.topic has no code", ec);
        if (!card_.uuid)
            return refuse("a card has no uuid", ec);
        // render_in_version: a card type's topic says the version's CodeSystem.
        if (crd_card_types().count(card_.code) == 1)
        {
            const std::string_view wanted = version_ >= core::crd_version::v2_2 ? cdshooks_card_type_system : crd_card_type_system;
            if (!card_.system_is_string ||
                ((card_.system == crd_card_type_system || card_.system == cdshooks_card_type_system) && card_.system != wanted))
                return refuse("a card's topic system is not the caller's version's", ec);
        }
        // apply_options: the most severe first, at most max-cards of them.
        if (card_.severity < last_severity_)
            return refuse("the cards are not the most severe first", ec);
        last_severity_ = card_.severity;
        if (++cards_ > cards_kept_)
            return refuse("more cards than the caller keeps", ec);
        return true;
    }

    bool link_done(json::error_code& ec)
    {
        if (!link_.label || link_.type == link_type::none || !link_.url)
            return refuse("a link is invalid", ec);
        if (link_.type == link_type::absolute && link_.app_context)
            return refuse("an absolute link has an appContext", ec);
        return true;
    }

    bool action_done(json::error_code& ec)
    {
        const bool has_resource = action_.resource_object && resource_.has_type;
        if (action_.type == action_type::none)
            return refuse("a system action's type is not create, update or delete", ec);
        if (action_.type == action_type::remove ? !has_resource && !action_.resource_id : !has_resource)
            return refuse("a system action lacks the resource or resourceId its type needs", ec);
        if (!action_.description)
            return refuse("a system action has no description", ec);
        // 2.1+: an update of an order the request holds is compared with the order as sent, on the tree.
        if (resource_.coverage_information != 0 && version_ >= core::crd_version::v2_1 && holds_order())
            return refuse("coverage information for an order the request holds, in 2.1+", ec);
        return true;
    }

    // order_as_sent's look-up: a resourceType or id that is not a string is looked up as "".
    bool holds_order() const noexcept
    {
        for (const auto& item : request_.items)
            if (item.resource && item.resource_type == resource_.type && item.id == resource_.id)
                return true;
        return false;
    }

    // One extension of a resource, built: coverage information must read, say exactly what the
    // caller's version would (rerender_coverage_information leaves it as it is), and come after
    // the resource's other extensions (rerender_resource moves it there otherwise).
    bool extension_done(json::value extension, json::error_code& ec)
    {
        if (!is_coverage_information(extension))
        {
            if (resource_.coverage_information != 0)
                return refuse("an extension comes after coverage information", ec);
            return true;
        }
        coverage_assertion assertion;
        rendering_report rendering;
        if (!read_coverage_information(extension.get_object(), assertion, rendering))
            return refuse("coverage information without covered", ec);
        if (rerender_coverage_information(extension.get_object(), std::move(assertion), version_, rendering) || rendering.changed() ||
            !rendering.notes.empty())
            return refuse("coverage information is not as the caller's version says it", ec);
        ++resource_.coverage_information;
        return true;
    }

    const std::string_view text_;
    const core::hook_request& request_;
    const core::crd_version version_;
    const std::size_t cards_kept_;
    json::storage_ptr scratch_;
    json::value_stack element_;  // the extension being built
    bool building_ = false;
    std::size_t element_depth_ = 0;  // depth_ of the extension array while building an element of it

    // Left uninitialised: an element is written before it is read (depth_, key_count_).
    std::array<open_container, core::max_json_depth + 1> frames_;  // NOLINT(cppcoreguidelines-pro-type-member-init)
    std::size_t depth_ = 0;
    std::array<key_text, 256> keys_;  // NOLINT(cppcoreguidelines-pro-type-member-init): the keys of every open object, outermost first
    std::size_t key_count_ = 0;
    field pending_ = field::none;  // the member whose value the parser reads next
    field current_ = field::none;  // the member whose value is being read
    bool string_in_parts_ = false;
    std::string string_parts_;  // the parts of the string being read, put together

    bool cards_seen_ = false;
    std::size_t cards_ = 0;
    int last_severity_ = 0;
    card_facts card_;
    link_facts link_;
    action_facts action_;
    resource_facts resource_;
    std::string_view why_not_;
    // Unescaped values read before they are used (kept()).
    std::string code_storage_;
    std::string system_storage_;
    std::string type_storage_;
    std::string id_storage_;
};

}  // namespace

relay_verdict relayable_as_written(std::string_view text, const core::hook_request& request, core::crd_version version, std::size_t cards_kept)
{
    // The extensions built on the way live here: coverage information is a few hundred bytes.
    std::array<unsigned char, 4096> scratch_bytes;  // NOLINT(cppcoreguidelines-pro-type-member-init): the resource writes before it reads
    json::monotonic_resource scratch(scratch_bytes.data(), scratch_bytes.size());
    // Boost's value stack uses it as json::value storage without aligning it.
    alignas(json::value) std::array<unsigned char, 2048> stack_bytes;  // NOLINT(cppcoreguidelines-pro-type-member-init): as above
    json::parse_options options;
    options.max_depth = core::max_json_depth;  // as parse_document: a text it refuses is refused here too
    json::basic_parser<relay_reader> parser(
        options, text, request, version, cards_kept, json::storage_ptr(&scratch), stack_bytes.data(), stack_bytes.size());
    json::error_code ec;
    const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (ec)
    {
        const std::string_view why = parser.handler().why_not();
        return {false, why.empty() ? std::string_view("not JSON the tree path reads") : why};
    }
    if (used < text.size())
        return {false, "text after the answer"};
    return {true, {}};
}

}  // namespace crd::decision
