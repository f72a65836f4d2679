#include <crd/core/hook_request.hpp>
#include <crd/core/crd_version.hpp>
#include <crd/core/text.hpp>
#include <crd/core/url.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace json = boost::json;

namespace crd::core {
namespace {

// Request resource types CRD allows in draftOrders (CRD hooks.md + deviations: CommunicationRequest, Task).
constexpr std::array<std::string_view, 7> order_types{
    "DeviceRequest",
    "MedicationRequest",
    "NutritionOrder",
    "ServiceRequest",
    "VisionPrescription",
    "CommunicationRequest",
    "Task",
};

constexpr std::array<std::string_view, 4> user_types{"Practitioner", "PractitionerRole", "Patient", "RelatedPerson"};

// ASCII classes written out instead of <cctype>'s, which go through the locale's table for every
// byte: these checks run over every id and token of every request (and FHIR ids are ASCII anyway).
constexpr bool is_ascii_upper(char c) noexcept
{
    return c >= 'A' && c <= 'Z';
}
constexpr bool is_ascii_alpha(char c) noexcept
{
    return is_ascii_upper(c) || (c >= 'a' && c <= 'z');
}
constexpr bool is_ascii_alnum(char c) noexcept
{
    return is_ascii_alpha(c) || (c >= '0' && c <= '9');
}

template <std::size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set)
{
    return std::find(set.begin(), set.end(), s) != set.end();
}

std::string list_of(const auto& set)
{
    std::string out;
    for (auto s : set)
        out += (out.empty() ? "" : ", ") + std::string(s);
    return out;
}

// Every rule returns its refusal as a value; CRD_TRY passes a refusal up (the idiom of
// BOOST_OUTCOME_TRY), so each rule stays a one-liner and a bad request costs no exception.
// CRD_TRY_ASSIGN is several statements: always inside braces.
#define CRD_CONCAT_INNER(a, b) a##b
#define CRD_CONCAT(a, b) CRD_CONCAT_INNER(a, b)
#define CRD_TRY(expr)                                   \
    if (auto crd_tried = (expr); crd_tried.has_error()) \
    return std::move(crd_tried).error()
#define CRD_TRY_ASSIGN(lhs, expr)                                   \
    auto CRD_CONCAT(crd_tried_, __LINE__) = (expr);                 \
    if (CRD_CONCAT(crd_tried_, __LINE__).has_error())               \
        return std::move(CRD_CONCAT(crd_tried_, __LINE__)).error(); \
    lhs = *CRD_CONCAT(crd_tried_, __LINE__)

template <class T>
using checked = result<T, error>;
using checked_void = result<void, error>;

// A field's path in the request ("context.draftOrders.entry[0].resource.id"), spelled out only
// when a refusal names it: an accepted request, nearly every call, builds none of these strings.
// A child refers to its parent, which must outlive it (both live on the validating call's stack).
class field_path
{
public:
    // A whole path written out, e.g. "context.userId".
    field_path(const char* whole) : name_(whole) {}  // NOLINT(google-explicit-constructor): paths are written as literals
    field_path(const field_path& parent, std::string_view member) : parent_(&parent), name_(member) {}
    field_path(const field_path& parent, std::size_t index) : parent_(&parent), index_(index), is_index_(true) {}

    std::string str() const
    {
        std::string out = parent_ ? parent_->str() : std::string();
        if (is_index_)
            return out + "[" + std::to_string(index_) + "]";
        if (parent_)
            out += '.';
        return out.append(name_);
    }

private:
    const field_path* parent_ = nullptr;
    std::string_view name_;
    std::size_t index_ = 0;
    bool is_index_ = false;
};

error too_many(const field_path& at, std::size_t count, std::string_view limit_name, std::size_t limit)
{
    std::string path = at.str();
    auto detail = path + " has " + std::to_string(count) + " entries; this server accepts at most " + std::to_string(limit) + " (" +
                  std::string(limit_name) + ")";
    return {request_errc::too_many, std::move(detail), std::move(path)};
}

error fail(request_errc code, const field_path& at, std::string_view message)
{
    std::string path = at.str();
    auto detail = path + " " + std::string(message);
    return {code, std::move(detail), std::move(path)};
}

std::string quoted(std::string_view s)
{
    return "'" + quote_for_diagnostics(s) + "'";
}

// `for_hook`: the hook that requires the member, named in the refusal ("is required for order-sign").
checked<const json::value*> require(const json::object& obj, std::string_view key, const field_path& path, std::string_view for_hook = {})
{
    const json::value* v = obj.if_contains(key);
    if (!v)
        return fail(request_errc::missing, path, for_hook.empty() ? std::string("is required") : "is required for " + std::string(for_hook));
    return v;
}

checked<std::string_view> as_string(const json::value& v, const field_path& path)
{
    if (!v.is_string())
        return fail(request_errc::wrong_structure, path, "must be a string");
    if (v.get_string().empty())
        return fail(request_errc::bad_value, path, "must not be empty");
    return std::string_view(v.get_string());
}

checked<const json::object*> as_object(const json::value& v, const field_path& path)
{
    if (!v.is_object())
        return fail(request_errc::wrong_structure, path, "must be a JSON object");
    return &v.get_object();
}

checked<const json::array*> as_nonempty_array(const json::value& v, const field_path& path)
{
    if (!v.is_array())
        return fail(request_errc::wrong_structure, path, "must be an array");
    if (v.get_array().empty())
        return fail(request_errc::bad_value, path, "must not be empty");
    return &v.get_array();
}

// The required member `key` of `obj`, as a string / an object; `path` is the member's.
checked<std::string_view> required_string(const json::object& obj, std::string_view key, const field_path& path, std::string_view for_hook = {})
{
    CRD_TRY_ASSIGN(const json::value* v, require(obj, key, path, for_hook));
    return as_string(*v, path);
}
checked<const json::object*> required_object(const json::object& obj, std::string_view key, const field_path& path, std::string_view for_hook = {})
{
    CRD_TRY_ASSIGN(const json::value* v, require(obj, key, path, for_hook));
    return as_object(*v, path);
}

checked<std::string_view> fhir_id_field(const json::value& v, const field_path& path)
{
    CRD_TRY_ASSIGN(auto s, as_string(v, path));
    if (!is_fhir_id(s))
        return fail(request_errc::bad_value, path, "must be a FHIR id (letters, digits, '-' and '.', at most 64), got " + quoted(s));
    return s;
}

checked<std::string_view> reference_field(const json::value& v, const field_path& path)
{
    CRD_TRY_ASSIGN(auto s, as_string(v, path));
    if (!is_relative_reference(s))
        return fail(request_errc::bad_value, path, "must be a reference of the form Type/id, got " + quoted(s));
    return s;
}

std::string_view type_of(std::string_view reference)
{
    return reference.substr(0, reference.find('/'));
}

std::string_view id_of(std::string_view reference)
{
    return reference.substr(reference.find('/') + 1);
}

checked_void check_user(const json::object& ctx, hook_request& out, bool required, std::string_view hook)
{
    const json::value* v = ctx.if_contains("userId");
    if (!v)
    {
        if (required)
            return fail(request_errc::missing, "context.userId", "is required for " + std::string(hook));
        return {};
    }
    CRD_TRY_ASSIGN(out.user_id, reference_field(*v, "context.userId"));
    if (!one_of(type_of(out.user_id), user_types))
        return fail(request_errc::bad_value, "context.userId", "must reference one of " + list_of(user_types));
    return {};
}

// The first item (from index `first` on) that is the same resource as an earlier one, if any. Up
// to a few dozen items a scan costs less than sorting; above that a sort keeps a request of many
// orders O(n log n) whatever ids the caller chose: no hash table to flood, and no allocation per
// item (issue 19: a std::set of them cost 1.2k instructions per order).
std::optional<std::size_t> first_repeat(const std::vector<request_item>& items, std::size_t first)
{
    constexpr std::size_t max_scanned = 32;
    const auto same = [](const request_item& a, const request_item& b) { return a.id == b.id && a.resource_type == b.resource_type; };
    const std::size_t n = items.size() - first;
    if (n <= max_scanned)
    {
        for (std::size_t i = first + 1; i < items.size(); ++i)
            for (std::size_t k = first; k < i; ++k)
                if (same(items[k], items[i]))
                    return i;
        return std::nullopt;
    }
    // Sorted by id (ids tell orders apart at their first bytes; their types are mostly one), type
    // and position: equal resources are adjacent, in request order, and each group's second is
    // its first repetition.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), first);
    // Any order that keeps equal resources together will do: by length before bytes is cheaper
    // than the lexicographic compare (ids are short and mostly differ in length or early).
    const auto shorter_or_less = [](std::string_view x, std::string_view y) -> int {
        if (x.size() != y.size())
            return x.size() < y.size() ? -1 : 1;
        return x.empty() ? 0 : std::memcmp(x.data(), y.data(), x.size());
    };
    std::sort(order.begin(), order.end(), [&items, &shorter_or_less](std::size_t a, std::size_t b) {
        if (const int by_id = shorter_or_less(items[a].id, items[b].id); by_id != 0)
            return by_id < 0;
        if (const int by_type = shorter_or_less(items[a].resource_type, items[b].resource_type); by_type != 0)
            return by_type < 0;
        return a < b;
    });
    std::optional<std::size_t> found;
    for (std::size_t j = 1; j < n; ++j)
        if (same(items[order[j - 1]], items[order[j]]) && (!found || order[j] < *found))
            found = order[j];
    return found;
}

// A Bundle of resources of the allowed types, each with an id: its entries' resources become
// request items, in order.
checked_void check_orders(
    const json::object& ctx, std::string_view key, std::string_view hook, const auto& allowed, hook_request& out, const request_limits& limits)
{
    const field_path context("context");
    const field_path path(context, key);
    CRD_TRY_ASSIGN(const json::object* bundle, required_object(ctx, key, path, hook));
    const json::value* rt = bundle->if_contains("resourceType");
    if (!rt || !rt->is_string() || rt->get_string() != "Bundle")
        return fail(request_errc::wrong_structure, field_path(path, "resourceType"), "must be \"Bundle\"");
    const field_path entries_path(path, "entry");
    const json::value* entries = bundle->if_contains("entry");
    if (!entries)
        return fail(request_errc::missing, entries_path, "is required: " + path.str() + " must contain at least one resource");
    CRD_TRY_ASSIGN(const json::array* arr, as_nonempty_array(*entries, entries_path));
    if (arr->size() > limits.max_orders)
        return too_many(entries_path, arr->size(), "limits.max_orders", limits.max_orders);

    const std::size_t first = out.items.size();
    out.items.reserve(first + arr->size());
    const auto check_entry = [&](std::size_t i) -> checked_void {
        const field_path entry_path(entries_path, i);
        CRD_TRY_ASSIGN(const json::object* entry, as_object((*arr)[i], entry_path));
        const field_path res_path(entry_path, "resource");
        CRD_TRY_ASSIGN(const json::object* resource, required_object(*entry, "resource", res_path));
        const field_path type_path(res_path, "resourceType");
        CRD_TRY_ASSIGN(auto type, required_string(*resource, "resourceType", type_path));
        if (!one_of(type, allowed))
            return fail(request_errc::bad_value, type_path, quoted(type) + " is not allowed here; expected one of " + list_of(allowed));
        const field_path id_path(res_path, "id");
        CRD_TRY_ASSIGN(const json::value* id_value, require(*resource, "id", id_path));
        CRD_TRY_ASSIGN(auto id, fhir_id_field(*id_value, id_path));
        out.items.push_back({type, id, resource, true, {}});
        return {};
    };
    // Repeats are looked for once every entry is read, but reported as a check of each entry in
    // turn would: the first repetition, unless an entry before it was refused for something else.
    const auto repeat_error = [&](std::size_t at) {
        const request_item& item = out.items[at];
        // Each path names its parent: all three live until fail() has written the path out.
        const field_path entry_path(entries_path, at - first);
        const field_path res_path(entry_path, "resource");
        const field_path id_path(res_path, "id");
        return fail(request_errc::bad_value, id_path,
            "repeats " + quoted(std::string(item.resource_type) + "/" + std::string(item.id)) + " in the same Bundle");
    };
    for (std::size_t i = 0; i < arr->size(); ++i)
        if (auto checked = check_entry(i); checked.has_error())
        {
            if (const auto repeat = first_repeat(out.items, first))
                return repeat_error(*repeat);
            return checked;
        }
    if (const auto repeat = first_repeat(out.items, first))
        return repeat_error(*repeat);
    return {};
}

checked_void check_order_select(const json::object& ctx, hook_request& out, const request_limits& limits)
{
    const field_path selections_path("context.selections");
    CRD_TRY_ASSIGN(const json::value* selections_value, require(ctx, "selections", selections_path, "order-select"));
    CRD_TRY_ASSIGN(const json::array* selections, as_nonempty_array(*selections_value, selections_path));
    if (selections->size() > limits.max_selections)
        return too_many(selections_path, selections->size(), "limits.max_selections", limits.max_selections);
    // Indexed once: a scan of every order per selection was quadratic in the caller's input.
    std::unordered_map<std::string, request_item*> by_reference;
    by_reference.reserve(out.items.size());
    for (auto& item : out.items)
    {
        item.selected = false;
        by_reference.emplace(std::string(item.resource_type) + "/" + std::string(item.id), &item);
    }
    for (std::size_t i = 0; i < selections->size(); ++i)
    {
        const field_path path(selections_path, i);
        CRD_TRY_ASSIGN(auto ref, reference_field((*selections)[i], path));
        const auto it = by_reference.find(std::string(ref));
        if (it == by_reference.end())
            return fail(request_errc::bad_value, path, quoted(ref) + " does not match any resource in context.draftOrders");
        it->second->selected = true;
    }
    return {};
}

checked_void check_task(const json::value& t, const field_path& path, hook_request& out)
{
    CRD_TRY_ASSIGN(const json::object* task, as_object(t, path));
    const json::value* rt = task->if_contains("resourceType");
    if (!rt || !rt->is_string() || rt->get_string() != "Task")
        return fail(request_errc::wrong_structure, field_path(path, "resourceType"), "must be \"Task\"");
    out.tasks.push_back(task);
    return {};
}

// order-dispatch has three published context shapes (checklist CTX-01): v1.0 {order, task},
// v1.1 {dispatchedOrders, fulfillmentTasks} and the interim hyphenated names. All become items + tasks.
checked_void check_order_dispatch(const json::object& ctx, hook_request& out, const request_limits& limits)
{
    CRD_TRY_ASSIGN(const json::value* performer, require(ctx, "performer", "context.performer", "order-dispatch"));
    CRD_TRY_ASSIGN(out.performer, reference_field(*performer, "context.performer"));

    const field_path context("context");
    static constexpr std::array<std::string_view, 3> order_keys{"dispatchedOrders", "dispatched-orders", "order"};
    std::string_view used;
    for (auto key : order_keys)
    {
        if (!ctx.contains(key))
            continue;
        if (!used.empty())
            return fail(request_errc::wrong_structure, field_path(context, key),
                "cannot be combined with context." + std::string(used) + "; send one list of dispatched orders");
        used = key;
    }
    if (used.empty())
        return fail(request_errc::missing, "context.dispatchedOrders", "is required for order-dispatch (or context.order in order-dispatch 1.0)");

    const field_path used_path(context, used);
    const json::array* list = nullptr;  // null: the single context.order of order-dispatch 1.0
    std::vector<std::string_view> refs;
    if (used == "order")
    {
        CRD_TRY_ASSIGN(auto ref, reference_field(ctx.at("order"), used_path));
        refs.push_back(ref);
    }
    else
    {
        CRD_TRY_ASSIGN(list, as_nonempty_array(ctx.at(used), used_path));
        if (list->size() > limits.max_orders)
            return too_many(used_path, list->size(), "limits.max_orders", limits.max_orders);
        refs.reserve(list->size());
        for (std::size_t i = 0; i < list->size(); ++i)
        {
            CRD_TRY_ASSIGN(auto ref, reference_field((*list)[i], field_path(used_path, i)));
            refs.push_back(ref);
        }
    }
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < refs.size(); ++i)
    {
        const auto ref = refs[i];
        const field_path path = list ? field_path(used_path, i) : used_path;
        if (!one_of(type_of(ref), order_types))
            return fail(request_errc::bad_value, path, "must reference an order (" + list_of(order_types) + ")");
        if (!seen.insert(ref).second)
            return fail(request_errc::bad_value, path, "repeats " + quoted(ref));
        out.items.push_back({type_of(ref), id_of(ref), out.find_prefetched(ref), true, {}});
    }

    static constexpr std::array<std::string_view, 3> task_keys{"fulfillmentTasks", "fulfillment-tasks", "task"};
    std::string_view used_tasks;
    for (auto key : task_keys)
    {
        const json::value* v = ctx.if_contains(key);
        if (!v)
            continue;
        const field_path path(context, key);
        if (!used_tasks.empty())
            return fail(request_errc::wrong_structure, path, "cannot be combined with context." + std::string(used_tasks));
        used_tasks = key;
        if (key == "task")
        {
            CRD_TRY(check_task(*v, path, out));
            continue;
        }
        if (!v->is_array())
            return fail(request_errc::wrong_structure, path, "must be an array of Task resources");
        const auto& arr = v->get_array();
        if (arr.size() > limits.max_orders)
            return too_many(path, arr.size(), "limits.max_orders", limits.max_orders);
        for (std::size_t i = 0; i < arr.size(); ++i)
            CRD_TRY(check_task(arr[i], field_path(path, i), out));
    }
    return {};
}

checked_void check_fhir_authorization(const json::object& doc)
{
    const json::value* v = doc.if_contains("fhirAuthorization");
    if (!v)
        return {};
    const field_path auth_path("fhirAuthorization");
    CRD_TRY_ASSIGN(const json::object* auth, as_object(*v, auth_path));
    if (!doc.contains("fhirServer"))
        return fail(request_errc::missing, "fhirServer", "is required when fhirAuthorization is present");
    // Its members are found in one pass; the rules below still run in their order, so a request
    // that breaks several hears about the same one.
    const json::value* access_token = nullptr;
    const json::value* scope = nullptr;
    const json::value* subject = nullptr;
    const json::value* token_type = nullptr;
    const json::value* expires_in = nullptr;
    const json::value* patient = nullptr;
    for (const auto& member : *auth)
    {
        const std::string_view key = member.key();
        const json::value* value = &member.value();
        if (key == "access_token")
            access_token = value;
        else if (key == "scope")
            scope = value;
        else if (key == "subject")
            subject = value;
        else if (key == "token_type")
            token_type = value;
        else if (key == "expires_in")
            expires_in = value;
        else if (key == "patient")
            patient = value;
    }
    const auto required_string_member = [&](const json::value* member, std::string_view key) -> checked<std::string_view> {
        if (!member)
            return fail(request_errc::missing, field_path(auth_path, key), "is required");
        return as_string(*member, field_path(auth_path, key));
    };
    CRD_TRY_ASSIGN(auto token, required_string_member(access_token, "access_token"));
    CRD_TRY(required_string_member(scope, "scope"));
    CRD_TRY(required_string_member(subject, "subject"));
    // The token is sent as "Authorization: Bearer <token>" to the FHIR server: anything but the
    // RFC 6750 syntax could split that header (request smuggling into the EHR).
    if (!is_token68(token))
        return fail(request_errc::bad_value, "fhirAuthorization.access_token",
            "must be an RFC 6750 Bearer token (letters, digits and -._~+/ with = padding)");
    CRD_TRY_ASSIGN(auto type, required_string_member(token_type, "token_type"));
    if (!iequals(type, "Bearer"))
        return fail(request_errc::bad_value, "fhirAuthorization.token_type", "must be \"Bearer\"");
    if (!expires_in)
        return fail(request_errc::missing, "fhirAuthorization.expires_in", "is required");
    if (!(expires_in->is_uint64() || (expires_in->is_int64() && expires_in->get_int64() >= 0)))
        return fail(request_errc::wrong_structure, "fhirAuthorization.expires_in", "must be a non-negative integer number of seconds");
    if (patient)
        CRD_TRY(as_string(*patient, "fhirAuthorization.patient"));
    return {};
}

checked_void index_prefetch(hook_request& out)
{
    const json::value* v = out.document->get_object().if_contains("prefetch");
    if (!v)
        return {};
    const field_path prefetch_path("prefetch");
    CRD_TRY_ASSIGN(const json::object* prefetch, as_object(*v, prefetch_path));
    out.prefetch = prefetch;
    // try_emplace: no node is built for a type already seen (emplace builds one, then drops it).
    auto add = [&](const json::object& r) {
        const json::value* type = r.if_contains("resourceType");
        if (!type || !type->is_string())
            return;
        out.first_of_type.try_emplace(type->get_string(), &r);  // keeps the first in document order
        const json::value* id = r.if_contains("id");
        if (id && id->is_string())
            out.prefetch_resources.try_emplace({type->get_string(), id->get_string()}, &r);
    };
    for (const auto& kv : *prefetch)
    {
        // null means "the client has no data for this key" (CDS Hooks 2.0 prefetch rules).
        if (kv.value().is_null())
            continue;
        const field_path path(prefetch_path, kv.key());
        CRD_TRY_ASSIGN(const json::object* resource, as_object(kv.value(), path));
        const json::value* type = resource->if_contains("resourceType");
        if (!type || !type->is_string())
            return fail(
                request_errc::wrong_structure, field_path(path, "resourceType"), "is required: prefetch values must be FHIR resources or null");
        if (type->get_string() != "Bundle")
        {
            add(*resource);
            continue;
        }
        out.first_of_type.try_emplace(type->get_string(), resource);
        const json::value* entries = resource->if_contains("entry");
        if (!entries)
            continue;
        if (!entries->is_array())
            return fail(request_errc::wrong_structure, field_path(path, "entry"), "must be an array");
        for (const auto& e : entries->get_array())
            if (e.is_object())
                if (const json::value* r = e.get_object().if_contains("resource"); r && r->is_object())
                    add(r->get_object());
    }
    return {};
}

checked_void check_extension(const json::object& doc, hook_request& out)
{
    const json::value* v = doc.if_contains("extension");
    if (!v)
        return {};
    CRD_TRY_ASSIGN(const json::object* ext, as_object(*v, "extension"));
    if (const json::value* c = ext->if_contains("davinci-crd.configuration"))
    {
        CRD_TRY_ASSIGN(out.configuration, as_object(*c, "extension.davinci-crd.configuration"));
    }
    if (const json::value* requested = ext->if_contains("davinci-crd.requestedVersion"))
    {
        CRD_TRY_ASSIGN(out.version, negotiate_crd_version(*requested));
    }
    return {};
}

checked_void validate(const service_definition& service, hook_request& out, const request_limits& limits)
{
    const json::value& root = *out.document;
    if (!root.is_object())
        return fail(request_errc::wrong_structure, "request", "body must be a JSON object");
    const auto& doc = root.get_object();

    CRD_TRY_ASSIGN(auto hook, required_string(doc, "hook", "hook"));
    if (hook != service.hook)
        return fail(request_errc::bad_value, "hook",
            quoted(hook) + " does not match service " + std::string(service.id) + ", which handles '" + std::string(service.hook) + "'");
    CRD_TRY_ASSIGN(out.hook_instance, required_string(doc, "hookInstance", "hookInstance"));
    // It becomes the X-CDS-Hook-Instance header of the decision call: CR/LF there would let a
    // caller smuggle a request into the decision service's pooled connection.
    if (out.hook_instance.size() > max_hook_instance_bytes)
        return fail(request_errc::bad_value, "hookInstance", "must be at most " + std::to_string(max_hook_instance_bytes) + " bytes");
    if (!has_no_controls(out.hook_instance))
        return fail(request_errc::bad_value, "hookInstance", "must not contain control characters");
    if (const json::value* server = doc.if_contains("fhirServer"))
    {
        CRD_TRY_ASSIGN(out.fhir_server, as_string(*server, "fhirServer"));
        if (!is_http_url(out.fhir_server))
            return fail(request_errc::bad_value, "fhirServer", "must be an absolute http(s) URL");
    }
    CRD_TRY(check_fhir_authorization(doc));
    CRD_TRY(index_prefetch(out));
    CRD_TRY(check_extension(doc, out));

    CRD_TRY_ASSIGN(const json::object* ctx_ptr, required_object(doc, "context", "context"));
    const auto& ctx = *ctx_ptr;
    CRD_TRY_ASSIGN(const json::value* patient, require(ctx, "patientId", "context.patientId", hook));
    CRD_TRY_ASSIGN(out.patient_id, fhir_id_field(*patient, "context.patientId"));
    const bool encounter_hook = service.kind == hook_kind::encounter_start || service.kind == hook_kind::encounter_discharge;
    if (encounter_hook)
    {
        CRD_TRY_ASSIGN(const json::value* encounter, require(ctx, "encounterId", "context.encounterId", hook));
        CRD_TRY_ASSIGN(out.encounter_id, fhir_id_field(*encounter, "context.encounterId"));
    }
    else if (const json::value* enc = ctx.if_contains("encounterId"))
    {
        CRD_TRY_ASSIGN(out.encounter_id, fhir_id_field(*enc, "context.encounterId"));
    }

    switch (service.kind)
    {
    case hook_kind::order_sign: CRD_TRY(check_user(ctx, out, true, hook)); return check_orders(ctx, "draftOrders", hook, order_types, out, limits);
    case hook_kind::order_select:
        CRD_TRY(check_user(ctx, out, true, hook));
        CRD_TRY(check_orders(ctx, "draftOrders", hook, order_types, out, limits));
        return check_order_select(ctx, out, limits);
    case hook_kind::appointment_book:
        CRD_TRY(check_user(ctx, out, true, hook));
        return check_orders(ctx, "appointments", hook, std::array<std::string_view, 1>{"Appointment"}, out, limits);
    case hook_kind::order_dispatch: CRD_TRY(check_user(ctx, out, false, hook)); return check_order_dispatch(ctx, out, limits);
    case hook_kind::encounter_start:
    case hook_kind::encounter_discharge: return check_user(ctx, out, true, hook);
    }
    return {};
}

#undef CRD_TRY_ASSIGN
#undef CRD_TRY
#undef CRD_CONCAT
#undef CRD_CONCAT_INNER

}  // namespace

void locate_item_texts(hook_request& request)
{
    if (request.source_text.empty() || request.service == nullptr)
        return;
    std::string_view bundle;
    switch (request.service->kind)
    {
    case hook_kind::order_sign:
    case hook_kind::order_select: bundle = "draftOrders"; break;
    case hook_kind::appointment_book: bundle = "appointments"; break;
    default: return;  // their items are not a context bundle's entries
    }
    const parse_facts* facts = parse_facts_of(request.document);
    if (facts == nullptr || facts->text.data() != request.source_text.data() || facts->text.size() != request.source_text.size())
        return;
    // The bundle's i-th entry is the i-th item (check_orders reads them in order): never guess
    // when the counts differ.
    std::size_t i = 0;
    bool more_than_items = false;
    for (const auto& r : facts->entry_resources)
        if (r.bundle == bundle)
        {
            if (i == request.items.size())
            {
                more_than_items = true;
                break;
            }
            if (!r.range.empty() && r.range.end <= request.source_text.size())
                request.items[i].text = request.source_text.substr(r.range.begin, r.range.size());
            ++i;
        }
    if (more_than_items || i != request.items.size())
        for (auto& item : request.items)
            item.text = {};
}

std::string quote_for_diagnostics(std::string_view value)
{
    constexpr std::size_t max_quoted = 64;
    std::string out;
    out.reserve(std::min(value.size(), max_quoted) + 3);
    for (char c : value.substr(0, max_quoted))
    {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u >= 0x7f ? '?' : c);
    }
    if (value.size() > max_quoted)
        out += "...";
    return out;
}

bool has_no_controls(std::string_view s) noexcept
{
    return std::none_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

bool is_token68(std::string_view s) noexcept
{
    // 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    std::size_t i = 0;
    while (i < s.size() && (is_ascii_alnum(s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_' || s[i] == '~' || s[i] == '+' || s[i] == '/'))
        ++i;
    if (i == 0)
        return false;
    while (i < s.size() && s[i] == '=')
        ++i;
    return i == s.size();
}

bool is_fhir_id(std::string_view s) noexcept
{
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) { return is_ascii_alnum(c) || c == '-' || c == '.'; });
}

bool is_relative_reference(std::string_view s) noexcept
{
    const auto slash = s.find('/');
    if (slash == std::string_view::npos || slash == 0)
        return false;
    const auto type = s.substr(0, slash);
    const bool type_ok = is_ascii_upper(type.front()) && std::all_of(type.begin(), type.end(), is_ascii_alpha);
    return type_ok && is_fhir_id(s.substr(slash + 1));
}

const json::object* hook_request::first_prefetched(std::string_view resource_type) const
{
    const auto it = first_of_type.find(resource_type);
    return it == first_of_type.end() ? nullptr : it->second;
}

const json::object* hook_request::find_prefetched(std::string_view reference) const
{
    // Absolute references ("http://ehr/fhir/MedicationRequest/1111") match by their last two segments.
    const auto last = reference.rfind('/');
    if (last == std::string_view::npos)
        return nullptr;
    const auto type_start = reference.rfind('/', last - 1);
    const auto key = type_start == std::string_view::npos ? reference : reference.substr(type_start + 1);
    const auto slash = key.find('/');
    if (slash == std::string_view::npos)
        return nullptr;
    const auto it = prefetch_resources.find({key.substr(0, slash), key.substr(slash + 1)});
    return it == prefetch_resources.end() ? nullptr : it->second;
}

std::size_t hook_request::resource_key_hash::operator()(const resource_key& key) const
{
    const std::hash<std::string_view> hash;
    const std::size_t type = hash(key.type);
    return type ^ (hash(key.id) + 0x9e3779b97f4a7c15ULL + (type << 6) + (type >> 2));  // boost::hash_combine's mix
}

result<hook_request, error> validate_hook_request(const service_definition& service, document_ptr document, const request_limits& limits)
{
    hook_request out;
    out.service = &service;
    out.document = std::move(document);
    if (auto checked = validate(service, out, limits); checked.has_error())
        return std::move(checked).error();
    return out;
}

}  // namespace crd::core
