// Target: a hook call body as the server sees it — core::parse_document with the request depth
// limit, then core::validate_hook_request for every service in the catalogue, and the accessors
// and OperationOutcome a handler or the router then uses.
// Properties: no memory or UB error; a refusal is a 4xx problem that names something.

#include "fuzz_common.hpp"

#include <crd/core/hook_request.hpp>
#include <crd/core/hooks.hpp>
#include <crd/core/json_document.hpp>
#include <crd/core/operation_outcome.hpp>

#include <boost/json/serialize.hpp>

#include <string>

namespace json = boost::json;
using crd::fuzz::broken;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto text = crd::fuzz::as_text(data, size);
    for (const auto& service : crd::core::service_catalog())
    {
        // validate_hook_request takes the document: one parse per service.
        boost::system::error_code ec;
        auto doc = crd::core::parse_document(text, crd::fuzz::request_max_depth, ec);
        if (!doc)
            return 0;
        auto result = crd::core::validate_hook_request(service, std::move(doc));
        if (result.has_error())
        {
            const auto p = crd::core::to_problem(result.error());
            if (p.status < 400 || p.status > 499)
                broken("validate_hook_request refused with a status that is not 4xx", p.diagnostics);
            if (p.diagnostics.empty() || result.error().detail.empty())
                broken("validate_hook_request refused without naming the field");
            (void)json::serialize(crd::core::to_operation_outcome(p));
            continue;
        }
        auto& request = *result;
        if (request.service != &service)
            broken("a validated request names another service");
        if (!request.document)
            broken("a validated request has no document");
        std::size_t touched = request.hook_instance.size() + request.patient_id.size() + request.user_id.size() + request.encounter_id.size() +
                              request.performer.size() + request.fhir_server.size();
        for (const auto& item : request.items)
        {
            touched += item.resource_type.size() + item.id.size();
            if (item.resource)
                touched += item.resource->size();
            const std::string reference = std::string(item.resource_type) + "/" + std::string(item.id);
            if (const auto* found = request.find_prefetched(reference))
                touched += found->size();
            (void)crd::core::is_relative_reference(reference);
        }
        for (const auto* task : request.tasks)
            touched += task->size();
        if (request.prefetch)
            touched += request.prefetch->size();
        if (request.configuration)
            touched += request.configuration->size();
        for (const auto& [key, resource] : request.prefetch_resources)
            touched += key.type.size() + key.id.size() + resource->size();
        for (const char* type : {"Coverage", "Patient", "Encounter", "Organization", "Practitioner"})
            if (const auto* r = request.first_prefetched(type))
                touched += r->size();
        (void)request.find_prefetched("http://example.org/fhir/Coverage/1");
        (void)crd::core::is_fhir_id(request.patient_id);
        if (touched == static_cast<std::size_t>(-1))
            return 0;  // keeps the reads above from being optimised away
    }
    return 0;
}
