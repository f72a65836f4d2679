#pragma once
// Background coroutines with one owner that starts them, ends them and waits for them.
//
// A detached coroutine that captures `this` of something a reload can destroy wakes up later on
// freed memory. Whatever spawns background work into a task_group is ended and joined by its
// owner (a reload, shutdown) before the objects the work refers to go away.

#include <crd/core/async.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>

namespace crd::core {

class task_group
{
public:
    explicit task_group(net::any_io_executor ex);
    // Ends and joins what is still running (see cancel_and_join).
    ~task_group();
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    // Runs `task` on the group's executor. An exception that escapes it is logged, never lost.
    // After cancel_and_join() began, new tasks are not started. Thread safety: any thread.
    void spawn(net::awaitable<void> task);

    // Emits terminal cancellation to every task (on the executor, where their I/O lives) and
    // waits until they all have ended, at most `limit` (a task's own deadlines bound it: an
    // upstream fetch in flight finishes or times out). Returns false when one had not ended by
    // then. Call from a thread other than the executor's, while the executor still runs.
    bool cancel_and_join(std::chrono::milliseconds limit = std::chrono::seconds(10));

    std::size_t running() const;

    struct state;

private:
    net::any_io_executor ex_;
    std::shared_ptr<state> state_;
};

}  // namespace crd::core
