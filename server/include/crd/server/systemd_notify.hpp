#pragma once
// The systemd notify protocol (sd_notify(3)) without libsystemd: one datagram to $NOTIFY_SOCKET.
// Type=notify units learn READY=1 once we listen and STOPPING=1 when we shut down.

#include <string>
#include <string_view>

namespace crd::server {

// Sends `state` (e.g. "READY=1\nSTATUS=...") to `socket_path` (a filesystem path, or "@name" for
// the abstract namespace). Returns false when the path is empty or the send fails; never throws.
bool notify_systemd(std::string_view state, const std::string& socket_path);

// The same, to $NOTIFY_SOCKET; false (and nothing sent) when it is unset, as outside systemd.
bool notify_systemd(std::string_view state);

}  // namespace crd::server
