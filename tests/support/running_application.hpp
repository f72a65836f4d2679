#pragma once
// crd-server's application started in-process for a test (crd_test_server: needs crd::server):
// built from a configuration, listening on ephemeral loopback ports, stopped and joined when the
// fixture goes. Declare what the application calls (fake decision service, FHIR server, key host,
// temporary directory) before it, so it is stopped before they are destroyed.

#include <crd/core/config.hpp>
#include <crd/server/application.hpp>

#include "fixtures.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>

namespace crd::test {

class running_application
{
public:
    // Builds the application and starts serving; throws like server::application does.
    explicit running_application(core::config cfg = test_config());
    // A configuration document, parsed as a configuration file would be (test::config_from).
    explicit running_application(const boost::json::value& config_document);
    // Stops it if still running (see stop()); the application is destroyed after its threads end.
    ~running_application();

    running_application(const running_application&) = delete;
    running_application& operator=(const running_application&) = delete;

    std::uint16_t port() const noexcept { return app_.port(); }
    std::uint16_t admin_port() const noexcept { return app_.admin_port(); }  // 0 when admin is off
    server::application& app() noexcept { return app_; }

    // What SIGHUP does: reads the configuration file again (the one the test wrote).
    bool reload(const std::string& config_path) { return app_.reload(config_path); }

    // Graceful stop, then waits until every thread has ended and the audit log is flushed (so a
    // test can read it). Only the first call does anything.
    void stop();

private:
    server::application app_;
    bool stopped_ = false;
};

}  // namespace crd::test
