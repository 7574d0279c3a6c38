#include "core/script_runner.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>

#include "bus/text.h"
#include "bus/wire.h"
#include "core/instance_records.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// An fd closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Blocks SIGPIPE in this thread while stdin is written, so a script that exits without
// reading its input gives EPIPE instead of killing the caller; a SIGPIPE raised meanwhile
// is consumed before the old mask comes back.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

struct Capture {
  std::string* text;
  bool* truncated;
  size_t cap;
};

// Reads what `fd` has now; returns false at end of file or on error.
bool drain(int fd, Capture c) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const size_t room = c.cap - std::min(c.cap, c.text->size());
      c.text->append(buf, std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room) *c.truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

bool is_ignored_script_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '~') return true;
  for (std::string_view suffix : {".swp", ".bak", ".old", ".new", ".rpmnew", ".rpmsave"}) {
    if (ends_with(name, suffix)) return true;
  }
  for (std::string_view infix : {".dpkg-", ".rpm", ".ucf-"}) {
    if (name.find(infix) != std::string_view::npos) return true;
  }
  return false;
}

ScriptSelection select_scripts(const fs::path& path) {
  ScriptSelection selection;
  std::error_code ec;
  const auto consider = [&](const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    if (::access(file.c_str(), X_OK) != 0) {
      selection.warnings.push_back(file.string() +
                                   ": skipped, not executable (chmod +x to run it)");
      return;
    }
    selection.scripts.push_back(file);
  };
  if (fs::is_regular_file(path, ec)) {
    if (!is_ignored_script_name(path.filename().string())) consider(path);
    return selection;
  }
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_ignored_script_name(it->path().filename().string())) entries.push_back(it->path());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    selection.error = path.string() + ": cannot be read: " + ec.message();
  }
  std::sort(entries.begin(), entries.end());  // byte order: the C locale's
  for (const auto& entry : entries) consider(entry);
  return selection;
}

void append_run_log(const fs::path& file, std::string_view what, const fs::path& script,
                    const ScriptOutcome& outcome) {
  constexpr uint64_t kRotateAt = 10 * 1024 * 1024;
  std::error_code ec;
  if (fs::file_size(file, ec) > kRotateAt && !ec) fs::rename(file, file.string() + ".1", ec);
  std::ofstream log(file, std::ios::app);
  // Names come from the module tree and the event: escaped, so none can forge a record.
  std::string head;
  append_printable(head, what);
  head += ": ";
  append_printable(head, script.string());
  log << format_utc_time(wire::now_ns()) << " " << head << " " << outcome.describe() << " in "
      << outcome.duration.count() << " ms\n";
  for (const auto* stream : {&outcome.out, &outcome.err}) {
    size_t start = 0;
    while (start < stream->size()) {
      size_t end = stream->find('\n', start);
      if (end == std::string::npos) end = stream->size();
      std::string line;
      append_printable(line, std::string_view(*stream).substr(start, end - start));
      log << (stream == &outcome.out ? "  | " : "  ! ") << line << "\n";
      start = end + 1;
    }
  }
  if (outcome.out_truncated || outcome.err_truncated) {
    log << "  (output beyond the capture limit discarded)\n";
  }
}

std::string ScriptOutcome::describe() const {
  if (!start_error.empty()) return "could not start: " + start_error;
  if (cancelled) return "cancelled because " + cancel_reason + " (its process group was killed)";
  if (timed_out) {
    return "timed out after " + std::to_string(duration.count()) +
           " ms (its process group was killed)";
  }
  if (signal != 0) return "killed by " + signal_name(signal);
  return "exited with " + std::to_string(exit_code);
}

namespace {

// What the child reports through its report pipe when a step before exec fails.
enum class ChildStep : int { kStdio, kCwd, kGroup, kSignals, kFds, kUser, kParentDeath, kExec };

struct ChildFailure {
  ChildStep step;
  int error;
};

std::string describe_failure(const ChildFailure& f, const fs::path& script) {
  static constexpr const char* kSteps[] = {
      "stdio",          "working directory",  "process group", "signals", "file descriptors",
      "user and group", "parent-death signal"};
  if (f.step == ChildStep::kExec) {
    return script.string() + ": " + strerror(f.error) +
           (f.error == ENOEXEC ? " (does it start with a #! line?)" : "");
  }
  return std::string(kSteps[static_cast<int>(f.step)]) + ": " + strerror(f.error);
}

// Everything the child needs, prepared before (v)fork: the child may only make
// async-signal-safe calls.
struct ChildPlan {
  const ScriptRequest* request;
  int in_fd, out_fd, err_fd;  // in_fd -1: /dev/null
  int report_fd;              // close-on-exec: a ChildFailure, or EOF once exec succeeded
  pid_t parent;
  sigset_t defaults;  // signals given back their default action
  char* const* argv;
  char* const* envp;
};

[[noreturn]] void child_fail(const ChildPlan& plan, ChildStep step) {
  const ChildFailure failure{step, errno};
  [[maybe_unused]] ssize_t n = ::write(plan.report_fd, &failure, sizeof failure);
  _exit(127);
}

// Closes every fd from 3 on except `keep`.
bool close_all_but(int keep) {
  const auto range = [](int first, int last) {
    return first > last ||
           ::close_range(static_cast<unsigned>(first), static_cast<unsigned>(last), 0) == 0;
  };
  return range(3, keep - 1) && range(keep + 1, INT32_MAX);
}

// The child between (v)fork and exec: its stdio, a process group of its own, default
// signals, only its own fds, its user, and SIGKILL when hubd dies (set last: a change of
// user clears it). Async-signal-safe calls only, and nothing written but its own stack
// frames (after vfork, the memory is the parent's).
[[noreturn]] void become_script(const ChildPlan& plan) {
  const ScriptRequest& request = *plan.request;
  const int in = plan.in_fd >= 0 ? plan.in_fd : ::open("/dev/null", O_RDONLY);
  if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(plan.out_fd, 1) < 0 || ::dup2(plan.err_fd, 2) < 0) {
    child_fail(plan, ChildStep::kStdio);
  }
  if (!request.cwd.empty() && ::chdir(request.cwd.c_str()) != 0) child_fail(plan, ChildStep::kCwd);
  if (::setpgid(0, 0) != 0) child_fail(plan, ChildStep::kGroup);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&plan.defaults, sig) == 1) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) child_fail(plan, ChildStep::kSignals);
  if (!close_all_but(plan.report_fd)) child_fail(plan, ChildStep::kFds);
  if (request.account) {
    const Account& account = *request.account;
    const gid_t extra = account.extra_group.value_or(0);
    if (::setgroups(account.extra_group ? 1 : 0, &extra) != 0 || ::setgid(account.gid) != 0 ||
        ::setuid(account.uid) != 0) {
      child_fail(plan, ChildStep::kUser);
    }
  }
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(plan, ChildStep::kParentDeath);
  if (::getppid() != plan.parent) _exit(127);  // hubd died before the line above
  ::execve(request.script.c_str(), plan.argv, plan.envp);
  child_fail(plan, ChildStep::kExec);
}

// Starts the child. vfork (the parent waits until the child has exec'd, sharing its
// memory: no page tables copied, as with posix_spawn) unless the script runs as another
// user: changing the user in a vfork child of a threaded process is not safe (glibc's
// setuid signals every thread of the shared memory image), so then fork.
pid_t spawn_child(const ChildPlan& plan) {
  if (plan.request->account) {
    const pid_t pid = ::fork();
    if (pid == 0) become_script(plan);
    return pid;
  }
  const pid_t pid = ::vfork();
  if (pid == 0) become_script(plan);
  return pid;
}

// The signals a parent typically ignores or handles, given back their default action in
// the script (handled ones are reset by exec anyway; resetting all 64 would cost 64
// system calls before every exec).
sigset_t signals_to_default() {
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD,
                  SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ}) {
    sigaddset(&defaults, sig);
  }
  return defaults;
}

// The run's entry in ScriptRequest::record_dir while it runs. Idempotent remove().
class RunRecord {
 public:
  RunRecord(const fs::path& dir, std::string run_id) : records_(dir), run_id_(std::move(run_id)) {}
  ~RunRecord() { remove(); }
  RunRecord(const RunRecord&) = delete;
  RunRecord& operator=(const RunRecord&) = delete;
  Status save(pid_t pid) {
    saved_ = true;
    return records_.save(
        {run_id_, pid, process_start_time(pid).value_or(0), current_boot_id(), run_id_});
  }
  void remove() {
    if (saved_) records_.remove(run_id_);
    saved_ = false;
  }

 private:
  InstanceRecords records_;
  std::string run_id_;
  bool saved_ = false;
};

}  // namespace

std::vector<std::string> stop_script_leftovers(const fs::path& record_dir) {
  std::vector<std::string> lines;
  const InstanceRecords records(record_dir);
  const auto found = records.load(lines);
  for (std::string& line : stop_leftovers(found, std::chrono::milliseconds(0))) {
    lines.push_back("script run " + line);
  }
  for (const auto& r : found) records.remove(r.instance);
  return lines;
}

ScriptOutcome run_script(const ScriptRequest& request) {
  ScriptOutcome outcome;
  const auto started = Clock::now();
  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1}, report_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return outcome.start_error = strerror(errno), outcome;
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return outcome.start_error = strerror(errno), outcome;
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  if (!request.input.empty() && ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    return outcome.start_error = strerror(errno), outcome;
  }
  Fd in_r(in_pipe[0]), in_w(in_pipe[1]);
  if (::pipe2(report_pipe, O_CLOEXEC) != 0) return outcome.start_error = strerror(errno), outcome;
  Fd report_r(report_pipe[0]), report_w(report_pipe[1]);

  std::vector<std::string> argv_storage = {request.script.string()};
  argv_storage.insert(argv_storage.end(), request.args.begin(), request.args.end());
  std::vector<std::string> env_storage = request.env;
  std::optional<RunRecord> record;
  if (!request.record_dir.empty()) {
    const std::string run_id = new_run_id();
    env_storage.push_back("HUB_RUN_ID=" + run_id);
    record.emplace(request.record_dir, run_id);
  }
  std::vector<char*> argv, envp;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const ChildPlan plan{&request,   in_r.get(),           out_w.get(), err_w.get(), report_w.get(),
                       ::getpid(), signals_to_default(), argv.data(), envp.data()};
  const pid_t pid = spawn_child(plan);
  if (pid < 0) return outcome.start_error = std::string("fork: ") + strerror(errno), outcome;
  ::setpgid(pid, pid);  // as the child does: a kill that comes first still finds the group
  // Recorded as it starts: should hubd die before, the parent-death signal ends the script.
  if (record) {
    if (Status s = record->save(pid); !s) {
      spdlog::warn("{}: {} (a hubd killed now could not find this run again)",
                   request.script.string(), s.message());
    }
  }
  out_w.reset();
  err_w.reset();
  in_r.reset();
  report_w.reset();
  ChildFailure failure{};
  ssize_t got;
  while ((got = ::read(report_r.get(), &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof failure)) {
    ::waitpid(pid, nullptr, 0);
    outcome.start_error = describe_failure(failure, request.script);
    return outcome;
  }
  report_r.reset();
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  if (in_w.get() >= 0) ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

  SigpipeBlocked sigpipe_blocked;
  // The pidfd turns "the script exited" into a poll event beside its pipes (Linux >= 5.3).
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    outcome.start_error = std::string("pidfd_open: ") + strerror(errno);
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return outcome;
  }
  const auto deadline = started + request.timeout;
  bool long_run = !request.on_long_run;  // true once reported (or when no one asks)
  size_t written = 0;
  bool out_open = true, err_open = true, exited = false, killed = false;
  int status = 0;
  const Capture out{&outcome.out, &outcome.out_truncated, request.output_cap};
  const Capture err{&outcome.err, &outcome.err_truncated, request.output_cap};
  while (!exited) {
    std::array<pollfd, 5> fds = {{{pidfd.get(), POLLIN, 0},
                                  {out_open ? out_r.get() : -1, POLLIN, 0},
                                  {err_open ? err_r.get() : -1, POLLIN, 0},
                                  {in_w.get(), POLLOUT, 0},
                                  {killed ? -1 : request.cancel_fd, POLLIN, 0}}};
    // Round up: poll's millisecond timeout must not end before the deadline does.
    const auto wake_at = long_run ? deadline : std::min(deadline, request.long_run_at);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake_at - Clock::now());
    const int wait_ms = killed ? -1 : static_cast<int>(std::max<int64_t>(0, left.count()));
    const int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0 && errno != EINTR) {  // cannot happen with valid fds; never leave it running
      outcome.start_error = std::string("poll: ") + strerror(errno);
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    if (!long_run && Clock::now() >= request.long_run_at) {
      long_run = true;
      request.on_long_run();
    }
    // The deadline is checked on every pass: a script that keeps its pipes busy cannot
    // starve it.
    if (!killed && (fds[4].revents != 0 || Clock::now() >= deadline)) {
      if (fds[4].revents != 0) {
        outcome.cancelled = true;
        outcome.cancel_reason = request.cancel_reason;
      } else {
        outcome.timed_out = true;
      }
      killed = true;
      ::kill(-pid, SIGKILL);  // the whole group: the script and whatever it started
      continue;
    }
    if (fds[1].revents) out_open = drain(out_r.get(), out);
    if (fds[2].revents) err_open = drain(err_r.get(), err);
    if (fds[3].revents) {
      const ssize_t n =
          ::write(in_w.get(), request.input.data() + written, request.input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        written = request.input.size();  // EPIPE: it stopped reading
      if (written == request.input.size()) in_w.reset();
    }
    if (fds[0].revents) {
      // The run ends with the script: what it left in its process group goes too. Killed
      // before the script is reaped, so its pid (the group's id) cannot have been reused.
      ::kill(-pid, SIGKILL);
      const pid_t reaped = ::waitpid(pid, &status, 0);
      if (reaped == -1 && errno == ECHILD) {  // someone else reaped it (SIGCHLD ignored?)
        outcome.start_error = "its exit status was lost: the process was reaped elsewhere";
        break;
      }
      exited = reaped == pid;
    }
  }
  // What the script wrote before it exited; a background child that kept the pipes open
  // has been killed, or left the group, and does not hold us here.
  if (out_open) drain(out_r.get(), out);
  if (err_open) drain(err_r.get(), err);

  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

}  // namespace hub
