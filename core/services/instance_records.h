// What hubd remembers about the service processes it started, so a hubd killed with
// SIGKILL can, when started again, stop what the previous run left behind and never hit
// an unrelated process that reused a pid. One file per running instance in
// var/run/hub/instances/: "PID START_TIME BOOT_ID RUN_ID". A process is the recorded one
// only when its pid and kernel start time match (same boot); a process of the recorded
// process group counts when it carries the recorded HUB_RUN_ID in its environment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bus/status.h"

namespace hub {

struct InstanceRecord {
  std::string instance;
  pid_t pid = -1;  // also the process group: every instance leads its own group; 0: recorded
                   // as its launch began (its processes are found by run_id alone)
  uint64_t start_time = 0;  // /proc/PID/stat field 22, clock ticks since boot
  std::string boot_id;
  std::string run_id;  // HUB_RUN_ID in the instance's environment
};

// The kernel's start time of `pid`, or nullopt when there is no such process.
std::optional<uint64_t> process_start_time(pid_t pid);
// This boot's id (/proc/sys/kernel/random/boot_id).
std::string current_boot_id();
// A fresh id for one run of one instance.
std::string new_run_id();

class InstanceRecords {
 public:
  explicit InstanceRecords(std::filesystem::path dir) : dir_(std::move(dir)) {}

  Status save(const InstanceRecord& record) const;
  void remove(const std::string& instance) const;
  // Every record; a file that cannot be read is skipped and named in `problems`.
  std::vector<InstanceRecord> load(std::vector<std::string>& problems) const;

 private:
  std::filesystem::path dir_;
};

// The live processes (not zombies) that belong to `record`'s run.
std::vector<pid_t> leftover_processes(const InstanceRecord& record);

// Stops what `records` left running: SIGTERM to each of their processes, SIGKILL to what
// is still there after `grace` (and to what they forked meanwhile); a grace of 0: SIGKILL
// only. Every signal goes
// through a pidfd taken before the process was checked, so none can reach a process that
// reused a pid. Returns one line per instance it had to stop.
std::vector<std::string> stop_leftovers(const std::vector<InstanceRecord>& records,
                                        std::chrono::milliseconds grace);

}  // namespace hub
