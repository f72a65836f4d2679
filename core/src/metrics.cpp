#include <crd/core/metrics.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace crd::metrics {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;

void append_value(std::string& out, double v)
{
    char buf[32];
    const int n = std::snprintf(buf, sizeof buf, "%.9g", v);
    out.append(buf, static_cast<std::size_t>(n));
}

std::string_view type_name(metric_type t) noexcept
{
    switch (t)
    {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    }
    return "untyped";
}

template <class T>
void append_sample(std::string& out, std::string_view name, std::string_view labels, T value)
{
    out.append(name);
    if (!labels.empty())
        out.append("{").append(labels).append("}");
    out.append(" ");
    if constexpr (std::is_same_v<T, double>)
        append_value(out, value);
    else
        out += std::to_string(value);
    out.append("\n");
}

}  // namespace

namespace text {

std::string label(std::string_view key, std::string_view value)
{
    std::string s;
    s.reserve(key.size() + value.size() + 3);
    s.append(key).append("=\"").append(value).append("\"");
    return s;
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value)
{
    append_sample(out, name, labels, value);
}
void sample(std::string& out, std::string_view name, std::string_view labels, std::int64_t value)
{
    append_sample(out, name, labels, value);
}
void sample(std::string& out, std::string_view name, std::string_view labels, double value)
{
    append_sample(out, name, labels, value);
}

}  // namespace text

void histogram::observe(std::chrono::nanoseconds elapsed) noexcept
{
    const double seconds = std::chrono::duration<double>(elapsed).count();
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i])
        ++i;
    if (i < bounds.size())
        buckets_[i].fetch_add(1, relaxed);
    count_.fetch_add(1, relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count()), relaxed);
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const
{
    const std::string bucket = std::string(name) + "_bucket";
    const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i)
    {
        cumulative += buckets_[i].load(relaxed);
        std::string le;
        append_value(le, bounds[i]);
        text::sample(out, bucket, prefix + text::label("le", le), cumulative);
    }
    // Read count last: concurrent observations may make +Inf exceed the sum of the buckets, never
    // fall below it, which keeps the series monotonic as Prometheus requires.
    const auto total = std::max(cumulative, count_.load(relaxed));
    text::sample(out, bucket, prefix + text::label("le", "+Inf"), total);
    text::sample(out, std::string(name) + "_sum", labels, static_cast<double>(sum_ns_.load(relaxed)) / 1e9);
    text::sample(out, std::string(name) + "_count", labels, total);
}

void family::render(std::string& out) const
{
    out.append("# HELP ").append(name_).append(" ").append(help_).append("\n");
    out.append("# TYPE ").append(name_).append(" ").append(type_name(type_)).append("\n");
    render_series(out);
}

void registry::add(const family& f)
{
    std::lock_guard lock(mutex_);
    for (const family* known : families_)
        if (known->name() == f.name())
            throw std::logic_error("metric family " + std::string(f.name()) + " is registered twice");
    families_.push_back(&f);
}

void registry::remove(const family& f) noexcept
{
    std::lock_guard lock(mutex_);
    std::erase(families_, &f);
}

std::string registry::render() const
{
    std::string out;
    out.reserve(16 * 1024);
    std::lock_guard lock(mutex_);
    for (const family* f : families_)
        f->render(out);
    return out;
}

registry& process_registry()
{
    static registry r;
    return r;
}

registration::registration(registry& r, std::initializer_list<const family*> families) : registry_(&r), families_(families)
{
    std::size_t added = 0;
    try
    {
        for (const family* f : families_)
        {
            r.add(*f);
            ++added;
        }
    }
    catch (...)
    {
        for (std::size_t i = 0; i < added; ++i)
            r.remove(*families_[i]);
        throw;
    }
}

registration::~registration()
{
    for (const family* f : families_)
        registry_->remove(*f);
}

void counter_family::render_series(std::string& out) const
{
    text::sample(out, name(), "", value());
}

void gauge_family::render_series(std::string& out) const
{
    text::sample(out, name(), "", value());
}

void histogram_family::render_series(std::string& out) const
{
    histogram::render(out, name(), "");
}

histogram_array::histogram_array(std::string_view name, std::string_view help, std::string_view key, const std::vector<std::string_view>& values)
    : family(name, metric_type::histogram, help)
    , histograms_(std::make_unique<histogram[]>(values.size()))
{
    labels_.reserve(values.size());
    for (auto v : values)
        labels_.push_back(text::label(key, v));
}

void histogram_array::render_series(std::string& out) const
{
    for (std::size_t i = 0; i < labels_.size(); ++i)
        histograms_[i].render(out, name(), labels_[i]);
}

}  // namespace crd::metrics
