#include <crd/core/hooks.hpp>

namespace crd::core {

using namespace std::chrono_literals;

const std::vector<service_definition>& service_catalog()
{
    static const std::vector<service_definition> services{
        {"order-sign-crd", "order-sign", hook_kind::order_sign, "Coverage requirements at order signing",
            "Da Vinci CRD: coverage, prior authorization and documentation requirements for the orders being "
            "signed, returned as coverage-information system actions and cards.",
            true, 4000ms},
        {"order-select-crd", "order-select", hook_kind::order_select, "Coverage hints at order selection",
            "Da Vinci CRD: early coverage and prior authorization hints for the selected orders.", false, 4000ms},
        {"order-dispatch-crd", "order-dispatch", hook_kind::order_dispatch, "Coverage requirements at order dispatch",
            "Da Vinci CRD: coverage, prior authorization and documentation requirements for orders dispatched to "
            "a performer, returned as coverage-information system actions and cards.",
            true, 4000ms},
        {"appointment-book-crd", "appointment-book", hook_kind::appointment_book, "Coverage requirements at appointment booking",
            "Da Vinci CRD: coverage, prior authorization and documentation requirements for the appointments "
            "being booked.",
            true, 9000ms},
        {"encounter-start-crd", "encounter-start", hook_kind::encounter_start, "Coverage reminders at encounter start",
            "Da Vinci CRD: coverage reminders when an encounter starts.", false, 4000ms},
        {"encounter-discharge-crd", "encounter-discharge", hook_kind::encounter_discharge, "Coverage reminders at encounter discharge",
            "Da Vinci CRD: coverage reminders when a patient is discharged.", false, 4000ms},
    };
    return services;
}

const service_definition* find_service(std::string_view id) noexcept
{
    for (const auto& s : service_catalog())
        if (s.id == id)
            return &s;
    return nullptr;
}

}  // namespace crd::core
