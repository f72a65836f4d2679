#include <crd/core/shard.hpp>

namespace crd::core {
namespace {
thread_local shard_context* current_shard = nullptr;
}

shard_context* shard_context::current() noexcept
{
    return current_shard;
}

shard_scope::shard_scope(shard_context& ctx) noexcept : previous_(current_shard)
{
    current_shard = &ctx;
}

shard_scope::~shard_scope()
{
    current_shard = previous_;
}

}  // namespace crd::core
