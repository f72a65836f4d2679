#include <crd/server/application.hpp>

#include "config_fingerprint.hpp"

#include <crd/auth/authenticator.hpp>
#include <crd/auth/auth_metrics.hpp>
#include <crd/auth/redis_replay_guard.hpp>
#include <crd/core/log.hpp>
#include <crd/server/server_metrics.hpp>
#include <crd/server/audit_log.hpp>
#include <crd/server/systemd_notify.hpp>
#include <crd/decision/crd_service.hpp>
#include <crd/decision/prefetch.hpp>
#include <crd/decision/remote_decision.hpp>
#include <crd/decision/rules_engine.hpp>
#include <crd/server/router.hpp>
#include <crd/server/server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/array.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <csignal>
#include <malloc.h>
#include <iostream>
#include <string_view>
#include <thread>

namespace json = boost::json;

namespace crd::server {
namespace {

// Features whose keys are parsed and validated already but that this build does not serve yet:
// refuse rather than run in a mode the operator did not ask for.
void refuse_unavailable_features(const core::config& cfg)
{
    if (cfg.auth.required && cfg.auth.clients.empty())
        throw startup_error("auth.required is true but auth.clients is empty: no caller could ever be accepted");
}

std::shared_ptr<auth::authenticator> make_authenticator(const core::config& cfg, std::shared_ptr<auth::replay_guard> replays)
{
    if (!cfg.auth.required)
        return nullptr;
    try
    {
        return std::make_shared<auth::authenticator>(cfg, std::move(replays));
    }
    catch (const std::exception& e)
    {
        throw startup_error(e.what());
    }
}

// auth.replay_cache: Redis shared by every instance; absent, this process's own cache.
std::shared_ptr<auth::replay_guard> make_replay_guard(const core::config& cfg)
{
    if (cfg.auth.required && cfg.auth.replay_cache)
        return std::make_shared<auth::redis_replay_guard>(*cfg.auth.replay_cache);
    auth::auth_metrics::instance().mode.set(static_cast<std::int64_t>(auth::replay_mode::in_process));
    return std::make_shared<auth::local_replay_guard>();
}

bool uses_remote_decision(const core::config& cfg)
{
    return cfg.decision.endpoint.has_value();  // per-service URLs require it (config validation)
}

// With a decision URL the payer's service decides; without one, the embedded rules engine.
std::unique_ptr<core::decision_service> make_decision(const core::config& cfg)
{
    if (uses_remote_decision(cfg))
        return std::make_unique<decision::remote_decision>(cfg);
    return std::make_unique<decision::rules_engine>(decision::load_rules(cfg.decision.rules_path));
}

std::unique_ptr<audit_log> make_audit(const core::config& cfg)
{
    if (!cfg.audit.path)
        return nullptr;
    return std::make_unique<audit_log>(cfg.audit);
}

router_settings make_router_settings(const core::config& cfg, const core::decision_service& decision, audit_log* audit,
    const auth::authenticator_slot* authn, decision::feedback_forwarder* feedback, const auth::replay_guard* replays,
    const std::atomic<bool>* draining, const std::atomic<std::shared_ptr<const std::string>>* fingerprint)
{
    router_settings s;
    s.replays = cfg.auth.required ? replays : nullptr;
    s.draining = draining;
    s.config_fingerprint = fingerprint;
    s.feedback = feedback;
    s.auth = cfg.auth.required ? authn : nullptr;
    s.protect_discovery = cfg.auth.protect_discovery;
    s.cors_allowed_origins = cfg.cors_allowed_origins;
    s.decision = &decision;
    s.audit = audit;
    s.max_in_flight = cfg.limits.max_in_flight;
    s.terse_auth_errors = cfg.auth.terse_errors;
    s.required_headers = cfg.requests.required_headers;
    s.forward_headers = cfg.decision.forward_headers;
    s.version = CRD_VERSION;
    return s;
}

router_settings admin_settings(router_settings s)
{
    s.surface = surface::admin;
    return s;
}

bool replay_cache_differs(const std::optional<core::replay_cache_config>& a, const std::optional<core::replay_cache_config>& b)
{
    if (a.has_value() != b.has_value())
        return true;
    return a && (a->host != b->host || a->port != b->port || a->db != b->db || a->prefix != b->prefix || a->timeout != b->timeout ||
                    a->on_unavailable != b->on_unavailable || a->password != b->password);
}

bool is_loopback(const std::string& address)
{
    return address.rfind("127.", 0) == 0 || address == "::1" || address == "localhost";
}

}  // namespace

struct application::impl
{
    core::config cfg;
    // Background work off the request path (name refresh of upstream hosts, JWKS refresh). Declared
    // before every component that keeps a timer or socket on it, so it is destroyed after them: a
    // timer must never outlive its io_context (ASan caught that on shutdown).
    net::io_context control;
    // Outlives every configuration generation: a token used before a reload is a replay after it.
    // Built once from the start-up configuration (a change of auth.replay_cache needs a restart).
    std::shared_ptr<auth::replay_guard> replays;
    auth::redis_replay_guard* shared_replays = nullptr;  // `replays` when it is Redis: started and stopped here
    std::atomic<bool> draining{false};                   // stop() was called: /ready answers 503
    // What every instance must share, hashed (admin /ready, crd_config_info); replaced by a reload.
    std::atomic<std::shared_ptr<const std::string>> fingerprint{std::make_shared<const std::string>(config_fingerprint(cfg))};
    std::unique_ptr<audit_log> audit;  // before the router and listener, which use it
    auth::authenticator_slot authn;
    // The running authenticator's background work (JWKS refresh); ended and joined before that
    // authenticator is let go, by a reload and at shutdown.
    std::unique_ptr<core::task_group> auth_tasks;
    std::unique_ptr<core::decision_service> decision;
    decision::prefetch_fulfiller prefetch;
    decision::feedback_forwarder feedback;
    core::hook_registry registry;
    router routes;
    router admin_routes;  // /metrics and the detailed /ready, on the admin listener
    server listener;
    std::mutex reload_mutex;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> control_work;
    std::thread control_thread;

    explicit impl(core::config c)
        : cfg(std::move(c))
        , replays(make_replay_guard(cfg))
        , shared_replays(dynamic_cast<auth::redis_replay_guard*>(replays.get()))
        , audit(make_audit(cfg))
        , authn(make_authenticator(cfg, replays))
        , decision(make_decision(cfg))
        , prefetch(cfg)
        , feedback(cfg)
        , registry(decision::make_registry(cfg, *decision, &prefetch))
        , routes(registry, make_router_settings(cfg, *decision, audit.get(), &authn, &feedback, replays.get(), &draining, &fingerprint))
        , admin_routes(
              registry, admin_settings(make_router_settings(cfg, *decision, audit.get(), &authn, &feedback, replays.get(), &draining, &fingerprint)))
        , listener(cfg, routes, cfg.admin.enabled ? &admin_routes : nullptr)
    {
    }

    ~impl()
    {
        listener.stop();
        listener.wait();
        // After the listener: no call is left to claim a token id.
        if (shared_replays)
            shared_replays->stop();
        if (auth_tasks)
            auth_tasks->cancel_and_join();  // while the control thread still runs them
        control_work.reset();
        control.stop();
        if (control_thread.joinable())
            control_thread.join();
    }
};

application::application(core::config cfg)
{
    refuse_unavailable_features(cfg);
    impl_ = std::make_unique<impl>(std::move(cfg));
}

application::~application() = default;

void application::start()
{
    const auto& cfg = impl_->cfg;
    impl_->decision->start_background(impl_->control.get_executor());
    if (auto a = impl_->authn.load())
    {
        impl_->auth_tasks = std::make_unique<core::task_group>(impl_->control.get_executor());
        a->start_background(*impl_->auth_tasks, cfg.auth.jwks_refresh);
    }
    if (impl_->shared_replays)
        impl_->shared_replays->start();
    publish_config_fingerprint(*impl_->fingerprint.load());
    impl_->control_work.emplace(impl_->control.get_executor());
    impl_->control_thread = std::thread([this] { impl_->control.run(); });
    impl_->listener.start();

    json::array services;
    for (auto id : impl_->registry.ids())
        services.emplace_back(id);
    log::info("started",
        {
            {"listen", cfg.listen.address + ":" + std::to_string(port())},
            {"admin", cfg.admin.enabled ? json::value(cfg.admin.address + ":" + std::to_string(admin_port())) : json::value(nullptr)},
            {"public_base_url", cfg.public_base_url},
            {"decision_mode", impl_->decision->mode()},
            {"decision", cfg.decision.endpoint ? json::value(cfg.decision.endpoint->origin() + cfg.decision.endpoint->target)
                                               : json::value(cfg.decision.rules_path)},
            {"auth", cfg.auth.required ? "required" : "off"},
            {"replay_cache", impl_->shared_replays ? "redis://" + cfg.auth.replay_cache->host + ":" + std::to_string(cfg.auth.replay_cache->port) +
                                                         "/" + std::to_string(cfg.auth.replay_cache->db)
                                                   : std::string("in-process")},
            {"services", std::move(services)},
        });
    if (!cfg.auth.required)
        log::warning("auth_disabled", {{"detail", "auth.required is false: callers are not authenticated"}});
    if (!cfg.audit.path)
        log::warning("audit_disabled", {{"detail", "audit.path is not set: hook calls are not kept for disputes (CRD-62)"}});
    if (cfg.admin.enabled && !is_loopback(cfg.admin.address))
        log::warning("admin_not_loopback",
            {{"detail", "admin.address is not a loopback address: /metrics and /ready details are reachable from the network; firewall it"}});
    if (!cfg.tls.certificate && !is_loopback(cfg.listen.address))
        log::warning("plain_http", {{"detail", "serving plain HTTP on a non-loopback address; set tls.certificate or terminate TLS in front"}});
    notify_systemd("READY=1\nSTATUS=serving on " + cfg.listen.address + ":" + std::to_string(port()));
}

bool application::reload(const std::string& config_path)
{
    std::lock_guard lock(impl_->reload_mutex);
    // Everything is checked before anything changes: a bad new configuration leaves the old one.
    core::config next;
    try
    {
        const auto env = core::process_environment();
        next = config_path.empty() ? core::default_config(env, CRD_DEFAULT_RULES_PATH)
                                   : core::load_config_file(config_path, env, CRD_DEFAULT_RULES_PATH);
        check_configuration(next);
    }
    catch (const std::exception& e)
    {
        server_metrics::instance().reloads.add(reload_result::refused);
        log::error("reload_refused", {{"config", config_path}, {"error", e.what()}, {"detail", "the running configuration is kept"}});
        return false;
    }
    // Rules: the decision source swaps them atomically (the embedded engine; a remote service has none).
    auto& current = impl_->cfg;
    bool needs_restart_auth = false;
    current.decision.rules_path = next.decision.rules_path;
    try
    {
        impl_->decision->reload(current);
    }
    catch (const std::exception& e)
    {
        server_metrics::instance().reloads.add(reload_result::refused);
        log::error("reload_refused", {{"config", config_path}, {"error", e.what()}, {"detail", "the running rules are kept"}});
        return false;
    }
    // Clients and keys: a new authenticator, swapped in whole; calls in progress keep the old one.
    if (current.auth.required)
    {
        if (!next.auth.required)
            log::warning("reload_auth_kept", {{"detail", "auth.required cannot be switched off by a reload; restart to do so"}});
        else
        {
            try
            {
                // The replay cache in use stays (see needs_restart below): the new generation gets it.
                auto fresh = std::make_shared<auth::authenticator>(next, impl_->replays);
                auto fresh_tasks = std::make_unique<core::task_group>(impl_->control.get_executor());
                fresh->start_background(*fresh_tasks, next.auth.jwks_refresh);
                // The old generation's background work ends before the old authenticator can:
                // held here until its tasks are joined, whoever else lets go of it first.
                auto previous = impl_->authn.exchange(std::move(fresh));
                auto previous_tasks = std::exchange(impl_->auth_tasks, std::move(fresh_tasks));
                if (previous_tasks)
                    previous_tasks->cancel_and_join();
                previous_tasks.reset();
                previous.reset();
                const auto running_replay_cache = current.auth.replay_cache;
                current.auth = next.auth;
                current.auth.replay_cache = running_replay_cache;  // what runs, until a restart
            }
            catch (const std::exception& e)
            {
                server_metrics::instance().reloads.add(reload_result::refused);
                log::error("reload_refused", {{"config", config_path}, {"error", e.what()}, {"detail", "the running clients and keys are kept"}});
                return false;
            }
        }
    }
    else if (next.auth.required)
        needs_restart_auth = true;
    log::set_level(next.level);
    if (impl_->audit)
        impl_->audit->reopen();
    json::array needs_restart;
    if (needs_restart_auth)
        needs_restart.emplace_back("auth.required");
    if (replay_cache_differs(next.auth.replay_cache, current.auth.replay_cache))
        needs_restart.emplace_back("auth.replay_cache");
    if (next.listen.address != current.listen.address || next.listen.port != current.listen.port || next.listen.threads != current.listen.threads)
        needs_restart.emplace_back("listen");
    if (next.admin.enabled != current.admin.enabled || next.admin.address != current.admin.address || next.admin.port != current.admin.port)
        needs_restart.emplace_back("admin");
    if (next.tls.certificate != current.tls.certificate || next.tls.private_key != current.tls.private_key)
        needs_restart.emplace_back("tls");
    if (next.audit.path != current.audit.path)
        needs_restart.emplace_back("audit.path");
    if (next.decision.endpoint.has_value() != current.decision.endpoint.has_value() ||
        (next.decision.endpoint && next.decision.endpoint->origin() + next.decision.endpoint->target !=
                                       current.decision.endpoint->origin() + current.decision.endpoint->target))
        needs_restart.emplace_back("decision.url");
    auto fingerprint = std::make_shared<const std::string>(config_fingerprint(current));
    publish_config_fingerprint(*fingerprint);
    impl_->fingerprint.store(fingerprint);
    server_metrics::instance().reloads.add(reload_result::ok);
    log::info("reloaded", {{"config", config_path}, {"rules", current.decision.rules_path}, {"fingerprint", *fingerprint},
                              {"needs_restart", std::move(needs_restart)}});
    return true;
}

std::uint16_t application::port() const noexcept
{
    return impl_->listener.port();
}

std::uint16_t application::admin_port() const noexcept
{
    return impl_->listener.admin_port();
}

void application::stop()
{
    notify_systemd("STOPPING=1");
    // Leave the balancer first (limits.drain_delay_ms): /ready says 503 while calls are still
    // served, so health checks take this instance out before its listener closes.
    const auto delay = impl_->cfg.limits.drain_delay;
    if (!impl_->draining.exchange(true) && delay.count() > 0)
    {
        log::info("draining", {{"drain_delay_ms", delay.count()}, {"detail", "/ready answers 503; calls are served until the delay ends"}});
        std::this_thread::sleep_for(delay);
    }
    impl_->listener.stop();
}

void application::wait()
{
    impl_->listener.wait();
    if (impl_->audit)
        impl_->audit->flush();  // every answered call is on disk before we report "stopped"
}

const core::config& application::config() const noexcept
{
    return impl_->cfg;
}

void check_configuration(const core::config& cfg)
{
    refuse_unavailable_features(cfg);
    if (!uses_remote_decision(cfg))
        (void)decision::load_rules(cfg.decision.rules_path);
}

namespace {

constexpr std::string_view usage = "Usage: crd-server [--config FILE]\n"
                                   "       crd-server --check-config FILE\n"
                                   "       crd-server --hash-secret < secret\n"
                                   "       crd-server --help | --version\n"
                                   "\n"
                                   "A Da Vinci CRD (Coverage Requirements Discovery) CDS Hooks server for payers.\n"
                                   "\n"
                                   "  --config FILE        run with this JSON configuration (see etc/crd-server.json)\n"
                                   "  --check-config FILE  validate the configuration and the rules it names, then exit\n"
                                   "  --hash-secret        read a client secret from stdin, print its auth.clients[].secret_hash\n"
                                   "  --help               show this text\n"
                                   "  --version            print the version and the allocator (jemalloc or system)\n"
                                   "\n"
                                   "Environment: CDS_DECISION_SERVICE_URL overrides decision.url; CDS_ENABLED_HOOKS (comma list of\n"
                                   "service ids) overrides services.enabled.\n";

core::config load(const std::string& path)
{
    const auto env = core::process_environment();
    return path.empty() ? core::default_config(env, CRD_DEFAULT_RULES_PATH) : core::load_config_file(path, env, CRD_DEFAULT_RULES_PATH);
}

}  // namespace

// glibc hands a thread's freed heap back to the kernel once its free top exceeds a threshold that
// starts at 128 KB and follows the largest block freed, and serves blocks above a moving threshold
// with mmap. A large hook call (100 orders: a 184 KB body, a megabyte of documents) then ends with
// a madvise of its memory and the next one faults it back in: 50-440 page faults and up to 2.6 ms
// of system time per call, so two threads ran slower than one (issue 19). Fixed thresholds keep up
// to 32 MB free per arena for the next call and put blocks under 8 MB (a body is at most 1 MB by
// default) on the heap. An operator's own MALLOC_* or GLIBC_TUNABLES setting wins.
// jemalloc, which the Release binary runs on, keeps freed pages by its own decay (MALLOC_CONF's
// dirty_decay_ms, 10 s by default) and has no such thresholds: glibc's are left alone there.
bool tune_allocator(const core::env_lookup& env, bool jemalloc_serves_malloc)
{
    if (jemalloc_serves_malloc)
        return false;
    if (env("GLIBC_TUNABLES") || env("MALLOC_TRIM_THRESHOLD_") || env("MALLOC_MMAP_THRESHOLD_"))
        return false;
    return mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024) == 1 && mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024) == 1;
}

int run_command_line(int argc, char** argv)
{
    std::string config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i)
    {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h")
        {
            std::cout << usage;
            return 0;
        }
        if (arg == "--hash-secret")
        {
            std::string secret;
            std::getline(std::cin, secret);
            if (secret.size() < 16)
            {
                std::cerr << "crd-server: a client secret needs at least 16 characters\n";
                return 2;
            }
            std::cout << auth::hash_secret(secret) << "\n";
            return 0;
        }
        if (arg == "--version")
        {
            std::cout << "crd-server " << CRD_VERSION << "\nallocator: " << process_allocator() << "\n";
            return 0;
        }
        if ((arg == "--config" || arg == "--check-config") && i + 1 < argc)
        {
            check_only = arg == "--check-config";
            config_path = argv[++i];
            continue;
        }
        std::cerr << "crd-server: unknown or incomplete argument '" << arg << "'\n\n" << usage;
        return 2;
    }

    try
    {
        core::config cfg = load(config_path);
        if (check_only)
        {
            check_configuration(cfg);
            std::cout << "configuration OK: " << config_path << "\n";
            return 0;
        }
        tune_allocator(core::process_environment(), runs_on_jemalloc());
        log::set_level(cfg.level);
        log::info("configuration", {{"config", config_path.empty() ? std::string("(defaults)") : config_path}, {"allocator", process_allocator()}});
        application app(std::move(cfg));

        // Signals are handled on the main thread; the shards never see them.
        net::io_context signals_ctx;
        net::signal_set signals(signals_ctx, SIGINT, SIGTERM, SIGHUP);
        std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int signo) {
            if (ec)
                return;
            if (signo == SIGHUP)
            {
                log::info("reloading", {{"signal", signo}});
                app.reload(config_path);
                signals.async_wait(on_signal);
                return;
            }
            log::info("stopping", {{"signal", signo}});
            app.stop();
        };
        signals.async_wait(on_signal);
        app.start();
        std::thread signal_thread([&] { signals_ctx.run(); });
        app.wait();
        signals_ctx.stop();
        signal_thread.join();
        log::info("stopped");
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << "crd-server: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace crd::server
