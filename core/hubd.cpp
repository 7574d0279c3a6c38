#include "core/hubd.h"

#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "bus/broker.h"
#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "bus/root_layout.h"
#include "bus/text.h"
#include "bus/wire.h"
#include "core/api_server.h"
#include "core/files.h"
#include "core/hub_api.h"
#include "core/hub_config.h"
#include "core/hub_logger.h"
#include "core/instance_lock.h"
#include "core/module_environment.h"
#include "core/module_manager.h"
#include "core/script_dispatcher.h"
#include "core/script_runner.h"
#include "core/supervisor.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

constexpr auto kHubEventTimeout = std::chrono::seconds(5);

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Before the log exists, problems go to stderr; after, to the log (stderr and hubd.log).
int fail_early(int code, const std::string& message) {
  std::cerr << "hubd: " << message << "\n";
  return code;
}

int fail(int code, const std::string& message) {
  spdlog::error("{}", message);
  return code;
}

// The running bus of one root: the broker on its own thread and the publisher that
// hubd's components share to publish as Hub. Members are declared in the order they
// must be torn down in reverse.
class RunningBus {
 public:
  static Result<std::unique_ptr<RunningBus>> start(const RootLayout& layout,
                                                   const HubConfig& config, const Credential& admin,
                                                   std::optional<CurveServer> curve) {
    const BusPaths paths = layout.bus();
    auto bus = std::unique_ptr<RunningBus>(new RunningBus());
    bus->credentials_.add(admin);
    bus->curve_ = std::move(curve);
    if (bus->curve_) {
      for (const auto& [key, identity] : bus->curve_->identities) {
        bus->credentials_.add_curve_client(key, identity);
      }
    }
    JournalOptions journal;
    journal.dir = layout.journal_dir();
    journal.durability = config.journal.durability == "none"          ? Durability::kNone
                         : config.journal.durability == "every-event" ? Durability::kEveryEvent
                                                                      : Durability::kBatch;
    journal.sync_interval = config.journal.sync_interval;
    journal.segment_size = config.journal.segment_size;
    journal.max_bytes = config.journal.max_size;
    journal.max_age = std::chrono::duration_cast<std::chrono::seconds>(config.journal.max_age);
    JournalRecovery recovery;
    auto opened = Journal::open(journal, recovery);
    if (!opened) return opened.status();
    bus->journal_ = std::move(*opened);
    if (recovery.cut_bytes > 0) {
      spdlog::warn("journal: cut {} bytes of torn or corrupt tail ({})", recovery.cut_bytes,
                   recovery.cut_reason);
    }
    if (!recovery.index_problem.empty()) {
      spdlog::warn("journal: the newest segment's index was not rebuilt ({}); readers scan it",
                   recovery.index_problem);
    }
    const uint64_t go_on = recovery.next_after();
    if (recovery.lost_first() <= recovery.lost_last()) {
      spdlog::error(
          "journal: events {}..{} were durable (confirmed publishes among them were "
          "acknowledged) and are missing from the journal: lost{}",
          recovery.lost_first(), recovery.lost_last(),
          recovery.cut_bytes > 0 ? " (" + recovery.cut_reason + ")" : std::string());
    }
    if (recovery.skipped_first() <= recovery.skipped_last()) {
      spdlog::warn(
          "journal: events {}..{} may have been handed out by a hubd that crashed and "
          "were not journalled (none was acknowledged); the sequence goes on at {}",
          recovery.skipped_first(), recovery.skipped_last(), go_on + 1);
    }
    spdlog::info("journal: {} segment(s), events {}..{}, durability {}", recovery.segments,
                 recovery.first_seq, recovery.last_seq, config.journal.durability);
    BrokerOptions options;
    options.ingest_endpoint = ipc_endpoint(paths.ingest_socket);
    options.events_endpoint = ipc_endpoint(paths.events_socket);
    options.replay_endpoint = ipc_endpoint(paths.replay_socket);
    options.subscriber_hwm = static_cast<int>(config.bus.subscriber_hwm);
    options.max_payload = config.bus.max_payload;
    options.max_retained = static_cast<size_t>(config.bus.max_retained);
    options.max_retained_bytes = config.bus.max_retained_bytes;
    options.max_retained_per_module = static_cast<size_t>(config.bus.max_retained_per_module);
    options.max_retained_bytes_per_module = config.bus.max_retained_bytes_per_module;
    options.drain_timeout = config.shutdown.drain_timeout;
    options.journal = bus->journal_.get();
    options.last_seq = go_on;
    if (bus->curve_) {
      options.ingest_tcp = config.network.ingest;
      options.events_tcp = config.network.events;
      options.replay_tcp = config.network.replay;
      options.curve = &*bus->curve_;
    }
    const std::string internal = options.internal_endpoint;
    auto broker = Broker::bind(bus->ctx_, std::move(options), bus->credentials_);
    if (!broker) return broker.status();
    bus->broker_ = std::move(*broker);
    const auto tcp = bus->broker_->tcp_endpoints();
    for (size_t i = 0; i < tcp.size(); ++i) {
      if (tcp[i].empty()) continue;
      spdlog::info("bus: {} also on {} (CURVE)", std::array{"ingest", "events", "replay"}[i],
                   tcp[i]);
    }
    bus->thread_ = std::thread([b = bus->broker_.get(), bus_ptr = bus.get()] {
      try {
        b->run();
      } catch (const std::exception& e) {
        // Without a broker there is no hub: wake the main thread, which stops everything.
        spdlog::critical("bus: the broker failed: {}; stopping", e.what());
        bus_ptr->failed_ = true;
        ::kill(::getpid(), SIGTERM);
      }
    });
    auto publisher = Publisher::connect(bus->ctx_, internal, std::nullopt);
    if (!publisher) return publisher.status();
    bus->hub_publisher_.emplace(std::move(*publisher));
    if (go_on > recovery.last_seq) {
      // First of all: subscribers that come back to a gap learn which numbers were never
      // acknowledged (skipped) and which were, and are lost (wire::kRecoveredTopic).
      const bool lost = recovery.lost_first() <= recovery.lost_last();
      const bool skipped = recovery.skipped_first() <= recovery.skipped_last();
      const auto number = [](bool present, uint64_t n) {
        return static_cast<int64_t>(present ? n : 0);
      };
      auto said = bus->publish(wire::kRecoveredTopic,
                               JsonObject()
                                   .add("skipped_first", number(skipped, recovery.skipped_first()))
                                   .add("skipped_last", number(skipped, recovery.skipped_last()))
                                   .add("lost_first", number(lost, recovery.lost_first()))
                                   .add("lost_last", number(lost, recovery.lost_last()))
                                   .add("cut_bytes", static_cast<int64_t>(recovery.cut_bytes))
                                   .str(),
                               false);
      if (!said) spdlog::error("cannot publish {}: {}", wire::kRecoveredTopic, said.error());
    }
    return bus;
  }

  ~RunningBus() { stop(); }

  // True once the broker thread has died; nothing can be published any more.
  bool failed() const { return failed_; }

  zmq::context_t& context() { return ctx_; }

  // Publishes as Hub and waits until the broker has stamped and fanned the event out.
  // An event delivered live that the journal could not keep (a full disk) is not a
  // failure here: subscribers have it, the broker reports the journal's failure
  // (Hub/journal-failed), and the hub must go on. Safe from any thread.
  Result<uint64_t> publish(std::string_view topic, const std::string& payload, bool retain) {
    if (failed_) return Status::error("the bus has failed");
    std::lock_guard lock(publish_mu_);
    PublishOptions options;
    options.retain = retain;
    auto delivered = hub_publisher_->publish_delivered(
        topic, payload, std::chrono::duration_cast<std::chrono::milliseconds>(kHubEventTimeout),
        options);
    if (!delivered) return delivered.status();
    if (!delivered->not_kept.empty()) {
      spdlog::warn("{} (event {}) was delivered but not kept in the journal: {}", topic,
                   delivered->seq, delivered->not_kept);
    }
    return delivered->seq;
  }

  uint64_t last_seq() const { return broker_->last_seq(); }
  const CurveServer* curve() const { return curve_ ? &*curve_ : nullptr; }
  const CredentialStore& credentials() const { return credentials_; }

  std::string counters_json() const {
    const BrokerCounters& c = broker_->counters();
    return JsonObject()
        .add("events", static_cast<int64_t>(c.events.load()))
        .add("payload_bytes", static_cast<int64_t>(c.payload_bytes.load()))
        .add("last_seq", static_cast<int64_t>(broker_->last_seq()))
        .add("malformed", static_cast<int64_t>(c.malformed.load()))
        .add_raw("malformed_by",
                 JsonObject()
                     .add("frame_count", static_cast<int64_t>(c.bad_frame_count.load()))
                     .add("header", static_cast<int64_t>(c.bad_header.load()))
                     .add("topic", static_cast<int64_t>(c.bad_topic.load()))
                     .add("content_type", static_cast<int64_t>(c.bad_content_type.load()))
                     .str())
        .add("too_large", static_cast<int64_t>(c.too_large.load()))
        .add("auth_failures", static_cast<int64_t>(c.auth_failures.load()))
        .add("snapshots", static_cast<int64_t>(c.snapshots.load()))
        .add("retained_refused", static_cast<int64_t>(c.retained_refused.load()))
        .add_raw("retained_refused_by", by_identity_json(broker_->retained_refused_by_identity()))
        .add("retained_topics", static_cast<int64_t>(c.retained_topics.load()))
        .add("retained_bytes", static_cast<int64_t>(c.retained_bytes.load()))
        .add("acks_undeliverable", static_cast<int64_t>(c.acks_undeliverable.load()))
        .add("journal_failures", static_cast<int64_t>(c.journal_failures.load()))
        .add("journal_lost_events", static_cast<int64_t>(c.journal_lost_events.load()))
        .add("forbidden", static_cast<int64_t>(c.forbidden.load()))
        .add("revoked", static_cast<int64_t>(c.revoked.load()))
        .add("subscriptions_refused", static_cast<int64_t>(c.subscriptions_refused.load()))
        .add_raw("forbidden_by", by_identity_json(broker_->forbidden_by_identity()))
        .str();
  }

  // {"IDENTITY": N, ...}: refusals by publisher.
  static std::string by_identity_json(const std::map<std::string, uint64_t>& counts) {
    JsonObject by;
    for (const auto& [identity, n] : counts) by.add(identity, static_cast<int64_t>(n));
    return by.str();
  }

  // A fresh credential for `identity`, valid on the bus until revoked.
  Credential grant(const std::string& identity) {
    Credential c{identity, random_secret()};
    credentials_.add(c);
    return c;
  }
  void revoke(const std::string& identity) { credentials_.remove(identity); }

  // Drains and closes the bus. Idempotent.
  void stop() {
    std::unique_lock lock(publish_mu_);
    if (hub_publisher_) hub_publisher_->close();
    lock.unlock();
    if (broker_) broker_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  RunningBus() : ctx_(1) {}

  zmq::context_t ctx_;
  CredentialStore credentials_;
  std::optional<CurveServer> curve_;  // for the tcp endpoints; outlives the broker
  std::unique_ptr<Journal> journal_;  // outlives the broker that writes it
  std::unique_ptr<Broker> broker_;
  std::thread thread_;
  std::mutex publish_mu_;
  std::optional<Publisher> hub_publisher_;  // guarded by publish_mu_
  std::atomic<bool> failed_{false};         // set by the broker thread
};

const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "?";
}

sigset_t signal_set(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  return set;
}

// Blocks until SIGTERM or SIGINT (returned), meanwhile running `reload` for each SIGHUP
// and answering API requests as they come.
int wait_for_stop(int stop_fd, int reload_fd, ApiServer& api, const ApiHandler& handle,
                  const std::function<void()>& reload) {
  for (;;) {
    zmq::pollitem_t items[] = {{api.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, stop_fd, ZMQ_POLLIN, 0},
                               {nullptr, reload_fd, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 3, -1) < 0) continue;  // EINTR
    signalfd_siginfo info{};
    if (items[1].revents & ZMQ_POLLIN) {
      if (::read(stop_fd, &info, sizeof info) == sizeof info)
        return static_cast<int>(info.ssi_signo);
    }
    if ((items[2].revents & ZMQ_POLLIN) && ::read(reload_fd, &info, sizeof info) == sizeof info) {
      spdlog::info("SIGHUP received: reloading");
      reload();
    }
    if (items[0].revents & ZMQ_POLLIN) api.serve_pending(handle);
  }
}

}  // namespace

void block_stop_signals() {
  sigset_t set = stop_signals();
  sigaddset(&set, SIGPIPE);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_hubd(const HubdOptions& options) {
  const fs::path& root = options.root;
  const RootLayout layout(root);
  const fs::path config_file =
      options.config_file.empty() ? layout.config_file() : options.config_file;
  HubConfig config;
  std::error_code missing;  // a dangling link is no file, but is not nothing either
  if (!options.config_file.empty() || fs::exists(fs::symlink_status(config_file, missing))) {
    auto loaded = load_hub_config(config_file);
    if (!loaded) return fail_early(kExitConfig, "invalid configuration:\n" + loaded.error());
    config = std::move(*loaded);
  }

  const BusPaths paths = layout.bus();
  for (const auto& [dir, mode] :
       {std::pair{layout.run_dir(), 0750}, {layout.db_dir(), 0750}, {layout.log_dir(), 0755}}) {
    if (Status s = make_private_dir(dir, static_cast<mode_t>(mode)); !s) {
      return fail_early(kExitFailure, s.message());
    }
  }
  // With services.group, that group may enter var/run/hub (and use the sockets there), so
  // services that run as another user can reach the bus; no one else can.
  std::optional<gid_t> services_group;
  if (!config.services.group.empty()) {
    const group* g = ::getgrnam(config.services.group.c_str());
    if (g == nullptr || ::chown(paths.run_dir.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return fail_early(kExitFailure, paths.run_dir.string() + ": cannot be given to group " +
                                          config.services.group);
    }
    services_group = g->gr_gid;
  }
  auto lock = InstanceLock::acquire(layout.lock_file());
  if (!lock) return fail_early(kExitAlreadyRunning, lock.error() + " (" + root.string() + ")");

  auto logger = install_hub_logger(layout.hubd_log(), config.log);
  if (!logger) return fail_early(kExitFailure, logger.error());
  spdlog::info("hubd {} starting on {} (pid {})", HUB_VERSION, root.string(), ::getpid());

  auto admin = load_or_create_credential(paths.admin_credential, kAdminIdentity);
  if (!admin) return fail(kExitFailure, admin.error());

  // The lock is ours, so any socket file still there was left by a hubd that is gone;
  // binding replaces it.
  std::optional<CurveServer> curve;
  if (config.network.any()) {
    auto loaded =
        load_curve_server(root / config.network.server_key, root / config.network.clients);
    if (!loaded) return fail(kExitConfig, "network: " + loaded.error());
    curve = std::move(*loaded);
  }
  auto bus = RunningBus::start(layout, config, *admin, std::move(curve));
  if (!bus) return fail(kExitFailure, bus.error());

  SupervisorOptions supervise;
  supervise.root = root;
  supervise.volume_paths = config.services.volume_paths;
  supervise.log_max_size = config.services.log_max_size;
  supervise.log_keep = config.services.log_keep;
  supervise.hub_env = {{"HUB_BUS_INGEST", ipc_endpoint(fs::absolute(paths.ingest_socket))},
                       {"HUB_BUS_EVENTS", ipc_endpoint(fs::absolute(paths.events_socket))},
                       {"HUB_BUS_REPLAY", ipc_endpoint(fs::absolute(paths.replay_socket))},
                       {"HUB_API_ENDPOINT", ipc_endpoint(fs::absolute(paths.api_socket))}};
  supervise.grant = [&bus](const std::string& identity) { return (*bus)->grant(identity); };
  supervise.revoke = [&bus](const std::string& identity) { (*bus)->revoke(identity); };
  supervise.services_group = services_group;

  // Set once scripts run.
  std::function<void(const std::vector<Module>&)> modules_changed;
  std::function<void(const std::string&, const std::string&)> stop_scripts;
  std::function<void(const std::string&)> resume_scripts;
  ModuleManagerOptions module_options;
  module_options.root = root;
  module_options.levels = config.levels;
  module_options.volume_paths = config.services.volume_paths;
  module_options.script_timeout = config.scripts.timeout;
  module_options.script_output_cap = config.scripts.output_cap;
  // The stop signals, blocked in every thread, are read from a signalfd: readable the
  // moment one is pending, so a slow startup script can be cut short by SIGTERM.
  const sigset_t stop_set = stop_signals();
  const int signal_fd = ::signalfd(-1, &stop_set, SFD_CLOEXEC);
  if (signal_fd < 0) return fail(kExitFailure, std::string("signalfd: ") + strerror(errno));
  module_options.cancel_fd = signal_fd;
  module_options.on_modules_changed = [&modules_changed](const std::vector<Module>& m) {
    if (modules_changed) modules_changed(m);
  };
  module_options.stop_scripts = [&stop_scripts](const std::string& name, const std::string& why) {
    if (stop_scripts) stop_scripts(name, why);
  };
  module_options.resume_scripts = [&resume_scripts](const std::string& name) {
    if (resume_scripts) resume_scripts(name);
  };
  const sigset_t reload_set = signal_set(SIGHUP);
  const int reload_fd = ::signalfd(-1, &reload_set, SFD_CLOEXEC);
  if (reload_fd < 0) return fail(kExitFailure, std::string("signalfd: ") + strerror(errno));
  const HubPublish publish = [&bus](const std::string& topic, const std::string& json,
                                    bool retain) {
    if (auto s = (*bus)->publish(topic, json, retain); !s) {
      spdlog::error("cannot publish {}: {}", topic, s.error());
    }
  };
  // Declared before the modules, so it outlives them: it stops whatever they left running.
  Supervisor supervisor(supervise, publish);
  for (const auto& line : supervisor.stop_leftovers(config.services.leftover_grace)) {
    spdlog::warn("left running by an earlier hubd: {}", line);
  }
  // Scripts a crashed hubd left running are killed before any script runs again, events
  // replayed included.
  for (const auto& line : stop_script_leftovers(layout.script_records_dir())) {
    spdlog::warn("left running by an earlier hubd: {}", line);
  }
  module_options.supervisor = &supervisor;
  module_options.grant = supervise.grant;
  module_options.services_group = services_group;
  module_options.revoke = supervise.revoke;
  ModuleManager modules(module_options, publish);
  modules.load();

  // The dispatcher subscribes before anything about the modules is published, so scripts
  // see every module event, NAME/loaded included.
  DispatcherOptions dispatch;
  dispatch.root = root;
  dispatch.timeout = config.scripts.timeout;
  dispatch.output_cap = config.scripts.output_cap;
  dispatch.parallel = static_cast<int>(config.scripts.parallel);
  dispatch.queue_limit = static_cast<size_t>(config.scripts.queue_limit);
  dispatch.feedback_limit = static_cast<uint64_t>(config.scripts.feedback_limit);
  dispatch.feedback_window = config.scripts.feedback_window;
  dispatch.mark_file = layout.consumer_mark_file("scripts");
  dispatch.resume = config.scripts.resume;
  dispatch.services_group = services_group;
  dispatch.bus_last_seq = (*bus)->last_seq();
  SubscriberOptions bus_endpoints;
  bus_endpoints.events_endpoint = ipc_endpoint(paths.events_socket);
  bus_endpoints.replay_endpoint = ipc_endpoint(paths.replay_socket);
  auto dispatcher = ScriptDispatcher::start((*bus)->context(), *admin, bus_endpoints, dispatch,
                                            modules.tree().loaded, publish);
  if (!dispatcher) return fail(kExitFailure, dispatcher.error());
  modules_changed = [d = dispatcher->get()](const std::vector<Module>& m) { d->set_modules(m); };
  stop_scripts = [d = dispatcher->get()](const std::string& name, const std::string& why) {
    d->stop_scripts(name, why);
  };
  resume_scripts = [d = dispatcher->get()](const std::string& name) { d->resume_scripts(name); };

  // The API is bound before modules start (requests wait, bounded by the caller's timeout,
  // until hubd serves them once it is up).
  auto api_server = ApiServer::bind((*bus)->context(), ipc_endpoint(paths.api_socket),
                                    config.network.api, (*bus)->curve(), &(*bus)->credentials());
  if (!api_server) return fail(kExitFailure, api_server.error());
  if (!(*api_server)->bound_tcp().empty()) {
    spdlog::info("api: also on {} (CURVE)", (*api_server)->bound_tcp());
  }
  // Connecting to a socket takes write permission on it: the owner's and, with
  // services.group, that group's (the directory already keeps everyone else out).
  for (const auto& socket :
       {paths.ingest_socket, paths.events_socket, paths.replay_socket, paths.api_socket}) {
    const bool ok =
        ::chmod(socket.c_str(), 0660) == 0 &&
        (!services_group || ::chown(socket.c_str(), static_cast<uid_t>(-1), *services_group) == 0);
    if (!ok) return fail(kExitFailure, socket.string() + ": " + std::strerror(errno));
  }
  HubApi api(
      modules, supervisor, [&bus] { return (*bus)->counters_json(); }, root.string());
  const ApiHandler api_handler = [&api](const ApiRequest& r) { return api.handle(r); };

  modules.announce();
  const bool all_started = modules.start_all();

  bool startup_failed = false;
  if (all_started) {
    const std::string started =
        JsonObject()
            .add("pid", static_cast<int64_t>(::getpid()))
            .add("version", HUB_VERSION)
            .add("root", root.string())
            .add_raw("modules", json_string_array(modules.up()))
            .add("rejected", static_cast<int64_t>(modules.tree().rejected.size()))
            .str();
    auto seq = (*bus)->publish("Hub/startup", started, /*retain=*/true);
    if (seq) {
      spdlog::info("hub is up: Hub/startup is event {}; bus at {}", *seq, paths.run_dir.string());
      // Loading parsed every module's files; give the heap that freed back before idling.
      ::malloc_trim(0);
    } else {
      spdlog::error("cannot publish Hub/startup: {}; stopping", seq.error());
      startup_failed = true;  // what started is still stopped in order below
    }
  }

  const int sig = startup_failed ? SIGTERM
                                 : wait_for_stop(signal_fd, reload_fd, **api_server, api_handler,
                                                 [&modules] { (void)modules.reload(); });
  ::close(signal_fd);
  ::close(reload_fd);
  const bool bus_failed = (*bus)->failed();
  if (!bus_failed) spdlog::info("{} received: shutting down", signal_name(sig));

  const std::string stopping = JsonObject()
                                   .add("pid", static_cast<int64_t>(::getpid()))
                                   .add("signal", signal_name(sig))
                                   .str();
  auto shutdown_seq = (*bus)->publish("Hub/shutdown", stopping, false);
  if (!shutdown_seq && !bus_failed)
    spdlog::error("cannot publish Hub/shutdown: {}", shutdown_seq.error());
  // Hub/shutdown's scripts finish before any module stops, then those of what stopping the
  // modules published; both within shutdown.scripts_timeout. What does not finish in time
  // runs when hubd starts again (scripts.resume).
  const auto scripts_deadline = std::chrono::steady_clock::now() + config.shutdown.scripts_timeout;
  const auto scripts_time_left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        scripts_deadline - std::chrono::steady_clock::now()));
  };
  if (shutdown_seq && !(*dispatcher)->wait_done(*shutdown_seq, scripts_time_left())) {
    spdlog::warn("the scripts for Hub/shutdown did not finish within {} ms; stopping anyway",
                 config.shutdown.scripts_timeout.count());
  }
  modules.stop_all();
  if (!bus_failed && !(*dispatcher)->wait_done((*bus)->last_seq(), scripts_time_left())) {
    spdlog::warn("scripts still running {} ms after Hub/shutdown; stopping anyway",
                 config.shutdown.scripts_timeout.count());
  }
  (*dispatcher)->stop();
  (*bus)->stop();
  for (const auto& socket :
       {paths.ingest_socket, paths.events_socket, paths.replay_socket, paths.api_socket}) {
    std::error_code ignored;
    fs::remove(socket, ignored);
  }
  if (bus_failed) return fail(kExitFailure, "hubd stopped because its bus failed");
  if (startup_failed) return fail(kExitFailure, "hubd stopped: Hub/startup could not be published");
  spdlog::info("hubd stopped");
  return kExitOk;
}

}  // namespace hub
