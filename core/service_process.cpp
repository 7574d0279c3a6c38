#include "core/service_process.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>

namespace hub {
namespace fs = std::filesystem;
namespace bp = boost::process;

namespace {

// Child side, between fork and exec: async-signal-safe calls only. A step that fails is
// written to `report_fd` ("limits.open_files: Operation not permitted") and ends the child
// with 127; launch_service() reads it and fails with that reason.
int report_fd = -1;

[[noreturn]] void child_fail(const char* what) {
  const char* reason = strerrordesc_np(errno);
  for (const char* part : {what, ": ", reason ? reason : "?"}) {
    if (::write(report_fd, part, std::strlen(part)) < 0) break;
  }
  _exit(127);
}

void set_limit(int resource, const std::optional<uint64_t>& value, const char* name) {
  if (!value) return;
  const rlimit limit{static_cast<rlim_t>(*value), static_cast<rlim_t>(*value)};
  if (::setrlimit(resource, &limit) != 0) child_fail(name);
}

void prepare_child(const ServiceLaunch& launch, int null_fd, pid_t parent) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;  // only once every disposition is the default
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(launch.output_fd, STDOUT_FILENO) < 0 || ::dup2(launch.output_fd, STDERR_FILENO) < 0 ||
      ::dup2(null_fd, STDIN_FILENO) < 0) {
    child_fail("stdio");
  }
  if (::setpgid(0, 0) != 0) child_fail("setpgid");
  // Joined here, not by hubd after the launch: Boost returns only once the child has
  // exec'd, and by then the service may have forked already. "0" is the writer itself;
  // before the account changes, while it may still be moved.
  for (int fd : launch.cgroup_fds) {
    if (::write(fd, "0", 1) != 1) child_fail("joining the service's cgroup");
  }
  // Services must not outlive hubd; if hubd is already gone, do not start at all.
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) child_fail("prctl");
  if (::getppid() != parent) _exit(127);
  set_limit(RLIMIT_AS, launch.limits.address_space, "limits.address_space");
  set_limit(RLIMIT_NOFILE, launch.limits.open_files, "limits.open_files");
  set_limit(RLIMIT_NPROC, launch.limits.processes, "limits.processes");
  set_limit(RLIMIT_CPU, launch.limits.cpu_seconds, "limits.cpu_seconds");
  if (launch.limits.nice && ::setpriority(PRIO_PROCESS, 0, *launch.limits.nice) != 0)
    child_fail("limits.nice");
  if (::chdir(launch.cwd.c_str()) != 0) child_fail("the workspace");
  if (const auto& a = launch.account) {  // last of what needs hubd's privileges
    const gid_t extra = a->extra_group.value_or(0);
    if (::setgroups(a->extra_group ? 1 : 0, &extra) != 0) child_fail("user: setting groups");
    if (::setgid(a->gid) != 0) child_fail("group");
    if (::setuid(a->uid) != 0) child_fail("user");
    // A change of credentials clears the parent-death signal: set it again.
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) child_fail("prctl");
    if (::getppid() != parent) _exit(127);
  }
  // Nothing of hubd's leaks into the service: every descriptor above 2 closes at exec,
  // except the readiness pipe (and Boost's exec-error pipe, already close-on-exec).
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail("close_range");
  if (launch.notify_fd >= 0 && ::dup2(launch.notify_fd, kNotifyFd) < 0)  // clears close-on-exec
    child_fail("the readiness descriptor");
  // dup2 onto the same number (hubd started with 0-2 closed) would leave close-on-exec set.
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) ::fcntl(fd, F_SETFD, 0);
}

// "X: No such file or directory" for a script whose #! interpreter is missing says which.
std::string exec_failure(const fs::path& program, const std::error_code& ec) {
  std::string why = program.string() + ": " + ec.message();
  std::error_code exists;
  if (ec.value() == ENOENT && fs::exists(program, exists)) {
    why += " (its #! interpreter, or the dynamic loader it names, is missing)";
  }
  return why;
}

}  // namespace

void reserve_notify_fd_number() {
  if (::fcntl(kNotifyFd, F_GETFD) >= 0) return;  // held already, for good (the lock, a log)
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && fd != kNotifyFd) ::close(fd);  // 3 was taken meanwhile: fine as well
}

Result<pid_t> launch_service(const ServiceLaunch& launch) {
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return Status::error(std::string("/dev/null: ") + std::strerror(errno));
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    ::close(null_fd);
    return Status::error(std::string("pipe: ") + std::strerror(errno));
  }
  // The environment goes to execve as it is (Boost's environment class is not used: its
  // lookup reads past the end of short entries in Boost 1.74).
  std::vector<char*> envp;
  for (const auto& entry : launch.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  std::error_code ec;
  // Boost returns once the child has exec'd, or has failed to: then it is reaped here.
  bp::child child(
      bp::exe = launch.program.string(), bp::args = launch.args,
      bp::extend::on_setup = [&](auto& exec) { exec.env = envp.data(); },
      bp::extend::on_exec_setup =
          [&](auto&) {
            report_fd = report[1];
            prepare_child(launch, null_fd, parent);
          },
      bp::extend::on_error =
          [](auto& exec, const std::error_code&) {
            if (exec.pid > 0) ::waitpid(exec.pid, nullptr, 0);
          },
      ec);
  ::close(null_fd);
  ::close(report[1]);
  char reason[256];
  const ssize_t n = ec ? 0 : ::read(report[0], reason, sizeof reason);  // the child is past exec
  ::close(report[0]);
  if (ec) return Status::error(exec_failure(launch.program, ec));
  const pid_t pid = child.id();
  child.detach();  // hubd waits for it through a pidfd, not through Boost
  if (n > 0) {     // a setup step failed, and the child ended
    ::waitpid(pid, nullptr, 0);
    return Status::error(std::string(reason, static_cast<size_t>(n)));
  }
  return pid;
}

Result<fs::path> resolve_command(const std::string& command, const fs::path& module_dir,
                                 const std::string& path) {
  const auto runnable = [](const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (command.find('/') != std::string::npos) {
    const fs::path p = fs::path(command).is_absolute() ? fs::path(command) : module_dir / command;
    if (runnable(p)) return p;
    return Status::error(p.string() + ": not an executable file");
  }
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && runnable(fs::path(dir) / command)) return fs::path(dir) / command;
  }
  return Status::error(command + ": not found on the service's PATH");
}

}  // namespace hub
