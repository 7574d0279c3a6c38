#include "core/services/cgroup.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace hub {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kControllers[] = {"memory", "cpu", "pids"};
constexpr const char* kInstanceSuffix = ".service";  // never a control file's name
constexpr int64_t kCpuPeriodUs = 100000;
constexpr auto kRemoveTimeout = std::chrono::seconds(2);

std::string errno_text() { return std::strerror(errno); }

std::optional<std::string> read_text(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Control files take one write() each: a value split over two writes is two values.
Status write_text(const fs::path& file, const std::string& text) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::error(file.string() + ": " + errno_text());
  const ssize_t n = ::write(fd, text.data(), text.size());
  const std::string why = n < 0 ? errno_text() : "short write";
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    return Status::error("writing " + text + " to " + file.string() + ": " + why);
  return Status::ok();
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

// The value of "KEY N" in a flat keyed file (memory.events, memory.oom_control).
uint64_t keyed_value(const fs::path& file, const std::string& key) {
  std::istringstream in(read_text(file).value_or(""));
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

std::vector<pid_t> read_pids(const fs::path& dir) {
  std::vector<pid_t> pids;
  std::istringstream in(read_text(dir / "cgroup.procs").value_or(""));
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return pids;
}

// Mount points in /proc/self/mountinfo escape spaces and the like as \ooo.
std::string unescape_mount_path(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto octal = [&](size_t at) { return at < s.size() && s[at] >= '0' && s[at] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Mount {
  fs::path point;
  std::string root;  // the part of the hierarchy mounted there ("/" mostly)
};

// v1 mounts by controller, and the cgroup2 mount (key "").
std::map<std::string, Mount> cgroup_mounts(const fs::path& mountinfo) {
  std::map<std::string, Mount> mounts;
  std::istringstream in(read_text(mountinfo).value_or(""));
  for (std::string line; std::getline(in, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const auto head = split(line.substr(0, dash), ' ');
    const auto tail = split(line.substr(dash + 3), ' ');
    if (head.size() < 5 || tail.size() < 3) continue;
    const Mount m{unescape_mount_path(head[4]), unescape_mount_path(head[3])};
    if (tail[0] == "cgroup2" && !mounts.count("")) mounts[""] = m;
    if (tail[0] != "cgroup") continue;
    for (const auto& option : split(tail[2], ',')) {
      for (const char* c : kControllers) {
        if (option == c && !mounts.count(c)) mounts[c] = m;
      }
    }
  }
  return mounts;
}

// hubd's own cgroup: by controller (v1) and "" (v2), from /proc/self/cgroup.
std::map<std::string, std::string> own_cgroups(const fs::path& cgroup_file) {
  std::map<std::string, std::string> own;
  std::istringstream in(read_text(cgroup_file).value_or(""));
  for (std::string line; std::getline(in, line);) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string list = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (list.empty()) own[""] = path;
    for (const auto& c : split(list, ',')) own[c] = path;
  }
  return own;
}

// Where hubd's own group of a hierarchy is in the file system.
fs::path own_dir(const Mount& mount, const std::string& own) {
  std::string rel = own;
  if (mount.root != "/" && rel.rfind(mount.root, 0) == 0) rel = rel.substr(mount.root.size());
  const fs::path below = fs::path(rel).relative_path();
  return below.empty() ? mount.point : mount.point / below;
}

// "hub-" and 12 hex digits of the root's path (FNV-1a): stable across runs of one root.
std::string hub_group_name(const fs::path& hub_root) {
  std::error_code ec;
  const std::string key = fs::weakly_canonical(fs::absolute(hub_root), ec).string();
  uint64_t hash = 1469598103934665603ull;
  for (const unsigned char c : key) hash = (hash ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof name, "hub-%012llx",
                static_cast<unsigned long long>(hash & 0xffffffffffffull));
  return name;
}

Status make_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return Status::ok();
  return Status::error("creating " + dir.string() + ": " + errno_text());
}

// SIGKILL to each process in `dir` now, then waits (at most 100 ms) for them to exit.
void kill_members(const fs::path& dir) {
  std::vector<std::pair<pid_t, int>> taken;
  for (const pid_t pid : read_pids(dir)) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) taken.emplace_back(pid, fd);
  }
  // A pid read above may have been reused before its pidfd was taken: only what is still
  // a member now (so the pidfd names a process of the group) is signalled.
  const auto members = read_pids(dir);
  const std::set<pid_t> still(members.begin(), members.end());
  std::vector<pollfd> dying;
  for (const auto& [pid, fd] : taken) {
    if (still.count(pid) && ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) == 0)
      dying.push_back({fd, POLLIN, 0});
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(100);
  while (!dying.empty() && Clock::now() < deadline) {
    if (::poll(dying.data(), dying.size(), 10) < 0 && errno != EINTR) break;
    dying.erase(
        std::remove_if(dying.begin(), dying.end(), [](const pollfd& p) { return p.revents; }),
        dying.end());
  }
  for (const auto& [pid, fd] : taken) ::close(fd);
}

// Kills what is in `dir` and its subgroups, and removes them all.
Status empty_and_remove(const fs::path& dir) {
  const auto deadline = Clock::now() + kRemoveTimeout;
  for (;;) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_directory(ec)) {
        if (Status s = empty_and_remove(entry.path()); !s) return s;
      }
    }
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status::ok();
    if (errno != EBUSY) return Status::error("removing " + dir.string() + ": " + errno_text());
    if (Clock::now() > deadline)
      return Status::error("removing " + dir.string() + ": its processes did not exit");
    if (read_pids(dir).empty()) {
      // Exited, but the kernel has not let go of the group yet.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else {
      kill_members(dir);
    }
  }
}

}  // namespace

// ---- ServiceCgroup ----

ServiceCgroup::ServiceCgroup(std::vector<fs::path> dirs, bool v2)
    : dirs_(std::move(dirs)), v2_(v2) {}

ServiceCgroup::~ServiceCgroup() { (void)remove(); }

ServiceCgroup::ServiceCgroup(ServiceCgroup&& other) noexcept
    : dirs_(std::move(other.dirs_)), v2_(other.v2_) {
  other.dirs_.clear();
}

ServiceCgroup& ServiceCgroup::operator=(ServiceCgroup&& other) noexcept {
  if (this != &other) {
    (void)remove();
    dirs_ = std::move(other.dirs_);
    v2_ = other.v2_;
    other.dirs_.clear();
  }
  return *this;
}

Result<std::vector<unique_fd>> ServiceCgroup::open_join_fds() const {
  std::vector<unique_fd> fds;
  for (const auto& dir : dirs_) {
    const fs::path procs = dir / "cgroup.procs";
    unique_fd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return Status::error(procs.string() + ": " + errno_text());
    fds.push_back(std::move(fd));
  }
  return fds;
}

uint64_t ServiceCgroup::oom_kills() const {
  uint64_t kills = 0;
  for (const auto& dir : dirs_) {
    kills += keyed_value(dir / (v2_ ? "memory.events" : "memory.oom_control"), "oom_kill");
  }
  return kills;
}

Status ServiceCgroup::remove() {
  Status result = Status::ok();
  for (const auto& dir : dirs_) {
    if (Status s = empty_and_remove(dir); !s && result) result = s;
  }
  dirs_.clear();
  return result;
}

// ---- Cgroups ----

Cgroups::Cgroups(const fs::path& hub_root, Options options) {
  const auto mounts = cgroup_mounts(options.proc_self / "mountinfo");
  const auto own = own_cgroups(options.proc_self / "cgroup");
  const std::string name = hub_group_name(hub_root);
  const auto writable = [&](const char* c, const fs::path& dir) {
    if (::access(dir.c_str(), W_OK) == 0) return true;
    problems_[c] = dir.string() + ": " + errno_text();
    return false;
  };
  const bool any_v1 = std::any_of(std::begin(kControllers), std::end(kControllers),
                                  [&](const char* c) { return mounts.count(c) > 0; });
  if (any_v1) {
    for (const char* c : kControllers) {
      const auto m = mounts.find(c);
      if (m == mounts.end()) {
        problems_[c] = std::string("no ") + c + " controller is mounted";
        continue;
      }
      const fs::path base = own_dir(m->second, own.count(c) ? own.at(c) : "/");
      if (writable(c, base)) hub_dirs_[c] = base / name;
    }
    return;
  }
  const auto m = mounts.find("");
  if (m == mounts.end()) {
    for (const char* c : kControllers) problems_[c] = "no cgroup hierarchy is mounted";
    return;
  }
  v2_ = true;
  const fs::path base = own_dir(m->second, own.count("") ? own.at("") : "/");
  const auto listed = [](const fs::path& file, const char* c) {
    std::istringstream words(read_text(file).value_or(""));
    for (std::string word; words >> word;) {
      if (word == c) return true;
    }
    return false;
  };
  for (const char* c : kControllers) {
    if (!listed(base / "cgroup.controllers", c)) {
      problems_[c] = (base / "cgroup.controllers").string() + " does not offer " + c;
      continue;
    }
    // hubd may enable the controller in its own cgroup when that is the root, or already
    // has it; a process in any other cgroup keeps it from its children (v2 has no
    // processes in inner groups), but the parent may have it on for a delegated subgroup:
    // only the one the unit asks for (DelegateSubgroup=hubd puts hubd in UNIT/hubd). Any
    // other parent is not hubd's (system.slice, when systemd ignores DelegateSubgroup=):
    // groups made there would leave hubd's unit.
    fs::path parent = base;
    if (base != m->second.point && !listed(base / "cgroup.subtree_control", c)) {
      if (base.filename() != "hubd" || !listed(base.parent_path() / "cgroup.subtree_control", c)) {
        problems_[c] = "cgroup v2: hubd's cgroup " + base.string() + " cannot pass " + c +
                       " to groups of its own (run hubd in the root cgroup or a delegated one)";
        continue;
      }
      parent = base.parent_path();
    }
    if (writable(c, parent)) hub_dirs_[c] = parent / name;
  }
}

Status Cgroups::make_hub_dir(const char* controller) {
  const fs::path& dir = hub_dirs_.at(controller);
  if (!v2_) return make_dir(dir);
  const auto enable = [&](const fs::path& at) {
    return write_text(at / "cgroup.subtree_control", std::string("+") + controller);
  };
  if (Status s = enable(dir.parent_path()); !s) return s;
  if (Status s = make_dir(dir); !s) return s;
  return enable(dir);
}

Cgroups::~Cgroups() {
  for (const auto& [controller, dir] : hub_dirs_) ::rmdir(dir.c_str());
}

const char* Cgroups::version() const {
  if (hub_dirs_.empty()) return "none";
  return v2_ ? "v2" : "v1";
}

std::map<std::string, std::string> Cgroups::missing(const ResourceLimits& limits) const {
  std::map<std::string, std::string> out;
  const std::pair<const char*, bool> wanted[] = {{"memory", limits.memory.has_value()},
                                                 {"cpu", limits.cpu.has_value()},
                                                 {"pids", limits.pids.has_value()}};
  for (const auto& [c, set] : wanted) {
    if (!set || hub_dirs_.count(c)) continue;
    const auto p = problems_.find(c);
    out[c] = p != problems_.end() ? p->second : "no cgroup for it";
  }
  return out;
}

Result<ServiceCgroup> Cgroups::create(const std::string& instance, const ResourceLimits& limits) {
  std::map<std::string, fs::path> dirs;  // controller -> the instance's group
  const auto want = [&](const char* c) {
    const auto hub = hub_dirs_.find(c);
    if (hub != hub_dirs_.end()) dirs[c] = hub->second / (instance + kInstanceSuffix);
  };
  if (limits.memory) want("memory");
  if (limits.cpu) want("cpu");
  if (limits.pids) want("pids");
  std::vector<fs::path> unique;
  for (const auto& [c, dir] : dirs) {
    if (Status s = make_hub_dir(c.c_str()); !s) return s;
    if (std::find(unique.begin(), unique.end(), dir) == unique.end()) unique.push_back(dir);
  }
  if (unique.empty()) return Status::error("cgroups: none of memory, cpu, pids can be used");
  for (const auto& dir : unique) {
    std::error_code ec;
    if (fs::exists(dir, ec)) {
      if (Status s = empty_and_remove(dir); !s) return s;
    }
  }
  ServiceCgroup group(unique, v2_);  // from here on, a failure removes what was made
  for (const auto& dir : unique) {
    if (Status s = make_dir(dir); !s) return s;
  }
  const auto optional_file = [](const fs::path& file, const std::string& value) {
    std::error_code ec;
    return fs::exists(file, ec) ? write_text(file, value) : Status::ok();
  };
  if (const auto d = dirs.find("memory"); d != dirs.end()) {
    const std::string bytes = std::to_string(*limits.memory);
    // Swap counts too: the limit is a bound, not a push into swap.
    Status s = v2_ ? write_text(d->second / "memory.max", bytes)
                   : write_text(d->second / "memory.limit_in_bytes", bytes);
    if (s) {
      s = v2_ ? optional_file(d->second / "memory.swap.max", "0")
              : optional_file(d->second / "memory.memsw.limit_in_bytes", bytes);
    }
    if (!s) return s;
  }
  if (const auto d = dirs.find("cpu"); d != dirs.end()) {
    const auto quota = std::to_string(std::llround(*limits.cpu * kCpuPeriodUs));
    const auto period = std::to_string(kCpuPeriodUs);
    Status s = v2_ ? write_text(d->second / "cpu.max", quota + " " + period)
                   : write_text(d->second / "cpu.cfs_period_us", period);
    if (s && !v2_) s = write_text(d->second / "cpu.cfs_quota_us", quota);
    if (!s) return s;
  }
  if (const auto d = dirs.find("pids"); d != dirs.end()) {
    if (Status s = write_text(d->second / "pids.max", std::to_string(*limits.pids)); !s) return s;
  }
  return group;
}

std::vector<std::string> Cgroups::remove_leftovers() {
  std::vector<std::string> lines;
  std::set<fs::path> done;
  for (const auto& [c, hub] : hub_dirs_) {
    if (!done.insert(hub).second) continue;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(hub, ec)) {
      if (!entry.is_directory(ec)) continue;
      const size_t left = read_pids(entry.path()).size();
      if (Status s = empty_and_remove(entry.path()); !s) {
        lines.push_back(s.message());
      } else if (left > 0) {
        lines.push_back(entry.path().string() + ": killed " + std::to_string(left) +
                        " process(es) an earlier hubd left");
      }
    }
  }
  return lines;
}

}  // namespace hub
