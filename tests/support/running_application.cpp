#include "running_application.hpp"

#include "fixtures.hpp"

namespace crd::test {

running_application::running_application(core::config cfg) : app_(std::move(cfg))
{
    app_.start();
}

running_application::running_application(const boost::json::value& config_document) : running_application(config_from(config_document)) {}

running_application::~running_application()
{
    stop();
}

void running_application::stop()
{
    if (stopped_)
        return;
    stopped_ = true;
    app_.stop();  // listeners close, sessions are asked to finish
    app_.wait();  // worker threads joined, audit log flushed
}

}  // namespace crd::test
