// Where a root's bus lives. hubd binds these; clients (bus-tap, the SDK, pyzmq
// programs) connect to them. Documented in docs/PROTOCOL.md.
#pragma once

#include <filesystem>
#include <string>

#include "bus/status.h"

namespace hub {

struct BusPaths {
  std::filesystem::path run_dir;           // ROOT/var/run/hub, mode 0750
  std::filesystem::path ingest_socket;     // publishers connect a DEALER here
  std::filesystem::path events_socket;     // subscribers connect a SUB here
  std::filesystem::path replay_socket;     // retained-event snapshots (DEALER)
  std::filesystem::path api_socket;        // the Hub API (request/reply, docs/API.md)
  std::filesystem::path admin_credential;  // ROOT/var/db/hub/admin.cred, mode 0600

  // RootLayout(root).bus() (root_layout.h), for clients that need only the bus.
  static BusPaths for_root(const std::filesystem::path& root);
};

// The root a command works on when not told: $HUB_ROOT, else the current directory.
std::filesystem::path default_root();

// The credential a command presents when not told: $HUB_CREDENTIAL_FILE (set by hubd for
// services and event scripts: they act as their module), else the administrator's.
std::filesystem::path default_credential_file(const BusPaths& paths);

// "ipc://" + path.
std::string ipc_endpoint(const std::filesystem::path& socket);

}  // namespace hub

namespace hub {

// For "ipc://PATH" endpoints: connects a plain Unix socket to PATH to tell "nothing is
// listening" (missing or stale socket) apart from a live hub, at once instead of after a
// timeout. Other transports are not probed and pass.
Status probe_endpoint(const std::string& endpoint);

}  // namespace hub
