// Where a root's bus lives. hubd binds these; clients (bus-tap, the SDK, pyzmq
// programs) connect to them. Documented in docs/PROTOCOL.md.
#pragma once

#include <filesystem>
#include <string>

#include "bus/status.h"

namespace hub {

struct BusPaths {
  std::filesystem::path run_dir;           // ROOT/var/run/hub (paths.run), mode 0750
  std::filesystem::path ingest_socket;     // publishers connect a DEALER here
  std::filesystem::path events_socket;     // subscribers connect a SUB here
  std::filesystem::path replay_socket;     // retained-event snapshots (DEALER)
  std::filesystem::path api_socket;        // the Hub API (request/reply, docs/API.md)
  std::filesystem::path admin_credential;  // ROOT/var/db/hub/admin.cred (paths.db), mode 0600

  // RootLayout(root).bus() (root_layout.h) of a root with every place at its default.
  static BusPaths for_root(const std::filesystem::path& root);
};

// The root hubd runs on when not told: $HUB_ROOT, else the current directory.
std::filesystem::path default_root();

// A hub's root and the hub.yml whose `paths:` say where its places are (root_layout.h).
struct HubLocation {
  std::filesystem::path root;
  std::filesystem::path config_file;
};

// The hub.yml of an installed hub (SYSCONFDIR/hub/hub.yml, /etc/hub/hub.yml for a
// package), whose root is /.
std::filesystem::path installed_config_file();

// The hub a tool (hubctl, bus-tap) works on when not given --root, the first of:
//   1. $HUB_ROOT, with $HUB_YML as its hub.yml when set (hubd sets both for services
//      and scripts), else ROOT/config/hub.yml;
//   2. `cwd`, when it is a root: it holds config/hub.yml or var/run/hub/ (but / is the
//      installed hub's root, when there is one);
//   3. the installed hub, when `installed_config` exists: root /, that hub.yml;
//   4. `cwd`.
HubLocation locate_hub(const std::filesystem::path& cwd = ".",
                       const std::filesystem::path& installed_config = installed_config_file());

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
