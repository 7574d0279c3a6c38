// Starting one service process (with the child launcher): the program, its arguments and
// environment exactly as given, cwd the workspace, stdout and stderr into `output_fd`,
// stdin from /dev/null. In the child, before exec: a clean signal mask and every
// disposition the default, its own process group (so a stop reaches everything it forks),
// its cgroup (joined before exec, so nothing it runs or forks is ever outside), SIGTERM
// when hubd dies, the resource limits, its account, and no inherited descriptor but 0-2
// and `notify_fd`. Thread-safe.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bus/status.h"
#include "core/services/service_spec.h"
#include "core/system/child_launcher.h"
#include "core/system/files.h"

namespace hub {

// The descriptor number a service writes its readiness line to ("echo >&3").
inline constexpr int kNotifyFd = 3;

struct ServiceLaunch {
  std::filesystem::path program;  // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;  // "KEY=VALUE", the whole environment
  std::filesystem::path cwd;
  int output_fd = -1;
  int notify_fd = -1;     // when >= 0: becomes descriptor 3 (kNotifyFd) in the child
  ResourceLimits limits;  // its setrlimit part (memory, cpu and pids are the cgroup's)
  // cgroup.procs of the instance's groups, open for writing (ServiceCgroup::open_join_fds).
  std::vector<int> cgroup_fds;
  // The account to run as (needs hubd to be root): its supplementary groups are
  // `extra_group` alone, or none.
  std::optional<Account> account;
};

// The started process, which leads its own process group. Fails with the step that failed
// ("limits.open_files: Operation not permitted", "PROGRAM: No such file or directory").
Result<Child> launch_service(const ServiceLaunch& launch);

// Finds `command` as a service would run it: with a '/', relative to `module_dir`;
// otherwise on `path` (a PATH value). Fails when it is not an executable file.
Result<std::filesystem::path> resolve_command(const std::string& command,
                                              const std::filesystem::path& module_dir,
                                              const std::string& path);

}  // namespace hub
