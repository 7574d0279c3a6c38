// Control groups for service instances: the memory, cpu and pids limits of service.yml,
// and one group that holds everything an instance forks, even what left its process group.
//
// Layout (cgroup v1: the same under each controller's mount; v2: one tree):
//   <hubd's own cgroup>/hub-<ID>/                 this hub; ID comes from the root's path, so
//                                                 hubds on two roots never share a group
//   <hubd's own cgroup>/hub-<ID>/<INSTANCE>.service  one per running instance
// v1 is used when a v1 hierarchy holds one of the three controllers (as on hybrid systems),
// v2 otherwise. On v2 hubd's cgroup (or its parent, when that one already delegates the
// controllers) must let it enable them for children: the root cgroup, or a delegated one.
//
// Not thread-safe: one thread (the supervisor's) uses a Cgroups and its groups.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bus/status.h"
#include "bus/unique_fd.h"
#include "core/services/service_spec.h"

namespace hub {

// One instance's group. Move-only; destroying it removes the group (see remove()).
class ServiceCgroup {
 public:
  ServiceCgroup() = default;
  ServiceCgroup(std::vector<std::filesystem::path> dirs, bool v2);
  ~ServiceCgroup();
  ServiceCgroup(ServiceCgroup&& other) noexcept;
  ServiceCgroup& operator=(ServiceCgroup&& other) noexcept;
  ServiceCgroup(const ServiceCgroup&) = delete;
  ServiceCgroup& operator=(const ServiceCgroup&) = delete;

  // Opens each directory's cgroup.procs for writing (close-on-exec). The child writes "0"
  // to each between fork and exec, so the service is inside before it can run or fork.
  Result<std::vector<unique_fd>> open_join_fds() const;
  // How many of the group's processes the kernel's OOM killer has killed (v1
  // memory.oom_control, v2 memory.events: "oom_kill"); 0 without a memory group.
  uint64_t oom_kills() const;
  // SIGKILL to every process still in the group (each through a pidfd, checked to be a
  // member after it was taken, so a reused pid is never hit), waits for them to die, and
  // removes the directories. Idempotent. Blocks for at most 2 s per directory; fails
  // naming a directory that would not go (a process stuck in the kernel).
  Status remove();

  const std::vector<std::filesystem::path>& dirs() const { return dirs_; }

 private:
  std::vector<std::filesystem::path> dirs_;  // one per controller (v1), or one (v2)
  bool v2_ = false;
};

class Cgroups {
 public:
  struct Options {
    std::filesystem::path proc_self = "/proc/self";  // mountinfo and cgroup are read here
  };

  // Finds the hierarchies hubd runs in; hub-<ID> is made when a group is first needed.
  // Never fails: what cannot be used is told by missing().
  explicit Cgroups(const std::filesystem::path& hub_root) : Cgroups(hub_root, Options()) {}
  Cgroups(const std::filesystem::path& hub_root, Options options);
  ~Cgroups();  // removes hub-<ID> when it is there and empty
  Cgroups(const Cgroups&) = delete;
  Cgroups& operator=(const Cgroups&) = delete;

  // "v1", "v2", or "none".
  const char* version() const;
  // The controllers among memory, cpu and pids that `limits` uses but no cgroup here can
  // enforce, each with why ("pids" -> "no pids controller is mounted"); empty when all can.
  std::map<std::string, std::string> missing(const ResourceLimits& limits) const;
  // A fresh group for `instance` with the limits it can enforce written (a group of that
  // name left by an earlier hubd is emptied and removed first). Fails naming the file.
  // REQUIRES: missing(limits) is not all three of what limits sets.
  Result<ServiceCgroup> create(const std::string& instance, const ResourceLimits& limits);
  // Empties and removes every instance group left under hub-<ID> (by a hubd killed with
  // SIGKILL). Returns one line per group it had to empty or could not remove.
  std::vector<std::string> remove_leftovers();

 private:
  // Makes hub-<ID> for `controller` (v2: and passes the controller down to it).
  Status make_hub_dir(const char* controller);

  bool v2_ = false;
  std::map<std::string, std::filesystem::path> hub_dirs_;  // controller -> its hub-<ID>
  std::map<std::string, std::string> problems_;            // controller -> why it is unusable
};

}  // namespace hub
