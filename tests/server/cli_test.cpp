#include <crd/server/application.hpp>

#include "fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

namespace {

struct cli_result
{
    int code;
    std::string out;
    std::string err;
};

cli_result run(std::vector<std::string> args)
{
    args.insert(args.begin(), "crd-server");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    std::stringstream out, err;
    auto* old_out = std::cout.rdbuf(out.rdbuf());
    auto* old_err = std::cerr.rdbuf(err.rdbuf());
    const int code = crd::server::run_command_line(static_cast<int>(argv.size()), argv.data());
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    return {code, out.str(), err.str()};
}

std::string temp_file(const std::string& name, const std::string& content)
{
    const std::string path = std::string("/tmp/crd-cli-test-") + std::to_string(::getpid()) + "-" + name;
    std::ofstream(path) << content;
    return path;
}

const std::string shipped = std::string(CRD_SOURCE_DIR) + "/etc/crd-server.json";

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_)

BOOST_AUTO_TEST_CASE(help_and_version)
{
    auto v = run({"--version"});
    BOOST_TEST(v.code == 0);
    BOOST_TEST(v.out.rfind("crd-server ", 0) == 0U);
    // This test process links no jemalloc (only the crd-server executable does: cli.allocator).
    BOOST_TEST(v.out.find("\nallocator: system\n") != std::string::npos, v.out);
    auto h = run({"--help"});
    BOOST_TEST(h.code == 0);
    BOOST_TEST(h.out.find("--check-config") != std::string::npos);
    auto bad = run({"--frobnicate"});
    BOOST_TEST(bad.code == 2);
    BOOST_TEST(bad.err.find("--frobnicate") != std::string::npos);
    BOOST_TEST(run({"--config"}).code == 2);
}

BOOST_AUTO_TEST_CASE(check_config_accepts_the_shipped_example)
{
    auto r = run({"--check-config", shipped});
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(r.out.find("configuration OK") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(check_config_names_the_bad_key)
{
    auto r = run({"--check-config", std::string(CRD_SOURCE_DIR) + "/tests/data/bad-config.json"});
    BOOST_TEST(r.code == 1);
    BOOST_TEST(r.err.find("'limits.max_body_byte'") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(check_config_loads_the_rules_it_names)
{
    const auto rules = temp_file("rules.json", R"({"payer": {"name": "P"}, "default": {"covered": "perhaps"}, "rules": []})");
    const auto cfg = temp_file("cfg.json", R"({"auth": {"required": false}, "decision": {"rules": ")" + rules + R"("}})");
    auto r = run({"--check-config", cfg});
    BOOST_TEST(r.code == 1);
    BOOST_TEST(r.err.find("'default.covered'") != std::string::npos, r.err);
    std::remove(rules.c_str());
    std::remove(cfg.c_str());
}

BOOST_AUTO_TEST_CASE(features_this_build_cannot_serve_and_bad_environment_are_refused)
{
    const auto auth = temp_file("auth.json", R"({"auth": {"required": true}})");
    auto r = run({"--check-config", auth});
    BOOST_TEST(r.code == 1);
    BOOST_TEST(r.err.find("auth.required") != std::string::npos, r.err);
    std::remove(auth.c_str());

    ::setenv("CDS_DECISION_SERVICE_URL", "not-a-url", 1);
    auto d = run({"--check-config", shipped});
    ::unsetenv("CDS_DECISION_SERVICE_URL");
    BOOST_TEST(d.code == 1);
    BOOST_TEST(d.err.find("CDS_DECISION_SERVICE_URL") != std::string::npos, d.err);

    // A decision service URL needs no rules file.
    ::setenv("CDS_DECISION_SERVICE_URL", "http://127.0.0.1:9/decide", 1);
    const auto no_rules = temp_file("remote.json", R"({"auth": {"required": false}, "decision": {"rules": "/nonexistent.json"}})");
    auto remote = run({"--check-config", no_rules});
    ::unsetenv("CDS_DECISION_SERVICE_URL");
    BOOST_TEST(remote.code == 0, remote.err);
    std::remove(no_rules.c_str());
}

BOOST_AUTO_TEST_SUITE_END()
