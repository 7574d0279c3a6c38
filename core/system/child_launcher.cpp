#include "core/system/child_launcher.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace hub {
namespace fs = std::filesystem;
namespace {

// What the child writes to its report pipe when a step before exec fails. EOF instead:
// the exec succeeded (the pipe is close-on-exec).
struct ChildFailure {
  int error = 0;
  char step[60] = {};
};

constexpr const char* kExecStep = "exec";

// Everything the child needs, prepared before (v)fork: the child may only make
// async-signal-safe calls, and after vfork writes nothing but its own stack frames.
struct ChildPlan {
  const ChildSpec* spec;
  int report_fd;
  pid_t parent;
  sigset_t defaults;  // the signals given back their default action
  char* const* argv;
  char* const* envp;
};

[[noreturn]] void child_fail(const ChildPlan& plan, const char* step) {
  ChildFailure failure;
  failure.error = errno;
  for (size_t i = 0; step[i] != '\0' && i + 1 < sizeof failure.step; ++i) failure.step[i] = step[i];
  [[maybe_unused]] ssize_t n = ::write(plan.report_fd, &failure, sizeof failure);
  _exit(127);
}

// Makes `fd` number `to` in the child, without close-on-exec (dup2 onto its own number
// would leave the flag set).
bool place(int fd, int to) {
  if (fd == to) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, to) == to;
}

// Sets the parent-death signal; false when the parent is gone already (then the signal
// would never come).
bool set_parent_death_signal(const ChildPlan& plan) {
  const int sig = plan.spec->parent_death_signal;
  if (sig == 0) return true;
  if (::prctl(PR_SET_PDEATHSIG, sig) != 0) child_fail(plan, "parent-death signal");
  return ::getppid() == plan.parent;
}

void give_signals_back(const ChildPlan& plan) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&plan.defaults, sig) == 1) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;  // only once every disposition is the default
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) child_fail(plan, "signals");
}

// Its stdio: the descriptors asked for, /dev/null for the others. A source below 3 that is
// not already in place is moved up first, so no dup2 overwrites another's source.
void set_stdio(const ChildPlan& plan) {
  const ChildSpec& spec = *plan.spec;
  int from[3] = {spec.stdin_fd, spec.stdout_fd, spec.stderr_fd};
  for (int i = 0; i < 3; ++i) {
    if (from[i] < 0) {
      from[i] = ::open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
      if (from[i] < 0) child_fail(plan, "stdio");
    }
  }
  for (int& fd : from) {
    if (fd < 3 && (&fd - from) != fd) fd = ::fcntl(fd, F_DUPFD, 3);
    if (fd < 0) child_fail(plan, "stdio");
  }
  for (int i = 0; i < 3; ++i) {
    if (!place(from[i], i)) child_fail(plan, "stdio");
  }
}

// Nothing of hubd's leaks into the child: every descriptor above 2 closes at exec, except
// those asked for (and the report pipe, which is close-on-exec).
void keep_only_asked_fds(const ChildPlan& plan) {
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail(plan, "file descriptors");
  for (const auto& [from, to] : plan.spec->fds) {
    if (!place(from, to)) child_fail(plan, "file descriptors");
  }
}

// The child between (v)fork and exec. Async-signal-safe calls only.
[[noreturn]] void become_child(ChildPlan plan) {
  const ChildSpec& spec = *plan.spec;
  give_signals_back(plan);
  // The report pipe out of the way of the numbers the child's descriptors take.
  int floor = 3;
  for (const auto& fd : spec.fds) floor = std::max(floor, fd.second + 1);
  if (plan.report_fd < floor) {
    const int moved = ::fcntl(plan.report_fd, F_DUPFD_CLOEXEC, floor);
    if (moved < 0) child_fail(plan, "file descriptors");  // told on the old one
    plan.report_fd = moved;
  }
  set_stdio(plan);
  if (spec.group == ChildSpec::Group::kOwn && ::setpgid(0, 0) != 0) {
    child_fail(plan, "process group");
  }
  if (spec.group == ChildSpec::Group::kSession && ::setsid() < 0) child_fail(plan, "session");
  for (int fd : spec.cgroup_fds) {
    if (::write(fd, "0", 1) != 1) child_fail(plan, "joining its cgroup");
  }
  if (!set_parent_death_signal(plan)) _exit(127);
  for (const ChildLimit& limit : spec.limits) {
    const rlimit value{limit.value, limit.value};
    if (::setrlimit(limit.resource, &value) != 0) child_fail(plan, limit.name);
  }
  if (spec.nice && ::setpriority(PRIO_PROCESS, 0, *spec.nice) != 0) {
    child_fail(plan, "limits.nice");
  }
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
    child_fail(plan, "working directory");
  }
  if (spec.account) {  // last of what needs hubd's privileges
    if (const char* step = take_on_account(*spec.account)) child_fail(plan, step);
    if (!set_parent_death_signal(plan)) _exit(127);  // the change of user cleared it
  }
  keep_only_asked_fds(plan);
  ::execve(spec.program.c_str(), plan.argv, plan.envp);
  child_fail(plan, kExecStep);
}

// The signals a parent typically ignores or handles (resetting all 64 costs 64 system
// calls before every exec).
sigset_t signals_to_default(ChildSpec::Signals which) {
  sigset_t defaults;
  if (which == ChildSpec::Signals::kAll) {
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    return defaults;
  }
  sigemptyset(&defaults);
  for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD,
                  SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ}) {
    sigaddset(&defaults, sig);
  }
  return defaults;
}

// Starts the child with every signal blocked in this thread, so no handler of hubd's runs
// in it (after vfork, on hubd's memory) before its dispositions are the defaults.
pid_t start(const ChildPlan& plan) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = plan.spec->account ? ::fork() : ::vfork();
  if (pid == 0) become_child(plan);
  const int error = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = error;
  return pid;
}

std::string describe(const ChildFailure& failure, const fs::path& program) {
  const std::string why = std::strerror(failure.error);
  if (std::strncmp(failure.step, kExecStep, sizeof failure.step) != 0) {
    return std::string(failure.step, strnlen(failure.step, sizeof failure.step)) + ": " + why;
  }
  std::string text = program.string() + ": " + why;
  std::error_code exists;
  if (failure.error == ENOEXEC) text += " (does it start with a #! line?)";
  if (failure.error == ENOENT && fs::exists(program, exists)) {
    text += " (its #! interpreter, or the dynamic loader it names, is missing)";
  }
  return text;
}

}  // namespace

Result<Child> launch_child(const ChildSpec& spec) {
  for (const auto& [from, to] : spec.fds) {
    if (from < 3 || to < 3) return Status::error("a descriptor to keep below 3 (use stdio)");
  }
  auto report = Pipe::open();
  if (!report) return report.status();
  std::vector<std::string> argv_text = {spec.program.string()};
  argv_text.insert(argv_text.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const ChildPlan plan{&spec,       report->write.get(),
                       ::getpid(),  signals_to_default(spec.signals),
                       argv.data(), envp.data()};
  const pid_t pid = start(plan);
  if (pid < 0) return Status::error(std::string("fork: ") + std::strerror(errno));
  const bool leads_group = spec.group != ChildSpec::Group::kInherit;
  // As the child does: a kill that comes first still finds the group (fails harmlessly
  // once it has exec'd).
  if (spec.group == ChildSpec::Group::kOwn) ::setpgid(pid, pid);
  Child child(pid, leads_group, unique_fd());
  report->write.reset();
  ChildFailure failure;
  ssize_t got;
  while ((got = ::read(report->read.get(), &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof failure)) {
    (void)child.reap();
    return Status::error(describe(failure, spec.program));
  }
  // The pidfd turns "the child exited" into a poll event (Linux >= 5.3).
  child.pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!child.pidfd_) {  // cannot happen for our own unreaped child; never leave it unwatched
    const std::string why = std::string("pidfd_open: ") + std::strerror(errno);
    return Status::error(why);  // ~Child kills and reaps it
  }
  return child;
}

Child::~Child() {
  if (pid_ <= 0) return;
  kill_group(SIGKILL);
  (void)reap();
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      leads_group_(other.leads_group_),
      pidfd_(std::move(other.pidfd_)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    Child old(std::move(*this));
    pid_ = std::exchange(other.pid_, -1);
    leads_group_ = other.leads_group_;
    pidfd_ = std::move(other.pidfd_);
  }
  return *this;
}

void Child::kill_group(int sig) const {
  if (pid_ <= 0) return;
  if (leads_group_) {
    ::kill(-pid_, sig);
  } else if (pidfd_) {
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0);
  } else {
    ::kill(pid_, sig);  // not reaped yet, so the pid is still its own
  }
}

Result<int> Child::reap() {
  if (pid_ <= 0) return Status::error("no process to reap");
  int status = 0;
  pid_t got;
  while ((got = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  pidfd_.reset();
  if (got < 0) return Status::error("its exit status was lost: the process was reaped elsewhere");
  return status;
}

pid_t Child::release() {
  pidfd_.reset();
  return std::exchange(pid_, -1);
}

}  // namespace hub
