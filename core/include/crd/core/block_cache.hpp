#pragma once
// Memory blocks of the sizes every hook call takes and gives back — the listener's 4 KB read
// buffer, the upstream client's 16 KB one, the first blocks of the request's and the answer's
// arenas — kept by the thread that freed them for its next call (issue 19: "keep freed memory for
// the next call"). Through malloc, each of these is a trip through its unsorted bins (too large
// for its per-thread cache) on the way in and on the way out, about 900 instructions a call.
//
// Bounded: a thread keeps at most blocks_kept_per_size of each size from 4 KB to 64 KB (under
// 1 MB in all); every other size, and every block beyond that, goes to operator new and delete as
// before. The memory kept is memory glibc would keep anyway (the trim threshold crd-server sets
// keeps freed heap mapped), so resident memory does not change.
//
// Under AddressSanitizer (GCC's or Clang's, the fuzzers included) nothing is kept: every block goes
// to operator new and delete. A kept block is handed out again at once, to the next call of its
// size, where ASan's quarantine would hold it back; a stale view into the last call's document or
// buffer would then read the next call's bytes without a report.

#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define CRD_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRD_ADDRESS_SANITIZER 1
#endif
#endif

namespace crd::core {

#if defined(CRD_ADDRESS_SANITIZER)
inline constexpr bool blocks_are_kept = false;
#else
inline constexpr bool blocks_are_kept = true;
#endif

inline constexpr std::size_t smallest_kept_block = 4 * 1024;
inline constexpr std::size_t largest_kept_block = 64 * 1024;
inline constexpr std::size_t blocks_kept_per_size = 8;

// `bytes` of memory aligned for any fundamental type: a block this thread kept if `bytes` is a
// size it keeps (a power of two from 4 KB to 64 KB), else operator new's.
void* allocate_block(std::size_t bytes);
// Gives back a block from allocate_block, with the size it was asked for (any thread may).
void release_block(void* block, std::size_t bytes) noexcept;
// Blocks of `bytes` this thread keeps now (for tests).
std::size_t blocks_kept(std::size_t bytes) noexcept;

// The allocator form, for containers and buffers (Beast's basic_flat_buffer).
template <class T>
struct block_allocator
{
    // Blocks are aligned as plain operator new aligns.
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    using value_type = T;

    block_allocator() noexcept = default;
    template <class U>
    block_allocator(const block_allocator<U>& /*other*/) noexcept  // NOLINT(google-explicit-constructor): allocators convert implicitly
    {
    }

    T* allocate(std::size_t n)
    {
        if (n > static_cast<std::size_t>(-1) / sizeof(T))
            throw std::bad_array_new_length();
        return static_cast<T*>(allocate_block(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { release_block(p, n * sizeof(T)); }

    // Stateless: any one frees what another allocated.
    template <class U>
    bool operator==(const block_allocator<U>& /*other*/) const noexcept
    {
        return true;
    }
};

}  // namespace crd::core
