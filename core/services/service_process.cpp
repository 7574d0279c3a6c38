#include "core/services/service_process.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sstream>

namespace hub {
namespace fs = std::filesystem;

Result<Child> launch_service(const ServiceLaunch& launch) {
  ChildSpec spec;
  spec.program = launch.program;
  spec.args = launch.args;
  spec.env = launch.env;
  spec.cwd = launch.cwd;
  spec.stdout_fd = spec.stderr_fd = launch.output_fd;  // stdin: /dev/null
  if (launch.notify_fd >= 0) spec.fds.emplace_back(launch.notify_fd, kNotifyFd);
  spec.signals = ChildSpec::Signals::kAll;
  // Services must not outlive hubd, and are asked to stop as a stop asks them.
  spec.parent_death_signal = SIGTERM;
  spec.cgroup_fds = launch.cgroup_fds;
  const ResourceLimits& limits = launch.limits;
  const struct {
    int resource;
    const std::optional<uint64_t>& value;
    const char* name;
  } rlimits[] = {{RLIMIT_AS, limits.address_space, "limits.address_space"},
                 {RLIMIT_NOFILE, limits.open_files, "limits.open_files"},
                 {RLIMIT_NPROC, limits.processes, "limits.processes"},
                 {RLIMIT_CPU, limits.cpu_seconds, "limits.cpu_seconds"}};
  for (const auto& limit : rlimits) {
    if (limit.value) spec.limits.push_back({limit.resource, *limit.value, limit.name});
  }
  spec.nice = limits.nice;
  spec.account = launch.account;
  return launch_child(spec);
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
