#pragma once
// HTTP Basic for internal tools (auth.allow_basic): client_id and secret, checked against the
// client's PBKDF2 secret_hash on a hashing thread of its own, with a bounded number of checks in
// flight, overall and per source; a verified secret is then recalled a while.

#include "client_registry.hpp"
#include "expiring_cache.hpp"

#include <crd/auth/authenticator.hpp>
#include <crd/core/async.hpp>
#include <crd/core/config.hpp>

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace crd::auth {

// How many slow checks may be in flight: at most `overall`, and at most `per_source` for one
// source, so one caller cannot take every slot. Past a limit a caller is refused at once rather
// than queued behind others. Thread safety: any thread.
class basic_check_slots
{
public:
    basic_check_slots(unsigned overall, unsigned per_source) : overall_(overall), per_source_(per_source) {}
    basic_check_slots(const basic_check_slots&) = delete;
    basic_check_slots& operator=(const basic_check_slots&) = delete;

    // One slot, per source and overall; released by its destructor. False when none was free.
    class slot
    {
    public:
        slot(basic_check_slots& slots, std::string source);
        ~slot();
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;
        explicit operator bool() const noexcept { return held_; }

    private:
        void release_source();
        basic_check_slots& slots_;
        std::string source_;
        bool held_ = false;
    };

    // Sources with a check in flight: an idle source keeps no entry.
    std::size_t sources_in_flight() const;

private:
    const unsigned overall_;
    const unsigned per_source_;
    std::atomic<unsigned> in_flight_{0};
    mutable std::mutex sources_mutex_;
    std::unordered_map<std::string, unsigned> in_flight_by_source_;  // guarded by sources_mutex_
};

class basic_auth
{
public:
    // `cfg` and `clients` outlive this.
    basic_auth(const core::config& cfg, const client_registry& clients);
    basic_auth(const basic_auth&) = delete;
    basic_auth& operator=(const basic_auth&) = delete;

    // `encoded`: the credentials after "Basic "; `source`: the caller's address. Never throws.
    net::awaitable<auth_result> verify(std::string_view encoded, std::string_view source);

private:
    std::string mac_of(std::string_view credentials) const;

    const core::config& cfg_;
    const client_registry& clients_;
    // A PBKDF2 check costs about 0.1 s of CPU, so it runs here, never on a thread serving calls.
    net::thread_pool hashing_{1};
    basic_check_slots slots_;
    // Verified credentials are remembered under an HMAC keyed with a secret of this process only,
    // so memory never holds anything a guess could be checked against offline.
    const std::string cache_key_;
    expiring_cache<std::string> verified_;  // mac -> client_id
};

}  // namespace crd::auth
