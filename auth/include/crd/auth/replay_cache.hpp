#pragma once
// Which token ids (iss + jti) have been used, each until its token expires. It outlives every
// configuration generation: the application owns one and hands it to each authenticator a reload
// builds, so a token accepted before a SIGHUP is still a replay after it.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace crd::auth {

class replay_cache
{
public:
    explicit replay_cache(std::size_t capacity = 200'000) : capacity_(capacity) {}
    replay_cache(const replay_cache&) = delete;
    replay_cache& operator=(const replay_cache&) = delete;

    // Records (issuer, jti) until `until` (Unix seconds); false when it is already there, or when
    // the cache is full of live entries (refused rather than forgotten: forgetting allows replays).
    // Thread safety: any thread.
    bool first_use(std::string_view issuer, std::string_view jti, std::int64_t until, std::int64_t now);

    std::size_t size() const;

private:
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::int64_t> until_;  // iss "\n" jti -> Unix seconds; guarded by mutex_
};

}  // namespace crd::auth
