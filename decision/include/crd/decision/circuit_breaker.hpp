#pragma once
// The decision service's circuit breaker: opens after `threshold` consecutive failures, fails fast
// for `cooldown`, then lets exactly one probe through; the probe's success closes it, its failure
// opens it again. Lock-free; shared by every server thread.
//
// A call holds a permit. A probe's permit that is dropped without a verdict (the call ended in our
// own load, an unsafe header, an exception) gives the probe slot back in its destructor: a slot
// that only explicit code released once stayed taken forever, and the breaker with it.

#include <crd/core/async.hpp>

#include <atomic>
#include <chrono>

namespace crd::decision {

class circuit_breaker
{
public:
    // The time source, injectable so tests step time instead of sleeping.
    using now_function = clock::time_point (*)() noexcept;
    static clock::time_point steady_now() noexcept { return clock::now(); }

    circuit_breaker(unsigned threshold, std::chrono::milliseconds cooldown, now_function now = &steady_now)
        : threshold_(threshold)
        , cooldown_(cooldown)
        , now_(now)
    {
    }
    circuit_breaker(const circuit_breaker&) = delete;
    circuit_breaker& operator=(const circuit_breaker&) = delete;

    class permit
    {
    public:
        permit() = default;
        permit(permit&& other) noexcept : breaker_(other.breaker_), probe_(other.probe_) { other.breaker_ = nullptr; }
        permit& operator=(permit&& other) noexcept
        {
            if (this != &other)
            {
                release();
                breaker_ = other.breaker_;
                probe_ = other.probe_;
                other.breaker_ = nullptr;
            }
            return *this;
        }
        permit(const permit&) = delete;
        permit& operator=(const permit&) = delete;
        ~permit() { release(); }

        // False: the breaker is open, fail fast.
        explicit operator bool() const noexcept { return breaker_ != nullptr; }
        bool is_probe() const noexcept { return probe_; }

        // The upstream answered sanely: closes the breaker.
        void succeeded() noexcept;
        // The upstream itself failed: counts towards opening (a probe's failure opens at once).
        void failed() noexcept;

    private:
        friend class circuit_breaker;
        permit(circuit_breaker* b, bool probe) noexcept : breaker_(b), probe_(probe) {}
        void release() noexcept;  // no verdict: a probe gives its slot back

        circuit_breaker* breaker_ = nullptr;
        bool probe_ = false;
    };

    permit admit() noexcept;
    bool is_open() const noexcept;

private:
    void record_success() noexcept;
    void record_failure() noexcept;

    unsigned threshold_;
    std::chrono::milliseconds cooldown_;
    now_function now_;
    std::atomic<unsigned> failures_{0};
    std::atomic<clock::rep> open_until_{0};  // clock ticks; 0 = closed
    std::atomic<bool> probing_{false};
};

}  // namespace crd::decision
