#include "core/services/instance_records.h"

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>

#include "bus/credentials.h"
#include "core/system/files.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

struct ProcStat {
  char state = '?';
  pid_t pgrp = -1;
  uint64_t start_time = 0;
};

// /proc files report a size of 0, so they are read to their end, not to their size.
std::optional<std::string> read_proc_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return text;
}

std::optional<ProcStat> read_stat(pid_t pid) {
  auto text = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // "PID (COMM) STATE PPID PGRP ...": COMM may hold anything, so parse after the last ')'.
  const size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text->substr(close + 2));
  ProcStat stat;
  std::string skip;
  fields >> stat.state >> skip >> stat.pgrp;
  for (int field = 6; field < 22 && fields; ++field) fields >> skip;  // to field 22
  fields >> stat.start_time;
  if (!fields) return std::nullopt;
  return stat;
}

// A process in the middle of execve() shows an empty environment for a moment (the new
// image's is not set up yet), so an empty read is tried again, a bounded number of times.
bool has_environment_entry(pid_t pid, const std::string& entry) {
  const std::string file = "/proc/" + std::to_string(pid) + "/environ";
  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const auto text = read_proc_file(file);
    if (!text) return false;  // gone, or not ours to read
    if (text->empty()) {
      ::sched_yield();
      continue;
    }
    for (size_t at = 0; at < text->size();) {
      const size_t end = std::min(text->find('\0', at), text->size());
      if (std::string_view(*text).substr(at, end - at) == entry) return true;
      at = end + 1;
    }
    return false;
  }
  return false;
}

// Is `pid` (live, with `stat`) a process of `record`'s run?
bool belongs(const InstanceRecord& record, pid_t pid, const ProcStat& stat) {
  if (stat.state == 'Z') return false;
  // Recorded as the launch began (no pid yet): its processes carry its run id, wherever
  // their group is.
  if (record.pid == 0) return has_environment_entry(pid, "HUB_RUN_ID=" + record.run_id);
  if (pid == record.pid && stat.start_time == record.start_time) return true;  // the leader
  return stat.pgrp == record.pid && stat.start_time >= record.start_time &&
         has_environment_entry(pid, "HUB_RUN_ID=" + record.run_id);
}

// A process held by a pidfd: signals through it can never reach a later process that
// reused the pid.
struct Held {
  pid_t pid;
  int fd;
};

// Pins what leftover_processes() finds with pidfds, and keeps only those that still
// belong to the run once pinned (the pid may have been reused in between).
std::vector<Held> hold(const InstanceRecord& record) {
  std::vector<Held> held;
  for (pid_t pid : leftover_processes(record)) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) continue;  // gone already
    const auto stat = read_stat(pid);
    if (stat && belongs(record, pid, *stat)) {
      held.push_back({pid, fd});
    } else {
      ::close(fd);
    }
  }
  return held;
}

void signal_all(const std::vector<Held>& held, int sig) {
  for (const auto& h : held) ::syscall(SYS_pidfd_send_signal, h.fd, sig, nullptr, 0);
}

// Waits, on the pidfds (readable once a process exits), until every one has exited or
// `deadline` passes. True when all have.
bool wait_exited(const std::vector<Held>& held, std::chrono::steady_clock::time_point deadline) {
  for (const auto& h : held) {
    pollfd item{h.fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (::poll(&item, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) != 1) return false;
  }
  return true;
}

}  // namespace

std::optional<uint64_t> process_start_time(pid_t pid) {
  const auto stat = read_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_time;
}

std::string current_boot_id() {
  auto text = read_proc_file("/proc/sys/kernel/random/boot_id");
  if (!text || text->empty()) return "unknown";
  while (!text->empty() && text->back() == '\n') text->pop_back();
  return *text;
}

std::string new_run_id() { return random_secret().substr(0, 32); }

Status InstanceRecords::save(const InstanceRecord& r) const {
  if (Status s = make_private_dir(dir_, 0750); !s) return s;
  const fs::path file = dir_ / r.instance;
  const fs::path temp = dir_ / ("." + r.instance + ".new");
  {
    std::ofstream out(temp, std::ios::trunc);
    out << r.pid << ' ' << r.start_time << ' ' << r.boot_id << ' ' << r.run_id << '\n';
    if (!out.flush()) return Status::error(temp.string() + ": cannot be written");
  }
  std::error_code ec;
  fs::rename(temp, file, ec);  // atomic: a reader sees the old record or the new one
  if (ec) return Status::error(file.string() + ": cannot be written: " + ec.message());
  return Status::ok();
}

void InstanceRecords::remove(const std::string& instance) const {
  std::error_code ignored;
  fs::remove(dir_ / instance, ignored);
}

std::vector<InstanceRecord> InstanceRecords::load(std::vector<std::string>& problems) const {
  std::vector<InstanceRecord> records;
  std::error_code ec;
  for (const auto& file : visible_entries(dir_, ec)) {
    auto text = read_small_file(file, 1024);
    InstanceRecord r;
    r.instance = file.filename().string();
    std::istringstream in(text ? *text : "");
    if (!text || !(in >> r.pid >> r.start_time >> r.boot_id >> r.run_id) || r.pid == 1 ||
        r.pid < 0) {
      problems.push_back(file.string() + ": not an instance record (expected PID START BOOT RUN)");
      continue;
    }
    records.push_back(std::move(r));
  }
  if (ec) problems.push_back(dir_.string() + ": cannot be read: " + ec.message());
  return records;
}

std::vector<pid_t> leftover_processes(const InstanceRecord& record) {
  std::vector<pid_t> found;
  if (record.boot_id != current_boot_id()) return found;  // a reboot ended that run
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 1) continue;
    const auto stat = read_stat(static_cast<pid_t>(pid));
    if (stat && belongs(record, static_cast<pid_t>(pid), *stat)) {
      found.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(proc);
  return found;
}

std::vector<std::string> stop_leftovers(const std::vector<InstanceRecord>& records,
                                        std::chrono::milliseconds grace) {
  std::vector<std::string> stopped;
  std::vector<std::pair<const InstanceRecord*, std::vector<Held>>> targets;
  for (const auto& r : records) {
    auto held = hold(r);
    if (held.empty()) continue;
    if (grace.count() > 0) signal_all(held, SIGTERM);  // no grace: SIGKILL alone
    targets.emplace_back(&r, std::move(held));
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& [r, held] : targets) {
    const size_t count = held.size();
    const bool killed = !wait_exited(held, deadline);
    if (killed) {
      signal_all(held, SIGKILL);
      // What it forked during the grace period goes too.
      auto late = hold(*r);
      signal_all(late, SIGKILL);
      held.insert(held.end(), late.begin(), late.end());
      wait_exited(held, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    }
    for (const auto& h : held) ::close(h.fd);
    stopped.push_back(r->instance + " (pid " + std::to_string(r->pid) + ", " +
                      std::to_string(count) + " process(es)) " +
                      (!killed             ? "stopped with SIGTERM"
                       : grace.count() > 0 ? "killed after the grace period"
                                           : "killed"));
  }
  return stopped;
}

}  // namespace hub
