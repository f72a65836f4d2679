#pragma once
// Per-thread state of a server shard. Each shard thread runs one io_context; objects that hold
// sockets or timers of that context (connection pools, per-thread metrics) live in the shard's
// context, so they are used without locks and destroyed before their io_context is.

#include <functional>
#include <map>
#include <memory>

namespace crd::core {

class shard_context
{
public:
    shard_context() = default;
    shard_context(const shard_context&) = delete;
    shard_context& operator=(const shard_context&) = delete;

    // The object `owner` keeps in this shard, created by `make` on first use.
    // Thread safety: call only from the shard's own thread.
    template <class T>
    std::shared_ptr<T> get_or_create(const void* owner, const std::function<std::shared_ptr<T>()>& make)
    {
        auto& slot = objects_[owner];
        if (!slot)
            slot = make();
        return std::static_pointer_cast<T>(slot);
    }

    // Drops everything this shard holds for `owner` (e.g. when the owner is destroyed first).
    void release(const void* owner) { objects_.erase(owner); }

    // The context of the shard running on this thread; nullptr off the server's shard threads.
    static shard_context* current() noexcept;

private:
    friend class shard_scope;
    std::map<const void*, std::shared_ptr<void>> objects_;
};

// Makes `ctx` the current shard context of this thread for the scope's lifetime.
class shard_scope
{
public:
    explicit shard_scope(shard_context& ctx) noexcept;
    ~shard_scope();
    shard_scope(const shard_scope&) = delete;
    shard_scope& operator=(const shard_scope&) = delete;

private:
    shard_context* previous_;
};

}  // namespace crd::core
