// The layout of a hub root (README, "Directory Convention"): every path under ROOT that
// hubd, its tools and the SDK use comes from here, so each is spelled once.
//
//   config/hub.yml                          hubd's settings
//   config/LEVEL/modules/NAME/              a module's config at one level
//   modules/LEVEL/NAME/                     installed modules
//   events/MODULE/EVENT/                    the site's event scripts
//   data/NAME/                              a module's persistent data
//   var/run/hub/                            while hubd runs (mode 0750): the bus (BusPaths),
//     hubd.lock, modules/NAME/, services/INSTANCE/, instances/, scripts/
//   var/db/hub/                             kept across runs (mode 0750): admin.cred,
//     journal/, consumers/CONSUMER
//   var/log/hub/                            logs (mode 0755): hubd.log, INSTANCE.log,
//     services/INSTANCE/, scripts/NAME.log
//
// A value: paths are computed from the root, nothing is read or created.
#pragma once

#include <filesystem>
#include <string>

#include "bus/bus_paths.h"

namespace hub {

class RootLayout {
 public:
  using path = std::filesystem::path;

  explicit RootLayout(path root) : root_(std::move(root)) {}

  const path& root() const { return root_; }

  // --- As installed ---
  path config_file() const;  // config/hub.yml
  // config/LEVEL/modules/NAME/: the module's config files at that level.
  path module_config_dir(const std::string& level, const std::string& module) const;
  path modules_dir(const std::string& level) const;       // modules/LEVEL/
  path site_events_dir() const;                           // events/
  path module_data_dir(const std::string& module) const;  // data/NAME/

  // --- var/run/hub: what lives while hubd runs ---
  path run_dir() const;
  path lock_file() const;  // hubd.lock: at most one hubd per root (instance_lock.h)
  BusPaths bus() const;    // the sockets, and the admin credential they are used with
  // modules/NAME/: hubd's per-module files: the merged config as the module's scripts see
  // it (config.yml), and the credential they act with, identity NAME@scripts (credential,
  // mode 0600; given to them as HUB_CREDENTIAL_FILE).
  path module_run_dir(const std::string& module) const;
  path module_config_file(const std::string& module) const;
  path script_credential_file(const std::string& module) const;
  path workspace_dir(const std::string& instance) const;  // services/INSTANCE/
  path instance_records_dir() const;                      // instances/: running services
  path script_records_dir() const;                        // scripts/: running scripts

  // --- var/db/hub: kept across runs ---
  path db_dir() const;
  path admin_credential() const;  // admin.cred, mode 0600
  path journal_dir() const;       // journal/
  // consumers/CONSUMER: how far a durable consumer of the bus got ("scripts").
  path consumer_mark_file(const std::string& consumer) const;

  // --- var/log/hub ---
  path log_dir() const;
  path hubd_log() const;                                     // hubd.log
  path instance_log(const std::string& instance) const;      // INSTANCE.log: its output
  path instance_log_dir(const std::string& instance) const;  // services/INSTANCE/: its own
  path script_logs_dir() const;                              // scripts/
  // scripts/NAME.log, and _site.log for the site's scripts (empty `owner`; a module name
  // starts with a letter, so it cannot collide).
  path script_log(const std::string& owner) const;

 private:
  path root_;
};

}  // namespace hub
