#pragma once
// Verified credentials remembered until they expire (our access tokens, HTTP Basic secrets), and
// the clock they expire by.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace crd::auth {

// Now in Unix seconds: the clock of NumericDate claims, of these caches and of the replay cache.
inline std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Bounded in memory. Expired entries are dropped when met and swept when the map is full; a map
// full of live entries takes no more (the caller then simply verifies every time). Thread-safe.
template <class Value>
class expiring_cache
{
public:
    explicit expiring_cache(std::size_t capacity) : capacity_(capacity) {}

    std::optional<Value> find(const std::string& key, std::int64_t now)
    {
        std::lock_guard lock(mutex_);
        const auto it = entries_.find(key);
        if (it == entries_.end())
            return std::nullopt;
        if (it->second.second < now)
        {
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.first;
    }

    void insert(std::string key, Value value, std::int64_t until, std::int64_t now)
    {
        std::lock_guard lock(mutex_);
        if (entries_.size() >= capacity_)
            std::erase_if(entries_, [&](const auto& e) { return e.second.second < now; });
        if (entries_.size() < capacity_)
            entries_.emplace(std::move(key), std::make_pair(std::move(value), until));
    }

private:
    const std::size_t capacity_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::pair<Value, std::int64_t>> entries_;  // key -> value, until
};

}  // namespace crd::auth
