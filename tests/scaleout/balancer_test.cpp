// Several instances on one machine, as on several hosts: haproxy (etc/haproxy/crd-server.cfg,
// its addresses replaced by this test's loopback ports) in front of two crd-server processes that
// share one redis-server. Under steady load one instance gets SIGTERM: it drains (in-flight calls
// finish, new connections are refused), haproxy retries the refused ones on the other instance,
// and no call fails. A client JWT sent twice through the balancer is refused the second time,
// whichever instance gets it, and still after both instances reloaded (SIGHUP).

#include <crd/auth/jose.hpp>

#include "child_server.hpp"
#include "client_keys.hpp"
#include "fixtures.hpp"
#include "http_client.hpp"
#include "redis_server.hpp"

#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace json = boost::json;
namespace fs = std::filesystem;
namespace utf = boost::unit_test;
using namespace crd;
using namespace std::chrono_literals;

namespace {

const std::string hook_path = "/cds-services/order-sign-crd";

std::string haproxy_binary()
{
    for (const char* p : {"/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"})
        if (::access(p, X_OK) == 0)
            return p;
    return {};
}

boost::test_tools::assertion_result haproxy_and_redis_present(utf::test_unit_id id)
{
    if (auto redis = test::redis_server_present(id); !redis)
        return redis;
    boost::test_tools::assertion_result r(!haproxy_binary().empty());
    if (!r)
        r.message() << "SKIPPED: haproxy is not installed (Debian: apt-get install haproxy, or scripts/install-deps.sh)";
    return r;
}

const auth::signing_key& client_key()
{
    return test::client_key("balancer-key-1");
}

// haproxy in the foreground (-db), its log (stdout) in a file; SIGKILLed when the object goes.
class haproxy_process
{
public:
    haproxy_process(const fs::path& config, const fs::path& log)
    {
        const auto binary = haproxy_binary();
        const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_ = ::fork();
        if (pid_ == 0)
        {
            ::dup2(log_fd, 1);
            ::dup2(log_fd, 2);
            ::execl(binary.c_str(), binary.c_str(), "-db", "-f", config.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(log_fd);
    }
    ~haproxy_process()
    {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    haproxy_process(const haproxy_process&) = delete;
    haproxy_process& operator=(const haproxy_process&) = delete;

private:
    pid_t pid_ = -1;
};

std::string read_file(const fs::path& p)
{
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void replace_all(std::string& text, const std::string& from, const std::string& to)
{
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

// The lines of a log that do not contain `text` (haproxy's log: the calls that did not answer 200).
std::string lines_without(const std::string& log, std::string_view text)
{
    std::istringstream in(log);
    std::string out;
    for (std::string line; std::getline(in, line);)
        if (line.find(text) == std::string::npos)
            out += line + '\n';
    return out;
}

std::string sign_body()
{
    auto doc = test::load_fixture("crd-order-sign-5.json");
    doc.as_object()["fhirServer"] = "http://127.0.0.1:9/fhir";
    return json::serialize(doc);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds within = 10s)
{
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end)
    {
        if (condition())
            return true;
        std::this_thread::sleep_for(20ms);
    }
    return condition();
}

// Exit status of `pid` once it has ended within `within`; nullopt when it is still running.
std::optional<int> exit_status(pid_t pid, std::chrono::milliseconds within)
{
    const auto end = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < end)
    {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
}

struct balanced_pair
{
    test::redis_server redis;
    std::uint16_t lb_port = attack::free_port();
    std::string base = "http://127.0.0.1:" + std::to_string(lb_port);
    attack::child_server a{instance_config()};
    attack::child_server b{instance_config()};
    test::temp_dir dir{"crd-haproxy"};
    fs::path config = write_haproxy_config();
    haproxy_process haproxy{config, dir / "haproxy.log"};

    json::object instance_config()
    {
        auto c = attack::base_config();
        c["listen"].as_object()["threads"] = 2;
        c["public_base_url"] = base;
        c["log"] = json::object{{"level", "warning"}};
        c["auth"] = json::object{
            {"required", true},
            {"clients", json::array{json::object{{"client_id", "ehr"}, {"jwks", {{"keys", json::array{auth::public_jwk(client_key())}}}}}}},
            {"replay_cache", {{"redis", redis.url()}, {"timeout_ms", 200}}},
        };
        c["limits"] = json::object{{"shutdown_grace_ms", 5000}};
        return c;
    }

    // The shipped file, with this test's ports for the frontend and the two instances.
    fs::path write_haproxy_config()
    {
        auto text = read_file(fs::path(CRD_SOURCE_DIR) / "etc/haproxy/crd-server.cfg");
        BOOST_REQUIRE(text.find("127.0.0.1:8000") != std::string::npos);
        replace_all(text, "127.0.0.1:8000", "127.0.0.1:" + std::to_string(lb_port));
        replace_all(text, "127.0.0.1:8080", "127.0.0.1:" + std::to_string(a.port()));
        replace_all(text, "127.0.0.1:8090", "127.0.0.1:" + std::to_string(b.port()));
        const auto path = dir / "haproxy.cfg";
        std::ofstream(path) << text;
        return path;
    }

    std::string token()
    {
        static std::atomic<int> n{0};
        const auto now = test::unix_now();
        return "Bearer " + auth::sign_compact(client_key(), json::object{{"iss", "ehr"}, {"aud", base + hook_path}, {"iat", now}, {"exp", now + 300},
                                                                {"jti", "lb" + std::to_string(++n) + "-" + std::to_string(now)}});
    }

    unsigned call(test::http_client& c, const std::string& authorization)
    {
        return c.request("POST", hook_path, sign_body(), {{"Content-Type", "application/json"}, {"Authorization", authorization}}).status;
    }

    bool serving()
    {
        try
        {
            test::http_client c(lb_port);
            return c.request("GET", "/ready").status == 200U;
        }
        catch (const std::exception&)
        {
            return false;
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(balancer_, *utf::precondition(haproxy_and_redis_present))

BOOST_AUTO_TEST_CASE(a_client_jwt_sent_twice_through_the_balancer_is_refused_the_second_time)
{
    balanced_pair s;
    BOOST_REQUIRE(eventually([&] { return s.serving(); }));
    // leastconn with fresh connections alternates instances; whichever gets the second, it is a replay.
    for (int i = 0; i < 4; ++i)
    {
        const auto token = s.token();
        test::http_client first(s.lb_port);
        BOOST_TEST(s.call(first, token) == 200U);
        test::http_client second(s.lb_port);
        BOOST_TEST(s.call(second, token) == 401U);
    }
    // SIGHUP to both (a logrotate, a new client list): what was claimed before is still claimed.
    const auto before_reload = s.token();
    test::http_client c(s.lb_port);
    BOOST_TEST(s.call(c, before_reload) == 200U);
    for (auto pid : {s.a.pid(), s.b.pid()})
        BOOST_REQUIRE(::kill(pid, SIGHUP) == 0);
    auto reloaded = [](std::uint16_t port) {  // the admin listener is on listen.port + 1
        test::http_client admin(static_cast<std::uint16_t>(port + 1));
        return admin.request("GET", "/metrics").body.find("crd_config_reloads_total{result=\"ok\"} 1") != std::string::npos;
    };
    BOOST_REQUIRE(eventually([&] { return reloaded(s.a.port()) && reloaded(s.b.port()); }));
    for (int i = 0; i < 2; ++i)  // leastconn with fresh connections: each instance gets one
    {
        test::http_client again(s.lb_port);
        BOOST_TEST(s.call(again, before_reload) == 401U);
    }
    test::http_client after(s.lb_port);
    BOOST_TEST(s.call(after, s.token()) == 200U);
}

BOOST_AUTO_TEST_CASE(sigterm_to_one_instance_under_steady_load_fails_no_call)
{
    balanced_pair s;
    BOOST_REQUIRE(eventually([&] { return s.serving(); }));
    std::atomic<bool> done{false};
    std::atomic<unsigned> ok{0};
    std::mutex failures_mutex;
    std::map<std::string, unsigned> failures;  // what went wrong, how often
    auto fail = [&](const std::string& what) {
        std::lock_guard lock(failures_mutex);
        ++failures[what];
    };
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t)
        callers.emplace_back([&] {
            std::optional<test::http_client> c;
            while (!done)
            {
                try
                {
                    if (!c)
                        c.emplace(s.lb_port);
                    const auto status = s.call(*c, s.token());
                    if (status == 200U)
                        ++ok;
                    else
                        fail("status " + std::to_string(status));
                }
                catch (const std::exception& e)
                {
                    // A connection haproxy closed is not a failed call in itself: the next one
                    // opens another; what failed was the call in flight, counted here.
                    fail(std::string("exception: ") + e.what());
                    c.reset();
                }
            }
        });
    std::this_thread::sleep_for(1500ms);
    const auto before = ok.load();
    BOOST_REQUIRE(::kill(s.a.pid(), SIGTERM) == 0);
    const auto status = exit_status(s.a.pid(), 8s);
    std::this_thread::sleep_for(2000ms);  // the survivor carries everything now
    done = true;
    for (auto& t : callers)
        t.join();

    BOOST_TEST(status.has_value());
    BOOST_TEST(status.value_or(-1) == 0);  // a clean drain, not a kill
    BOOST_TEST(before > 20U);
    BOOST_TEST(ok.load() > before + 20U);  // calls went on through the other instance
    std::ostringstream failed;
    for (const auto& [what, n] : failures)
        failed << "  " << what << " x" << n << '\n';
    BOOST_TEST(failures.empty(), "calls failed during the drain:\n"
                                     << failed.str() << "haproxy's lines for other answers than 200:\n"
                                     << lines_without(read_file(s.dir / "haproxy.log"), " 200 ").substr(0, 4000) << "the stopped instance's log:\n"
                                     << s.a.log().substr(0, 4000) << "the other's log:\n"
                                     << s.b.log().substr(0, 4000));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(drain_)

BOOST_AUTO_TEST_CASE(sigterm_with_a_drain_delay_answers_ready_503_first_while_calls_are_still_served)
{
    auto config = attack::base_config();
    config["limits"] = json::object{{"drain_delay_ms", 1500}};
    attack::child_server server(config);
    test::http_client before(server.port());
    BOOST_TEST(before.request("GET", "/ready").status == 200U);
    const auto started = std::chrono::steady_clock::now();
    BOOST_REQUIRE(::kill(server.pid(), SIGTERM) == 0);
    BOOST_REQUIRE(eventually([&] {
        test::http_client c(server.port());
        return c.request("GET", "/ready").status == 503U;
    }));
    // Still serving: a balancer that has not noticed yet loses nothing.
    test::http_client during(server.port());
    BOOST_TEST(during.request("POST", hook_path, sign_body()).status == 200U);
    const auto status = exit_status(server.pid(), 10s);
    BOOST_TEST(status.value_or(-1) == 0);
    BOOST_TEST((std::chrono::steady_clock::now() - started >= 1500ms));
}

BOOST_AUTO_TEST_SUITE_END()
