#include <crd/core/ids.hpp>

#include <boost/test/unit_test.hpp>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace crd::core;

namespace {

// RFC 4122 version 4: 8-4-4-4-12 lower-case hex, version nibble 4, variant bits 10.
bool is_v4_uuid(const std::string& s)
{
    if (s.size() != 36)
        return false;
    for (std::size_t i = 0; i < s.size(); ++i)
    {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (s[i] == '-'))
            return false;
        if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return s[14] == '4' && (s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b');
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ids)

BOOST_AUTO_TEST_CASE(a_uuid_written_in_place_fills_exactly_its_36_characters)
{
    std::string buffer(38, '#');
    write_uuid(std::span<char, 36>(buffer.data() + 1, 36));
    BOOST_TEST(buffer.front() == '#');
    BOOST_TEST(buffer.back() == '#');
    const std::string first = buffer.substr(1, 36);
    BOOST_TEST(is_v4_uuid(first));
    write_uuid(std::span<char, 36>(buffer.data() + 1, 36));
    BOOST_TEST(buffer.substr(1, 36) != first);
}

BOOST_AUTO_TEST_CASE(uuids_are_version_4_and_distinct_across_threads_and_refills)
{
    // 4 threads x 1,000 ids: each thread refills its 4 KB buffer (256 ids) several times.
    constexpr int threads = 4, per_thread = 1000;
    std::mutex m;
    std::set<std::string> seen;
    std::vector<std::string> malformed;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            std::vector<std::string> mine;
            for (int i = 0; i < per_thread; ++i)
                mine.push_back(new_uuid());
            std::lock_guard lock(m);
            for (auto& id : mine)
            {
                if (!is_v4_uuid(id))
                    malformed.push_back(id);
                seen.insert(std::move(id));
            }
        });
    for (auto& w : workers)
        w.join();
    BOOST_TEST(malformed.empty());
    BOOST_TEST(seen.size() == static_cast<std::size_t>(threads * per_thread));
}

BOOST_AUTO_TEST_CASE(a_forked_child_does_not_repeat_its_parents_buffered_ids)
{
    (void)new_uuid();  // the parent's buffer now holds the next 255 ids
    int pipe_fds[2];
    BOOST_REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0)
    {
        const std::string id = new_uuid();
        (void)!::write(pipe_fds[1], id.data(), id.size());
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    char buf[36] = {};
    std::size_t got = 0;
    while (got < sizeof buf)
    {
        const ssize_t n = ::read(pipe_fds[0], buf + got, sizeof buf - got);
        if (n <= 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    BOOST_REQUIRE(got == sizeof buf);
    const std::string childs(buf, sizeof buf);
    BOOST_TEST(is_v4_uuid(childs));
    BOOST_TEST(childs != new_uuid());  // the id the parent hands out next, from the same buffer
}

BOOST_AUTO_TEST_SUITE_END()
