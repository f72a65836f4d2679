#include "basic_auth.hpp"

#include "refusal.hpp"

#include <crd/auth/jose.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <vector>

namespace crd::auth {
namespace {

constexpr unsigned max_basic_checks_in_flight = 16;
constexpr unsigned max_basic_checks_per_source = max_basic_checks_in_flight / 2;
constexpr std::size_t max_verified_basic = 1'000;
constexpr std::int64_t verified_basic_lifetime_s = 300;
constexpr int pbkdf2_rounds = 210'000;  // OWASP 2023 figure for PBKDF2-HMAC-SHA256

std::string random_bytes(std::size_t n, const std::string& purpose)
{
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) != 1)
        throw std::runtime_error("no randomness for " + purpose);
    return out;
}

std::string pbkdf2(std::string_view secret, std::string_view salt, int rounds)
{
    std::string out(32, '\0');
    PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(salt.data()),
        static_cast<int>(salt.size()), rounds, EVP_sha256(), static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

// The slow hash, as a coroutine of its own (not a lambda: GCC 12 mishandles coroutine lambdas),
// run on the hashing thread. Arguments by value: the caller's strings must not be shared.
net::awaitable<bool> check_secret_on_pool(std::string secret, std::string stored_hash)
{
    co_return secret_matches(secret, stored_hash);
}

}  // namespace

basic_check_slots::slot::slot(basic_check_slots& slots, std::string source) : slots_(slots), source_(std::move(source))
{
    {
        std::lock_guard lock(slots_.sources_mutex_);
        auto& mine = slots_.in_flight_by_source_[source_];
        if (mine >= slots_.per_source_)
        {
            if (mine == 0)
                slots_.in_flight_by_source_.erase(source_);
            return;
        }
        ++mine;
    }
    if (slots_.in_flight_.fetch_add(1, std::memory_order_relaxed) >= slots_.overall_)
    {
        slots_.in_flight_.fetch_sub(1, std::memory_order_relaxed);
        release_source();
        return;
    }
    held_ = true;
}

basic_check_slots::slot::~slot()
{
    if (!held_)
        return;
    slots_.in_flight_.fetch_sub(1, std::memory_order_relaxed);
    release_source();
}

void basic_check_slots::slot::release_source()
{
    std::lock_guard lock(slots_.sources_mutex_);
    if (auto it = slots_.in_flight_by_source_.find(source_); it != slots_.in_flight_by_source_.end() && --it->second == 0)
        slots_.in_flight_by_source_.erase(it);
}

std::size_t basic_check_slots::sources_in_flight() const
{
    std::lock_guard lock(sources_mutex_);
    return in_flight_by_source_.size();
}

basic_auth::basic_auth(const core::config& cfg, const client_registry& clients)
    : cfg_(cfg)
    , clients_(clients)
    , slots_(max_basic_checks_in_flight, max_basic_checks_per_source)
    , cache_key_(random_bytes(32, "the Basic credential cache key"))
    , verified_(max_verified_basic)
{
}

std::string basic_auth::mac_of(std::string_view credentials) const
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), cache_key_.data(), static_cast<int>(cache_key_.size()), reinterpret_cast<const unsigned char*>(credentials.data()),
        credentials.size(), mac, &len);
    return std::string(reinterpret_cast<const char*>(mac), len);
}

net::awaitable<auth_result> basic_auth::verify(std::string_view encoded, std::string_view source)
{
    if (!cfg_.auth.allow_basic)
        co_return refuse(auth_failure::malformed, "Basic authentication is not enabled");
    const auto decoded = base64_decode(encoded);
    const auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
        co_return refuse(auth_failure::malformed, "malformed Basic credentials");
    const auto id = decoded->substr(0, colon);
    const auto mac = mac_of(*decoded);
    if (auto client = verified_.find(mac, unix_now()))
        co_return identity{std::move(*client), "", ""};
    const registered_client* registered = clients_.find(id);
    const bool known = registered && registered->registration->secret_hash;
    // Bounded, overall and per source: past a limit a caller is refused at once (503, retry)
    // rather than queued behind others.
    basic_check_slots::slot slot(slots_, std::string(source));
    if (!slot)
        co_return refuse(auth_failure::busy, "too many Basic verifications in progress");
    // The same work for an unknown client: no client enumeration by timing. Named locals, not
    // temporaries inside the co_await expression: GCC 12 mishandles those.
    std::string secret = decoded->substr(colon + 1);
    std::string stored;
    if (known)
        stored = *registered->registration->secret_hash;
    auto check = check_secret_on_pool(std::move(secret), std::move(stored));
    const bool matches = co_await net::co_spawn(hashing_, std::move(check), net::use_awaitable);
    if (!known)
        co_return refuse(auth_failure::unknown_client, "unknown Basic client");
    if (!matches)
        co_return refuse(auth_failure::bad_secret, "wrong secret");
    const auto now = unix_now();
    verified_.insert(mac, id, now + verified_basic_lifetime_s, now);
    co_return identity{id, "", ""};
}

std::string hash_secret(std::string_view secret)
{
    const auto salt = random_bytes(16, "a salt");
    return "pbkdf2-sha256$" + std::to_string(pbkdf2_rounds) + "$" + base64_encode(salt) + "$" + base64_encode(pbkdf2(secret, salt, pbkdf2_rounds));
}

bool secret_matches(std::string_view secret, std::string_view stored)
{
    // pbkdf2-sha256$rounds$salt$hash
    std::vector<std::string_view> parts;
    while (parts.size() < 4)
    {
        const auto d = stored.find('$');
        parts.push_back(stored.substr(0, d));
        if (d == std::string_view::npos)
            break;
        stored.remove_prefix(d + 1);
    }
    int rounds = pbkdf2_rounds;
    std::optional<std::string> salt, expected;
    if (parts.size() == 4 && parts[0] == "pbkdf2-sha256")
    {
        rounds = std::clamp(std::atoi(std::string(parts[1]).c_str()), 1, 10'000'000);
        salt = base64_decode(parts[2]);
        expected = base64_decode(parts[3]);
    }
    // Always spend the work, so a malformed or missing hash costs as much as a real one.
    const auto got = pbkdf2(secret, salt ? *salt : std::string(16, '\0'), rounds);
    if (!salt || !expected || expected->size() != got.size())
        return false;
    return CRYPTO_memcmp(got.data(), expected->data(), got.size()) == 0;
}

}  // namespace crd::auth
