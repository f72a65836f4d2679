#include <crd/server/application.hpp>

#include <crd/core/log.hpp>
#include <crd/decision/crd_service.hpp>
#include <crd/decision/remote_decision.hpp>
#include <crd/decision/rules_engine.hpp>
#include <crd/server/router.hpp>
#include <crd/server/server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/array.hpp>

#include <algorithm>
#include <csignal>
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
    if (cfg.auth.required)
        throw startup_error(
            "auth.required is true, but this build cannot verify caller tokens yet; set auth.required to false "
            "only on a trusted network"
        );
    if (cfg.tls.certificate)
        throw startup_error("tls.certificate is set, but this build has no TLS listener yet; terminate TLS in front of it");
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

}  // namespace

struct application::impl
{
    core::config cfg;
    std::unique_ptr<core::decision_service> decision;
    core::hook_registry registry;
    router routes;
    server listener;
    // Background work off the request path (name refresh of upstream hosts).
    net::io_context control;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> control_work;
    std::thread control_thread;

    explicit impl(core::config c)
        : cfg(std::move(c))
        , decision(make_decision(cfg))
        , registry(decision::make_registry(cfg, *decision))
        , routes(registry, router_settings{cfg.cors_allowed_origins, 64, decision.get()})
        , listener(cfg, routes)
    {
    }

    ~impl()
    {
        listener.stop();
        listener.wait();
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
    impl_->control_work.emplace(impl_->control.get_executor());
    impl_->control_thread = std::thread([this] { impl_->control.run(); });
    impl_->listener.start();

    json::array services;
    for (auto id : impl_->registry.ids())
        services.emplace_back(id);
    log::info("started", {
        {"listen", cfg.listen.address + ":" + std::to_string(port())},
        {"public_base_url", cfg.public_base_url},
        {"decision_mode", impl_->decision->mode()},
        {"decision", cfg.decision.endpoint ? json::value(cfg.decision.endpoint->origin() + cfg.decision.endpoint->target) : json::value(cfg.decision.rules_path)},
        {"auth", cfg.auth.required ? "required" : "off"},
        {"services", std::move(services)},
    });
    if (!cfg.auth.required)
        log::warning("auth_disabled", {{"detail", "auth.required is false: callers are not authenticated"}});
    if (cfg.audit.path)
        log::warning("audit_not_written", {{"detail", "audit.path is validated, but this build does not write the audit log yet"}});
}

std::uint16_t application::port() const noexcept
{
    return impl_->listener.port();
}

void application::stop()
{
    impl_->listener.stop();
}

void application::wait()
{
    impl_->listener.wait();
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

constexpr std::string_view usage =
    "Usage: crd-server [--config FILE]\n"
    "       crd-server --check-config FILE\n"
    "       crd-server --help | --version\n"
    "\n"
    "A Da Vinci CRD (Coverage Requirements Discovery) CDS Hooks server for payers.\n"
    "\n"
    "  --config FILE        run with this JSON configuration (see etc/crd-server.json)\n"
    "  --check-config FILE  validate the configuration and the rules it names, then exit\n"
    "  --help               show this text\n"
    "  --version            print the version\n"
    "\n"
    "Environment: CDS_DECISION_SERVICE_URL overrides decision.url; CDS_ENABLED_HOOKS (comma list of\n"
    "service ids) overrides services.enabled.\n";

core::config load(const std::string& path)
{
    const auto env = core::process_environment();
    return path.empty() ? core::default_config(env, CRD_DEFAULT_RULES_PATH)
                        : core::load_config_file(path, env, CRD_DEFAULT_RULES_PATH);
}

}  // namespace

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
        if (arg == "--version")
        {
            std::cout << "crd-server " << CRD_VERSION << "\n";
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
        log::set_level(cfg.level);
        application app(std::move(cfg));

        // Signals are handled on the main thread; the shards never see them.
        net::io_context signals_ctx;
        net::signal_set signals(signals_ctx, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int signo) {
            if (ec)
                return;
            log::info("stopping", {{"signal", signo}});
            app.stop();
        });
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
