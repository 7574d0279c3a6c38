// The hub of one root, as hubd runs it, in three steps:
//   start()     settings, the root's directories, the lock, the log, the bus, the
//               modules, their event scripts and the API; the modules' start (then
//               Hub/startup) queued for the control thread (control_thread.h);
//   serve()     answers API requests and queues reloads on SIGHUP until SIGTERM or
//               SIGINT, while the control thread starts, stops and reloads modules;
//   shut_down() Hub/shutdown and its scripts, the modules stopped, then the scripts,
//               the bus drained, the sockets removed.
// Under a service manager ($NOTIFY_SOCKET, core/system/sd_notify.h) each step is told:
// READY=1 once Hub/startup is published, RELOADING=1 then READY=1 around every reload,
// STOPPING=1 when shut_down() begins, STATUS= lines as the state changes, and WATCHDOG=1
// from serve()'s loop when the manager asks for it.
// Components are members in the order they are started, so that whatever start() got
// to is torn down in reverse when the Hub goes, even after a failure.
// REQUIRES: block_stop_signals() was called (hubd.h). One thread only (and the control
// thread it starts, which owns the modules while serve() runs).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "bus/root_layout.h"
#include "core/config/hub_config.h"
#include "core/hub/hub_publish.h"
#include "core/hub/hubd.h"
#include "core/services/instance_lock.h"
#include "core/system/sd_notify.h"

namespace spdlog {
class logger;
}

namespace hub {

class ApiServer;
class ControlThread;
class HubApi;
class ModuleManager;
class RunningBus;
class ScriptDispatcher;
class Supervisor;
struct Module;

class Hub {
 public:
  explicit Hub(const HubdOptions& options);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // kExitOk once the modules' start is queued (when Hub/startup cannot be published,
  // serve() returns); otherwise the ExitCode of the step that failed, logged (printed,
  // before the log exists), and the Hub is only to be destroyed.
  int start();
  // Blocks until SIGTERM or SIGINT. REQUIRES: start() returned kExitOk.
  void serve();
  // Stops everything in order; kExitOk, or kExitFailure when the bus failed or Hub/startup
  // could not be published. REQUIRES: serve() returned.
  int shut_down();

 private:
  int load_config();   // and the layout
  int prepare_root();  // the directories, the services group, the lock and the log
  int start_bus();
  int open_signal_fds();
  void stop_leftovers();
  int start_dispatcher();
  int bind_api();
  void start_modules();  // and Hub/startup; on the control thread
  // The modules, told to the service manager; Hub/reload's payload. On the control thread.
  std::string reload();
  // Between two waits of serve()'s loop: the watchdog's ping and a changed STATUS=.
  // Returns how long the loop may wait before the next call (nullopt: no limit).
  std::optional<std::chrono::milliseconds> main_loop_tick();
  std::string summary();  // "up: N modules, M services"
  void stall_for_test();

  // Read from the environment first thing, while hubd has one thread, and unset there so
  // no child inherits them:
  // the service manager ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID);
  SdNotifier notifier_;
  // stderr is the journal ($JOURNAL_STREAM): hubd logs there only (hub_logger.h);
  const bool stderr_is_journal_;
  // for tests only ($HUB_TEST_STALL_FILE, README "systemd"): while this file exists, the
  // main loop stalls, as a hung one would (empty: no hook);
  const std::filesystem::path stall_file_;
  // journald's stream socket for services with log.to: journal ($HUB_JOURNAL_SOCKET, for
  // tests and journal namespaces; empty: the default).
  const std::filesystem::path journal_socket_;
  std::string last_status_;  // the STATUS= last sent
  bool told_ready_ = false;  // READY=1 was sent once

  const std::filesystem::path root_;
  const std::filesystem::path config_file_;  // empty: the layout's, and only if it exists
  HubConfig config_;
  RootLayout layout_;  // as hub.yml paths: says, once load_config() read it
  BusPaths paths_;
  std::optional<gid_t> services_group_;  // hub.yml services.group
  std::optional<InstanceLock> lock_;
  std::shared_ptr<spdlog::logger> logger_;
  Credential admin_;
  std::unique_ptr<RunningBus> bus_;
  // Set once scripts run.
  std::function<void(const std::vector<Module>&)> modules_changed_;
  std::function<void(const std::string&, const std::string&)> stop_scripts_;
  std::function<void(const std::string&)> resume_scripts_;
  // The stop signals (read from a signalfd, readable the moment one is pending, so a slow
  // startup script can be cut short), and SIGHUP.
  int signal_fd_ = -1;
  int reload_fd_ = -1;
  // Readable once a service instance has failed for good (an eventfd the supervisor
  // writes; the supervisor's callback owns it): the main loop then stops the dependents
  // of a failed module.
  int failure_fd_ = -1;
  HubPublish publish_;
  // Before the modules, so it outlives them: it stops whatever they left running.
  std::unique_ptr<Supervisor> supervisor_;
  std::unique_ptr<ModuleManager> modules_;
  std::unique_ptr<ScriptDispatcher> dispatcher_;
  std::unique_ptr<ApiServer> api_server_;
  std::unique_ptr<HubApi> api_;
  // Last, so it stops first: the modules' starts, stops and reloads run on it.
  std::unique_ptr<ControlThread> control_;
  bool startup_failed_ = false;  // the main thread's
  // A SIGHUP's reload is queued and has not begun: another SIGHUP adds nothing.
  std::atomic<bool> reload_queued_{false};
  int stop_signal_ = 0;  // what serve() returned on
};

}  // namespace hub
