#include <crd/server/audit_log.hpp>

#include <crd/core/json_document.hpp>
#include <crd/core/log.hpp>
#include <crd/core/text.hpp>
#include <crd/server/server_metrics.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace json = boost::json;

namespace crd::server {
namespace {

std::string sha256_hex(std::string_view data)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i)
    {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xF];
    }
    return out;
}

// Removes every credential the EHR may have put in fhirAuthorization.
void redact(json::value& request)
{
    auto* obj = request.if_object();
    if (!obj)
        return;
    auto* auth = obj->if_contains("fhirAuthorization");
    if (!auth || !auth->is_object())
        return;
    for (auto key : {"access_token", "refresh_token", "id_token"})
        if (auto* v = auth->as_object().if_contains(key))
            *v = "[redacted]";
}

// One string of a record kept whole up to this size; beyond it, a prefix and a marker with the
// full length and hash (the evidence survives, a caller's megabyte does not double in the file).
constexpr std::size_t max_audit_string = 8 * 1024;
constexpr std::size_t kept_prefix = 1024;

std::string capped(std::string_view s)
{
    if (s.size() <= max_audit_string)
        return std::string(s);
    return std::string(s.substr(0, kept_prefix)) + "...[truncated by crd-server: " + std::to_string(s.size()) + " bytes, sha256 " + sha256_hex(s) +
           "]";
}

void cap_strings(json::value& v)
{
    switch (v.kind())
    {
    case json::kind::string:
        if (v.get_string().size() > max_audit_string)
            v = capped(v.get_string());
        break;
    case json::kind::array:
        for (auto& e : v.get_array())
            cap_strings(e);
        break;
    case json::kind::object:
        for (auto& kv : v.get_object())
            cap_strings(kv.value());
        break;
    default: break;
    }
}

json::value optional_field(const std::string& s)
{
    return s.empty() ? json::value(nullptr) : json::value(capped(s));
}

// A record waiting for the writer, with the coroutine to wake once it is durable (if any).
struct waiter
{
    explicit waiter(net::any_io_executor ex) : timer(ex, clock::time_point::max()) {}
    net::steady_timer timer;
    bool done = false;
    bool ok = false;
};

struct queued
{
    audit_record record;              // formatted on the writer thread, off the request path
    std::shared_ptr<waiter> durable;  // null: no one waits for this record
};

void wake(std::shared_ptr<waiter> w, bool ok)
{
    // The timer belongs to the waiting coroutine's executor: touch it (and let go of it) only there.
    auto ex = w->timer.get_executor();
    net::post(ex, [w = std::move(w), ok] {
        w->done = true;
        w->ok = ok;
        w->timer.cancel();
    });
}

}  // namespace

std::string format_audit_line(const audit_record& r)
{
    json::object head;
    head["time"] = core::utc_timestamp(r.time);
    head["kind"] = r.kind;
    head["service"] = r.service;
    head["hookInstance"] = optional_field(r.hook_instance);
    head["client"] = optional_field(r.client);
    head["jti"] = optional_field(r.jti);
    head["tenant"] = optional_field(r.tenant);
    head["trace_id"] = optional_field(r.trace_id);
    if (!r.headers.empty())
    {
        json::object headers;
        for (const auto& [name, value] : r.headers)
            headers[name] = capped(value);
        head["headers"] = std::move(headers);
    }
    head["status"] = r.status;
    head["latency_ms"] = static_cast<double>(r.latency.count()) / 1000.0;
    head["decision"] = r.decision.empty() ? json::value(nullptr) : json::value(r.decision);
    if (!r.crd_version.empty())
        head["crd_version"] = r.crd_version;

    // The depth the router serves (core::max_json_depth): every body it answered is kept as JSON.
    boost::system::error_code ec;
    json::value request = core::parse_json(r.request_body, ec);
    if (ec)
        head["request_unparsed"] = json::object{{"bytes", r.request_body.size()}, {"sha256", sha256_hex(r.request_body)}};
    else
    {
        redact(request);
        cap_strings(request);
        head["request"] = std::move(request);
    }
    json::value response = core::parse_json(r.response_body, ec);
    if (ec)
        head["response"] = capped(r.response_body);
    else
    {
        cap_strings(response);
        head["response"] = std::move(response);
    }
    return log::to_json_line(head);  // latency_ms as a plain decimal
}

struct audit_log::impl
{
    core::audit_config cfg;
    std::mutex mutex;
    std::condition_variable wake_writer;
    std::condition_variable flushed_cv;
    std::deque<queued> queue;                           // guarded by mutex
    std::vector<std::shared_ptr<waiter>> room_waiters;  // guarded by mutex: wait for queue room
    std::uint64_t enqueued = 0;                         // guarded by mutex: records ever queued
    std::uint64_t synced = 0;                           // guarded by mutex: records written and fsync'd
    bool stopping = false;                              // guarded by mutex
    std::atomic<bool> reopen_requested{false};
    int fd = -1;  // writer thread only (and constructor/destructor)
    std::thread writer;

    explicit impl(const core::audit_config& c) : cfg(c)
    {
        fd = open_file();
        if (fd < 0)
            throw std::system_error(errno, std::generic_category(), "cannot open audit.path '" + *cfg.path + "'");
    }

    int open_file() const { return ::open(cfg.path->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640); }

    bool write_all(const std::string& data)
    {
        std::size_t off = 0;
        while (off < data.size())
        {
            const auto n = ::write(fd, data.data() + off, data.size() - off);
            if (n < 0)
            {
                if (errno == EINTR)
                    continue;
                return false;
            }
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

    void run()
    {
        auto last_error_log = clock::time_point{};
        std::vector<queued> batch;
        for (;;)
        {
            {
                std::unique_lock lock(mutex);
                wake_writer.wait_for(lock, cfg.fsync_interval, [&] { return !queue.empty() || stopping || reopen_requested.load(); });
                if (queue.empty() && stopping)
                    break;
                const std::size_t take = std::min<std::size_t>(queue.size(), 512);
                batch.clear();
                for (std::size_t i = 0; i < take; ++i)
                    batch.push_back(std::move(queue[i]));
                // Records leave the queue only once written; until then they count against its bound.
            }

            if (reopen_requested.exchange(false))
            {
                const int nfd = open_file();
                if (nfd >= 0)
                {
                    ::fsync(fd);
                    ::close(fd);
                    fd = nfd;
                    log::info("audit_reopened", {{"path", *cfg.path}});
                }
                else
                    log::error("audit_reopen_failed", {{"path", *cfg.path}, {"error", std::generic_category().message(errno)}});
            }
            if (batch.empty())
                continue;

            std::string data;
            for (const auto& q : batch)
            {
                data += format_audit_line(q.record);
                data += '\n';
            }
            const bool ok = write_all(data) && ::fsync(fd) == 0;
            if (!ok)
            {
                // Keep the records (they are still queued) and try again; the queue bound turns a
                // lasting failure into back-pressure on the request path.
                server_metrics::instance().audit_write_errors.add();
                const auto err = errno;
                if (clock::now() - last_error_log > std::chrono::seconds(1))
                {
                    log::error(
                        "audit_write_failed", {{"path", *cfg.path}, {"error", std::generic_category().message(err)}, {"queued", queue_depth()}});
                    last_error_log = clock::now();
                }
                // A partial write may have left part of a line: start the retry on a new line.
                (void)write_all("\n");
                {
                    std::lock_guard lock(mutex);
                    if (stopping)
                    {
                        log::error("audit_records_lost",
                            {{"path", *cfg.path}, {"records", queue.size()}, {"reason", "the audit file cannot be written at shutdown"}});
                        break;
                    }
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                continue;
            }
            server_metrics::instance().audit_records.add(batch.size());

            std::vector<std::shared_ptr<waiter>> room;
            {
                std::lock_guard lock(mutex);
                queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(batch.size()));
                server_metrics::instance().audit_queue_depth.set(static_cast<std::int64_t>(queue.size()));
                room.swap(room_waiters);
            }
            // Hand every waiter reference to its own executor before flush() can return: a waiter's
            // timer must never be destroyed here, after (or while) its io_context goes away.
            const auto written = batch.size();
            for (auto& q : batch)
                if (q.durable)
                    wake(std::move(q.durable), true);
            for (auto& w : room)
                wake(std::move(w), true);
            batch.clear();
            room.clear();
            {
                std::lock_guard lock(mutex);
                synced += written;
            }
            flushed_cv.notify_all();
        }
        ::fsync(fd);
    }

    std::size_t queue_depth()
    {
        std::lock_guard lock(mutex);
        return queue.size();
    }
};

audit_log::audit_log(const core::audit_config& cfg) : impl_(std::make_shared<impl>(cfg))
{
    impl_->writer = std::thread([p = impl_.get()] { p->run(); });
}

audit_log::~audit_log()
{
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->wake_writer.notify_all();
    impl_->writer.join();
    ::close(impl_->fd);
}

namespace {

net::awaitable<bool> enqueue(audit_log::impl& a, audit_record r, clock::time_point give_up, bool durable)
{
    auto ex = co_await net::this_coro::executor;
    queued q{std::move(r), nullptr};
    std::shared_ptr<waiter> done;
    if (durable)
    {
        done = std::make_shared<waiter>(ex);
        q.durable = done;
    }
    bool warned = false;
    for (;;)
    {
        std::shared_ptr<waiter> room;
        {
            std::lock_guard lock(a.mutex);
            if (a.queue.size() < a.cfg.queue_size)
            {
                a.queue.push_back(std::move(q));
                ++a.enqueued;
                server_metrics::instance().audit_queue_depth.set(static_cast<std::int64_t>(a.queue.size()));
                break;
            }
            if (a.cfg.required || clock::now() >= give_up)
            {
                server_metrics::instance().audit_rejected.add();
                log::error("audit_queue_full", {{"queued", a.queue.size()}, {"action", "request refused with 503"}});
                co_return false;
            }
            room = std::make_shared<waiter>(ex);
            a.room_waiters.push_back(room);
        }
        if (!warned)
        {
            server_metrics::instance().audit_backpressure.add();
            warned = true;
        }
        room->timer.expires_at(give_up);
        co_await room->timer.async_wait(use_tuple);
    }
    a.wake_writer.notify_one();
    if (!done)
        co_return true;
    if (!done->done)
    {
        done->timer.expires_at(give_up);  // a disk that stays broken must not hold the caller forever
        co_await done->timer.async_wait(use_tuple);
    }
    co_return done->done && done->ok;
}

}  // namespace

net::awaitable<bool> audit_log::append(audit_record r, clock::time_point give_up)
{
    co_return co_await enqueue(*impl_, std::move(r), give_up, false);
}

net::awaitable<bool> audit_log::append_durable(audit_record r, clock::time_point give_up)
{
    co_return co_await enqueue(*impl_, std::move(r), give_up, true);
}

void audit_log::reopen()
{
    impl_->reopen_requested = true;
    impl_->wake_writer.notify_all();
}

void audit_log::flush()
{
    std::unique_lock lock(impl_->mutex);
    const auto target = impl_->enqueued;
    impl_->wake_writer.notify_all();
    impl_->flushed_cv.wait(lock, [&] { return impl_->synced >= target || impl_->stopping; });
}

}  // namespace crd::server
