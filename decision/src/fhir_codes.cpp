#include <crd/decision/fhir_codes.hpp>

#include <boost/json/array.hpp>

namespace json = boost::json;

namespace crd::decision {
namespace {

std::string_view str(const json::object& o, std::string_view key)
{
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

void add_coding(const json::value& v, std::vector<coding>& out)
{
    if (!v.is_object())
        return;
    const auto& c = v.get_object();
    if (const auto code = str(c, "code"); !code.empty())
        out.push_back({str(c, "system"), code, str(c, "display")});
}

void add_concept(const json::value* v, std::vector<coding>& out)
{
    if (!v || !v->is_object())
        return;
    if (const json::value* codings = v->get_object().if_contains("coding"); codings && codings->is_array())
        for (const auto& c : codings->get_array())
            add_coding(c, out);
}

void add_concepts(const json::value* v, std::vector<coding>& out)
{
    if (v && v->is_array())
        for (const auto& c : v->get_array())
            add_concept(&c, out);
    else
        add_concept(v, out);
}

// Follows a Reference to a contained resource ("#med1") or to a prefetched one.
const json::object* resolve(const json::value* ref, const json::object& from, const core::hook_request& request)
{
    if (!ref || !ref->is_object())
        return nullptr;
    const auto target = str(ref->get_object(), "reference");
    if (target.empty())
        return nullptr;
    if (target.front() == '#')
    {
        if (const json::value* contained = from.if_contains("contained"); contained && contained->is_array())
            for (const auto& c : contained->get_array())
                if (c.is_object() && str(c.get_object(), "id") == target.substr(1))
                    return &c.get_object();
        return nullptr;
    }
    return request.find_prefetched(target);
}

void add_reference(const json::value* ref, std::vector<std::string>& out)
{
    if (ref && ref->is_object())
        if (auto r = str(ref->get_object(), "reference"); !r.empty())
            out.emplace_back(relative_reference(r));
}

void add_references(const json::value* refs, std::vector<std::string>& out)
{
    if (refs && refs->is_array())
        for (const auto& r : refs->get_array())
            add_reference(&r, out);
    else
        add_reference(refs, out);
}

}  // namespace

std::string_view relative_reference(std::string_view reference)
{
    const auto last = reference.rfind('/');
    if (last == std::string_view::npos || last == 0)
        return reference;
    const auto type_start = reference.rfind('/', last - 1);
    return type_start == std::string_view::npos ? reference : reference.substr(type_start + 1);
}

std::vector<coding> service_codings(const json::object& resource, const core::hook_request& request)
{
    std::vector<coding> out;
    service_codings(resource, request, out);
    return out;
}

void service_codings(const json::object& resource, const core::hook_request& request, std::vector<coding>& out)
{
    out.clear();
    const auto type = str(resource, "resourceType");
    if (type == "ServiceRequest" || type == "Task")
        add_concept(resource.if_contains("code"), out);
    else if (type == "MedicationRequest")
    {
        add_concept(resource.if_contains("medicationCodeableConcept"), out);
        if (const json::object* med = resolve(resource.if_contains("medicationReference"), resource, request))
            add_concept(med->if_contains("code"), out);
    }
    else if (type == "DeviceRequest")
    {
        add_concept(resource.if_contains("codeCodeableConcept"), out);
        if (const json::object* device = resolve(resource.if_contains("codeReference"), resource, request))
            add_concept(device->if_contains("type"), out);
    }
    else if (type == "NutritionOrder")
    {
        if (const json::value* diet = resource.if_contains("oralDiet"); diet && diet->is_object())
            add_concepts(diet->get_object().if_contains("type"), out);
        if (const json::value* formula = resource.if_contains("enteralFormula"); formula && formula->is_object())
            add_concept(formula->get_object().if_contains("baseFormulaType"), out);
        if (const json::value* supplements = resource.if_contains("supplement"); supplements && supplements->is_array())
            for (const auto& s : supplements->get_array())
                if (s.is_object())
                    add_concept(s.get_object().if_contains("type"), out);
    }
    else if (type == "VisionPrescription")
    {
        if (const json::value* specs = resource.if_contains("lensSpecification"); specs && specs->is_array())
            for (const auto& s : specs->get_array())
                if (s.is_object())
                    add_concept(s.get_object().if_contains("product"), out);
    }
    else if (type == "CommunicationRequest")
    {
        add_concepts(resource.if_contains("category"), out);
        add_concepts(resource.if_contains("reasonCode"), out);
    }
    else if (type == "Appointment")
    {
        add_concepts(resource.if_contains("serviceType"), out);
        add_concept(resource.if_contains("appointmentType"), out);
        add_concepts(resource.if_contains("serviceCategory"), out);
        add_concepts(resource.if_contains("reasonCode"), out);
    }
    else if (type == "Encounter")
    {
        if (const json::value* cls = resource.if_contains("class"))
            add_coding(*cls, out);  // R4 Encounter.class is a Coding
        add_concepts(resource.if_contains("type"), out);
        add_concept(resource.if_contains("serviceType"), out);
    }
}

std::string describe(const json::object& resource, const std::vector<coding>& codings)
{
    std::string built;
    return std::string(describe(resource, codings, built));
}

std::string_view describe(const json::object& resource, const std::vector<coding>& codings, std::string& built)
{
    for (const auto& c : codings)
        if (!c.display.empty())
            return c.display;
    for (std::string_view key : {"code", "medicationCodeableConcept", "codeCodeableConcept", "appointmentType"})
        if (const json::value* v = resource.if_contains(key); v && v->is_object())
            if (auto text = str(v->get_object(), "text"); !text.empty())
                return text;
    if (!codings.empty())
        return codings.front().code;
    built.assign(str(resource, "resourceType")).append("/").append(str(resource, "id"));
    return built;
}

std::vector<std::string> performers(const json::object* resource, const core::hook_request& request)
{
    std::vector<std::string> out;
    if (!request.performer.empty())
        out.emplace_back(request.performer);
    if (!resource)
        return out;
    add_references(resource->if_contains("performer"), out);  // ServiceRequest[], DeviceRequest, MedicationRequest
    if (const json::value* dispense = resource->if_contains("dispenseRequest"); dispense && dispense->is_object())
        add_reference(dispense->get_object().if_contains("performer"), out);
    if (const json::value* participants = resource->if_contains("participant"); participants && participants->is_array())
        for (const auto& p : participants->get_array())  // Appointment: everyone but the patient
            if (p.is_object())
                if (const json::value* actor = p.get_object().if_contains("actor"); actor && actor->is_object())
                    if (str(actor->get_object(), "reference").find("Patient/") == std::string_view::npos)
                        add_reference(actor, out);
    return out;
}

namespace {

// The Coverage an order is billed to (null when the request does not hold it) and, in
// `reference`, the reference that names it.
// The order's first insurance reference as written; empty when it names none.
std::string_view insurance_reference(const json::object* resource)
{
    if (resource)
        if (const json::value* insurance = resource->if_contains("insurance"); insurance && insurance->is_array())
            for (const auto& ref : insurance->get_array())
                if (ref.is_object())
                    if (auto r = str(ref.get_object(), "reference"); !r.empty())
                        return r;
    return {};
}

// The Coverage an order is billed to: the one its insurance reference names (`insurance`, from
// insurance_reference), else the request's first.
const json::object* locate_coverage(std::string_view insurance, const core::hook_request& request, std::string& reference)
{
    if (!insurance.empty())
    {
        reference = std::string(relative_reference(insurance));
        return request.find_prefetched(insurance);
    }
    const json::object* coverage = request.first_prefetched("Coverage");
    if (coverage && !str(*coverage, "id").empty())
        reference = "Coverage/" + std::string(str(*coverage, "id"));
    return coverage;
}

// What coverage_ref says of the Coverage itself: payors, their identifiers, status.
void read_coverage(const json::object& coverage, const core::hook_request& request, coverage_ref& out)
{
    add_references(coverage.if_contains("payor"), out.payers);
    if (const json::value* status = coverage.if_contains("status"); status && status->is_string())
        out.active = status->get_string() == "active";
    auto add_identifier = [&](const json::value* identifier) {
        if (!identifier || !identifier->is_object())
            return;
        auto system = str(identifier->get_object(), "system");
        auto value = str(identifier->get_object(), "value");
        if (!value.empty())
            out.payer_identifiers.emplace_back(std::string(system), std::string(value));
    };
    if (const json::value* payors = coverage.if_contains("payor"); payors && payors->is_array())
        for (const auto& p : payors->get_array())
            if (p.is_object())
            {
                add_identifier(p.get_object().if_contains("identifier"));
                if (auto r = str(p.get_object(), "reference"); !r.empty())
                    if (const json::object* org = request.find_prefetched(r))
                        if (const json::value* ids = org->if_contains("identifier"); ids && ids->is_array())
                            for (const auto& id : ids->get_array())
                                add_identifier(&id);
            }
}

}  // namespace

coverage_ref coverage_for(const json::object* resource, const core::hook_request& request)
{
    coverage_ref out;
    if (const json::object* coverage = locate_coverage(insurance_reference(resource), request, out.reference))
        read_coverage(*coverage, request, out);
    return out;
}

const coverage_ref& coverage_memo::of(const json::object* resource, const core::hook_request& request)
{
    // The Coverage follows from the insurance reference alone (the request is the same for every
    // order): orders that write it alike share one look-up (issue 19: locating it again was 1k
    // instructions per order).
    const std::string_view insurance = insurance_reference(resource);
    if (last_ != nullptr && insurance == last_insurance_)
        return *last_;
    std::string reference;
    const json::object* coverage = locate_coverage(insurance, request, reference);
    last_insurance_ = insurance;
    for (const auto& [read_from, ref] : read_)
        if (read_from == coverage && ref.reference == reference)
            return *(last_ = &ref);
    coverage_ref out;
    out.reference = std::move(reference);
    if (coverage)
        read_coverage(*coverage, request, out);
    return *(last_ = &read_.emplace_back(coverage, std::move(out)).second);
}

}  // namespace crd::decision
