// Starting a child process, the one way hubd does it (event and control scripts, services):
// a ChildSpec says what the child is to be, launch_child() makes it so between fork and
// exec, and the Child it returns owns the process until it is reaped.
//
// In the child, before exec, in this order: signals given back their default action, then
// an empty signal mask; stdin, stdout and stderr; a process group (or session) of its own;
// its cgroups joined (so nothing it runs or forks is ever outside them); the parent-death
// signal (and no start at all when hubd is gone already); resource limits; the working
// directory; the account (supplementary groups, group, user; then the parent-death signal
// again, which the change of user cleared); no descriptor of hubd's but 0-2 and those
// asked for. A step that fails ends the child with 127, and launch_child() fails naming
// it ("limits.open_files: Operation not permitted", "PROGRAM: No such file or directory").
//
// vfork, as posix_spawn does (no page tables copied, the parent waits until the child has
// exec'd), unless the child takes on another account: glibc's setuid in a vfork child of
// a threaded process is not safe (it signals every thread of the shared memory image), so
// then fork. Thread-safe (no shared state).
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bus/status.h"
#include "bus/unique_fd.h"
#include "core/system/accounts.h"

namespace hub {

// A resource limit set in the child (soft and hard alike). `name` (a string literal) names
// the step when it fails.
struct ChildLimit {
  int resource;  // RLIMIT_*
  rlim_t value;
  const char* name;
};

struct ChildSpec {
  std::filesystem::path program;  // run as given (no PATH search); also its argv[0]
  std::vector<std::string> args;  // $1, $2, ...
  std::vector<std::string> env;   // the whole environment, "KEY=VALUE" each
  std::filesystem::path cwd;      // empty: hubd's own
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // -1: /dev/null
  // Descriptors the child keeps, each as the number given (from -> to, both >= 3).
  std::vector<std::pair<int, int>> fds;
  enum class Group { kInherit, kOwn, kSession };
  Group group = Group::kOwn;  // kOwn: it leads a new process group; kSession: a new session
  // Signals given back their default action: those a parent typically ignores or handles
  // (hubd's, the thread's), or every one. Either way, handled signals are reset by exec.
  enum class Signals { kCommon, kAll };
  Signals signals = Signals::kCommon;
  int parent_death_signal = SIGKILL;  // sent to the child when hubd dies; 0: none
  // cgroup.procs files open for writing: the child writes "0" to each, so it is inside
  // before it can run or fork (and while it may still be moved: before the account).
  std::vector<int> cgroup_fds;
  std::vector<ChildLimit> limits;
  std::optional<int> nice;
  std::optional<Account> account;  // hubd must be root
};

// A started child, owned until it is reaped or released. Destroying a Child that still
// owns its process kills it (its whole group, when it leads one) with SIGKILL and reaps it.
// Move-only. Not thread-safe.
class Child {
 public:
  Child() = default;
  ~Child();
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Readable once the child has exited (poll it beside other fds); -1 once taken.
  int pidfd() const { return pidfd_.get(); }
  // Sends `sig` to the child's process group (to the child alone when it leads none).
  // The group is signalled before the child is reaped, so its id cannot have been reused.
  void kill_group(int sig) const;
  // Waits for the child to exit and reaps it: its wait status. Fails when it was reaped
  // elsewhere (SIGCHLD ignored?). Either way the Child owns no process afterwards.
  Result<int> reap();
  // Hands the pidfd over: the caller watches the child with it.
  unique_fd take_pidfd() { return std::move(pidfd_); }
  // Gives the process up without killing or reaping it (the caller does both); returns
  // its pid.
  pid_t release();

 private:
  friend Result<Child> launch_child(const ChildSpec& spec);
  Child(pid_t pid, bool leads_group, unique_fd pidfd)
      : pid_(pid), leads_group_(leads_group), pidfd_(std::move(pidfd)) {}

  pid_t pid_ = -1;  // -1: no process owned
  bool leads_group_ = false;
  unique_fd pidfd_;
};

// Starts `spec` and returns once the child has exec'd (or failed to, then it has been
// reaped). Fails with the step that failed and why, or "fork: ..." / "pidfd_open: ...".
Result<Child> launch_child(const ChildSpec& spec);

}  // namespace hub
