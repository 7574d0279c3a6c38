// The supervisor: runs service instances as native processes and turns every change of
// their state into an event. One thread of its own (an asio loop) owns every instance;
// it wakes on a child's exit (pidfd), its output, its readiness notification and its
// timers, never on a polling interval. The public calls are thread-safe and hand work to
// that thread.
//
// Events, each with "name" and "instance" in the payload (built by lifecycle_events.h;
// see README.md):
//   NAME/started {pid, restarts, command, duration_ms}
//                             the process is running (every start and restart)
//   NAME/ready {pid}          it said it is ready (services that declare readiness)
//   NAME/exited {pid, code | signal, run_ms, reason (oom: over limits.memory)}
//   NAME/restarting {attempt, delay_ms, reason}
//   NAME/starting {attempt}   a restart begins (the module manager announces the first start)
//   NAME/failed {reason}      given up: no further attempt until the next start (also
//                             when a template cannot be rendered: the reason names
//                             FILE:LINE:COL, and the workspace is left as it was)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/credentials.h"
#include "bus/status.h"
#include "core/hub/hub_publish.h"
#include "core/modules/module_loader.h"
#include "core/services/service_spec.h"
#include "core/system/accounts.h"
#include "core/system/files.h"
#include "core/system/journal_stream.h"

namespace hub {

struct InstanceSpec {
  std::string module;
  std::string instance;  // NAME, or NAME.X for a dynamic instance
  std::filesystem::path module_dir;
  ServiceSpec service;
  std::string config_yaml;  // the workspace's etc/hub/service.yml
  // What its templates see (core/templates/template_attributes.h): its own, not shared
  // with any other thread.
  YAML::Node template_attributes;
  std::vector<std::string> env;  // "KEY=VALUE": the module's environment
};

// Defaults of the options below that hub.yml sets too (services.log).
inline constexpr uint64_t kDefaultInstanceLogMaxSize = 10 * 1024 * 1024;
inline constexpr int64_t kDefaultInstanceLogKeep = 5;

struct SupervisorOptions {
  RootLayout layout;
  std::vector<std::string> volume_paths;               // hub.yml services.volume_paths
  uint64_t log_max_size = kDefaultInstanceLogMaxSize;  // an instance's output log rotates here
  int64_t log_keep = kDefaultInstanceLogKeep;          // rotated output logs kept per instance
  std::vector<std::pair<std::string, std::string>> hub_env;  // bus and API endpoints
  // Registers a fresh credential for a starting instance, and forgets it once it exited.
  std::function<Credential(const std::string& identity)> grant;
  std::function<void(const std::string& identity)> revoke;
  // hub.yml services.group: the group a service that runs as another user gets, so it can
  // reach the bus. None: services may not run as another user.
  std::optional<gid_t> services_group;
  // Told (on the supervisor's thread) when an instance has failed for good, after its
  // NAME/failed: the module manager stops what depends on it.
  std::function<void()> on_failed;
  // journald's stream socket, for services with log.to: journal (core/system/journal_stream.h).
  std::filesystem::path journal_socket = kJournalStreamSocket;
};

enum class InstanceState { kStarting, kRunning, kBackoff, kStopping, kExited, kFailed, kStopped };
const char* state_name(InstanceState state);

struct InstanceStatus {
  std::string module;
  std::string instance;
  InstanceState state = InstanceState::kStopped;
  pid_t pid = -1;              // while there is a process
  int64_t restarts = 0;        // since the instance was started by a request
  int64_t restarts_total = 0;  // of this instance name since hubd started (never reset)
  int64_t uptime_ms = 0;       // of the current process
  std::string last_exit;       // "code 1", "signal SIGSEGV", or empty
  std::string reason;          // why it failed (as NAME/failed said), while it is failed
  // The ports picked for what service.yml `ports:` asks for, while there is a process.
  std::vector<std::pair<std::string, int>> ports;
};

// The outcome of one request, for the thread that asked. Thread-safe.
class Outcome {
 public:
  Outcome();
  ~Outcome();
  Outcome(const Outcome&) = delete;
  Outcome& operator=(const Outcome&) = delete;

  // Blocks until the outcome is known or `cancel_fd` (when >= 0) turns readable. Returns
  // the outcome (ok, or the failure), or nullopt when cancelled.
  std::optional<Status> wait(int cancel_fd = -1);
  // The same, giving up (nullopt) after `timeout` too.
  std::optional<Status> wait_for(std::chrono::milliseconds timeout, int cancel_fd = -1);
  // The first call counts. `published`: the failure has been published already
  // (NAME/failed).
  void finish(Status outcome, bool published = false);
  bool published();

 private:
  int event_fd_;  // -1 when none could be had: then wait() ignores cancel_fd
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;              // guarded by mu_
  bool published_ = false;         // guarded by mu_
  Status outcome_ = Status::ok();  // guarded by mu_
};

class Supervisor {
 public:
  Supervisor(SupervisorOptions options, HubPublish publish);
  ~Supervisor();  // stops every instance (SIGTERM, SIGKILL after its grace) and joins
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Stops what a previous hubd left running (see instance_records.h). Call before any
  // start. Returns a line per instance it had to stop.
  std::vector<std::string> stop_leftovers(std::chrono::milliseconds grace);

  // Starts an instance. The outcome succeeds once it is running (and ready, when it
  // declares readiness; restarts on the way count), and fails when it cannot be started
  // or has failed for good.
  std::shared_ptr<Outcome> start(InstanceSpec spec);
  // Stops an instance: SIGTERM to its process group, SIGKILL after the grace period. A
  // stop asked for never leads to a restart. The outcome succeeds once it has exited.
  std::shared_ptr<Outcome> stop(const std::string& instance);

  // Forgets an instance that is not running (a dynamic one that was stopped).
  void forget(const std::string& instance);

  std::vector<InstanceStatus> status();
  // Restarts of each module's instances since hubd started (never reset), by module.
  std::map<std::string, int64_t> module_restarts();

  // Sends `sig` to the instance's process (not its group), through its pidfd, so never to
  // a later process with a reused pid. Returns the pid signalled; not_found for no such
  // instance, failed when it has no process now.
  Result<pid_t> signal(const std::string& instance, int sig);

 private:
  struct Loop;
  std::unique_ptr<Loop> loop_;
};

}  // namespace hub
