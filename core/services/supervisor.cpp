#include "core/services/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <map>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bus/root_layout.h"
#include "bus/text.h"
#include "core/modules/lifecycle_events.h"
#include "core/services/cgroup.h"
#include "core/services/instance_log.h"
#include "core/services/instance_records.h"
#include "core/services/service_process.h"
#include "core/services/service_workspace.h"
#include "core/services/template_files.h"
#include "core/system/free_port.h"
#include "core/system/main_loop_keepalive.h"
#include "core/system/signal_name.h"

namespace hub {
namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const char* state_name(InstanceState state) {
  switch (state) {
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kRunning:
      return "running";
    case InstanceState::kBackoff:
      return "backoff";
    case InstanceState::kStopping:
      return "stopping";
    case InstanceState::kExited:
      return "exited";
    case InstanceState::kFailed:
      return "failed";
    case InstanceState::kStopped:
      return "stopped";
  }
  return "?";
}

Outcome::Outcome() : event_fd_(::eventfd(0, EFD_CLOEXEC)) {}
Outcome::~Outcome() {
  if (event_fd_ >= 0) ::close(event_fd_);
}

void Outcome::finish(Status outcome, bool published) {
  std::lock_guard lock(mu_);
  if (done_) return;
  done_ = true;
  outcome_ = std::move(outcome);
  published_ = published;
  done_cv_.notify_all();
  const uint64_t one = 1;
  if (event_fd_ >= 0 && ::write(event_fd_, &one, sizeof one) < 0) {
    // An eventfd write fails only on overflow, which one write cannot reach.
  }
}

bool Outcome::published() {
  std::lock_guard lock(mu_);
  return published_;
}

std::optional<Status> Outcome::wait(int cancel_fd) {
  return wait_for(std::chrono::milliseconds(-1), cancel_fd);
}

std::optional<Status> Outcome::wait_for(std::chrono::milliseconds timeout, int cancel_fd) {
  const auto deadline = Clock::now() + timeout;
  const auto left_ms = [&] {
    if (timeout.count() < 0) return -1;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::max<int64_t>(0, left));
  };
  // On hubd's main loop, woken every kKeepaliveEvery to keep its watchdog fed.
  const bool keepalive = main_loop_keepalive_wanted();
  if (event_fd_ < 0) {  // nothing to poll: the outcome itself (cancel_fd is not watched)
    std::unique_lock lock(mu_);
    const auto done = [&] { return done_; };
    while (!done()) {
      if (timeout.count() >= 0 && Clock::now() >= deadline) return std::nullopt;
      const int left = left_ms();
      const auto step = keepalive && (left < 0 || left > kKeepaliveEvery.count())
                            ? kKeepaliveEvery
                            : milliseconds(left < 0 ? 1000 * 3600 : left);
      done_cv_.wait_for(lock, step, done);
      if (keepalive) {
        lock.unlock();
        keep_main_loop_alive();
        lock.lock();
      }
    }
    return outcome_;
  }
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (done_) return outcome_;
    }
    pollfd fds[2] = {{event_fd_, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const int left = left_ms();
    const int step = keepalive && (left < 0 || left > kKeepaliveEvery.count())
                         ? static_cast<int>(kKeepaliveEvery.count())
                         : left;
    const int ready = ::poll(fds, cancel_fd >= 0 ? 2 : 1, step);
    if (ready < 0 && errno != EINTR) return Status::error("poll failed");
    if (keepalive) keep_main_loop_alive();
    if (ready == 0 && step != left) continue;  // a keepalive wake, not the deadline
    const bool cancelled = cancel_fd >= 0 && (fds[1].revents & POLLIN);
    if (cancelled || (ready == 0 && timeout.count() >= 0)) {
      std::lock_guard lock(mu_);
      if (!done_) return std::nullopt;
    }
  }
}

namespace {

constexpr size_t kPipeSize = 1 << 20;  // absorbs bursts of output while the loop is busy
constexpr int kReadsPerWake = 16;      // then other instances get their turn
constexpr int kReadsAtShutdown = 64;   // more than a full pipe holds

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& entry : env) {
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
        entry[key.size()] == '=')
      return entry.substr(key.size() + 1);
  }
  return {};
}

}  // namespace

// The output of one process on its way to the instance's log; lives until the pipe's
// last writer is gone, which may be after the process itself.
struct OutputPump {
  asio::posix::stream_descriptor pipe;
  std::shared_ptr<InstanceLog> log;
  std::string instance;
  uint64_t lost = 0;  // bytes that could not be written, reported once per failure streak
  OutputPump(asio::io_context& io, int fd, std::shared_ptr<InstanceLog> l, std::string name)
      : pipe(io, fd), log(std::move(l)), instance(std::move(name)) {}
};

struct Instance {
  InstanceSpec spec;
  InstanceState state = InstanceState::kStopped;
  pid_t pid = -1;
  uint64_t generation = 0;  // one per process; stale callbacks compare it
  std::unique_ptr<asio::posix::stream_descriptor> pidfd;
  std::unique_ptr<asio::posix::stream_descriptor> notify;
  asio::steady_timer timer;  // readiness timeout, stop grace or restart delay
  std::shared_ptr<InstanceLog> log;
  bool journal_warned = false;  // log.to journal fell back to the file, and said so
  Clock::time_point spawned_at;
  int64_t attempt = 0;   // restarts since the last stable run
  int64_t restarts = 0;  // since the start request
  bool stop_requested = false;
  std::string kill_reason;  // why the supervisor itself ended the process
  ServiceCgroup cgroup;     // of the current process, while it runs (empty without limits)
  std::string last_exit;
  std::string failure;  // NAME/failed's reason (a start makes a fresh Instance)
  std::vector<std::pair<std::string, int>> ports;  // service.yml ports: of the current run
  Credential credential;
  std::vector<std::shared_ptr<Outcome>> start_waiters;
  std::vector<std::shared_ptr<Outcome>> stop_waiters;

  explicit Instance(asio::io_context& io) : timer(io) {}
  bool active() const {
    return state == InstanceState::kStarting || state == InstanceState::kRunning ||
           state == InstanceState::kBackoff || state == InstanceState::kStopping;
  }
};

struct Supervisor::Loop {
  SupervisorOptions options;
  HubPublish publish;
  InstanceRecords records;
  Cgroups cgroups{options.layout.root()};
  std::string boot_id = current_boot_id();
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::map<std::string, std::shared_ptr<Instance>> instances;
  // Restarts since hubd started, by instance name and by module: never reset by a start
  // request, nor lost with a dynamic instance that is forgotten (inspect, /metrics).
  std::map<std::string, int64_t> instance_restarts_total;
  std::map<std::string, int64_t> module_restarts_total;
  std::set<std::shared_ptr<OutputPump>> pumps;
  char buffer[64 * 1024];  // shared by every pump: reads complete synchronously
  std::thread thread;

  Loop(SupervisorOptions o, HubPublish p)
      : options(std::move(o)),
        publish(std::move(p)),
        records(options.layout.instance_records_dir()) {
    thread = std::thread([this] {
      // A handler that throws loses its own step, never the loop: every other instance
      // is still watched.
      for (;;) {
        try {
          io.run();
          return;
        } catch (const std::exception& e) {
          spdlog::critical("supervisor: {}; carrying on", e.what());
        }
      }
    });
  }

  static EventSubject subject(const Instance& in) { return {in.spec.module, in.spec.instance}; }

  static void finish_all(std::vector<std::shared_ptr<Outcome>>& waiters, const Status& outcome,
                         bool published = false) {
    for (auto& w : waiters) w->finish(outcome, published);
    waiters.clear();
  }

  // ---- starting ----

  void start(std::shared_ptr<Instance> in) {
    auto it = instances.find(in->spec.instance);
    if (it != instances.end() && it->second->active()) {
      return finish_all(in->start_waiters,
                        Status::error("instance " + in->spec.instance + " is already running"));
    }
    instances[in->spec.instance] = in;
    spawn(in);
  }

  void fail(const std::shared_ptr<Instance>& in, const std::string& reason) {
    in->state = InstanceState::kFailed;
    in->failure = reason;
    spdlog::error("service {} failed: {}", in->spec.instance, reason);
    publish_lifecycle(publish, failed_event(subject(*in), reason));
    finish_all(in->start_waiters, Status::error(reason), /*published=*/true);
    finish_all(in->stop_waiters, Status::ok());
    if (options.on_failed) options.on_failed();
  }

  void spawn(const std::shared_ptr<Instance>& in) {
    const InstanceSpec& spec = in->spec;
    const std::string path = env_value(spec.env, "PATH");
    auto program = resolve_command(spec.service.command, spec.module_dir, path);
    if (!program) return fail(in, program.error());

    auto account = service_account(spec.service, options.services_group);
    if (!account) return fail(in, account.error());
    if (Status s = pick_ports(*in); !s) return fail(in, s.message());
    // Rendered before the workspace is touched: a broken template leaves the last run's.
    auto files =
        render_templates(spec.service.templates, spec.module_dir, spec.template_attributes);
    if (!files) return fail(in, "cannot render its templates: " + files.error());
    for (const auto& file : *files) {
      if (file.undefined.empty()) continue;
      std::string names;
      for (const auto& name : file.undefined) names += (names.empty() ? "" : ", ") + name;
      spdlog::warn("service {}: {} uses what its configuration does not define, rendered empty: {}",
                   spec.instance, file.source, names);
    }
    in->credential = options.grant(spec.instance);
    WorkspaceRequest request{
        spec.module,       spec.instance,  spec.config_yaml, spec.service.volumes,
        std::move(*files), in->credential, *account};
    auto workspace = prepare_workspace(options.layout, options.volume_paths, request);
    if (!workspace) {
      options.revoke(spec.instance);
      return fail(in, workspace.error());
    }
    if (!in->log) {
      in->log = std::make_shared<InstanceLog>(
          workspace->output_log, spec.service.log_max_size.value_or(options.log_max_size),
          spec.service.log_keep.value_or(options.log_keep));
    }

    // The output goes to the journal straight from the service, or through a pipe that
    // this loop reads into the instance's log file.
    unique_fd journal = open_journal(*in);
    auto output = journal ? Result<Pipe>(Pipe()) : Pipe::open();
    auto ready = spec.service.ready_notify ? Pipe::open() : Result<Pipe>(Pipe());  // or none
    if (!output || !ready) {
      options.revoke(spec.instance);
      return fail(in, !output ? output.error() : ready.error());
    }
    if (output->read) {
      ::fcntl(output->read.get(), F_SETPIPE_SZ, static_cast<int>(kPipeSize));  // best effort
    }

    const std::string run_id = new_run_id();
    ServiceLaunch launch;
    launch.program = *program;
    launch.args = spec.service.args;
    launch.env = spec.env;
    for (const auto& [key, value] : options.hub_env) launch.env.push_back(key + "=" + value);
    const std::vector<std::pair<std::string, std::string>> facts = {
        {"HUB_SERVICE", spec.module},
        {"HUB_INSTANCE", spec.instance},
        {"HUB_MODE", "native"},
        {"HUB_WORKSPACE", fs::absolute(workspace->dir).string()},
        {"HUB_CONFIG_FILE", fs::absolute(workspace->config_file).string()},
        {"HUB_CREDENTIAL_FILE", fs::absolute(workspace->credential_file).string()},
        {"HUB_RUN_ID", run_id}};
    for (const auto& [key, value] : facts) launch.env.push_back(key + "=" + value);
    for (const auto& [name, port] : in->ports)
      launch.env.push_back(port_variable(name) + "=" + std::to_string(port));
    if (ready->write) launch.env.push_back("HUB_NOTIFY_FD=" + std::to_string(kNotifyFd));
    if (journal) launch.env.push_back("JOURNAL_STREAM=" + journal_stream_id(journal.get()));
    for (const auto& [key, value] : spec.service.env) launch.env.push_back(key + "=" + value);
    launch.cwd = workspace->dir;
    launch.output_fd = journal ? journal.get() : output->write.get();
    launch.notify_fd = ready->write.get();
    launch.limits = spec.service.limits;
    launch.account = *account;
    auto joins = prepare_cgroup(*in, launch.limits);
    if (!joins) {
      options.revoke(spec.instance);
      return fail(in, joins.error());
    }
    for (const auto& fd : *joins) launch.cgroup_fds.push_back(fd.get());

    // Recorded before the launch, with no pid yet: a hubd killed before the pid is
    // recorded leaves a record the next one finds the instance's processes by (their
    // HUB_RUN_ID).
    if (Status s = records.save({spec.instance, 0, 0, boot_id, run_id}); !s) {
      spdlog::warn("service {}: {} (a hubd killed now could not find it again)", spec.instance,
                   s.message());
    }
    const Clock::time_point launching = Clock::now();
    auto child = launch_service(launch);
    output->write.reset();
    journal.reset();
    ready->write.reset();
    joins->clear();
    if (!child) {
      records.remove(spec.instance);
      options.revoke(spec.instance);
      close_cgroup(*in);
      return fail(in, child.error());
    }
    // From here on the instance watches it (pidfd) and reaps it.
    unique_fd pidfd = child->take_pidfd();
    const pid_t pid = child->release();

    in->pid = pid;
    in->generation++;
    in->spawned_at = Clock::now();
    in->kill_reason.clear();
    in->state = InstanceState::kStarting;
    in->pidfd = std::make_unique<asio::posix::stream_descriptor>(io, pidfd.release());
    if (Status s = records.save(
            {spec.instance, pid, process_start_time(pid).value_or(0), boot_id, run_id});
        !s) {
      spdlog::warn("service {}: {} (a hubd killed now could not find it again)", spec.instance,
                   s.message());
    }
    if (output->read) start_pump(output->read.release(), in);
    watch_exit(in);

    spdlog::info("service {} started (pid {})", spec.instance, pid);
    publish_lifecycle(publish, started_event(subject(*in), ms_since(launching),
                                             RunningProcess{pid, in->restarts, program->string()}));
    if (ready->read) {
      in->notify = std::make_unique<asio::posix::stream_descriptor>(io, ready->read.release());
      watch_ready(in);
      in->timer.expires_after(spec.service.ready_timeout);
      const uint64_t generation = in->generation;
      in->timer.async_wait([this, in, generation](boost::system::error_code ec) {
        if (ec || in->generation != generation || in->state != InstanceState::kStarting) return;
        kill_instance(in, "not ready within " +
                              std::to_string(in->spec.service.ready_timeout.count()) + " ms");
      });
    } else {
      become_running(in);
    }
  }

  // Fresh free ports for what its service.yml `ports:` asks for, in its templates'
  // instance.ports too.
  static Status pick_ports(Instance& in) {
    const auto& names = in.spec.service.ports;
    in.ports.clear();
    if (names.empty()) return Status::ok();
    auto picked = free_ports(names.size());
    if (!picked) return Status::error("cannot pick its ports: " + picked.error());
    YAML::Node map(YAML::NodeType::Map);
    for (size_t i = 0; i < names.size(); ++i) {
      in.ports.emplace_back(names[i], (*picked)[i]);
      map[names[i]] = (*picked)[i];
    }
    YAML::Node& attributes = in.spec.template_attributes;
    if (attributes.IsMap() && attributes["instance"].IsMap()) attributes["instance"]["ports"] = map;
    return Status::ok();
  }

  // A stream to journald for an instance with log.to: journal; none (the file) otherwise,
  // or when journald cannot be reached, with a warning (once per instance).
  unique_fd open_journal(Instance& in) {
    if (in.spec.service.log_to != ServiceSpec::LogTo::kJournal) return unique_fd();
    auto stream = open_journal_stream(options.journal_socket, in.spec.instance);
    if (stream) {
      in.journal_warned = false;
      return std::move(*stream);
    }
    if (!in.journal_warned) {
      spdlog::warn("service {}: log.to journal: {}; its output goes to {} instead",
                   in.spec.instance, stream.error(), in.log->file().string());
      in.journal_warned = true;
    }
    return unique_fd();
  }

  // A fresh cgroup for the instance with the limits it can enforce; what no cgroup here
  // can enforce becomes an rlimit in `limits` where one fits, with a warning naming what is
  // missing. Returns the descriptors the child joins through (none without a cgroup).
  Result<std::vector<unique_fd>> prepare_cgroup(Instance& in, ResourceLimits& limits) {
    const auto missing = cgroups.missing(limits);
    if (!missing.empty()) {
      std::string why, instead;
      for (const auto& [controller, problem] : missing) {
        why += (why.empty() ? "" : "; ") + ("limits." + controller + ": " + problem);
      }
      if (missing.count("memory") && !limits.address_space) {
        limits.address_space = limits.memory;
        instead += "; limits.memory is applied as RLIMIT_AS (address space, not memory in use)";
      }
      if (missing.count("pids") && !limits.processes) {
        limits.processes = limits.pids;
        instead +=
            "; limits.pids is applied as RLIMIT_NPROC (processes of its user; root is exempt)";
      }
      if (missing.count("cpu")) instead += "; limits.cpu is not enforced";
      spdlog::warn("service {}: cgroups cannot enforce its limits: {}{}", in.spec.instance, why,
                   instead);
    }
    const int wanted =
        int(limits.memory.has_value()) + int(limits.cpu.has_value()) + int(limits.pids.has_value());
    if (wanted == static_cast<int>(missing.size())) return std::vector<unique_fd>();
    auto group = cgroups.create(in.spec.instance, limits);
    if (!group) return Status::error("cgroup: " + group.error());
    auto fds = group->open_join_fds();
    if (!fds) return Status::error("cgroup: " + fds.error());
    in.cgroup = std::move(*group);
    return fds;
  }

  // Empties and removes the instance's cgroup (a cgroup also holds what left the process
  // group). Returns how many of its processes the OOM killer killed.
  uint64_t close_cgroup(Instance& in) {
    const uint64_t oom_kills = in.cgroup.oom_kills();
    if (Status s = in.cgroup.remove(); !s)
      spdlog::warn("service {}: {}", in.spec.instance, s.message());
    return oom_kills;
  }

  void become_running(const std::shared_ptr<Instance>& in) {
    in->state = InstanceState::kRunning;
    finish_all(in->start_waiters, Status::ok());
  }

  void watch_ready(const std::shared_ptr<Instance>& in) {
    const uint64_t generation = in->generation;
    in->notify->async_wait(
        asio::posix::stream_descriptor::wait_read,
        [this, in, generation](boost::system::error_code ec) {
          if (ec || in->generation != generation || !in->notify) return;
          char line[256];
          const ssize_t n = ::read(in->notify->native_handle(), line, sizeof line);
          if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            in->notify.reset();  // every writer closed it: nothing more will come
            return;
          }
          // Kept open (and read) after the line too: a later write must not meet SIGPIPE.
          watch_ready(in);
          const bool said_ready = n > 0 && memchr(line, '\n', static_cast<size_t>(n));
          if (!said_ready || in->state != InstanceState::kStarting) return;
          in->timer.cancel();
          spdlog::info("service {} is ready", in->spec.instance);
          publish_lifecycle(publish, ready_event(subject(*in), in->pid, ms_since(in->spawned_at)));
          become_running(in);
        });
  }

  // ---- output ----

  void start_pump(int fd, const std::shared_ptr<Instance>& in) {
    auto pump = std::make_shared<OutputPump>(io, fd, in->log, in->spec.instance);
    pump->pipe.non_blocking(true);
    pumps.insert(pump);
    watch_output(pump);
  }

  void watch_output(const std::shared_ptr<OutputPump>& pump) {
    pump->pipe.async_wait(asio::posix::stream_descriptor::wait_read,
                          [this, pump](boost::system::error_code ec) {
                            if (ec) return;  // cancelled: the loop is ending and drains it
                            if (drain(*pump, kReadsPerWake)) {
                              watch_output(pump);
                            } else {
                              pumps.erase(pump);
                            }
                          });
  }

  // Reads what is there; false once the last writer closed the pipe.
  bool drain(OutputPump& pump, int max_reads) {
    for (int i = 0; i < max_reads; ++i) {
      const ssize_t n = ::read(pump.pipe.native_handle(), buffer, sizeof buffer);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      if (Status s = pump.log->write(std::string_view(buffer, static_cast<size_t>(n))); !s) {
        if (pump.lost == 0)
          spdlog::error("service {}: output lost: {}", pump.instance, s.message());
        pump.lost += static_cast<uint64_t>(n);
      } else if (pump.lost > 0) {
        spdlog::error("service {}: {} bytes of output were lost", pump.instance, pump.lost);
        pump.lost = 0;
      }
    }
    return true;
  }

  // ---- exits ----

  void watch_exit(const std::shared_ptr<Instance>& in) {
    const uint64_t generation = in->generation;
    in->pidfd->async_wait(asio::posix::stream_descriptor::wait_read,
                          [this, in, generation](boost::system::error_code ec) {
                            if (ec || in->generation != generation) return;
                            siginfo_t info{};
                            if (::waitid(P_PID, static_cast<id_t>(in->pid), &info,
                                         WEXITED | WNOHANG | WNOWAIT) == 0 &&
                                info.si_pid == 0) {
                              return watch_exit(in);  // not yet
                            }
                            // Still a zombie, so its pid (the group's id) cannot be reused: what
                            // the process left in its group goes with it, and a restart never runs
                            // beside it.
                            ::kill(-in->pid, SIGKILL);
                            int status = 0;
                            const pid_t r = ::waitpid(in->pid, &status, 0);
                            on_exit(in, r == in->pid ? status : -1);
                          });
  }

  void on_exit(const std::shared_ptr<Instance>& in, int status) {
    const int64_t run_ms = ms_since(in->spawned_at);
    const pid_t pid = in->pid;
    in->pidfd.reset();
    in->notify.reset();
    in->timer.cancel();
    in->pid = -1;
    in->generation++;
    records.remove(in->spec.instance);
    options.revoke(in->spec.instance);
    const uint64_t oom_kills = close_cgroup(*in);

    ServiceExit exited;
    exited.pid = pid;
    bool clean = false;
    bool oom = false;  // a SIGKILL the supervisor did not send, the group's OOM count up
    if (status >= 0 && WIFEXITED(status)) {
      exited.code = WEXITSTATUS(status);
      in->last_exit = "code " + std::to_string(WEXITSTATUS(status));
      clean = WEXITSTATUS(status) == 0;
    } else if (status >= 0 && WIFSIGNALED(status)) {
      exited.signal = signal_name(WTERMSIG(status));
      exited.core_dumped = WCOREDUMP(status);
      in->last_exit = "signal " + signal_name(WTERMSIG(status));
      oom = WTERMSIG(status) == SIGKILL && oom_kills > 0 && in->kill_reason.empty() &&
            !in->stop_requested;
      if (oom) in->last_exit += " (out of memory: limits.memory)";
    } else {
      in->last_exit = "unknown";
    }
    exited.run_ms = run_ms;
    exited.requested = in->stop_requested;
    exited.oom_kills = static_cast<int64_t>(oom_kills);
    exited.reason = oom ? "oom" : in->kill_reason;  // oom only when the supervisor killed none
    spdlog::log(in->stop_requested || clean ? spdlog::level::info : spdlog::level::warn,
                "service {} (pid {}) exited: {} after {} ms", in->spec.instance, pid, in->last_exit,
                run_ms);
    publish_lifecycle(publish, exited_event(subject(*in), exited));

    if (in->stop_requested) {
      in->state = InstanceState::kStopped;
      finish_all(in->start_waiters, Status::error("stopped before it was running"));
      finish_all(in->stop_waiters, Status::ok());
      return;
    }
    const RestartPolicy& policy = in->spec.service.restart;
    const bool failed = !clean || !in->kill_reason.empty();
    std::string why = in->kill_reason.empty() ? "exited with " + in->last_exit : in->kill_reason;
    const bool restart =
        policy.mode == RestartMode::kAlways || (policy.mode == RestartMode::kOnFailure && failed);
    if (!restart) {
      if (failed)
        return fail(in, why + " (restart policy: " +
                            (policy.mode == RestartMode::kNever ? "no" : "on-failure") + ")");
      in->state = InstanceState::kExited;
      finish_all(in->start_waiters, Status::error("exited before it was ready"));
      return;
    }
    if (milliseconds(run_ms) >= policy.reset_after) in->attempt = 0;
    in->attempt++;
    if (policy.retries >= 0 && in->attempt > policy.retries) {
      return fail(
          in, why + "; gave up after " + std::to_string(policy.retries) + " restart(s) in a row");
    }
    const milliseconds delay = restart_delay(policy, in->attempt);
    in->state = InstanceState::kBackoff;
    spdlog::info("service {}: restart {} in {} ms", in->spec.instance, in->attempt, delay.count());
    publish_lifecycle(publish, restarting_event(subject(*in), in->attempt, delay.count(), why));
    in->timer.expires_after(delay);
    const uint64_t generation = in->generation;
    in->timer.async_wait([this, in, generation](boost::system::error_code ec) {
      if (ec || in->generation != generation || in->state != InstanceState::kBackoff) return;
      in->restarts++;
      instance_restarts_total[in->spec.instance]++;
      module_restarts_total[in->spec.module]++;
      publish_lifecycle(publish, starting_event(subject(*in), in->attempt));
      spawn(in);
    });
  }

  // ---- stopping ----

  // SIGTERM to the group now, SIGKILL when the grace period is over.
  void kill_instance(const std::shared_ptr<Instance>& in, const std::string& reason) {
    in->state = InstanceState::kStopping;  // a late readiness line no longer counts
    in->kill_reason = reason;
    if (!reason.empty()) spdlog::warn("service {}: {}: stopping it", in->spec.instance, reason);
    ::kill(-in->pid, SIGTERM);
    in->timer.cancel();
    in->timer.expires_after(in->spec.service.stop_grace);
    const uint64_t generation = in->generation;
    in->timer.async_wait([in, generation](boost::system::error_code ec) {
      if (ec || in->generation != generation || in->pid < 0) return;
      spdlog::warn("service {} did not stop within {} ms: SIGKILL", in->spec.instance,
                   in->spec.service.stop_grace.count());
      ::kill(-in->pid, SIGKILL);
    });
  }

  void stop(const std::string& name, const std::shared_ptr<Outcome>& outcome) {
    auto it = instances.find(name);
    if (it == instances.end()) return outcome->finish(Status::not_found("no instance " + name));
    const auto& in = it->second;
    switch (in->state) {
      case InstanceState::kStarting:
      case InstanceState::kRunning:
        in->stop_requested = true;
        in->state = InstanceState::kStopping;
        in->stop_waiters.push_back(outcome);
        kill_instance(in, "");
        return;
      case InstanceState::kStopping:
        in->stop_requested = true;  // a readiness kill already under way becomes a stop
        in->stop_waiters.push_back(outcome);
        return;
      case InstanceState::kBackoff:
        in->timer.cancel();
        in->generation++;
        in->state = InstanceState::kStopped;
        finish_all(in->start_waiters, Status::error("stopped before it was running"));
        return outcome->finish(Status::ok());
      default:
        return outcome->finish(Status::ok());
    }
  }

  InstanceStatus status_of(const Instance& in) const {
    InstanceStatus s;
    s.module = in.spec.module;
    s.instance = in.spec.instance;
    s.state = in.state;
    s.pid = in.pid;
    s.restarts = in.restarts;
    if (const auto it = instance_restarts_total.find(in.spec.instance);
        it != instance_restarts_total.end())
      s.restarts_total = it->second;
    s.uptime_ms = in.pid > 0 ? ms_since(in.spawned_at) : 0;
    s.last_exit = in.last_exit;
    if (in.state == InstanceState::kFailed) s.reason = in.failure;
    if (in.pid > 0) s.ports = in.ports;
    return s;
  }

  // Stops what is still running, then ends the loop with every pipe drained.
  void shut_down() {
    const auto names = call([this] {
      std::vector<std::string> active;
      for (const auto& [name, in] : instances) {
        if (in->active()) active.push_back(name);
      }
      return active;
    });
    std::vector<std::shared_ptr<Outcome>> stopping;
    for (const auto& name : names) {
      auto outcome = std::make_shared<Outcome>();
      asio::post(io, [this, name = name, outcome] { stop(name, outcome); });
      stopping.push_back(outcome);
    }
    for (auto& outcome : stopping) outcome->wait();
    call([this] {
      for (const auto& pump : pumps) {
        pump->pipe.cancel();
        drain(*pump, kReadsAtShutdown);  // what is in the pipe now, not what may follow
      }
      pumps.clear();
      return 0;
    });
    work.reset();
    io.stop();
    thread.join();
  }

  template <typename Fn>
  auto call(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }
};

Supervisor::Supervisor(SupervisorOptions options, HubPublish publish)
    : loop_(std::make_unique<Loop>(std::move(options), std::move(publish))) {}

Supervisor::~Supervisor() { loop_->shut_down(); }

std::vector<std::string> Supervisor::stop_leftovers(milliseconds grace) {
  std::vector<std::string> problems;
  const auto records = loop_->records.load(problems);
  for (const auto& p : problems) spdlog::warn("supervisor: {}", p);
  auto stopped = hub::stop_leftovers(records, grace);
  for (const auto& r : records) loop_->records.remove(r.instance);
  // What left its process group is still in its cgroup.
  for (auto& line : loop_->call([this] { return loop_->cgroups.remove_leftovers(); })) {
    stopped.push_back(std::move(line));
  }
  return stopped;
}

std::shared_ptr<Outcome> Supervisor::start(InstanceSpec spec) {
  auto outcome = std::make_shared<Outcome>();
  auto in = std::make_shared<Instance>(loop_->io);
  in->spec = std::move(spec);
  in->start_waiters.push_back(outcome);
  asio::post(loop_->io, [loop = loop_.get(), in] { loop->start(in); });
  return outcome;
}

std::shared_ptr<Outcome> Supervisor::stop(const std::string& instance) {
  auto outcome = std::make_shared<Outcome>();
  asio::post(loop_->io, [loop = loop_.get(), instance, outcome] { loop->stop(instance, outcome); });
  return outcome;
}

void Supervisor::forget(const std::string& instance) {
  asio::post(loop_->io, [loop = loop_.get(), instance] {
    const auto it = loop->instances.find(instance);
    if (it != loop->instances.end() && !it->second->active()) loop->instances.erase(it);
  });
}

Result<pid_t> Supervisor::signal(const std::string& instance, int sig) {
  return loop_->call([loop = loop_.get(), instance, sig]() -> Result<pid_t> {
    const auto it = loop->instances.find(instance);
    if (it == loop->instances.end()) return Status::not_found("no instance " + instance);
    const Instance& in = *it->second;
    if (in.pid <= 0 || !in.pidfd) {
      return Status::error("instance " + instance + " has no process (" +
                           std::string(state_name(in.state)) + ")");
    }
    if (::syscall(SYS_pidfd_send_signal, in.pidfd->native_handle(), sig, nullptr, 0) != 0)
      return Status::error("cannot signal " + instance + ": " + std::strerror(errno));
    spdlog::info("service {} (pid {}) sent {}", instance, in.pid, signal_name(sig));
    return in.pid;
  });
}

std::map<std::string, int64_t> Supervisor::module_restarts() {
  return loop_->call([loop = loop_.get()] { return loop->module_restarts_total; });
}

std::vector<InstanceStatus> Supervisor::status() {
  return loop_->call([loop = loop_.get()] {
    std::vector<InstanceStatus> all;
    for (const auto& [name, in] : loop->instances) all.push_back(loop->status_of(*in));
    return all;
  });
}

}  // namespace hub
