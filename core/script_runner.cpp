#include "core/script_runner.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "bus/text.h"
#include "bus/wire.h"

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
  log << format_utc_time(wire::now_ns()) << " " << what << ": " << script.string() << " "
      << outcome.describe() << " in " << outcome.duration.count() << " ms\n";
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
  if (cancelled) return "cancelled because the hub is stopping (its process group was killed)";
  if (timed_out) {
    return "timed out after " + std::to_string(duration.count()) +
           " ms (its process group was killed)";
  }
  if (signal != 0) return "killed by " + signal_name(signal);
  return "exited with " + std::to_string(exit_code);
}

// posix_spawn cannot change the user: for a script of a module whose service runs as
// another user, fork and drop privileges before exec. Async-signal-safe calls only in the
// child; a step that fails says which on the script's stderr and exits 127.
static int spawn_as(const Account& account, const ScriptRequest& request, int in_fd, int out_fd,
                    int err_fd, const sigset_t& defaults, char* const* argv, char* const* envp,
                    pid_t& pid) {
  pid = ::fork();
  if (pid < 0) return errno;
  if (pid > 0) {
    ::setpgid(pid, pid);  // as the child does: a cancel that comes first still finds the group
    return 0;
  }
  const auto fail = [](const char* what) {  // on the script's stderr (fd 2 once set up)
    const char* why = strerrordesc_np(errno);
    for (const char* part : {what, ": ", why ? why : "?", "\n"}) {
      if (::write(STDERR_FILENO, part, std::strlen(part)) < 0) break;
    }
    _exit(127);
  };
  const int in = in_fd >= 0 ? in_fd : ::open("/dev/null", O_RDONLY);
  if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) fail("stdio");
  if (!request.cwd.empty() && ::chdir(request.cwd.c_str()) != 0) fail("cwd");
  if (::setpgid(0, 0) != 0) fail("setpgid");
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&defaults, sig) == 1) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::close_range(3, ~0U, 0) != 0) fail("close_range");
  const gid_t extra = account.extra_group.value_or(0);
  if (::setgroups(account.extra_group ? 1 : 0, &extra) != 0) fail("setting groups");
  if (::setgid(account.gid) != 0) fail("group");
  if (::setuid(account.uid) != 0) fail("user");
  ::execve(request.script.c_str(), argv, envp);
  fail(request.script.c_str());
  return 0;  // not reached
}

ScriptOutcome run_script(const ScriptRequest& request) {
  ScriptOutcome outcome;
  const auto started = Clock::now();
  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return outcome.start_error = strerror(errno), outcome;
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return outcome.start_error = strerror(errno), outcome;
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  if (!request.input.empty() && ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    return outcome.start_error = strerror(errno), outcome;
  }
  Fd in_r(in_pipe[0]), in_w(in_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (request.input.empty()) {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  } else {
    posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  if (!request.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, request.cwd.c_str());
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Unblock everything, and give the default action back to the signals a parent
  // typically ignores or handles (glibc resets handled ones anyway). Resetting all 64
  // would cost 64 system calls before every exec.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD,
                  SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_storage = {request.script.string()};
  argv_storage.insert(argv_storage.end(), request.args.begin(), request.args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = request.env;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = request.account ? spawn_as(*request.account, request, in_r.get(), out_w.get(),
                                            err_w.get(), defaults, argv.data(), envp.data(), pid)
                                 : posix_spawn(&pid, request.script.c_str(), &actions, &attr,
                                               argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    outcome.start_error = request.script.string() + ": " + strerror(rc) +
                          (rc == ENOEXEC ? " (does it start with a #! line?)" : "");
    return outcome;
  }
  out_w.reset();
  err_w.reset();
  in_r.reset();
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
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    const int wait_ms = killed ? -1 : static_cast<int>(std::max<int64_t>(0, left.count()));
    const int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0 && errno != EINTR) {  // cannot happen with valid fds; never leave it running
      outcome.start_error = std::string("poll: ") + strerror(errno);
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    // The deadline is checked on every pass: a script that keeps its pipes busy cannot
    // starve it.
    if (!killed && (fds[4].revents != 0 || Clock::now() >= deadline)) {
      (fds[4].revents != 0 ? outcome.cancelled : outcome.timed_out) = true;
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
      const pid_t reaped = ::waitpid(pid, &status, 0);
      if (reaped == -1 && errno == ECHILD) {  // someone else reaped it (SIGCHLD ignored?)
        outcome.start_error = "its exit status was lost: the process was reaped elsewhere";
        break;
      }
      exited = reaped == pid;
    }
  }
  // What the script wrote before it exited; a background child that keeps the pipes open
  // does not hold us here.
  if (out_open) drain(out_r.get(), out);
  if (err_open) drain(err_r.get(), err);

  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

}  // namespace hub
