#include <crd/decision/circuit_breaker.hpp>

namespace crd::decision {

circuit_breaker::permit circuit_breaker::admit() noexcept
{
    const auto until = open_until_.load(std::memory_order_acquire);
    if (until == 0)
        return permit(this, false);
    if (now_().time_since_epoch().count() < until)
        return permit();
    // Half-open: exactly one caller probes.
    bool expected = false;
    if (probing_.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
        return permit(this, true);
    return permit();
}

bool circuit_breaker::is_open() const noexcept
{
    const auto until = open_until_.load(std::memory_order_acquire);
    return until != 0 && now_().time_since_epoch().count() < until;
}

void circuit_breaker::record_success() noexcept
{
    failures_.store(0, std::memory_order_relaxed);
    open_until_.store(0, std::memory_order_release);
    probing_.store(false, std::memory_order_release);
}

void circuit_breaker::record_failure() noexcept
{
    const auto n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n >= threshold_ || probing_.load(std::memory_order_acquire))
    {
        const auto until = (now_() + cooldown_).time_since_epoch().count();
        open_until_.store(until, std::memory_order_release);
        probing_.store(false, std::memory_order_release);
    }
}

void circuit_breaker::permit::succeeded() noexcept
{
    if (auto* b = std::exchange(breaker_, nullptr))
        b->record_success();
}

void circuit_breaker::permit::failed() noexcept
{
    if (auto* b = std::exchange(breaker_, nullptr))
        b->record_failure();
}

void circuit_breaker::permit::release() noexcept
{
    if (auto* b = std::exchange(breaker_, nullptr); b && probe_)
        b->probing_.store(false, std::memory_order_release);
}

}  // namespace crd::decision
