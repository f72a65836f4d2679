#pragma once
// A metrics library rendered for Prometheus (text format 0.0.4). It knows no caller: each module
// declares its own families (and the enums that label them) next to its code and registers them
// with the process registry, which GET /metrics renders.
//
// Recording is a relaxed atomic add on an object the caller already holds: no lock, no
// allocation, no lookup by name on the request path. Registration takes a lock and allocates; it
// happens at start-up (static initialisation or the first use of a module's families).
//
// Lifetime: families live for the process. A module keeps them in a function-local static that
// registers them with process_registry() when it is constructed (a `registration` member, declared
// after the families). The registry is itself a function-local static, constructed during the
// first registration and so destroyed after every family: the registration's destructor takes
// the families out before they go.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace crd::metrics {

class counter
{
public:
    void add(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

class gauge
{
public:
    void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
    std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> value_{0};
};

// Cumulative histogram over fixed bounds (seconds).
class histogram
{
public:
    // Latency bounds used everywhere: 1 ms .. 30 s, including CRD's 5 s and 10 s targets.
    static constexpr std::array<double, 14> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

    void observe(std::chrono::nanoseconds elapsed) noexcept;
    std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

    // Appends the _bucket, _sum and _count lines; `labels` is empty or `key="value",...`.
    void render(std::string& out, std::string_view name, std::string_view labels) const;

private:
    std::array<std::atomic<std::uint64_t>, bounds.size()> buckets_{};  // non-cumulative per bound
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
};

// Holds a gauge up by one for its lifetime.
class gauge_guard
{
public:
    explicit gauge_guard(gauge& g) noexcept : g_(&g) { g_->add(1); }
    ~gauge_guard() { g_->add(-1); }
    gauge_guard(const gauge_guard&) = delete;
    gauge_guard& operator=(const gauge_guard&) = delete;

private:
    gauge* g_;
};

// Pieces of the text format, for families that write their own series.
namespace text {
std::string label(std::string_view key, std::string_view value);  // key="value"
void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value);
void sample(std::string& out, std::string_view name, std::string_view labels, std::int64_t value);
void sample(std::string& out, std::string_view name, std::string_view labels, double value);
}  // namespace text

enum class metric_type
{
    counter,
    gauge,
    histogram,
};

// One metric family: a name, its HELP and TYPE lines, and its series. Name and help are not copied:
// give string literals (or other storage that lives as long as the family).
class family
{
public:
    family(std::string_view name, metric_type type, std::string_view help) noexcept : name_(name), help_(help), type_(type) {}
    virtual ~family() = default;
    family(const family&) = delete;
    family& operator=(const family&) = delete;

    std::string_view name() const noexcept { return name_; }
    // HELP, TYPE and every series.
    void render(std::string& out) const;

protected:
    virtual void render_series(std::string& out) const = 0;

private:
    std::string_view name_;
    std::string_view help_;
    metric_type type_;
};

// What GET /metrics renders: the families registered with it, in registration order.
// Thread safety: any thread; add/remove/render take a lock (never the recording path).
class registry
{
public:
    // Throws std::logic_error naming the family when one of that name is already registered.
    void add(const family& f);
    void remove(const family& f) noexcept;
    std::string render() const;

private:
    mutable std::mutex mutex_;
    std::vector<const family*> families_;
};

// The process's registry.
registry& process_registry();

// Keeps families registered for its own lifetime: declare it after the families it names, so it
// is constructed after them and destroyed before them.
class registration
{
public:
    registration(registry& r, std::initializer_list<const family*> families);
    ~registration();
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;

private:
    registry* registry_;
    std::vector<const family*> families_;
};

// A family of one unlabelled series.
class counter_family final : public family, public counter
{
public:
    counter_family(std::string_view name, std::string_view help) noexcept : family(name, metric_type::counter, help) {}

private:
    void render_series(std::string& out) const override;
};

class gauge_family final : public family, public gauge
{
public:
    gauge_family(std::string_view name, std::string_view help) noexcept : family(name, metric_type::gauge, help) {}

private:
    void render_series(std::string& out) const override;
};

class histogram_family final : public family, public histogram
{
public:
    histogram_family(std::string_view name, std::string_view help) noexcept : family(name, metric_type::histogram, help) {}

private:
    void render_series(std::string& out) const override;
};

// One counter per enumerator of `Enum` (which ends in `count_`), labelled by a names table in
// enumerator order: with one label, `key="names[i]"`; with several, one value per key. Every
// series is rendered, at zero too.
template <class Enum, std::size_t LabelCount = 1>
class counter_array final : public family
{
public:
    static constexpr std::size_t size = static_cast<std::size_t>(Enum::count_);
    using label_values = std::array<std::string_view, LabelCount>;

    counter_array(std::string_view name, std::string_view help, const std::array<std::string_view, LabelCount>& keys,
        const std::array<label_values, size>& values)
        : family(name, metric_type::counter, help)
    {
        for (std::size_t i = 0; i < size; ++i)
            for (std::size_t k = 0; k < LabelCount; ++k)
            {
                if (k)
                    labels_[i] += ",";
                labels_[i] += text::label(keys[k], values[i][k]);
            }
    }

    counter_array(std::string_view name, std::string_view help, std::string_view key, const std::array<std::string_view, size>& names) requires(
        LabelCount == 1)
        : family(name, metric_type::counter, help)
    {
        for (std::size_t i = 0; i < size; ++i)
            labels_[i] = text::label(key, names[i]);
    }

    void add(Enum e, std::uint64_t n = 1) noexcept { counters_[static_cast<std::size_t>(e)].add(n); }
    std::uint64_t value(Enum e) const noexcept { return counters_[static_cast<std::size_t>(e)].value(); }

private:
    void render_series(std::string& out) const override
    {
        for (std::size_t i = 0; i < size; ++i)
            text::sample(out, name(), labels_[i], counters_[i].value());
    }

    std::array<counter, size> counters_{};
    std::array<std::string, size> labels_{};  // rendered once, at construction
};

// One histogram per label value, chosen by index (label values known only at start-up, such as
// the service catalogue's ids).
class histogram_array final : public family
{
public:
    histogram_array(std::string_view name, std::string_view help, std::string_view key, const std::vector<std::string_view>& values);

    std::size_t size() const noexcept { return labels_.size(); }
    // `i` < size(); out-of-range observations are dropped rather than written past the end.
    void observe(std::size_t i, std::chrono::nanoseconds elapsed) noexcept
    {
        if (i < labels_.size())
            histograms_[i].observe(elapsed);
    }
    const histogram& at(std::size_t i) const noexcept { return histograms_[i]; }

private:
    void render_series(std::string& out) const override;

    std::vector<std::string> labels_;
    std::unique_ptr<histogram[]> histograms_;
};

}  // namespace crd::metrics
