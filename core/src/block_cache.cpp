#include <crd/core/block_cache.hpp>

#include <array>
#include <bit>

namespace crd::core {
namespace {

constexpr int smallest_shift = std::countr_zero(smallest_kept_block);
constexpr auto size_count = static_cast<std::size_t>(std::countr_zero(largest_kept_block) - smallest_shift + 1);

constexpr std::size_t not_kept = size_count;

// The index of a size kept, or not_kept.
std::size_t size_index(std::size_t bytes) noexcept
{
    // (bytes & (bytes - 1)) rather than std::has_single_bit, which is a libgcc call without -mpopcnt.
    if (bytes < smallest_kept_block || bytes > largest_kept_block || (bytes & (bytes - 1)) != 0)
        return not_kept;
    return static_cast<std::size_t>(std::countr_zero(bytes) - smallest_shift);
}

// Set when the thread's kept blocks are gone (its thread_local objects are destroyed before any
// static one is): a block given back after that, by a static object's destructor, goes to
// operator delete. A plain bool: it needs no destructor, so it lives as long as the thread.
thread_local bool thread_kept_closed = false;

// One thread's kept blocks, last in first out per size (the block freed last is the one most
// likely still in the cache). Freed when the thread ends.
struct kept_blocks
{
    std::array<std::array<void*, blocks_kept_per_size>, size_count> blocks{};
    std::array<std::size_t, size_count> count{};

    kept_blocks() = default;
    kept_blocks(const kept_blocks&) = delete;
    kept_blocks& operator=(const kept_blocks&) = delete;
    ~kept_blocks()
    {
        thread_kept_closed = true;
        for (std::size_t i = 0; i < size_count; ++i)
            for (std::size_t k = 0; k < count[i]; ++k)
                ::operator delete(blocks[i][k]);
    }
};

thread_local kept_blocks thread_kept;

}  // namespace

void* allocate_block(std::size_t bytes)
{
    if constexpr (!blocks_are_kept)
        return ::operator new(bytes);
    const std::size_t i = size_index(bytes);
    if (i != not_kept && !thread_kept_closed && thread_kept.count[i] != 0)
    {
        void* block = thread_kept.blocks[i][--thread_kept.count[i]];
        return block;
    }
    return ::operator new(bytes);
}

void release_block(void* block, std::size_t bytes) noexcept
{
    if (block == nullptr)
        return;
    if constexpr (!blocks_are_kept)
    {
        ::operator delete(block);
        return;
    }
    const std::size_t i = size_index(bytes);
    if (i != not_kept && !thread_kept_closed && thread_kept.count[i] < blocks_kept_per_size)
    {
        thread_kept.blocks[i][thread_kept.count[i]++] = block;
        return;
    }
    ::operator delete(block);
}

std::size_t blocks_kept(std::size_t bytes) noexcept
{
    const std::size_t i = size_index(bytes);
    return i == not_kept || thread_kept_closed ? 0 : thread_kept.count[i];
}

}  // namespace crd::core
