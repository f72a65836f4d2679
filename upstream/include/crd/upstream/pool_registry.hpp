#pragma once
// Where connection pools live: one registry per io_context, as an Asio execution_context service.
//
// A pool holds sockets and timers of one io_context, so it belongs to that context: found through
// the executor a call runs on, created on first use, destroyed when the context shuts down (before
// the socket services it uses). Every upstream user (decision service, FHIR prefetch, JWKS,
// feedback forwarding) finds its pools here by a key of its own; off the server's shard threads
// (the control thread, a test's io_context) that context gets pools of its own too, instead of a
// fresh pool per call.

#include <crd/core/async.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace crd::upstream {

class pool_registry final : public net::execution_context::service
{
public:
    using key_type = pool_registry;
    static inline net::execution_context::id id;

    explicit pool_registry(net::execution_context& ctx) : net::execution_context::service(ctx) {}

    // The registry of the context `ex` runs on.
    static pool_registry& of(const net::any_io_executor& ex);

    // The object stored under `name`, made by `make` on first use. Names say whose it is and what
    // they pool ("decision https://payer/decide", "jwks https://ehr/jwks.json", ...).
    template <class T>
    std::shared_ptr<T> get_or_create(const std::string& name, const std::function<std::shared_ptr<T>()>& make)
    {
        std::lock_guard lock(mutex_);
        auto& slot = objects_[name];
        if (!slot)
            slot = make();
        return std::static_pointer_cast<T>(slot);
    }

    // Drops what is stored under `key` (its users keep their copies until they finish).
    void release(const std::string& name)
    {
        std::lock_guard lock(mutex_);
        objects_.erase(name);
    }

private:
    // Called when the context shuts down, before the socket and timer services it relies on
    // (registered earlier, shut down later).
    void shutdown() override
    {
        std::map<std::string, std::shared_ptr<void>> dropped;
        {
            std::lock_guard lock(mutex_);
            dropped.swap(objects_);
        }
    }

    std::mutex mutex_;  // a context run by one thread never contends; kept for contexts run by several
    std::map<std::string, std::shared_ptr<void>> objects_;
};

inline pool_registry& pool_registry::of(const net::any_io_executor& ex)
{
    return net::use_service<pool_registry>(net::query(ex, net::execution::context));
}

}  // namespace crd::upstream
