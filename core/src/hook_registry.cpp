#include <crd/core/hook.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <stdexcept>

namespace crd::core {

void hook_registry::add(std::unique_ptr<hook_handler> handler)
{
    const std::string id(handler->service().id);
    if (!by_id_.emplace(id, handler.get()).second)
        throw std::logic_error("service id registered twice: " + id);
    handlers_.push_back(std::move(handler));
}

hook_handler* hook_registry::find(std::string_view id) const noexcept
{
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
}

boost::json::value hook_registry::discovery() const
{
    boost::json::array services;
    for (const auto& h : handlers_)
        services.push_back(h->discovery());
    return boost::json::object{{"services", std::move(services)}};
}

std::vector<std::string_view> hook_registry::ids() const
{
    std::vector<std::string_view> out;
    for (const auto& h : handlers_)
        out.push_back(h->service().id);
    return out;
}

}  // namespace crd::core
