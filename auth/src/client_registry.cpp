#include "client_registry.hpp"

#include <boost/json/array.hpp>

#include <sstream>
#include <stdexcept>

namespace crd::auth {

std::vector<std::string> split_scopes(std::string_view s)
{
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    std::string w;
    while (in >> w)
        out.push_back(w);
    return out;
}

client_registry::client_registry(const core::config& cfg)
{
    std::size_t i = 0;
    for (const auto& reg : cfg.auth.clients)
    {
        const std::string where = "auth.clients[" + std::to_string(i++) + "]";
        registered_client e;
        e.registration = &reg;
        for (auto& s : split_scopes(reg.scope))
            e.scopes.insert(s);
        if (reg.jwks)
        {
            std::size_t k = 0;
            for (const auto& item : reg.jwks->at("keys").as_array())
            {
                std::string error;
                std::string key_path = where;
                key_path.append(".jwks.keys[").append(std::to_string(k)).append("]");
                if (!item.is_object())
                    throw std::runtime_error(key_path + " is not an object");
                auto key = parse_jwk(item.get_object(), error);
                if (!key)
                    throw std::runtime_error(key_path.append(": ").append(error));
                e.inline_keys.push_back(std::move(*key));
                ++k;
            }
        }
        if (reg.jwks_url)
            e.registered_source = sources_.add(*reg.jwks_url, where + ".jwks_url");
        for (std::size_t k = 0; k < reg.jku_allowlist.size(); ++k)
            sources_.add(*core::parse_http_url(reg.jku_allowlist[k]), where + ".jku_allowlist[" + std::to_string(k) + "]");
        clients_.emplace(reg.client_id, std::move(e));
    }
}

const registered_client* client_registry::find(std::string_view client_id) const
{
    const auto it = clients_.find(client_id);
    return it == clients_.end() ? nullptr : &it->second;
}

}  // namespace crd::auth
