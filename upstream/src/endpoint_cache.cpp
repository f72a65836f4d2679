#include "detail.hpp"

#include <crd/core/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace crd::upstream {
namespace {

endpoint_list to_list(const tcp::resolver::results_type& results)
{
    endpoint_list out;
    for (const auto& r : results)
        out.push_back(r.endpoint());
    return out;
}

// Runs on the refresher's executor until the cache (and so its impl) is gone.
net::awaitable<void> refresh_loop(std::weak_ptr<endpoint_cache::impl> weak, std::chrono::milliseconds interval)
{
    for (;;)
    {
        auto self = weak.lock();
        if (!self)
            co_return;
        self->refresh_timer->expires_after(interval);
        auto* timer = self->refresh_timer.get();
        const auto origin = self->origin;
        self.reset();  // do not keep the cache alive while waiting
        if (auto [ec] = co_await timer->async_wait(use_tuple); ec)
            co_return;
        tcp::resolver resolver(co_await net::this_coro::executor);
        auto [ec, results] = co_await resolver.async_resolve(origin.host, std::to_string(origin.port), use_tuple);
        self = weak.lock();
        if (!self)
            co_return;
        if (ec || results.empty())
        {
            log::warning("upstream_resolve_failed", {{"origin", origin.origin()}, {"error", ec.message()}});
            continue;  // keep the addresses we have
        }
        auto fresh = std::make_shared<const endpoint_list>(to_list(results));
        std::lock_guard lock(self->mutex);
        self->endpoints = std::move(fresh);
    }
}

}  // namespace

std::shared_ptr<const endpoint_list> endpoints_of(const endpoint_cache& cache)
{
    return cache.internals()->snapshot();
}

endpoint_cache::endpoint_cache(core::url origin) : impl_(std::make_shared<impl>())
{
    impl_->origin = std::move(origin);
}

endpoint_cache::~endpoint_cache()
{
    if (impl_->refresh_timer)
        impl_->refresh_timer->cancel();
}

const core::url& endpoint_cache::origin() const noexcept
{
    return impl_->origin;
}

error_code endpoint_cache::resolve_now()
{
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    error_code ec;
    auto results = resolver.resolve(impl_->origin.host, std::to_string(impl_->origin.port), ec);
    if (ec)
        return ec;
    auto list = std::make_shared<const endpoint_list>(to_list(results));
    std::lock_guard lock(impl_->mutex);
    impl_->endpoints = std::move(list);
    return {};
}

void endpoint_cache::start_refresh(net::any_io_executor ex, std::chrono::milliseconds interval)
{
    impl_->refresh_timer = std::make_unique<net::steady_timer>(ex);
    // Not tied to the cache's lifetime: the loop holds only a weak_ptr to the cache's state, and
    // ends at its next wake-up once the cache is gone (~endpoint_cache cancels the timer). An
    // exception that escaped it would stop the refreshing: it is logged, never lost.
    net::co_spawn(ex, refresh_loop(impl_, interval), [](std::exception_ptr e) { log::exception("upstream_resolve_loop_failed", e); });
}

bool endpoint_cache::resolved() const
{
    auto list = impl_->snapshot();
    return list && !list->empty();
}

}  // namespace crd::upstream
