#pragma once
// The memory a parsed document or a built answer lives in: one bump pointer over blocks that are
// freed together when the arena goes. What boost::json::monotonic_resource does, with less per
// allocation (about a third of its instructions: no block header to follow, no std::align), which
// matters at the ~200 allocations of a hook call and ~150 of every order in a large one.

#include <boost/json/memory_resource.hpp>

#include <cstddef>
#include <cstdint>

namespace crd::core {

class json_arena final : public boost::json::memory_resource
{
public:
    // `first_block_bytes`: the size of the first block (rounded up to a power of two), allocated on
    // first use; each further block is twice the last (or larger, for an allocation that needs it).
    explicit json_arena(std::size_t first_block_bytes) noexcept;
    json_arena(const json_arena&) = delete;
    json_arena& operator=(const json_arena&) = delete;
    ~json_arena() override;

    // Bytes of every block allocated so far (for tests and bench).
    std::size_t reserved_bytes() const noexcept { return reserved_; }

private:
    void* do_allocate(std::size_t n, std::size_t align) override;
    void do_deallocate(void* p, std::size_t n, std::size_t align) override;
    bool do_is_equal(const boost::json::memory_resource& other) const noexcept override;
    // Out of line: inlined, its register saves would be paid on every allocation.
    [[gnu::noinline]] void* allocate_in_new_block(std::size_t n, std::size_t align);

    struct block
    {
        block* previous;
        std::size_t bytes;  // the whole block, this header included
    };
    std::uintptr_t next_ = 0;  // first free byte of the current block
    std::uintptr_t end_ = 0;   // one past its last byte
    block* last_ = nullptr;
    std::size_t next_block_bytes_;
    std::size_t reserved_ = 0;
};

}  // namespace crd::core

// Nothing is freed one node at a time: a value in the arena skips destroying its nodes.
namespace boost::json {
template <>
struct is_deallocate_trivial<crd::core::json_arena>
{
    static constexpr bool value = true;
};
}  // namespace boost::json
