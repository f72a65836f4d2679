// Target: decision::resolve_template, which turns a discovery prefetch template and a caller's
// context into the FHIR query sent (with the caller's token) to its FHIR server.
// Input: a JSON object. Its "context" (or, without one, the object itself) is the context; the
// templates are the server's own discovery templates, any string values under "prefetch" (a
// request's or a discovery service's prefetch object), under "services"[].prefetch (a discovery
// document), and the strings in "templates".
// Properties: no memory or UB error; a template without "{{" resolves to itself.

#include "fuzz_common.hpp"

#include <crd/core/json_document.hpp>
#include <crd/decision/prefetch.hpp>

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace json = boost::json;

namespace {

// The templates crd-server's discovery publishes, and CRD's Bundle/list forms.
const char* const server_templates[] = {
    "Patient/{{context.patientId}}",
    "Coverage?patient={{context.patientId}}&status=active",
    "{{context.userId}}",
    "{{context.performer}}",
    "{{context.order}}",
    "Encounter/{{context.encounterId}}",
    "ServiceRequest?_id={{context.draftOrders.ServiceRequest.id}}",
    "MedicationRequest?_id={{context.draftOrders.MedicationRequest.id}}&_include=MedicationRequest:medication",
    "DeviceRequest?_id={{context.selections.DeviceRequest.id}}",
    "ServiceRequest?_id={{context.dispatchedOrders.ServiceRequest.id}}",
    "Appointment?_id={{context.appointments.Appointment.id}}",
    "Practitioner/{{userPractitionerId}}",
    "PractitionerRole/{{userPractitionerRoleId}}",
    "Patient/{{userPatientId}}",
    "RelatedPerson/{{userRelatedPersonId}}",
    "Encounter/{{ context.encounterId }}",
};

void collect(const json::value* prefetch, std::vector<std::string_view>& out)
{
    if (!prefetch || !prefetch->is_object())
        return;
    for (const auto& kv : prefetch->get_object())
        if (kv.value().is_string())
            out.emplace_back(kv.value().get_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = crd::fuzz::as_text(data, size);
    boost::system::error_code ec;
    auto doc = crd::core::parse_document(text, crd::fuzz::request_max_depth, ec);
    if (!doc || !doc->is_object())
        return 0;
    const json::object& root = doc->get_object();
    const json::value* ctx = root.if_contains("context");
    const json::object& context = ctx && ctx->is_object() ? ctx->get_object() : root;

    std::vector<std::string_view> templates(std::begin(server_templates), std::end(server_templates));
    collect(root.if_contains("prefetch"), templates);
    if (const auto* services = root.if_contains("services"); services && services->is_array())
        for (const auto& s : services->get_array())
            if (s.is_object())
                collect(s.get_object().if_contains("prefetch"), templates);
    if (const auto* list = root.if_contains("templates"); list && list->is_array())
        for (const auto& t : list->get_array())
            if (t.is_string())
                templates.emplace_back(t.get_string());

    for (const auto tmpl : templates)
    {
        const auto query = crd::decision::resolve_template(tmpl, context);
        if (!query)
            continue;
        if (tmpl.find("{{") == std::string_view::npos && *query != tmpl)
            crd::fuzz::broken("a template without tokens did not resolve to itself", *query);
    }
    return 0;
}
