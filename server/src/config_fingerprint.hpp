#pragma once
// What must be the same on every instance behind a balancer, as one short hash: the rules (or the
// decision service), the registered clients and the auth settings, public_base_url, the services
// enabled and the shared replay cache. Not what differs per host by design (listen address,
// ports, paths of files whose contents are hashed, log level). Shown in the admin /ready body and
// as crd_config_info{fingerprint="..."} 1, so ops see the host that differs (docs/deployment.md).

#include <crd/core/config.hpp>

#include <string>

namespace crd::server {

// 16 hex digits of a SHA-256 over those settings (and the rules file's bytes). Reads the rules
// file; an unreadable one hashes as its path (start-up has refused it already).
std::string config_fingerprint(const core::config& cfg);

// crd_config_info{fingerprint="..."} 1: the process's, set by the application at start and on
// each reload; nothing rendered before the first set.
void publish_config_fingerprint(const std::string& fingerprint);

}  // namespace crd::server
