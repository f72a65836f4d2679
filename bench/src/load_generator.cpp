// crd-bench: an HTTP/1.1 load generator for crd-server (Beast coroutine clients, one thread).
//
// Two modes:
//  - closed loop (--rate 0): N keep-alive connections each send their next request as soon as
//    the previous answer arrives. Measures capacity.
//  - open loop (--rate R): requests are due at a constant rate, and latency is measured from each
//    request's *intended* send time, so a server stall shows up as latency instead of silently
//    slowing the generator down (no coordinated omission).
// Output: one JSON object (throughput, status counts, latency percentiles, the server's CPU time
// and peak RSS when --server-pid is given, the generator's own CPU time), and optionally every
// latency sample for plots.
//
// The generator shares the machine's cores with the server, so what it spends per call is taken
// from the server: requests that are the same every time are serialised once and written as they
// are, and answers are read through a fixed buffer and dropped, never kept as a string (a 100-order
// call's 263 KB answer was allocated and copied per call, and the generator, not the server, was
// what saturated a core: issue 19).

#include <crd/core/async.hpp>
#include <crd/core/url.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using steady = std::chrono::steady_clock;
namespace net = boost::asio;
using crd::use_tuple;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct options
{
    crd::core::url target;
    std::string method = "POST";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::string> bodies;  // --body-dir style rotation: each request takes the next
    unsigned connections = 16;
    double rate = 0;  // requests per second; 0 = closed loop
    double duration_s = 10;
    double warmup_s = 2;
    std::string label = "run";
    int server_pid = 0;
    std::string samples_path;
    std::string unique_header;                // a header whose value gets a unique suffix per request (JWT jti etc.)
    std::vector<std::string> authorizations;  // --auth-tokens: one Authorization value per request, each used once
};

struct stats
{
    std::vector<double> latencies_us;  // measured requests only (after warm-up)
    std::map<unsigned, std::uint64_t> statuses;
    std::map<std::string, std::uint64_t> errors;
    std::uint64_t sent = 0;
};

struct shared_state
{
    const options& opt;
    // Each body's whole request, serialised once, when nothing in it changes per request.
    std::vector<std::string> wire;
    stats st;
    steady::time_point start;
    steady::time_point measure_from;
    steady::time_point end;
    std::uint64_t next_ticket = 0;
    std::uint64_t total_tickets = 0;  // open loop only
    std::size_t next_token = 0;       // --auth-tokens
};

struct proc_sample
{
    double cpu_s = 0;
    double user_s = 0;    // of cpu_s, in user space
    double system_s = 0;  // of cpu_s, in the kernel on the process's behalf
    long rss_kb = 0;
    long peak_rss_kb = 0;
};

proc_sample read_proc(int pid)
{
    proc_sample s;
    if (pid <= 0)
        return s;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), {});
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const auto close = content.rfind(')');
    if (close != std::string::npos)
    {
        std::istringstream rest(content.substr(close + 2));
        std::vector<std::string> f;
        for (std::string x; rest >> x;)
            f.push_back(x);
        if (f.size() > 13)
        {
            const auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
            s.user_s = std::stod(f[11]) / ticks;
            s.system_s = std::stod(f[12]) / ticks;
            s.cpu_s = s.user_s + s.system_s;
        }
    }
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
    {
        if (line.rfind("VmRSS:", 0) == 0)
            s.rss_kb = std::stol(line.substr(6));
        if (line.rfind("VmHWM:", 0) == 0)
            s.peak_rss_kb = std::stol(line.substr(6));
    }
    return s;
}

// One request with `body`, as every one is sent (per-request headers are set by the caller).
http::request<http::string_body> make_request(const options& opt, const std::string& body)
{
    http::request<http::string_body> req{http::string_to_verb(opt.method), opt.target.target, 11};
    req.method_string(opt.method);
    req.set(http::field::host, opt.target.host);
    for (const auto& [k, v] : opt.headers)
        req.set(k, v);
    req.body() = body;
    if (!req.body().empty() || opt.method == "POST")
        req.prepare_payload();
    req.keep_alive(true);
    return req;
}

// This process's own CPU time (user and system), in seconds.
double own_cpu_s()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

net::awaitable<void> client(shared_state& sh, tcp::endpoint endpoint, unsigned index)
{
    const auto& opt = sh.opt;
    beast::tcp_stream stream(co_await net::this_coro::executor);
    beast::flat_buffer buffer;
    bool connected = false;
    net::steady_timer pacer(co_await net::this_coro::executor);
    std::uint64_t local = 0;
    std::vector<char> discard(64 * 1024);  // each answer's body goes through here
    // Beast reads as much as the buffer has room for, at least 512 bytes: a buffer the size of an
    // answer's header read a 263 KB answer in 512-byte pieces (about 570 recvmsg a call).
    buffer.reserve(64 * 1024);

    for (;;)
    {
        steady::time_point intended;
        std::uint64_t ticket = 0;
        if (opt.rate > 0)
        {
            if (sh.next_ticket >= sh.total_tickets)
                break;
            ticket = sh.next_ticket++;
            intended = sh.start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(static_cast<double>(ticket) / opt.rate));
            if (intended > steady::now())
            {
                pacer.expires_at(intended);
                co_await pacer.async_wait(use_tuple);
            }
        }
        else
        {
            intended = steady::now();
            if (intended >= sh.end)
                break;
            ticket = sh.next_ticket++;
        }

        if (!connected)
        {
            stream.expires_after(5s);
            auto [ec] = co_await stream.async_connect(endpoint, use_tuple);
            if (ec)
            {
                ++sh.st.errors["connect: " + ec.message()];
                pacer.expires_after(10ms);
                co_await pacer.async_wait(use_tuple);
                continue;
            }
            stream.socket().set_option(tcp::no_delay(true));
            connected = true;
        }

        stream.expires_after(30s);
        beast::error_code wec;
        if (!sh.wire.empty())
        {
            ++sh.st.sent;
            std::tie(wec, std::ignore) = co_await net::async_write(stream, net::buffer(sh.wire[ticket % sh.wire.size()]), use_tuple);
        }
        else
        {
            auto req = make_request(opt, opt.bodies.empty() ? opt.body : opt.bodies[ticket % opt.bodies.size()]);
            if (!opt.unique_header.empty())
                req.set(opt.unique_header, std::to_string(index) + "-" + std::to_string(local++));
            if (!opt.authorizations.empty())
            {
                // Tokens carry a unique jti: reusing one is a replay the server must refuse.
                if (sh.next_token >= opt.authorizations.size())
                {
                    ++sh.st.errors["out of pre-generated tokens"];
                    break;
                }
                req.set(http::field::authorization, opt.authorizations[sh.next_token++]);
            }
            ++sh.st.sent;
            std::tie(wec, std::ignore) = co_await http::async_write(stream, req, use_tuple);
        }
        http::response_parser<http::buffer_body> res;
        res.body_limit(std::numeric_limits<std::uint64_t>::max());
        beast::error_code rec = wec;
        if (!wec)
            std::tie(rec, std::ignore) = co_await http::async_read_header(stream, buffer, res, use_tuple);
        while (!rec && !res.is_done())
        {
            res.get().body().data = discard.data();
            res.get().body().size = discard.size();
            std::tie(rec, std::ignore) = co_await http::async_read(stream, buffer, res, use_tuple);
            if (rec == http::error::need_buffer)
                rec = {};
        }
        const auto done = steady::now();
        if (rec)
        {
            ++sh.st.errors[rec.message()];
            beast::error_code ignored;
            stream.socket().close(ignored);
            buffer.clear();
            connected = false;
            continue;
        }
        if (intended >= sh.measure_from)
        {
            ++sh.st.statuses[res.get().result_int()];
            sh.st.latencies_us.push_back(std::chrono::duration<double, std::micro>(done - intended).count());
        }
        if (!res.get().keep_alive())
        {
            beast::error_code ignored;
            stream.socket().close(ignored);
            connected = false;
        }
    }
}

double percentile(const std::vector<double>& sorted, double p)
{
    if (sorted.empty())
        return 0;
    const auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))) - 1;
    return sorted[std::min(idx, sorted.size() - 1)];
}

[[noreturn]] void usage(const std::string& why)
{
    std::cerr << "crd-bench: " << why << "\n"
              << "usage: crd-bench --url URL [--method POST] [--body FILE]... [--header 'K: V']...\n"
                 "                 [--connections N] [--rate R] [--duration S] [--warmup S] [--label L]\n"
                 "                 [--server-pid PID] [--samples FILE] [--unique-header NAME] [--auth-tokens FILE]\n";
    std::exit(2);
}

options parse(int argc, char** argv)
{
    options o;
    bool have_url = false;
    for (int i = 1; i < argc; ++i)
    {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc)
                usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--url")
        {
            auto u = crd::core::parse_http_url(next());
            if (!u || u->is_https())
                usage("--url must be an http:// URL");
            o.target = *u;
            have_url = true;
        }
        else if (a == "--method")
            o.method = next();
        else if (a == "--body")
        {
            std::ifstream in(next(), std::ios::binary);
            if (!in)
                usage("cannot read the body file");
            o.bodies.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        else if (a == "--header")
        {
            const auto h = next();
            const auto colon = h.find(':');
            if (colon == std::string::npos)
                usage("--header takes 'Name: value'");
            o.headers.emplace_back(h.substr(0, colon), h.substr(h.find_first_not_of(' ', colon + 1)));
        }
        else if (a == "--connections")
            o.connections = static_cast<unsigned>(std::stoul(next()));
        else if (a == "--rate")
            o.rate = std::stod(next());
        else if (a == "--duration")
            o.duration_s = std::stod(next());
        else if (a == "--warmup")
            o.warmup_s = std::stod(next());
        else if (a == "--label")
            o.label = next();
        else if (a == "--server-pid")
            o.server_pid = std::stoi(next());
        else if (a == "--samples")
            o.samples_path = next();
        else if (a == "--unique-header")
            o.unique_header = next();
        else if (a == "--auth-tokens")
        {
            std::ifstream in(next());
            for (std::string line; std::getline(in, line);)
                if (!line.empty())
                    o.authorizations.push_back(line);
            if (o.authorizations.empty())
                usage("--auth-tokens file is empty or unreadable");
        }
        else
            usage("unknown argument " + a);
    }
    if (!have_url)
        usage("--url is required");
    if (o.connections == 0 || o.duration_s <= 0 || o.rate < 0 || o.warmup_s < 0)
        usage("connections, duration and rate must be positive");
    if (o.bodies.size() == 1)
    {
        o.body = std::move(o.bodies.front());
        o.bodies.clear();
    }
    return o;
}

}  // namespace

int main(int argc, char** argv)
{
    const options opt = parse(argc, argv);
    net::io_context ioc{1};
    const tcp::endpoint endpoint{net::ip::make_address(opt.target.host), opt.target.port};

    shared_state sh{opt, {}, {}, {}, {}, {}, 0, 0};
    if (opt.unique_header.empty() && opt.authorizations.empty())
    {
        const auto serialise = [&](const std::string& body) {
            std::ostringstream wire;
            wire << make_request(opt, body);
            return wire.str();
        };
        if (opt.bodies.empty())
            sh.wire.push_back(serialise(opt.body));
        for (const auto& body : opt.bodies)
            sh.wire.push_back(serialise(body));
    }
    sh.start = steady::now() + 50ms;  // let every client connect first
    sh.measure_from = sh.start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(opt.warmup_s));
    sh.end = sh.measure_from + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(opt.duration_s));
    if (opt.rate > 0)
        sh.total_tickets = static_cast<std::uint64_t>(opt.rate * (opt.warmup_s + opt.duration_s));
    sh.st.latencies_us.reserve(opt.rate > 0 ? sh.total_tickets : 1'000'000);

    // The server's CPU time is read when the measured window opens, so warm-up is not counted.
    auto before = read_proc(opt.server_pid);
    double own_before = own_cpu_s();
    net::steady_timer window_opens(ioc, sh.measure_from);
    window_opens.async_wait([&](const boost::system::error_code&) {
        before = read_proc(opt.server_pid);
        own_before = own_cpu_s();
    });
    for (unsigned i = 0; i < opt.connections; ++i)
        net::co_spawn(ioc, client(sh, endpoint, i), net::detached);
    ioc.run();
    const auto finished = steady::now();
    const auto after = read_proc(opt.server_pid);
    const double own_after = own_cpu_s();

    auto lat = sh.st.latencies_us;
    std::sort(lat.begin(), lat.end());
    // Open loop: the measured window is from measure_from to the last answer.
    const double window_s = std::chrono::duration<double>((opt.rate > 0 ? finished : sh.end) - sh.measure_from).count();

    json::object out;
    out["label"] = opt.label;
    out["mode"] = opt.rate > 0 ? "open" : "closed";
    out["connections"] = opt.connections;
    if (opt.rate > 0)
        out["target_rate"] = opt.rate;
    out["duration_s"] = opt.duration_s;
    out["requests"] = lat.size();
    out["throughput_rps"] = window_s > 0 ? static_cast<double>(lat.size()) / window_s : 0.0;
    json::object statuses;
    for (const auto& [code, n] : sh.st.statuses)
        statuses[std::to_string(code)] = n;
    out["statuses"] = std::move(statuses);
    json::object errors;
    for (const auto& [what, n] : sh.st.errors)
        errors[what] = n;
    out["errors"] = std::move(errors);
    json::object latency;
    for (const auto& [name, p] : {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99_9", 99.9}})
        latency[name] = std::round(percentile(lat, p)) / 1000.0;
    latency["max"] = lat.empty() ? 0.0 : std::round(lat.back()) / 1000.0;
    out["latency_ms"] = std::move(latency);
    if (opt.server_pid > 0)
    {
        out["server_cpu_s"] = std::round((after.cpu_s - before.cpu_s) * 100) / 100;
        // CPU per answered request in the measured window: what a call costs the server.
        out["server_cpu_us_per_request"] =
            lat.empty() ? 0.0 : std::round((after.cpu_s - before.cpu_s) * 1e7 / static_cast<double>(lat.size())) / 10.0;
        // The split tells user-space work (parsing, rules) from the kernel's (sockets, timers).
        const auto per_request_us = [&](double seconds) {
            return lat.empty() ? 0.0 : std::round(seconds * 1e7 / static_cast<double>(lat.size())) / 10.0;
        };
        out["server_user_us_per_request"] = per_request_us(after.user_s - before.user_s);
        out["server_system_us_per_request"] = per_request_us(after.system_s - before.system_s);
        out["server_rss_kb"] = after.rss_kb;
        out["server_peak_rss_kb"] = after.peak_rss_kb;
    }
    // What generating the load took from the shared cores, per answered request: CPU from the
    // window's opening to the last answer (open loop) or the end, failed requests included, so
    // slightly more than an answered request's own cost.
    out["generator_cpu_us_per_request"] = lat.empty() ? 0.0 : std::round((own_after - own_before) * 1e7 / static_cast<double>(lat.size())) / 10.0;
    std::cout << json::serialize(out) << std::endl;

    if (!opt.samples_path.empty())
    {
        std::ofstream samples(opt.samples_path);
        for (double v : lat)
            samples << v / 1000.0 << "\n";
    }
    // A run with transport errors or non-2xx answers measured something else: fail it.
    const bool bad_status = std::any_of(sh.st.statuses.begin(), sh.st.statuses.end(), [](const auto& s) { return s.first >= 300; });
    const bool failed = !sh.st.errors.empty() || lat.empty() || bad_status;
    return failed ? 1 : 0;
}
