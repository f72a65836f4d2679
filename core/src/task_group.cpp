#include <crd/core/task_group.hpp>
#include <crd/core/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <list>
#include <mutex>

namespace crd::core {

struct task_group::state
{
    std::mutex mutex;
    std::condition_variable ended;
    // One signal per running task, touched only on the executor (emit) or under the mutex (list).
    std::list<std::shared_ptr<net::cancellation_signal>> signals;
    std::size_t running = 0;
    bool closing = false;
};

task_group::task_group(net::any_io_executor ex) : ex_(std::move(ex)), state_(std::make_shared<state>()) {}

task_group::~task_group()
{
    cancel_and_join();
}

void task_group::spawn(net::awaitable<void> task)
{
    auto signal = std::make_shared<net::cancellation_signal>();
    {
        std::lock_guard lock(state_->mutex);
        if (state_->closing)
            return;
        ++state_->running;
        state_->signals.push_back(signal);
    }
    auto slot = signal->slot();
    net::co_spawn(ex_, std::move(task), net::bind_cancellation_slot(slot, [st = state_, signal](std::exception_ptr e) {
        log::exception("background_task_failed", e);
        std::lock_guard lock(st->mutex);
        st->signals.remove(signal);
        --st->running;
        st->ended.notify_all();
    }));
}

bool task_group::cancel_and_join(std::chrono::milliseconds limit)
{
    {
        std::lock_guard lock(state_->mutex);
        state_->closing = true;
        if (state_->running == 0)
            return true;
    }
    net::post(ex_, [st = state_] {
        std::list<std::shared_ptr<net::cancellation_signal>> signals;
        {
            std::lock_guard lock(st->mutex);
            signals = st->signals;
        }
        for (auto& s : signals)
            s->emit(net::cancellation_type::terminal);
    });
    std::unique_lock lock(state_->mutex);
    const bool all = state_->ended.wait_for(lock, limit, [&] { return state_->running == 0; });
    if (!all)
        log::error("background_tasks_not_joined", {{"running", state_->running}});
    return all;
}

std::size_t task_group::running() const
{
    std::lock_guard lock(state_->mutex);
    return state_->running;
}

}  // namespace crd::core
