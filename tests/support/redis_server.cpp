#include "redis_server.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace crd::test {
namespace {

int loopback_socket()
{
    return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

sockaddr_in loopback(std::uint16_t port)
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    return addr;
}

// Sends `request` and reads one reply line (up to CRLF); empty when nothing answers.
std::string exchange(std::uint16_t port, const std::string& request, std::chrono::milliseconds timeout)
{
    const int fd = loopback_socket();
    if (fd < 0)
        return {};
    const auto addr = loopback(port);
    std::string reply;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()))
    {
        pollfd p{fd, POLLIN, 0};
        char buf[512];
        while (reply.find("\r\n") == std::string::npos && ::poll(&p, 1, static_cast<int>(timeout.count())) == 1)
        {
            const auto n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            reply.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    const auto end = reply.find("\r\n");
    return end == std::string::npos ? reply : reply.substr(0, end);
}

}  // namespace

std::string redis_server_binary()
{
    if (const char* over = std::getenv("CRD_REDIS_SERVER"); over && *over)
        return ::access(over, X_OK) == 0 ? over : "";
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/bin:/usr/sbin";
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');)
        if (!dir.empty() && ::access((dir + "/redis-server").c_str(), X_OK) == 0)
            return dir + "/redis-server";
    return {};
}

boost::test_tools::assertion_result redis_server_present(boost::unit_test::test_unit_id)
{
    boost::test_tools::assertion_result r(!redis_server_binary().empty());
    if (!r)
        r.message() << "SKIPPED: redis-server is not installed (Debian: apt-get install redis-server, or scripts/install-deps.sh)";
    return r;
}

std::uint16_t free_loopback_port()
{
    const int fd = loopback_socket();
    auto addr = loopback(0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        throw std::runtime_error("no free loopback port");
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

redis_server::redis_server(std::string password) : password_(std::move(password))
{
    static int n = 0;
    dir_ = fs::temp_directory_path() / ("crd-redis-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    port_ = free_loopback_port();
    start();
}

redis_server::~redis_server()
{
    kill();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

void redis_server::start()
{
    const auto binary = redis_server_binary();
    if (binary.empty())
        throw std::runtime_error("redis-server is not installed");
    std::vector<std::string> args{binary, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
        dir_.string(), "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"};
    if (!password_.empty())
        args.insert(args.end(), {"--requirepass", password_});
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto log = (dir_ / "redis.log").string();
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0)
    {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(log_fd);
    for (int i = 0; i < 100; ++i)
    {
        if (exchange(port_, "PING\r\n", std::chrono::milliseconds(200)).rfind(password_.empty() ? "+PONG" : "-NOAUTH", 0) == 0)
            return;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_)
        {
            pid_ = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::ifstream in(log);
    std::stringstream out;
    out << in.rdbuf();
    kill();
    throw std::runtime_error("redis-server did not answer on port " + std::to_string(port_) + ": " + out.str());
}

void redis_server::kill()
{
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

void redis_server::pause()
{
    if (pid_ > 0)
        ::kill(pid_, SIGSTOP);
}

void redis_server::resume()
{
    if (pid_ > 0)
        ::kill(pid_, SIGCONT);
}

void redis_server::restart()
{
    kill();
    start();
}

std::string redis_server::command(const std::string& inline_command) const
{
    if (!password_.empty())
        throw std::logic_error("redis_server::command is for servers without a password");
    return exchange(port_, inline_command + "\r\n", std::chrono::milliseconds(1'000));
}

}  // namespace crd::test
