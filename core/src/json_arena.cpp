#include <crd/core/json_arena.hpp>

#include <crd/core/block_cache.hpp>

#include <algorithm>
#include <bit>
#include <new>

namespace crd::core {

namespace {

// Blocks start on this alignment, the largest Boost.JSON asks for, and what plain operator new
// (malloc) gives: the aligned form would go through memalign, slower for no gain.
constexpr std::size_t block_alignment = alignof(std::max_align_t);
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= block_alignment);
// A block's header (json_arena::block: the previous block and this one's size), rounded up.
constexpr std::size_t header_bytes = (sizeof(void*) + sizeof(std::size_t) + block_alignment - 1) / block_alignment * block_alignment;
constexpr std::size_t smallest_block = 1024;
static_assert(header_bytes < smallest_block);
// Far beyond any document we take (bodies are limited to megabytes); it keeps bit_ceil defined.
constexpr std::size_t largest_first_block = std::size_t{1} << 40;

}  // namespace

// Block sizes are powers of two, as monotonic_resource's: a first block of exactly the estimate
// (twice the text) often left a large document a little short, and the second block, twice as
// large again, more than doubled the memory touched. A block's size includes its header, so that
// a call's first blocks are sizes the thread keeps for the next call (core::allocate_block).
json_arena::json_arena(std::size_t first_block_bytes) noexcept
    : next_block_bytes_(std::bit_ceil(std::clamp(first_block_bytes, smallest_block, largest_first_block)))
{
}

json_arena::~json_arena()
{
    while (last_ != nullptr)
    {
        block* previous = last_->previous;
        release_block(last_, last_->bytes);
        last_ = previous;
    }
}

void* json_arena::do_allocate(std::size_t n, std::size_t align)
{
    // A zero-byte request still gets a distinct, non-null address (memory_resource's contract).
    if (n == 0)
        n = 1;
    // align is a power of two (memory_resource's contract); next_ + align - 1 cannot wrap, as
    // next_ lies inside a block the allocator gave us.
    const std::uintptr_t at = (next_ + align - 1) & ~static_cast<std::uintptr_t>(align - 1);
    if (at <= end_ && n <= end_ - at)
    {
        next_ = at + n;
        return reinterpret_cast<void*>(at);  // NOLINT(performance-no-int-to-ptr): the address was a pointer into our block
    }
    return allocate_in_new_block(n, align);
}

void* json_arena::allocate_in_new_block(std::size_t n, std::size_t align)
{
    static_assert(sizeof(block) <= header_bytes && alignof(block) <= block_alignment);
    // Room for the allocation at any alignment up to `align`, whatever the block's size.
    const std::size_t needed = n + (align > block_alignment ? align : 0);
    if (needed < n || needed > static_cast<std::size_t>(-1) / 2 - header_bytes)
        throw std::bad_alloc();
    std::size_t bytes = next_block_bytes_;
    while (bytes - header_bytes < needed)
        bytes *= 2;
    auto* b = static_cast<block*>(allocate_block(bytes));
    b->previous = last_;
    b->bytes = bytes;
    last_ = b;
    reserved_ += bytes - header_bytes;
    next_block_bytes_ = bytes * 2;
    next_ = reinterpret_cast<std::uintptr_t>(b) + header_bytes;
    end_ = reinterpret_cast<std::uintptr_t>(b) + bytes;
    const std::uintptr_t at = (next_ + align - 1) & ~static_cast<std::uintptr_t>(align - 1);
    next_ = at + n;
    return reinterpret_cast<void*>(at);  // NOLINT(performance-no-int-to-ptr): inside the block just allocated
}

void json_arena::do_deallocate(void* /*p*/, std::size_t /*n*/, std::size_t /*align*/) {}

bool json_arena::do_is_equal(const boost::json::memory_resource& other) const noexcept
{
    return this == &other;
}

}  // namespace crd::core
