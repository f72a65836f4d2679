// /metrics is a contract: dashboards and alerts name its series. This pins the set of series
// (metric name and label set) and each family's TYPE for a process that has recorded one of
// everything, whichever module owns the family and in whatever order families are rendered.

#include <crd/auth/auth_metrics.hpp>
#include <crd/core/metrics.hpp>
#include <crd/decision/decision_metrics.hpp>
#include <crd/server/server_metrics.hpp>
#include <crd/upstream/pool_metrics.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace crd;
using namespace std::chrono_literals;

namespace {

// Every recording call the modules make, once for each label value (statuses: every tracked one
// and one untracked, 418, counted as "other").
void record_one_of_each()
{
    auto& srv = server::server_metrics::instance();
    for (std::size_t r = 0; r < server::route_label_count; ++r)
    {
        for (unsigned status : server::tracked_statuses)
            srv.requests.add(static_cast<server::route_label>(r), status);
        srv.requests.add(static_cast<server::route_label>(r), 418);
    }
    for (std::size_t i = 0; i < srv.request_seconds.size(); ++i)
        srv.request_seconds.observe(i, 3ms);
    srv.overload.add(server::overload_limit::max_connections);
    srv.overload.add(server::overload_limit::max_in_flight);
    srv.in_flight.add(1);
    srv.in_flight.add(-1);

    auto& a = auth::auth_metrics::instance();
    for (std::size_t i = 0; i < static_cast<std::size_t>(auth::auth_failure::count_); ++i)
        a.failures.add(static_cast<auth::auth_failure>(i));

    auto& d = decision::decision_metrics::instance();
    for (std::size_t i = 0; i < static_cast<std::size_t>(decision::decision_outcome::count_); ++i)
        d.calls.add(static_cast<decision::decision_outcome>(i));
    d.call_seconds.observe(3ms);
    d.degraded.add();
    d.nonfinite_numbers.add();
    d.relayed_unread.add();
    d.relay_pass_refused.add();
    for (std::size_t i = 0; i < static_cast<std::size_t>(decision::normalisation::count_); ++i)
        d.normalised.add(static_cast<decision::normalisation>(i));
    for (std::size_t i = 0; i < static_cast<std::size_t>(decision::prefetch_outcome::count_); ++i)
        d.prefetch_fetches.add(static_cast<decision::prefetch_outcome>(i));
    d.prefetch_seconds.observe(3ms);
    d.prefetch_origin_refused.add();
    d.feedback_forwarded.add(decision::forward_result::ok);
    d.feedback_forwarded.add(decision::forward_result::error);
    for (auto* pool : {&d.decision_pool, &d.fhir_pool, &upstream::pool_gauges_for("jwks")})
    {
        pool->connects.add();
        pool->reuses.add();
        pool->retries.add();
    }

    srv.open_connections.add(1);
    srv.open_connections.add(-1);
    for (auto* c :
        {&srv.accept_failures, &srv.accept_shed, &srv.audit_records, &srv.audit_write_errors, &srv.audit_backpressure, &srv.audit_rejected})
        c->add();
    srv.audit_queue_depth.set(0);
    srv.reloads.add(server::reload_result::ok);
    srv.reloads.add(server::reload_result::refused);
    srv.tls_certificate_not_after.set(1798761600);  // as a TLS listener's start does
}

std::string render()
{
    return server::render_metrics("test-version");
}

// "name{k=\"v\",...}" with the labels sorted by key, so label order inside a series does not matter.
using series_key = std::pair<std::string, std::vector<std::pair<std::string, std::string>>>;

series_key parse_series(const std::string& line)
{
    const auto brace = line.find('{');
    const auto space = line.rfind(' ');
    BOOST_TEST_REQUIRE(space != std::string::npos, "sample line without a value: " << line);
    series_key key;
    if (brace == std::string::npos || brace > space)
    {
        key.first = line.substr(0, space);
        return key;
    }
    key.first = line.substr(0, brace);
    std::size_t i = brace + 1;
    while (i < line.size() && line[i] != '}')
    {
        const auto eq = line.find('=', i);
        BOOST_TEST_REQUIRE(eq != std::string::npos, "label without '=': " << line);
        BOOST_TEST_REQUIRE(line[eq + 1] == '"', "unquoted label value: " << line);
        const auto close = line.find('"', eq + 2);
        BOOST_TEST_REQUIRE(close != std::string::npos, "unterminated label value: " << line);
        key.second.emplace_back(line.substr(i, eq - i), line.substr(eq + 2, close - eq - 2));
        i = close + 1;
        if (i < line.size() && line[i] == ',')
            ++i;
    }
    std::sort(key.second.begin(), key.second.end());
    return key;
}

std::string to_text(const series_key& key)
{
    std::string s = key.first;
    if (!key.second.empty())
    {
        s += "{";
        for (std::size_t i = 0; i < key.second.size(); ++i)
            s += (i ? "," : "") + key.second[i].first + "=\"" + key.second[i].second + "\"";
        s += "}";
    }
    return s;
}

struct parsed_exposition
{
    std::set<std::string> series;              // to_text(series_key)
    std::map<std::string, std::string> types;  // family -> TYPE
    std::map<std::string, int> help_lines;     // family -> number of HELP lines
};

parsed_exposition parse(const std::string& text)
{
    parsed_exposition out;
    std::istringstream in(text);
    std::string line;
    std::string current_family;
    while (std::getline(in, line))
    {
        if (line.rfind("# HELP ", 0) == 0)
        {
            const auto name = line.substr(7, line.find(' ', 7) - 7);
            ++out.help_lines[name];
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0)
        {
            std::istringstream words(line.substr(7));
            std::string name, type;
            words >> name >> type;
            BOOST_TEST(out.types.count(name) == 0U, "TYPE given twice for " << name);
            out.types[name] = type;
            current_family = name;
            continue;
        }
        BOOST_TEST_REQUIRE(!line.empty());
        auto key = parse_series(line);
        // A sample belongs to the family declared just above it (histograms add suffixes).
        const auto& n = key.first;
        const bool belongs = n == current_family || n == current_family + "_bucket" || n == current_family + "_sum" || n == current_family + "_count";
        BOOST_TEST(belongs, n << " is not under its own TYPE line (under " << current_family << ")");
        const bool added = out.series.insert(to_text(key)).second;
        BOOST_TEST(added, "series rendered twice: " << to_text(key));
    }
    return out;
}

// The series as they were before core stopped knowing its callers (issue 13).
std::set<std::string> expected_series()
{
    std::set<std::string> s;
    const std::vector<std::string> services{
        "order-sign-crd", "order-select-crd", "order-dispatch-crd", "appointment-book-crd", "encounter-start-crd", "encounter-discharge-crd"};
    std::vector<std::string> routes = services;
    for (const char* r : {"discovery", "feedback", "health", "ready", "metrics", "smart-configuration", "token", "preflight", "other"})
        routes.emplace_back(r);
    const std::vector<std::string> statuses{
        "200", "204", "400", "401", "403", "404", "405", "408", "412", "413", "415", "422", "429", "431", "500", "502", "503", "504", "other"};
    const std::vector<std::string> bounds{
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"};
    // Label sets are compared sorted by key ("le" sorts before "service").
    auto histogram = [&](const std::string& name, const std::string& labels) {
        for (const auto& le : bounds)
            s.insert(name + "_bucket{le=\"" + le + "\"" + (labels.empty() ? "" : "," + labels) + "}");
        s.insert(name + "_sum" + (labels.empty() ? "" : "{" + labels + "}"));
        s.insert(name + "_count" + (labels.empty() ? "" : "{" + labels + "}"));
    };
    auto labelled = [&](const std::string& name, const std::string& key, const std::vector<std::string>& values) {
        for (const auto& v : values)
            s.insert(name + "{" + key + "=\"" + v + "\"}");
    };

    s.insert("crd_build_info{allocator=\"system\",version=\"test-version\"}");
    for (const auto& r : routes)
        for (const auto& st : statuses)
            s.insert("crd_http_requests_total{route=\"" + r + "\",status=\"" + st + "\"}");
    for (const auto& svc : services)
        histogram("crd_request_duration_seconds", "service=\"" + svc + "\"");
    labelled("crd_decision_calls_total", "outcome", {"ok", "timeout", "error", "breaker_open", "rejected"});
    histogram("crd_decision_duration_seconds", "");
    s.insert("crd_decision_degraded_total");
    labelled("crd_hook_calls_by_version_total", "version", {"2.0", "2.1", "2.2"});
    labelled("crd_coverage_information_rendering_total", "change", {"downgraded", "repaired", "dropped"});
    labelled("crd_decisions_repaired_total", "repair", {"missing_order", "unknown_order", "duplicate_order", "invalid_decision", "invalid_card"});
    s.insert("crd_decision_relayed_total");
    const std::vector<std::string> pools{"decision", "fhir", "jwks"};
    for (const auto& p : pools)
    {
        s.insert("crd_upstream_pool_connections{pool=\"" + p + "\",state=\"open\"}");
        s.insert("crd_upstream_pool_connections{pool=\"" + p + "\",state=\"idle\"}");
    }
    labelled("crd_upstream_pool_waiting", "pool", pools);
    labelled("crd_upstream_connects_total", "pool", pools);
    labelled("crd_upstream_reuses_total", "pool", pools);
    labelled("crd_upstream_retries_total", "pool", pools);
    labelled("crd_prefetch_fetches_total", "outcome", {"fetched", "not_found", "error", "timeout", "skipped"});
    histogram("crd_prefetch_duration_seconds", "");
    labelled("crd_auth_failures_total", "reason",
        {"missing", "malformed", "bad_algorithm", "unknown_client", "unknown_key", "bad_signature", "bad_audience", "expired", "not_yet_valid",
            "lifetime_too_long", "replayed", "bad_jku", "bad_scope", "bad_secret", "key_fetch_failed", "busy", "keys_unavailable",
            "replay_unavailable"});
    histogram("crd_replay_redis_seconds", "");
    labelled("crd_replay_redis_errors_total", "kind", {"connect", "timeout", "reply", "lost", "down"});
    s.insert("crd_replay_local_fallbacks_total");
    s.insert("crd_replay_cache_mode");
    for (const char* kind : {"card", "systemAction"})
        for (const char* action : {"dropped", "repaired"})
            s.insert(std::string("crd_cards_normalised_total{action=\"") + action + "\",kind=\"" + kind + "\"}");
    s.insert("crd_in_flight_requests");
    s.insert("crd_open_connections");
    labelled("crd_overload_rejections_total", "limit", {"max_connections", "max_in_flight"});
    s.insert("crd_audit_records_total");
    s.insert("crd_audit_write_errors_total");
    s.insert("crd_audit_backpressure_total");
    s.insert("crd_audit_rejected_total");
    s.insert("crd_audit_queue_depth");
    labelled("crd_feedback_forwarded_total", "result", {"ok", "error"});
    labelled("crd_config_reloads_total", "result", {"ok", "refused"});
    s.insert("crd_prefetch_origin_refused_total");
    s.insert("crd_accept_failures_total");
    s.insert("crd_accept_shed_total");
    s.insert("crd_decision_nonfinite_numbers_total");
    s.insert("crd_decision_answers_relayed_unread_total");
    s.insert("crd_decision_answers_read_twice_total");
    s.insert("crd_tls_certificate_not_after_seconds");
    s.insert("crd_ready");
    return s;
}

const std::map<std::string, std::string> expected_types{
    {"crd_build_info", "gauge"},
    {"crd_http_requests_total", "counter"},
    {"crd_request_duration_seconds", "histogram"},
    {"crd_decision_calls_total", "counter"},
    {"crd_decision_duration_seconds", "histogram"},
    {"crd_decision_degraded_total", "counter"},
    {"crd_hook_calls_by_version_total", "counter"},
    {"crd_coverage_information_rendering_total", "counter"},
    {"crd_decisions_repaired_total", "counter"},
    {"crd_decision_relayed_total", "counter"},
    {"crd_upstream_pool_connections", "gauge"},
    {"crd_upstream_pool_waiting", "gauge"},
    {"crd_upstream_connects_total", "counter"},
    {"crd_upstream_reuses_total", "counter"},
    {"crd_upstream_retries_total", "counter"},
    {"crd_prefetch_fetches_total", "counter"},
    {"crd_prefetch_duration_seconds", "histogram"},
    {"crd_auth_failures_total", "counter"},
    {"crd_replay_redis_seconds", "histogram"},
    {"crd_replay_redis_errors_total", "counter"},
    {"crd_replay_local_fallbacks_total", "counter"},
    {"crd_replay_cache_mode", "gauge"},
    {"crd_config_info", "gauge"},
    {"crd_cards_normalised_total", "counter"},
    {"crd_in_flight_requests", "gauge"},
    {"crd_open_connections", "gauge"},
    {"crd_overload_rejections_total", "counter"},
    {"crd_audit_records_total", "counter"},
    {"crd_audit_write_errors_total", "counter"},
    {"crd_audit_backpressure_total", "counter"},
    {"crd_audit_rejected_total", "counter"},
    {"crd_audit_queue_depth", "gauge"},
    {"crd_feedback_forwarded_total", "counter"},
    {"crd_config_reloads_total", "counter"},
    {"crd_prefetch_origin_refused_total", "counter"},
    {"crd_accept_failures_total", "counter"},
    {"crd_accept_shed_total", "counter"},
    {"crd_decision_nonfinite_numbers_total", "counter"},
    {"crd_decision_answers_relayed_unread_total", "counter"},
    {"crd_decision_answers_read_twice_total", "counter"},
    {"crd_tls_certificate_not_after_seconds", "gauge"},
    {"crd_ready", "gauge"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics_series)

BOOST_AUTO_TEST_CASE(every_series_keeps_its_name_and_labels)
{
    record_one_of_each();
    auto got = parse(render());
    // crd_config_info has a series once an application of this process has started (its label is
    // that configuration's fingerprint): other tests decide that, not this one.
    std::erase_if(got.series, [](const std::string& s) { return s.rfind("crd_config_info{", 0) == 0; });

    const auto want = expected_series();
    for (const auto& series : want)
        BOOST_TEST(got.series.count(series) == 1U, "missing: " << series);
    for (const auto& series : got.series)
        BOOST_TEST(want.count(series) == 1U, "unexpected: " << series);

    BOOST_TEST(got.types == expected_types);
    for (const auto& [family, type] : expected_types)
    {
        const auto help = got.help_lines.find(family);
        BOOST_TEST((help != got.help_lines.end() && help->second == 1), "one HELP line for " << family);
    }
}

BOOST_AUTO_TEST_CASE(recording_shows_in_the_rendered_value)
{
    // The pinned set would pass with every value stuck at zero: check a count moves too.
    auto value_of = [](const std::string& text, const std::string& series) {
        const auto at = text.find("\n" + series + " ");
        BOOST_TEST_REQUIRE(at != std::string::npos, series);
        return std::stod(text.substr(at + series.size() + 2));
    };
    const std::string series = "crd_decision_calls_total{outcome=\"breaker_open\"}";
    const double before = value_of(render(), series);
    decision::decision_metrics::instance().calls.add(decision::decision_outcome::breaker_open);
    BOOST_TEST(value_of(render(), series) == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()
