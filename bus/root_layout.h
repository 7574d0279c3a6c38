// The layout of a hub root (README, "Layout"): every path that hubd, its tools and the
// SDK use comes from here, so each is spelled once. Each place has a default under ROOT
// and may be moved by hub.yml `paths:` (RootPlaces):
//
//   config/hub.yml                          hubd's settings (--config moves it)
//   config/ (paths.config)                  LEVEL/modules/NAME/: a module's config at one level
//   modules/ (paths.modules, a list)        LEVEL/NAME/: installed modules
//   events/ (paths.events)                  MODULE/EVENT/: the site's event scripts
//   system/ (paths.system)                  apps/ and jars/ every module gets after its own
//   data/ (paths.data)                      NAME/: a module's persistent data
//   var/run/hub/ (paths.run)                while hubd runs (mode 0750): the bus (BusPaths),
//     hubd.lock, modules/NAME/, services/INSTANCE/, instances/, scripts/
//   var/db/hub/ (paths.db)                  kept across runs (mode 0750): admin.cred,
//     journal/, consumers/CONSUMER
//   var/log/hub/ (paths.log)                logs (mode 0755): hubd.log, INSTANCE.log,
//     services/INSTANCE/, scripts/NAME.log
//
// A value: paths are computed, nothing is read or created (but by read_root_layout).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "bus/bus_paths.h"
#include "bus/status.h"

namespace hub {

// Where each place of a root is, as hub.yml `paths:` says. Empty (for modules: no
// tree): the place's default under the root. A relative path is relative to the root; an
// absolute one is taken as it is.
struct RootPlaces {
  std::filesystem::path config;  // config/
  // Module trees, each holding LEVEL/NAME/, lowest precedence first: at one level, a
  // module in a later tree shadows one of the same name in an earlier tree (the
  // administrator's /etc/hub/modules after the packaged /usr/lib/hub/modules).
  std::vector<std::filesystem::path> modules;  // [modules/]
  std::filesystem::path events;                // events/
  std::filesystem::path system;                // system/: apps/ and jars/ shared by modules
  std::filesystem::path data;                  // data/
  std::filesystem::path run;                   // var/run/hub/
  std::filesystem::path db;                    // var/db/hub/
  std::filesystem::path log;                   // var/log/hub/
};

class RootLayout {
 public:
  using path = std::filesystem::path;

  RootLayout() : RootLayout(path()) {}
  // Every place at its default under `root` (so a root converts to its layout).
  RootLayout(path root);  // NOLINT: implicit
  RootLayout(path root, const RootPlaces& places);

  const path& root() const { return root_; }
  // Every place, resolved against the root.
  const RootPlaces& places() const { return places_; }

  // --- As installed ---
  // ROOT/config/hub.yml (a checkout), wherever paths.config points (hub.yml is read
  // before it); when that is absent and ROOT/etc/hub/hub.yml exists, that one (an
  // installed tree: `hubd --root /`, or a package unpacked under a directory).
  path config_file() const;
  path config_dir() const { return places_.config; }
  // CONFIG/LEVEL/modules/NAME/: the module's config files at that level.
  path module_config_dir(const std::string& level, const std::string& module) const;
  // TREE/LEVEL/ of every module tree, lowest precedence first.
  std::vector<path> modules_dirs(const std::string& level) const;
  path site_events_dir() const { return places_.events; }
  // SYSTEM/: the root's apps/ (on every module's PATH after its own) and jars/ (on its
  // CLASSPATH after its own).
  path system_dir() const { return places_.system; }
  path module_data_dir(const std::string& module) const;  // DATA/NAME/

  // --- RUN (var/run/hub): what lives while hubd runs ---
  path run_dir() const { return places_.run; }
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

  // --- DB (var/db/hub): kept across runs ---
  path db_dir() const { return places_.db; }
  path admin_credential() const;  // admin.cred, mode 0600
  path journal_dir() const;       // journal/
  // consumers/CONSUMER: how far a durable consumer of the bus got ("scripts").
  path consumer_mark_file(const std::string& consumer) const;

  // --- LOG (var/log/hub) ---
  path log_dir() const { return places_.log; }
  path hubd_log() const;                                     // hubd.log
  path instance_log(const std::string& instance) const;      // INSTANCE.log: its output
  path instance_log_dir(const std::string& instance) const;  // services/INSTANCE/: its own
  path script_logs_dir() const;                              // scripts/
  // scripts/NAME.log, and _site.log for the site's scripts (empty `owner`; a module name
  // starts with a letter, so it cannot collide).
  path script_log(const std::string& owner) const;

  // The places hubd keeps its own state in (run, db, log): nothing a module points at
  // (a service volume) may be in them.
  std::vector<path> state_dirs() const { return {run_dir(), db_dir(), log_dir()}; }

 private:
  path root_;
  RootPlaces places_;
};

// The layout of `root` as the `paths:` section of `hub_yml` says (absent file: every
// default). Read leniently, for the tools (hubctl, bus-tap): other sections are not looked
// at, and a paths: hubd would refuse is an error naming hub_yml without every reason
// (`hubd --check` gives them all).
Result<RootLayout> read_root_layout(const std::filesystem::path& root,
                                    const std::filesystem::path& hub_yml);

// The hub a tool works on: the one at `root` (its --root; its hub.yml is
// ROOT/config/hub.yml) or, when `root` is empty, the one locate_hub() finds (bus_paths.h).
Result<RootLayout> find_hub_layout(const std::filesystem::path& root);

}  // namespace hub
