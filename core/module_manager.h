// Brings the root's modules up and down, publishing every decision as Hub: loads the tree
// (NAME/loaded, NAME/rejected, NAME/shadowed), prepares each loaded module's data/NAME/
// and merged config, runs control/startup/ in dependency order (NAME/starting, then
// NAME/started or NAME/failed) and control/shutdown/ in reverse (NAME/stopping,
// NAME/stopped). One thread only.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/module_loader.h"

namespace hub {

// Publishes one event as Hub; `retain` keeps it as the topic's last value.
using HubPublish =
    std::function<void(const std::string& topic, const std::string& json, bool retain)>;

struct ModuleManagerOptions {
  std::filesystem::path root;
  std::vector<std::string> levels = {"system", "customer", "site"};
  std::chrono::milliseconds script_timeout{30000};  // per control script
  size_t script_output_cap = 64 * 1024;             // bytes of stdout and of stderr kept per run
  // Readable once the hub is asked to stop (hubd's signalfd): a startup script running
  // then is killed and no further module starts. -1: never.
  int cancel_fd = -1;
};

class ModuleManager {
 public:
  ModuleManager(ModuleManagerOptions options, HubPublish publish)
      : options_(std::move(options)), publish_(std::move(publish)) {}

  // Loads the tree and prepares each loaded module's data directory and config file.
  // Publishes nothing yet, so a subscriber can be set up for the modules first.
  void load();
  // Publishes what load() decided. A module whose data directory or config file could
  // not be written is reported as failed and will not start.
  void announce();
  // Starts the loaded modules in dependency order. A module whose startup script fails
  // is not started, and neither is anything that depends on it. Returns false when it
  // was cancelled (see cancel_fd) before every module had its turn.
  bool start_all();
  // Stops the started modules in reverse order, running every shutdown script even when
  // one fails. Idempotent.
  void stop_all();

  const ModuleTree& tree() const { return tree_; }
  const std::vector<std::string>& started() const { return started_; }  // in start order

 private:
  // Runs control/PHASE/ of `m`; returns why it failed, or an empty string.
  std::string run_control_scripts(const Module& m, const std::string& phase, bool stop_at_failure);
  void fail(const Module& m, const std::string& reason);

  ModuleManagerOptions options_;
  HubPublish publish_;
  ModuleTree tree_;
  std::vector<std::pair<std::string, std::string>> unprepared_;  // name, why
  std::vector<std::string> not_startable_;                       // failed to prepare or to start
  std::vector<std::string> started_;
};

}  // namespace hub
