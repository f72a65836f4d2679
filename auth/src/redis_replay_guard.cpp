#include <crd/auth/redis_replay_guard.hpp>

#include "expiring_cache.hpp"

#include <crd/auth/auth_metrics.hpp>
#include <crd/core/log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>

namespace crd::auth {
namespace {

using namespace std::chrono_literals;

constexpr auto first_backoff = 100ms;
constexpr auto max_backoff = 5'000ms;
// Claims that time out in a row before the connection is taken for dead and made again: one slow
// answer is Redis being busy, several are a connection that no longer carries anything.
constexpr unsigned timeouts_before_reconnect = 3;

// What became of one command.
struct command_outcome
{
    enum kind_t
    {
        status,  // +OK and other status replies
        nil,     // SET NX found the key
        error,   // -ERR ...
        other,   // a reply of another type
        lost,    // the connection went before the answer
        timeout,
    } kind = lost;
    std::string text;  // status or error text
};

// One command's answer, awaited on the guard's thread: the reply callback or the timeout ends the
// wait, whichever is first; the state lives while either may still touch it.
struct pending_command
{
    explicit pending_command(const net::any_io_executor& ex) : done(ex) {}
    net::steady_timer done;
    std::optional<command_outcome> outcome;
};

command_outcome outcome_of(const redisReply* reply)
{
    if (!reply)
        return {command_outcome::lost, {}};
    switch (reply->type)
    {
    case REDIS_REPLY_STATUS: return {command_outcome::status, std::string(reply->str, reply->len)};
    case REDIS_REPLY_NIL: return {command_outcome::nil, {}};
    case REDIS_REPLY_ERROR: return {command_outcome::error, std::string(reply->str, reply->len)};
    default: return {command_outcome::other, {}};
    }
}

// hiredis -> Asio: the event hooks of one redisAsyncContext, as waits on its socket. hiredis wants
// level-triggered interest ("keep telling me while readable" between addRead and delRead); an
// Asio wait is one-shot, so each completed wait is armed again while the interest lasts. Lives on
// the guard's thread only; handlers hold it, so it outlives the context it was attached to.
class socket_watch : public std::enable_shared_from_this<socket_watch>
{
public:
    using gone_callback = void (*)(void* owner);

    socket_watch(net::io_context& ioc, redisAsyncContext* ac, gone_callback gone, void* owner)
        : ac_(ac)
        , socket_(ioc, ac->c.fd)
        , gone_(gone)
        , owner_(owner)
    {
    }

    // Installs the hooks; `self` is this watch's own shared_ptr, kept by the caller.
    void attach()
    {
        ac_->ev.data = this;
        ac_->ev.addRead = [](void* p) { static_cast<socket_watch*>(p)->want(true, true); };
        ac_->ev.delRead = [](void* p) { static_cast<socket_watch*>(p)->want(true, false); };
        ac_->ev.addWrite = [](void* p) { static_cast<socket_watch*>(p)->want(false, true); };
        ac_->ev.delWrite = [](void* p) { static_cast<socket_watch*>(p)->want(false, false); };
        ac_->ev.cleanup = [](void* p) { static_cast<socket_watch*>(p)->detach(); };
    }

private:
    struct direction
    {
        bool wanted = false;
        bool armed = false;
    };

    void want(bool reading, bool on)
    {
        auto& d = reading ? read_ : write_;
        d.wanted = on;
        if (on)
            arm(d);
    }

    void arm(direction& d)
    {
        if (d.armed || detached_)
            return;
        d.armed = true;
        const bool reading = &d == &read_;
        socket_.async_wait(reading ? net::posix::stream_descriptor::wait_read : net::posix::stream_descriptor::wait_write,
            [self = shared_from_this(), reading](const boost::system::error_code& ec) {
                auto& dir = reading ? self->read_ : self->write_;
                dir.armed = false;
                if (ec || self->detached_ || !dir.wanted)
                    return;
                // May free the context (a closed connection, an error): cleanup then detaches us.
                if (reading)
                    redisAsyncHandleRead(self->ac_);
                else
                    redisAsyncHandleWrite(self->ac_);
                if (!self->detached_ && dir.wanted)
                    self->arm(dir);
            });
    }

    // hiredis is freeing the context and closes the socket itself: Asio lets go of it first.
    void detach()
    {
        detached_ = true;
        read_.wanted = write_.wanted = false;
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        (void)socket_.release();
        ac_ = nullptr;
        gone_(owner_);
    }

    redisAsyncContext* ac_;
    net::posix::stream_descriptor socket_;
    gone_callback gone_;
    void* owner_;
    direction read_;
    direction write_;
    bool detached_ = false;
};

}  // namespace

struct redis_replay_guard::impl
{
    explicit impl(core::replay_cache_config c) : cfg(std::move(c)), policy_local(cfg.on_unavailable == core::replay_unavailable_policy::local) {}

    const core::replay_cache_config cfg;
    const bool policy_local;
    local_replay_guard fallback;  // on_unavailable "local"
    std::atomic<bool> up{false};
    std::atomic<bool> stopping{false};
    std::atomic<bool> fallback_logged{false};  // one log line per outage, not one per call

    net::io_context ioc{1};
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::thread thread;

    // The guard's thread only:
    redisAsyncContext* ac = nullptr;
    std::shared_ptr<socket_watch> watch;
    net::steady_timer connection_ended{ioc};  // the loop waits on it while connected
    net::steady_timer backoff_pause{ioc};     // and on this one between attempts
    unsigned timeouts_in_a_row = 0;
    unsigned connect_failures_in_a_row = 0;  // logged at 1, 2, 4, 8...: an outage is not a log flood

    std::string where() const { return cfg.host + ":" + std::to_string(cfg.port) + "/" + std::to_string(cfg.db); }

    void set_mode(bool connected)
    {
        up = connected;
        const auto m = connected ? replay_mode::redis : policy_local ? replay_mode::local_fallback : replay_mode::refusing;
        auth_metrics::instance().mode.set(static_cast<std::int64_t>(m));
        if (connected)
            fallback_logged = false;
    }

    static void context_gone(void* owner)
    {
        auto& self = *static_cast<impl*>(owner);
        self.ac = nullptr;
        self.connection_ended.cancel();
    }

    void drop_connection()
    {
        if (ac)
            redisAsyncFree(ac);  // answers every waiting command with no reply ("lost"), then cleanup
        ac = nullptr;
    }

    static void on_reply(redisAsyncContext*, void* reply, void* privdata)
    {
        std::unique_ptr<std::shared_ptr<pending_command>> state(static_cast<std::shared_ptr<pending_command>*>(privdata));
        auto& pending = **state;
        if (!pending.outcome)
            pending.outcome = outcome_of(static_cast<redisReply*>(reply));
        pending.done.cancel();
    }

    // Sends one command (printf-style, hiredis's binary-safe %b) and awaits its outcome. On the
    // guard's thread.
    template <class... Args>
    net::awaitable<command_outcome> command(std::chrono::milliseconds timeout, const char* format, Args... args)
    {
        if (!ac)
            co_return command_outcome{command_outcome::lost, {}};
        auto pending = std::make_shared<pending_command>(ioc.get_executor());
        pending->done.expires_after(timeout);
        auto* privdata = new std::shared_ptr<pending_command>(pending);
        if (redisAsyncCommand(ac, &impl::on_reply, privdata, format, args...) != REDIS_OK)
        {
            delete privdata;
            co_return command_outcome{command_outcome::lost, {}};
        }
        (void)co_await pending->done.async_wait(use_tuple);
        if (!pending->outcome)
            pending->outcome = command_outcome{command_outcome::timeout, {}};
        co_return *pending->outcome;
    }

    // A new connection, authenticated and on its database, proven by a PING; false (and no
    // connection) otherwise.
    net::awaitable<bool> connect()
    {
        ac = redisAsyncConnect(cfg.host.c_str(), cfg.port);
        if (!ac || ac->err)
        {
            if (const auto n = ++connect_failures_in_a_row; (n & (n - 1)) == 0)
                log::warning("replay_cache_connect_failed", {{"redis", where()}, {"detail", ac ? ac->errstr : "out of memory"}, {"attempts", n}});
            if (ac)
                redisAsyncFree(ac);
            ac = nullptr;
            co_return false;
        }
        watch = std::make_shared<socket_watch>(ioc, ac, &impl::context_gone, this);
        watch->attach();
        const auto handshake_timeout = std::max<std::chrono::milliseconds>(cfg.timeout, 1'000ms);
        auto fail = [&](std::string detail) {
            if (const auto n = ++connect_failures_in_a_row; (n & (n - 1)) == 0)
                log::warning("replay_cache_connect_failed", {{"redis", where()}, {"detail", std::move(detail)}, {"attempts", n}});
            drop_connection();
            return false;
        };
        auto describe = [](const command_outcome& o) {
            switch (o.kind)
            {
            case command_outcome::timeout: return std::string("no answer in time");
            case command_outcome::lost: return std::string("connection refused or lost");
            case command_outcome::error: return o.text;
            default: return std::string("unexpected reply");
            }
        };
        if (cfg.password)
            if (auto o = co_await command(handshake_timeout, "AUTH %s", cfg.password->c_str()); o.kind != command_outcome::status)
                co_return fail("AUTH: " + describe(o));
        if (cfg.db != 0)
            if (auto o = co_await command(handshake_timeout, "SELECT %u", cfg.db); o.kind != command_outcome::status)
                co_return fail("SELECT: " + describe(o));
        if (auto o = co_await command(handshake_timeout, "PING"); o.kind != command_outcome::status)
            co_return fail("PING: " + describe(o));
        co_return true;
    }

    // Connects, waits while connected, and connects again with back-off, until stop().
    net::awaitable<void> keep_connected()
    {
        auto backoff = std::chrono::milliseconds(first_backoff);
        bool was_up = false;
        while (!stopping)
        {
            if (co_await connect())
            {
                backoff = first_backoff;
                timeouts_in_a_row = 0;
                connect_failures_in_a_row = 0;
                set_mode(true);
                log::info("replay_cache_connected", {{"redis", where()}});
                was_up = true;
                if (ac && !stopping)
                {
                    connection_ended.expires_at(net::steady_timer::time_point::max());
                    (void)co_await connection_ended.async_wait(use_tuple);
                }
                set_mode(false);
                if (stopping)
                    break;
                log::warning("replay_cache_disconnected",
                    {{"redis", where()}, {"policy", policy_local ? "local: this process's own cache meanwhile" : "fail_closed: 503 meanwhile"}});
            }
            else
            {
                auth_metrics::instance().redis_errors.add(redis_error::connect);
                if (was_up)
                    set_mode(false);
            }
            if (stopping)
                break;
            backoff_pause.expires_after(backoff);
            (void)co_await backoff_pause.async_wait(use_tuple);
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, max_backoff);
        }
        drop_connection();
    }

    // SET key 1 NX PX ttl, on the guard's thread.
    net::awaitable<replay_verdict> set_once(std::string key, long long ttl_ms)
    {
        if (!ac || !up)
        {
            auth_metrics::instance().redis_errors.add(redis_error::down);
            co_return replay_verdict::unavailable;
        }
        const auto o = co_await command(cfg.timeout, "SET %b 1 NX PX %lld", key.data(), key.size(), ttl_ms);
        if (o.kind != command_outcome::timeout)
            timeouts_in_a_row = 0;
        switch (o.kind)
        {
        case command_outcome::status: co_return replay_verdict::first_use;
        case command_outcome::nil: co_return replay_verdict::replayed;
        case command_outcome::timeout:
            auth_metrics::instance().redis_errors.add(redis_error::timeout);
            if (++timeouts_in_a_row >= timeouts_before_reconnect)
            {
                log::warning("replay_cache_unresponsive", {{"redis", where()}, {"detail", "claims time out: connecting again"}});
                drop_connection();
            }
            co_return replay_verdict::unavailable;
        case command_outcome::error:
            auth_metrics::instance().redis_errors.add(redis_error::reply);
            log::warning("replay_cache_error", {{"redis", where()}, {"detail", o.text}});
            co_return replay_verdict::unavailable;
        case command_outcome::lost:
        case command_outcome::other: auth_metrics::instance().redis_errors.add(redis_error::lost); co_return replay_verdict::unavailable;
        }
        co_return replay_verdict::unavailable;
    }
};

redis_replay_guard::redis_replay_guard(core::replay_cache_config cfg) : impl_(std::make_shared<impl>(std::move(cfg))) {}

redis_replay_guard::~redis_replay_guard()
{
    stop();
}

void redis_replay_guard::start()
{
    auto& m = *impl_;
    if (m.thread.joinable() || m.stopping)
        return;
    m.set_mode(false);
    m.work.emplace(m.ioc.get_executor());
    net::co_spawn(m.ioc, m.keep_connected(), [](std::exception_ptr e) { log::exception("replay_cache_loop_failed", e); });
    m.thread = std::thread([&ioc = m.ioc] { ioc.run(); });
}

void redis_replay_guard::stop()
{
    auto& m = *impl_;
    if (m.stopping.exchange(true) || !m.thread.joinable())
        return;
    // On the guard's thread, which owns the connection: the loop sees `stopping` and ends.
    net::post(m.ioc, [&m] {
        m.drop_connection();
        m.connection_ended.cancel();
        m.backoff_pause.cancel();
    });
    m.work.reset();
    m.thread.join();
    m.up = false;
}

bool redis_replay_guard::connected() const noexcept
{
    return impl_->up;
}

core::readiness redis_replay_guard::ready() const
{
    if (impl_->up || impl_->policy_local)
        return {};
    return {false, "the shared replay cache (Redis at " + impl_->where() + ") is unavailable and auth.replay_cache.on_unavailable is fail_closed"};
}

net::awaitable<replay_verdict> redis_replay_guard::claim(std::string_view issuer, std::string_view jti, std::int64_t until)
{
    auto& m = *impl_;
    std::string key;
    key.reserve(m.cfg.prefix.size() + issuer.size() + 1 + jti.size());
    key.append(m.cfg.prefix).append(issuer).append(1, '\n').append(jti);
    // At least a second: a token at the edge of its leeway is still refused as a replay meanwhile.
    const long long ttl_ms = std::max<std::int64_t>(until - unix_now(), 1) * 1000;

    auto verdict = replay_verdict::unavailable;
    if (m.up && !m.stopping)
    {
        const auto started = clock::now();
        // The hop there and back: the command runs on the guard's thread, the caller resumes on its own.
        verdict = co_await net::co_spawn(m.ioc, m.set_once(std::move(key), ttl_ms), net::use_awaitable);
        if (verdict != replay_verdict::unavailable)
            auth_metrics::instance().redis_seconds.observe(clock::now() - started);
    }
    else
        auth_metrics::instance().redis_errors.add(redis_error::down);
    if (verdict != replay_verdict::unavailable || !m.policy_local)
        co_return verdict;
    auth_metrics::instance().local_fallbacks.add();
    if (!m.fallback_logged.exchange(true))
        log::warning("replay_cache_local_fallback",
            {{"redis", m.where()}, {"detail", "Redis is unavailable: replay checks use this process's own cache until it is "
                                              "back (a token may be replayed to another instance meanwhile)"}});
    co_return m.fallback.claim_now(issuer, jti, until);
}

}  // namespace crd::auth
