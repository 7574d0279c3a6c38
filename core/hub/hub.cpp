#include "core/hub/hub.h"

#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>

#include "bus/text.h"
#include "bus/unique_fd.h"
#include "core/api/api_server.h"
#include "core/api/hub_api.h"
#include "core/hub/control_thread.h"
#include "core/hub/hub_logger.h"
#include "core/hub/hub_options.h"
#include "core/hub/running_bus.h"
#include "core/hub/subscribe_declarations.h"
#include "core/modules/module_manager.h"
#include "core/scripts/script_dispatcher.h"
#include "core/scripts/script_runner.h"
#include "core/services/supervisor.h"
#include "core/system/files.h"
#include "core/system/main_loop_keepalive.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

// Before the log exists, problems go to stderr; after, to the log (hub_logger.h).
int fail_early(int code, const std::string& message) {
  std::cerr << "hubd: " << message << "\n";
  return code;
}

int fail(int code, const std::string& message) {
  spdlog::error("{}", message);
  return code;
}

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "?";
}

sigset_t signal_set(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  return set;
}

// The sockets hubd binds in the run directory.
std::array<fs::path, 4> sockets(const BusPaths& paths) {
  return {paths.ingest_socket, paths.events_socket, paths.replay_socket, paths.api_socket};
}

// The value of the environment variable `name` (empty when unset), then unset, so no child
// inherits it. Single-threaded use only.
std::string take_environment(const char* name) {
  const char* value = std::getenv(name);
  std::string taken = value ? value : "";
  ::unsetenv(name);
  return taken;
}

}  // namespace

Hub::Hub(const HubdOptions& options)
    : notifier_(SdNotifier::from_environment()),
      stderr_is_journal_(is_journal_stream(take_environment("JOURNAL_STREAM"), STDERR_FILENO)),
      stall_file_(take_environment("HUB_TEST_STALL_FILE")),
      journal_socket_(take_environment("HUB_JOURNAL_SOCKET")),
      root_(options.root),
      config_file_(options.config_file) {}

Hub::~Hub() {
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (reload_fd_ >= 0) ::close(reload_fd_);
}

int Hub::start() {
  if (int failed = load_config()) return failed;
  if (int failed = prepare_root()) return failed;
  spdlog::info("hubd {} starting on {} (pid {})", HUB_VERSION, root_.string(), ::getpid());
  if (notifier_.enabled()) {
    const auto watchdog = notifier_.watchdog_interval();
    spdlog::info("service manager: notifying {}{}", notifier_.address(),
                 watchdog
                     ? ", watchdog ping every " + std::to_string(watchdog->count() / 1000) + " ms"
                     : std::string());
    if (Status s = notifier_.status("starting"); !s) spdlog::warn("{}", s.message());
  }
  if (int failed = start_bus()) return failed;
  if (int failed = open_signal_fds()) return failed;
  publish_ = [this](const std::string& topic, const std::string& json, bool retain) {
    if (auto s = bus_->publish(topic, json, retain); !s) {
      spdlog::error("cannot publish {}: {}", topic, s.error());
    }
  };
  SupervisorOptions supervise = supervisor_options(config_, layout_);
  supervise.grant = [this](const std::string& identity) { return bus_->grant(identity); };
  supervise.revoke = [this](const std::string& identity) { bus_->revoke(identity); };
  supervise.services_group = services_group_;
  // Owned by the callback: open as long as the supervisor may call it.
  auto failures = std::make_shared<unique_fd>(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  failure_fd_ = failures->get();
  supervise.on_failed = [failures] {
    const uint64_t one = 1;
    if (*failures && ::write(failures->get(), &one, sizeof one) < 0) {
      // Only an overflow fails, which a count of failures never reaches.
    }
  };
  if (!journal_socket_.empty()) supervise.journal_socket = journal_socket_;
  supervisor_ = std::make_unique<Supervisor>(std::move(supervise), publish_);
  stop_leftovers();

  ModuleManagerOptions modules = module_manager_options(config_, layout_);
  modules.cancel_fd = signal_fd_;
  modules.on_modules_changed = [this](const std::vector<Module>& m) {
    declare_subscriptions(*bus_, m);
    if (modules_changed_) modules_changed_(m);
  };
  modules.stop_scripts = [this](const std::string& name, const std::string& why) {
    if (stop_scripts_) stop_scripts_(name, why);
  };
  modules.resume_scripts = [this](const std::string& name) {
    if (resume_scripts_) resume_scripts_(name);
  };
  modules.supervisor = supervisor_.get();
  modules.grant = [this](const std::string& identity) { return bus_->grant(identity); };
  modules.services_group = services_group_;
  modules.revoke = [this](const std::string& identity) { bus_->revoke(identity); };
  modules.remembered = bus_->rebuilt_lifecycle();
  modules_ = std::make_unique<ModuleManager>(std::move(modules), publish_);
  modules_->load();
  declare_subscriptions(*bus_, modules_->tree().loaded);

  if (int failed = start_dispatcher()) return failed;
  if (int failed = bind_api()) return failed;
  try {
    control_ = std::make_unique<ControlThread>();
  } catch (const std::exception& e) {
    return fail(kExitFailure, std::string("cannot start the control thread: ") + e.what());
  }
  api_ = std::make_unique<HubApi>(
      *modules_, *supervisor_, *control_, [this] { return bus_->counters_json(); },
      [this] { return reload(); }, root_.string());
  api_->set_scripts_json([d = dispatcher_.get()] { return d->stats_json(); });
  ControlOperation startup;
  startup.what = "starting the modules";
  startup.run = [this] { start_modules(); };
  control_->submit(std::move(startup));
  return kExitOk;
}

int Hub::load_config() {
  auto loaded = read_hub_yml(root_, config_file_);
  if (!loaded) return fail_early(kExitConfig, "invalid configuration:\n" + loaded.error());
  config_ = std::move(*loaded);
  layout_ = root_layout(config_, root_);
  paths_ = layout_.bus();
  export_hub_environment(config_, hub_yml_file(root_, config_file_));
  return kExitOk;
}

int Hub::prepare_root() {
  for (const auto& [dir, mode] :
       {std::pair{layout_.run_dir(), 0750}, {layout_.db_dir(), 0750}, {layout_.log_dir(), 0755}}) {
    if (Status s = make_private_dir(dir, static_cast<mode_t>(mode)); !s) {
      return fail_early(kExitFailure, s.message());
    }
  }
  // With services.group, that group may enter var/run/hub (and use the sockets there), so
  // services that run as another user can reach the bus; no one else can.
  if (!config_.services.group.empty()) {
    const group* g = ::getgrnam(config_.services.group.c_str());
    if (g == nullptr || ::chown(paths_.run_dir.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return fail_early(kExitFailure, paths_.run_dir.string() + ": cannot be given to group " +
                                          config_.services.group);
    }
    services_group_ = g->gr_gid;
  }
  auto lock = InstanceLock::acquire(layout_.lock_file());
  if (!lock) return fail_early(kExitAlreadyRunning, lock.error() + " (" + root_.string() + ")");
  lock_.emplace(std::move(*lock));

  auto logger = install_hub_logger(layout_.hubd_log(), config_.log, stderr_is_journal_);
  if (!logger) return fail_early(kExitFailure, logger.error());
  logger_ = std::move(*logger);
  return kExitOk;
}

int Hub::start_bus() {
  auto admin = load_or_create_credential(paths_.admin_credential, kAdminIdentity);
  if (!admin) return fail(kExitFailure, admin.error());
  admin_ = std::move(*admin);

  // The lock is ours, so any socket file still there was left by a hubd that is gone;
  // binding replaces it.
  std::optional<CurveServer> curve;
  if (config_.network.any()) {
    auto loaded =
        load_curve_server(root_ / config_.network.server_key, root_ / config_.network.clients);
    if (!loaded) return fail(kExitConfig, "network: " + loaded.error());
    curve = std::move(*loaded);
  }
  const bool on_tcp = curve.has_value();
  auto bus = RunningBus::start(journal_options(config_, layout_),
                               broker_options(config_, paths_, on_tcp), admin_, std::move(curve));
  if (!bus) return fail(kExitFailure, bus.error());
  bus_ = std::move(*bus);
  return kExitOk;
}

int Hub::open_signal_fds() {
  const sigset_t stop_set = stop_signals();
  signal_fd_ = ::signalfd(-1, &stop_set, SFD_CLOEXEC);
  if (signal_fd_ < 0) return fail(kExitFailure, std::string("signalfd: ") + strerror(errno));
  const sigset_t reload_set = signal_set(SIGHUP);
  reload_fd_ = ::signalfd(-1, &reload_set, SFD_CLOEXEC);
  if (reload_fd_ < 0) return fail(kExitFailure, std::string("signalfd: ") + strerror(errno));
  return kExitOk;
}

void Hub::stop_leftovers() {
  for (const auto& line : supervisor_->stop_leftovers(config_.services.leftover_grace)) {
    spdlog::warn("left running by an earlier hubd: {}", line);
  }
  // Scripts a crashed hubd left running are killed before any script runs again, events
  // replayed included.
  for (const auto& line : stop_script_leftovers(layout_.script_records_dir())) {
    spdlog::warn("left running by an earlier hubd: {}", line);
  }
}

// The dispatcher subscribes before anything about the modules is published, so scripts
// see every module event, NAME/loaded included.
int Hub::start_dispatcher() {
  DispatcherOptions dispatch = dispatcher_options(config_, layout_);
  dispatch.services_group = services_group_;
  dispatch.bus_last_seq = bus_->last_seq();
  auto dispatcher =
      ScriptDispatcher::start(bus_->context(), admin_, dispatcher_subscriber_options(paths_),
                              dispatch, modules_->tree().loaded, publish_);
  if (!dispatcher) return fail(kExitFailure, dispatcher.error());
  dispatcher_ = std::move(*dispatcher);
  modules_changed_ = [d = dispatcher_.get()](const std::vector<Module>& m) { d->set_modules(m); };
  stop_scripts_ = [d = dispatcher_.get()](const std::string& name, const std::string& why) {
    d->stop_scripts(name, why);
  };
  resume_scripts_ = [d = dispatcher_.get()](const std::string& name) { d->resume_scripts(name); };
  return kExitOk;
}

// The API is bound before modules start, and answers while they start.
int Hub::bind_api() {
  const ApiEndpoints api = api_endpoints(config_, paths_);
  auto server =
      ApiServer::bind(bus_->context(), api.ipc, api.tcp, bus_->curve(), &bus_->credentials());
  if (!server) return fail(kExitFailure, server.error());
  api_server_ = std::move(*server);
  if (!api_server_->bound_tcp().empty()) {
    spdlog::info("api: also on {} (CURVE)", api_server_->bound_tcp());
  }
  // Connecting to a socket takes write permission on it: the owner's and, with
  // services.group, that group's (the directory already keeps everyone else out).
  for (const auto& socket : sockets(paths_)) {
    const bool ok = ::chmod(socket.c_str(), 0660) == 0 &&
                    (!services_group_ ||
                     ::chown(socket.c_str(), static_cast<uid_t>(-1), *services_group_) == 0);
    if (!ok) return fail(kExitFailure, socket.string() + ": " + std::strerror(errno));
  }
  return kExitOk;
}

// On the control thread; what the service manager is told, on the main thread.
void Hub::start_modules() {
  modules_->announce();
  if (!modules_->start_all()) return;  // cancelled: a stop signal is pending
  const std::string started =
      JsonObject()
          .add("pid", static_cast<int64_t>(::getpid()))
          .add("version", HUB_VERSION)
          .add("root", root_.string())
          .add_raw("modules", json_string_array(modules_->up()))
          .add("rejected", static_cast<int64_t>(modules_->tree().rejected.size()))
          .str();
  auto seq = bus_->publish("Hub/startup", started, /*retain=*/true);
  if (!seq) {
    spdlog::error("cannot publish Hub/startup: {}; stopping", seq.error());
    // What started is still stopped in order by shut_down().
    control_->on_main([this] { startup_failed_ = true; });
    return;
  }
  spdlog::info("hub is up: Hub/startup is event {}; bus at {}", *seq, paths_.run_dir.string());
  control_->on_main([this] {
    last_status_ = summary();
    if (Status s = notifier_.ready(last_status_); !s) spdlog::warn("{}", s.message());
    told_ready_ = true;
    // The main loop feeds the watchdog; from now on also while it waits on purpose (the
    // modules' stops at shutdown): main_loop_keepalive.h.
    if (notifier_.enabled())
      set_main_loop_keepalive([this] { (void)notifier_.ping_watchdog_if_due(); });
    // Loading parsed every module's files; give the heap that freed back before idling.
    ::malloc_trim(0);
  });
}

// Until SIGTERM or SIGINT: answers API requests as they come, queues a reload for each
// SIGHUP and carries out what the control thread hands back. A pending stop signal is
// read only once the control thread has stopped: until then it cuts short what runs there
// (the module manager's cancel_fd).
void Hub::serve() {
  const ApiHandler handler = [this](ApiRequest r, const ApiReply& reply) {
    api_->serve(std::move(r), reply);
  };
  while (!startup_failed_) {
    std::optional<std::chrono::milliseconds> wait = main_loop_tick();
    if (const auto deadline = api_server_->answer_overdue()) {
      wait = wait ? std::min(*wait, *deadline) : *deadline;
    }
    zmq::pollitem_t items[] = {{api_server_->socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, signal_fd_, ZMQ_POLLIN, 0},
                               {nullptr, reload_fd_, ZMQ_POLLIN, 0},
                               {nullptr, control_->wake_fd(), ZMQ_POLLIN, 0},
                               {nullptr, failure_fd_, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 5, wait ? static_cast<long>(wait->count()) : -1) <= 0) continue;
    if (items[1].revents & ZMQ_POLLIN) break;
    signalfd_siginfo info{};
    if ((items[2].revents & ZMQ_POLLIN) && ::read(reload_fd_, &info, sizeof info) == sizeof info) {
      if (reload_queued_.exchange(true)) {  // a storm: the queued reload will see it all
        spdlog::info("SIGHUP received: a reload is already queued");
      } else {
        spdlog::info("SIGHUP received: reloading");
        ControlOperation reloading;
        reloading.what = "reload (SIGHUP)";
        reloading.run = [this] {
          reload_queued_ = false;  // a SIGHUP from now on rescans after this one
          (void)reload();
        };
        control_->submit(std::move(reloading));
      }
    }
    uint64_t failures = 0;
    if ((items[4].revents & ZMQ_POLLIN) && ::read(failure_fd_, &failures, sizeof failures) > 0) {
      ControlOperation following;  // a service failed for good: its dependents go down
      following.what = "dependents of failed modules";
      following.run = [this] {
        modules_->follow_failures();
        modules_->publish_view();
      };
      control_->submit(std::move(following));
    }
    if (items[3].revents & ZMQ_POLLIN) control_->run_main_tasks();
    if (items[0].revents & ZMQ_POLLIN) api_server_->serve_pending(handler);
  }
  control_->stop(Status::error("hubd is stopping: not carried out"));
  signalfd_siginfo info{};
  stop_signal_ = startup_failed_ || ::read(signal_fd_, &info, sizeof info) != sizeof info
                     ? SIGTERM
                     : static_cast<int>(info.ssi_signo);
}

// On the control thread; what the service manager is told, on the main thread.
std::string Hub::reload() {
  control_->on_main([this] { (void)notifier_.reloading("reloading"); });
  std::string payload = modules_->reload();
  control_->on_main([this] {
    last_status_ = summary();
    (void)notifier_.ready(last_status_);
  });
  return payload;
}

std::optional<std::chrono::milliseconds> Hub::main_loop_tick() {
  // Before READY=1 the manager expects neither pings nor a changing status.
  if (!notifier_.enabled() || !told_ready_) return std::nullopt;
  stall_for_test();
  const auto wait = notifier_.ping_watchdog_if_due();
  // Services come and go between ticks (API calls, crashes): the status follows, checked
  // at each tick, so at least at every watchdog ping.
  if (std::string now = summary(); now != last_status_) {
    last_status_ = std::move(now);
    (void)notifier_.status(last_status_);
  }
  return wait;
}

std::string Hub::summary() {
  size_t running = 0;
  for (const auto& instance : supervisor_->status()) {
    running += instance.state == InstanceState::kRunning ? 1 : 0;
  }
  const size_t modules = modules_->view().up.size();
  return "up: " + std::to_string(modules) + (modules == 1 ? " module, " : " modules, ") +
         std::to_string(running) + (running == 1 ? " service" : " services");
}

void Hub::stall_for_test() {
  if (stall_file_.empty()) return;
  std::error_code ignored;
  if (!fs::exists(stall_file_, ignored)) return;
  spdlog::warn("{} exists: the main loop stalls until it is removed (a test hook)",
               stall_file_.string());
  while (fs::exists(stall_file_, ignored)) ::usleep(10 * 1000);
  spdlog::warn("{} is gone: the main loop goes on", stall_file_.string());
}

int Hub::shut_down() {
  ::close(signal_fd_);
  ::close(reload_fd_);
  signal_fd_ = reload_fd_ = -1;
  (void)notifier_.stopping("stopping");
  const bool bus_failed = bus_->failed();
  if (!bus_failed) spdlog::info("{} received: shutting down", signal_name(stop_signal_));

  const std::string stopping = JsonObject()
                                   .add("pid", static_cast<int64_t>(::getpid()))
                                   .add("signal", signal_name(stop_signal_))
                                   .str();
  auto shutdown_seq = bus_->publish("Hub/shutdown", stopping, false);
  if (!shutdown_seq && !bus_failed)
    spdlog::error("cannot publish Hub/shutdown: {}", shutdown_seq.error());
  // Hub/shutdown's scripts finish before any module stops, then those of what stopping the
  // modules published; both within shutdown.scripts_timeout. What does not finish in time
  // runs when hubd starts again (scripts.resume).
  const auto scripts_deadline = std::chrono::steady_clock::now() + config_.shutdown.scripts_timeout;
  const auto scripts_time_left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        scripts_deadline - std::chrono::steady_clock::now()));
  };
  if (shutdown_seq && !dispatcher_->wait_done(*shutdown_seq, scripts_time_left())) {
    spdlog::warn("the scripts for Hub/shutdown did not finish within {} ms; stopping anyway",
                 config_.shutdown.scripts_timeout.count());
  }
  modules_->stop_all();
  if (!bus_failed && !dispatcher_->wait_done(bus_->last_seq(), scripts_time_left())) {
    spdlog::warn("scripts still running {} ms after Hub/shutdown; stopping anyway",
                 config_.shutdown.scripts_timeout.count());
  }
  dispatcher_->stop();
  bus_->stop();
  for (const auto& socket : sockets(paths_)) {
    std::error_code ignored;
    fs::remove(socket, ignored);
  }
  if (bus_failed) return fail(kExitFailure, "hubd stopped because its bus failed");
  if (startup_failed_) {
    return fail(kExitFailure, "hubd stopped: Hub/startup could not be published");
  }
  spdlog::info("hubd stopped");
  return kExitOk;
}

}  // namespace hub
