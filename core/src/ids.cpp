#include <crd/core/ids.hpp>

#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <pthread.h>

namespace crd::core {
namespace {

// Random bytes from OpenSSL's CSPRNG, fetched 4 KB at a time per thread: RAND_bytes costs about
// 6,600 instructions a call (its locking, the DRBG's reseed check and a getpid), so one call per
// id was the dominant cost of an embedded answer's ids; one call per 256 ids is not. The bytes
// are still the DRBG's, unpredictable as before; each is used once and cleared when handed out.
//
// Fork: a child must not hand out the bytes its parent buffered (both would issue the same ids).
// The server does not fork after start, but the tests' child servers and any library might: a
// fork handler bumps a generation, and a buffer filled in another generation is dropped.
std::atomic<unsigned> fork_generation{0};

void after_fork_in_child() noexcept
{
    fork_generation.fetch_add(1, std::memory_order_relaxed);
}

struct random_buffer
{
    static constexpr std::size_t size = 4096;
    std::array<unsigned char, size> bytes{};
    std::size_t used = size;  // empty until first use
    unsigned generation = 0;

    void take(unsigned char* out, std::size_t n)
    {
        const unsigned now = fork_generation.load(std::memory_order_relaxed);
        if (generation != now)
            used = size, generation = now;
        if (size - used < n)
        {
            if (RAND_bytes(bytes.data(), static_cast<int>(size)) != 1)
                throw std::runtime_error("OpenSSL RAND_bytes failed");
            used = 0;
        }
        std::memcpy(out, bytes.data() + used, n);
        std::memset(bytes.data() + used, 0, n);  // handed out once: not kept where a later dump could show it
        used += n;
    }
};

random_buffer& thread_buffer()
{
    static const int registered = pthread_atfork(nullptr, nullptr, after_fork_in_child);
    (void)registered;
    thread_local random_buffer buffer;
    return buffer;
}

}  // namespace

void random_bytes(unsigned char* out, std::size_t n)
{
    if (n > random_buffer::size)
    {
        if (RAND_bytes(out, static_cast<int>(n)) != 1)
            throw std::runtime_error("OpenSSL RAND_bytes failed");
        return;
    }
    thread_buffer().take(out, n);
}

void write_uuid(std::span<char, 36> out)
{
    std::array<unsigned char, 16> b{};
    thread_buffer().take(b.data(), b.size());
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
    static constexpr char hex[] = "0123456789abcdef";
    std::size_t at = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
    {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[at++] = '-';
        out[at++] = hex[b[i] >> 4];
        out[at++] = hex[b[i] & 0x0f];
    }
}

std::string new_uuid()
{
    std::string out(36, '-');
    write_uuid(std::span<char, 36>(out.data(), 36));
    return out;
}

std::string today_utc()
{
    const auto secs = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

}  // namespace crd::core
