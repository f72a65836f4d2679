#include <crd/upstream/pool_metrics.hpp>

#include <deque>
#include <mutex>
#include <string>

namespace crd::upstream {
namespace {

struct named_pool
{
    std::string label;  // pool="<name>"
    pool_gauges gauges;
};

// The pool names seen so far; a deque, so references handed out stay valid as it grows.
struct pool_table
{
    std::mutex mutex;
    std::deque<named_pool> pools;
};

using series_writer = void (*)(std::string& out, std::string_view name, const named_pool& p);

// One family over every named pool, for one member of pool_gauges.
class pool_family final : public metrics::family
{
public:
    pool_family(std::string_view name, metrics::metric_type type, std::string_view help, pool_table& table, series_writer write)
        : metrics::family(name, type, help)
        , table_(table)
        , write_(write)
    {
    }

private:
    void render_series(std::string& out) const override
    {
        std::lock_guard lock(table_.mutex);
        for (const auto& p : table_.pools)
            write_(out, name(), p);
    }
    pool_table& table_;
    series_writer write_;
};

// A counter or gauge member of pool_gauges as one series labelled by pool.
template <auto member>
void by_pool(std::string& out, std::string_view name, const named_pool& p)
{
    metrics::text::sample(out, name, p.label, (p.gauges.*member).value());
}

void connections(std::string& out, std::string_view name, const named_pool& p)
{
    metrics::text::sample(out, name, p.label + ",state=\"open\"", p.gauges.open.value());
    metrics::text::sample(out, name, p.label + ",state=\"idle\"", p.gauges.idle.value());
}

struct pool_families
{
    pool_table table;
    pool_family connections_family{"crd_upstream_pool_connections", metrics::metric_type::gauge,
        "Upstream pooled connections by pool and state (open includes idle).", table, &connections};
    pool_family waiting{"crd_upstream_pool_waiting", metrics::metric_type::gauge, "Callers waiting for a pooled upstream connection.", table,
        &by_pool<&pool_gauges::waiting>};
    pool_family connects{
        "crd_upstream_connects_total", metrics::metric_type::counter, "Upstream connections opened.", table, &by_pool<&pool_gauges::connects>};
    pool_family reuses{"crd_upstream_reuses_total", metrics::metric_type::counter, "Upstream requests sent on a pooled keep-alive connection.", table,
        &by_pool<&pool_gauges::reuses>};
    pool_family retries{"crd_upstream_retries_total", metrics::metric_type::counter, "Requests retried once after a stale pooled connection failed.",
        table, &by_pool<&pool_gauges::retries>};
    metrics::registration registered{metrics::process_registry(), {&connections_family, &waiting, &connects, &reuses, &retries}};
};

pool_families& families()
{
    static pool_families f;
    return f;
}

}  // namespace

pool_gauges& pool_gauges_for(std::string_view pool)
{
    auto& table = families().table;
    std::lock_guard lock(table.mutex);
    for (auto& p : table.pools)
        if (p.label == metrics::text::label("pool", pool))
            return p.gauges;
    auto& added = table.pools.emplace_back();
    added.label = metrics::text::label("pool", pool);
    return added.gauges;
}

}  // namespace crd::upstream
