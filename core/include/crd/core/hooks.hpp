#pragma once
// The CDS services this server offers: one per CRD hook, with the ids of the product documents.

#include <chrono>
#include <string_view>
#include <vector>

namespace crd::core {

enum class hook_kind
{
    order_sign,
    order_select,
    order_dispatch,
    appointment_book,
    encounter_start,
    encounter_discharge,
};

struct service_definition
{
    std::string_view id;    // URL segment: /cds-services/{id}
    std::string_view hook;  // CDS Hooks hook name
    hook_kind kind;
    std::string_view title;
    std::string_view description;
    // CRD primary hooks SHALL return coverage information (CRD hooks.md "primary"/"secondary").
    bool primary;
    // Decision budget when neither decision.timeout_ms nor a per-service override is set.
    std::chrono::milliseconds default_timeout;
};

const std::vector<service_definition>& service_catalog();

// nullptr when the id is not one of ours.
const service_definition* find_service(std::string_view id) noexcept;

}  // namespace crd::core
