#include "child_server.hpp"

#include "raw_http.hpp"

#include <boost/json/serialize.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace json = boost::json;
namespace fs = std::filesystem;

namespace crd::attack {
namespace {

std::string binary_path()
{
    if (const char* over = std::getenv("CRD_ATTACK_SERVER_BINARY"); over && *over)
        return over;
    return CRD_SERVER_BINARY;
}

fs::path fresh_dir()
{
    static int n = 0;
    auto dir = fs::temp_directory_path() / ("crd-attack-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(
    const char* binary, char* const* argv, char* const* envp, int log_fd, int null_fd, std::optional<unsigned long> open_file_limit)
{
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // Nothing of the test process (its sockets, the fakes' listeners) leaks into the server.
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
        for (int fd = 3; fd < 65536; ++fd)
            ::close(fd);
    if (open_file_limit)
    {
        rlimit rl{static_cast<rlim_t>(*open_file_limit), static_cast<rlim_t>(*open_file_limit)};
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0)
            ::_exit(126);
    }
    ::execve(binary, argv, envp);
    ::_exit(127);
}

int bound_socket(std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (fd >= 0 && ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
        return fd;
    if (fd >= 0)
        ::close(fd);
    return -1;
}

std::uint16_t port_of(int fd)
{
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
}

std::mutex ports_mutex;
std::set<std::uint16_t> handed_out;  // guarded by ports_mutex: never the same port twice in a run

// A free port P; with `and_next`, P + 1 is free too (the server's admin listener defaults to
// listen.port + 1, and a client socket of this process may hold any ephemeral port).
std::uint16_t fresh_port(bool and_next)
{
    std::lock_guard lock(ports_mutex);
    for (int attempt = 0; attempt < 100; ++attempt)
    {
        const int fd = bound_socket(0);
        if (fd < 0)
            break;
        const auto port = port_of(fd);
        int next = -1;
        const bool ok = !handed_out.count(port) && (!and_next || (port < 65535 && !handed_out.count(static_cast<std::uint16_t>(port + 1)) &&
                                                                     (next = bound_socket(static_cast<std::uint16_t>(port + 1))) >= 0));
        ::close(fd);
        if (next >= 0)
            ::close(next);
        if (!ok)
            continue;
        handed_out.insert(port);
        if (and_next)
            handed_out.insert(static_cast<std::uint16_t>(port + 1));
        return port;
    }
    throw std::runtime_error("no free loopback port");
}

}  // namespace

std::uint16_t free_port()
{
    return fresh_port(false);
}

json::object base_config()
{
    return json::object{
        {"listen", json::object{{"address", "127.0.0.1"}, {"threads", 1}}},
        {"auth", json::object{{"required", false}}},
        {"decision", json::object{{"rules", std::string(CRD_SOURCE_DIR) + "/etc/rules.json"}}},
        {"log", json::object{{"level", "info"}}},
    };
}

child_server::child_server(json::object config, child_options options)
{
    dir_ = fresh_dir();
    log_path_ = dir_ / "server.log";
    std::string why;
    try
    {
        // Another socket may take a chosen port before the child binds it: then choose again.
        for (int attempt = 0; attempt < 3; ++attempt)
        {
            if (launch(config, options, why))
                return;
            if (why.find("already in use") == std::string::npos)
                break;
        }
    }
    catch (const std::exception& e)
    {
        why = e.what();
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw std::runtime_error(why);
}

bool child_server::launch(json::object config, const child_options& options, std::string& why)
{
    port_ = fresh_port(true);
    config["listen"].as_object()["port"] = port_;
    const auto config_path = dir_ / "crd-server.json";
    {
        std::ofstream out(config_path);
        out << json::serialize(config);
    }

    // Everything the child needs is built before fork.
    const std::string binary = binary_path();
    const std::string config_arg = config_path.string();
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
    {
        const std::string_view kv(*e);
        if (kv.rfind("CDS_", 0) == 0 || kv.rfind("NOTIFY_SOCKET=", 0) == 0 || kv.rfind("STATE_DIRECTORY=", 0) == 0)
            continue;
        env_strings.emplace_back(kv);
    }
    std::vector<char*> envp;
    for (auto& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>("--config"), const_cast<char*>(config_arg.c_str()), nullptr};
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0)
        throw std::runtime_error("cannot open the child's log file in " + dir_.string());

    pid_ = ::fork();
    if (pid_ == 0)
        exec_child(binary.c_str(), argv, envp.data(), log_fd, null_fd, options.open_file_limit);
    ::close(log_fd);
    ::close(null_fd);
    if (pid_ < 0)
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));

    // Ready once /health answers; fail at once when the child exits (bad configuration).
    const auto until = std::chrono::steady_clock::now() + options.ready_timeout;
    why = "no answer from GET /health within " + std::to_string(options.ready_timeout.count()) + " ms";
    while (std::chrono::steady_clock::now() < until)
    {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_)
        {
            pid_ = -1;
            why = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                    : "killed by signal " + std::to_string(WTERMSIG(status));
            break;
        }
        if (auto r = exchange(port_, request_bytes("GET", "/health", "", {}), 1s); r && r->status == 200)
            return true;
        std::this_thread::sleep_for(20ms);
    }
    auto out = log();
    if (out.size() > 3000)
        out = "..." + out.substr(out.size() - 3000);
    if (pid_ > 0)
    {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    why = "crd-server did not start (" + why + "); its output:\n" + out;
    return false;
}

child_server::~child_server()
{
    if (pid_ > 0)
    {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

std::string child_server::log() const
{
    std::ifstream in(log_path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::size_t child_server::count_log_lines(const std::function<bool(const std::string&)>& pred) const
{
    std::ifstream in(log_path_, std::ios::binary);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line))
        if (pred(line))
            ++n;
    return n;
}

double child_server::cpu_seconds() const
{
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto paren = text.rfind(')');
    if (paren == std::string::npos)
        return -1.0;
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    // After "pid (comm) " come state (field 3) ... utime (14) and stime (15).
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i)
    {
        if (i == 14)
            utime = std::stoull(field);
        if (i == 15)
            stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace crd::attack
