// The operations kit against the server it describes: every metric named by a PromQL expression
// in the Grafana dashboard (etc/grafana/crd-server.json) or the alert rules
// (etc/prometheus/crd-server-alerts.yml) is one a running server exports on /metrics, and the TLS
// listener's certificate expiry is exported for the certificate alert.

#include <crd/server/server_metrics.hpp>

#include "fixtures.hpp"
#include "http_client.hpp"
#include "running_application.hpp"
#include "tls_cert.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ctime>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/pem.h>
#include <openssl/x509.h>

namespace json = boost::json;
using namespace crd;

namespace {

// Every name a scrape can answer a query for: each family's name from its TYPE line (listed even
// before a series has counted) and, for histograms, its _bucket, _sum and _count series.
std::set<std::string> exported_names(const std::string& exposition)
{
    std::set<std::string> names;
    std::istringstream in(exposition);
    std::string line;
    while (std::getline(in, line))
    {
        if (line.rfind("# TYPE ", 0) != 0)
            continue;
        std::istringstream words(line.substr(7));
        std::string name, type;
        words >> name >> type;
        names.insert(name);
        if (type == "histogram")
            for (const char* suffix : {"_bucket", "_sum", "_count"})
                names.insert(name + suffix);
    }
    return names;
}

// Series Prometheus makes itself for every scrape target, and the blackbox exporter's probe result
// (the alert on GET /ready).
const std::set<std::string> scrape_series{"up"};

// The metric names a PromQL expression reads: what is left once strings, label matchers, range
// and subquery brackets and grouping label lists are removed, less function calls, keywords and
// numbers.
std::set<std::string> metric_names_in(std::string expr)
{
    static const std::regex strings(R"("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')");
    static const std::regex matchers(R"(\{[^}]*\})");
    static const std::regex ranges(R"(\[[^\]]*\])");
    static const std::regex grouping(R"(\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))");
    static const std::regex offset(R"(\boffset\s+-?[0-9a-z]+)");
    static const std::regex identifier(R"([A-Za-z_:][A-Za-z0-9_:]*)");
    static const std::set<std::string> keywords{
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "Inf", "NaN", "inf", "nan"};
    expr = std::regex_replace(expr, strings, " ");
    expr = std::regex_replace(expr, matchers, " ");
    expr = std::regex_replace(expr, ranges, " ");
    expr = std::regex_replace(expr, grouping, " ");
    expr = std::regex_replace(expr, offset, " ");
    std::set<std::string> names;
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), identifier); it != std::sregex_iterator(); ++it)
    {
        const auto at = static_cast<std::size_t>(it->position());
        // Part of a number (1e3, 0x1f) or a duration (5m): not a name.
        if (at > 0 && (std::isalnum(static_cast<unsigned char>(expr[at - 1])) != 0 || expr[at - 1] == '.'))
            continue;
        auto next = at + static_cast<std::size_t>(it->length());
        while (next < expr.size() && expr[next] == ' ')
            ++next;
        if (next < expr.size() && expr[next] == '(')
            continue;  // a function
        if (keywords.count(it->str()) == 0)
            names.insert(it->str());
    }
    return names;
}

void collect_dashboard_exprs(const json::value& v, std::vector<std::string>& out)
{
    if (const auto* o = v.if_object())
    {
        for (const auto& [key, member] : *o)
        {
            if (key == "expr" && member.is_string())
                out.emplace_back(member.get_string());
            else
                collect_dashboard_exprs(member, out);
        }
    }
    else if (const auto* a = v.if_array())
        for (const auto& element : *a)
            collect_dashboard_exprs(element, out);
}

// The dashboard's template variable queries: label_values(metric{...}, label).
void collect_variable_metrics(const json::value& dashboard, std::set<std::string>& out)
{
    static const std::regex label_values(R"(label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*))");
    for (const auto& variable : dashboard.at("templating").at("list").as_array())
        if (const auto* definition = variable.as_object().if_contains("definition"))
        {
            const std::string text(definition->as_string());
            std::smatch m;
            BOOST_TEST_REQUIRE(std::regex_search(text, m, label_values), "variable query: " << text);
            out.insert(m[1]);
        }
}

// `expr:` values of the alert rules: on the line itself, or a folded/literal block below it.
std::vector<std::string> alert_exprs(const std::string& yaml)
{
    std::vector<std::string> out;
    std::istringstream in(yaml);
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(in, line))
        lines.push_back(line);
    for (std::size_t i = 0; i < lines.size(); ++i)
    {
        const auto at = lines[i].find("expr:");
        if (at == std::string::npos || lines[i].find_first_not_of(' ') != at)
            continue;
        std::string value = lines[i].substr(at + 5);
        value.erase(0, value.find_first_not_of(' '));
        if (!value.empty() && (value[0] == '>' || value[0] == '|'))
        {
            value.clear();
            while (i + 1 < lines.size() && (lines[i + 1].empty() || lines[i + 1].find_first_not_of(' ') > at))
                value += lines[++i] + "\n";
        }
        out.push_back(value);
    }
    return out;
}

std::string scrape_after_some_calls()
{
    test::running_application s(test::test_config());
    test::http_client client(s.port());
    BOOST_TEST(client.request("GET", "/cds-services").status == 200U);
    auto body = test::load_fixture("crd-order-sign-5.json");
    body.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";  // never the example's real host
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", json::serialize(body)).status == 200U);
    BOOST_TEST(client.request("POST", "/cds-services/order-sign-crd", R"({"hook":"order-sign"})").status == 422U);
    const auto scraped = test::http_client(s.admin_port()).request("GET", "/metrics");
    BOOST_TEST_REQUIRE(scraped.status == 200U);
    return scraped.body;
}

void check_names(const std::set<std::string>& exported, const std::string& where, const std::string& expr, std::set<std::string>& used)
{
    for (const auto& name : metric_names_in(expr))
    {
        used.insert(name);
        BOOST_TEST((exported.count(name) == 1U || scrape_series.count(name) == 1U),
            where << " names '" << name << "', which /metrics does not export, in: " << expr);
    }
}

// The dashboard's queries with Grafana's variables given values, as recording rules, so promtool's
// PromQL parser judges their syntax.
std::string as_recording_rules(const std::vector<std::string>& exprs)
{
    static const std::regex interval(R"(\$__rate_interval)");
    static const std::regex variable(R"(\$(job|instance)\b)");
    std::string out = "groups:\n  - name: dashboard\n    rules:\n";
    for (std::size_t i = 0; i < exprs.size(); ++i)
    {
        auto expr = std::regex_replace(std::regex_replace(exprs[i], interval, "5m"), variable, ".+");
        out += "      - record: dashboard:query_" + std::to_string(i) + "\n        expr: |\n";
        std::istringstream lines(expr);
        std::string line;
        while (std::getline(lines, line))
            out += "          " + line + "\n";
    }
    return out;
}

std::int64_t not_after_of_pem(const std::string& path)
{
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "r"), &std::fclose);
    BOOST_TEST_REQUIRE(file != nullptr);
    std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr), &X509_free);
    BOOST_TEST_REQUIRE(cert != nullptr);
    std::tm tm{};
    BOOST_TEST_REQUIRE(ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) == 1);
    return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ops_kit)

BOOST_AUTO_TEST_CASE(promql_parsing_finds_metric_names_and_only_them)
{
    const auto names = metric_names_in(
        R"(histogram_quantile(0.9, sum by (job, le) (rate(crd_a_bucket{le="5", x=~"a|b"}[$__rate_interval] offset 1d)))
           / on (instance) group_left (version) crd_b - time() < 21 * 86400 and up{job="crd-server"} == 0 or vector(1e3))");
    BOOST_TEST((names == std::set<std::string>{"crd_a_bucket", "crd_b", "up"}));
}

BOOST_AUTO_TEST_CASE(dashboard_and_alerts_query_only_exported_metrics)
{
    const auto exported = exported_names(scrape_after_some_calls());
    BOOST_TEST_REQUIRE(exported.count("crd_request_duration_seconds_bucket") == 1U);

    std::set<std::string> used;
    const auto dashboard = json::parse(test::read_file(CRD_SOURCE_DIR "/etc/grafana/crd-server.json"));
    BOOST_TEST(dashboard.at("uid").as_string() == "crd-server");
    std::vector<std::string> panel_exprs;
    collect_dashboard_exprs(dashboard.at("panels"), panel_exprs);
    BOOST_TEST(panel_exprs.size() >= 30U);
    for (const auto& expr : panel_exprs)
        check_names(exported, "etc/grafana/crd-server.json", expr, used);
    // promtool comes with the prometheus package (scripts/install-deps.sh), as for the alert tests.
    test::temp_dir dir("crd-dashboard-rules");
    {
        std::ofstream rules(dir / "dashboard-rules.yml");
        rules << as_recording_rules(panel_exprs);
    }
    const std::string check = "promtool check rules " + (dir / "dashboard-rules.yml").string() + " > " + (dir / "promtool.log").string() + " 2>&1";
    const int promtool_status = std::system(check.c_str());
    BOOST_TEST(promtool_status == 0, "promtool refuses a dashboard query:\n" << test::read_file((dir / "promtool.log").string()));

    std::set<std::string> variable_metrics;
    collect_variable_metrics(dashboard, variable_metrics);
    BOOST_TEST(!variable_metrics.empty());
    for (const auto& name : variable_metrics)
        BOOST_TEST(exported.count(name) == 1U, "dashboard variable reads " << name << ", which /metrics does not export");

    const auto rules = alert_exprs(test::read_file(CRD_SOURCE_DIR "/etc/prometheus/crd-server-alerts.yml"));
    BOOST_TEST(rules.size() >= 15U);
    for (const auto& expr : rules)
    {
        BOOST_TEST(!expr.empty());
        check_names(exported, "etc/prometheus/crd-server-alerts.yml", expr, used);
    }

    // Between them they cover what the issue asks to watch.
    for (const char* name : {"crd_http_requests_total", "crd_request_duration_seconds_bucket", "crd_decision_calls_total",
             "crd_decision_duration_seconds_bucket", "crd_prefetch_fetches_total", "crd_prefetch_duration_seconds_bucket",
             "crd_upstream_pool_connections", "crd_auth_failures_total", "crd_audit_queue_depth", "crd_audit_write_errors_total",
             "crd_in_flight_requests", "crd_overload_rejections_total", "crd_tls_certificate_not_after_seconds"})
        BOOST_TEST(used.count(name) == 1U, name << " is on neither the dashboard nor an alert");
}

BOOST_AUTO_TEST_CASE(tls_listener_exports_its_certificate_expiry)
{
    auto cfg = test::test_config();
    cfg.tls.certificate = test::localhost_certificate().certificate;
    cfg.tls.private_key = test::localhost_certificate().private_key;
    test::running_application s(std::move(cfg));
    const auto body = test::http_client(s.admin_port()).request("GET", "/metrics").body;
    const std::string series = "\ncrd_tls_certificate_not_after_seconds ";
    const auto at = body.find(series);
    BOOST_TEST_REQUIRE(at != std::string::npos, "no certificate expiry series with TLS on");
    const auto value = std::stoll(body.substr(at + series.size()));
    BOOST_TEST(value == not_after_of_pem(test::localhost_certificate().certificate));
}

BOOST_AUTO_TEST_SUITE_END()
