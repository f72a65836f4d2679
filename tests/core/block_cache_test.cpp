// core::allocate_block / release_block: the blocks a thread keeps for its next call (issue 19), and
// keeps none of under AddressSanitizer (the sanitizer build runs these same tests).
#include <crd/core/block_cache.hpp>
#include <crd/core/http_buffered_parse.hpp>
#include <crd/core/json_arena.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

using crd::core::allocate_block;
using crd::core::blocks_are_kept;
using crd::core::blocks_kept;
using crd::core::blocks_kept_per_size;
using crd::core::release_block;

namespace {

// What a thread keeps of one block given back: one, or none under AddressSanitizer, where every
// block goes back to operator delete.
constexpr std::size_t one_kept = blocks_are_kept ? 1 : 0;

// Empties this thread's kept blocks of `bytes`, so that a test starts from none.
void drain(std::size_t bytes)
{
    std::vector<void*> taken;
    while (blocks_kept(bytes) != 0)
        taken.push_back(allocate_block(bytes));
    for (void* p : taken)
        ::operator delete(p);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(block_cache_)

BOOST_AUTO_TEST_CASE(a_block_given_back_is_the_next_one_of_its_size_handed_out)
{
    for (std::size_t bytes : {std::size_t{4096}, std::size_t{16384}, std::size_t{65536}})
    {
        drain(bytes);
        void* first = allocate_block(bytes);
        std::memset(first, 0x5A, bytes);  // all of it is ours
        release_block(first, bytes);
        BOOST_TEST(blocks_kept(bytes) == one_kept);
        void* again = allocate_block(bytes);
        if (blocks_are_kept)
            BOOST_TEST(again == first);
        BOOST_TEST(blocks_kept(bytes) == 0U);
        release_block(again, bytes);
        drain(bytes);
    }
}

BOOST_AUTO_TEST_CASE(only_powers_of_two_from_4_kb_to_64_kb_are_kept)
{
    for (std::size_t bytes :
        {std::size_t{1}, std::size_t{2048}, std::size_t{4095}, std::size_t{4097}, std::size_t{6000}, std::size_t{131072}, std::size_t{1} << 20})
    {
        void* p = allocate_block(bytes);
        std::memset(p, 0x11, bytes);
        release_block(p, bytes);
        BOOST_TEST_INFO("bytes " << bytes);
        BOOST_TEST(blocks_kept(bytes) == 0U);
    }
    release_block(nullptr, 4096);  // as operator delete: nothing to give back
    BOOST_TEST(blocks_kept(4096) == 0U);
}

BOOST_AUTO_TEST_CASE(a_thread_keeps_no_more_than_its_bound_of_one_size)
{
    const std::size_t bytes = 8192;
    drain(bytes);
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < blocks_kept_per_size + 5; ++i)
        blocks.push_back(allocate_block(bytes));
    for (void* p : blocks)
        release_block(p, bytes);
    BOOST_TEST(blocks_kept(bytes) == (blocks_are_kept ? blocks_kept_per_size : 0U));
    drain(bytes);
}

BOOST_AUTO_TEST_CASE(a_block_given_back_on_another_thread_is_kept_by_that_thread)
{
    const std::size_t bytes = 32768;
    drain(bytes);
    void* p = allocate_block(bytes);
    std::size_t kept_there = 0;
    std::thread other([&] {
        release_block(p, bytes);
        kept_there = blocks_kept(bytes);
    });  // and freed when that thread ends
    other.join();
    BOOST_TEST(kept_there == one_kept);
    BOOST_TEST(blocks_kept(bytes) == 0U);
}

BOOST_AUTO_TEST_CASE(an_arenas_first_block_is_kept_for_the_next_arena)
{
    drain(4096);
    const void* first_allocation = nullptr;
    {
        crd::core::json_arena arena(4096);
        boost::json::memory_resource& resource = arena;
        first_allocation = resource.allocate(100, 8);
        // The header is part of the 4 KB: the block is a size the thread keeps.
        BOOST_TEST(arena.reserved_bytes() < 4096U);
        BOOST_TEST(arena.reserved_bytes() >= 4000U);
    }
    BOOST_TEST(blocks_kept(4096) == one_kept);
    crd::core::json_arena next(4096);
    boost::json::memory_resource& resource = next;
    void* next_allocation = resource.allocate(100, 8);
    if (blocks_are_kept)
        BOOST_TEST(next_allocation == first_allocation);
    BOOST_TEST(blocks_kept(4096) == 0U);
}

BOOST_AUTO_TEST_CASE(a_read_buffer_gives_its_memory_back_to_the_thread)
{
    drain(4096);
    crd::core::read_buffer buffer;
    auto space = buffer.prepare(4096);
    std::memset(space.data(), 'x', space.size());
    buffer.commit(space.size());
    buffer.consume(buffer.size());
    buffer.shrink_to_fit();
    BOOST_TEST(buffer.capacity() == 0U);
    BOOST_TEST(blocks_kept(4096) == one_kept);
    drain(4096);
}

BOOST_AUTO_TEST_CASE(a_block_given_back_after_the_threads_cache_is_gone_is_freed_not_kept)
{
    // A thread's thread_local objects are destroyed in the reverse order of their construction. One
    // made before the thread's first block outlives the thread's kept blocks, and a block it gives
    // back from its destructor (as a static object's would at exit) must be freed, not stored
    // in the destroyed cache.
    static std::atomic<std::size_t> kept_before_exit{99};
    static std::atomic<std::size_t> kept_after_cache_gone{99};
    struct gives_back_at_exit
    {
        void* block = nullptr;
        ~gives_back_at_exit()
        {
            release_block(block, 4096);
            kept_after_cache_gone = blocks_kept(4096);
        }
    };
    std::thread([] {
        thread_local gives_back_at_exit late;  // constructed first, so destroyed last
        late.block = allocate_block(4096);     // the thread's kept blocks are made here
        release_block(allocate_block(4096), 4096);
        kept_before_exit = blocks_kept(4096);
    }).join();
    BOOST_TEST(kept_before_exit.load() == one_kept);
    BOOST_TEST(kept_after_cache_gone.load() == 0U);
}

BOOST_AUTO_TEST_SUITE_END()
