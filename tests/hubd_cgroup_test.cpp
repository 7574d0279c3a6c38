// service.yml limits.memory, cpu and pids through real cgroups: an OOM kill reported as
// such, a fork storm held at its bound and killed whole at stop, the limits written where
// the kernel reads them, groups removed after the instance, two hubds kept apart. The
// hubd tests need writable cgroups (root on a system that mounts them) and say when they
// are skipped.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "core/services/cgroup.h"
#include "core/services/service_spec.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Why this machine cannot run the hubd tests below ("" when it can).
std::string cgroups_unusable() {
  TempDir probe_root;
  Cgroups probe(probe_root.path());
  ResourceLimits all;
  all.memory = 1 << 20;
  all.cpu = 1;
  all.pids = 1;
  std::string why;
  for (const auto& [controller, problem] : probe.missing(all))
    why += controller + ": " + problem + "; ";
  return why;
}

#define REQUIRE_CGROUPS()                                           \
  do {                                                              \
    if (const std::string why = cgroups_unusable(); !why.empty()) { \
      WARN("SKIPPED: cgroups cannot be used here (" << why << ")"); \
      return;                                                       \
    }                                                               \
  } while (false)

// Empties and removes whatever groups of `root`'s hub are left when a test ends, failed
// or not. Declare it before the hubd: it runs after the hubd is gone.
struct GroupCleanup {
  const TempDir& root;
  ~GroupCleanup() {
    Cgroups groups(root.path());  // hubd's cgroup is the test's own: the same hub-<ID>
    (void)groups.remove_leftovers();
  }
};

// A service script that writes its /proc/self/cgroup to data/NAME/cgroup, says it is
// ready, then runs `then`.
void add_limited(const TempDir& root, const std::string& name, const std::string& limits,
                 const std::string& then) {
  add_module(root, name,
             "command: ./run\nready: {notify: true}\nstop: {grace: 2s}\nrestart: {policy: no}\n"
             "limits: " +
                 limits + "\n");
  add_script(root, "modules/system/" + name + "/run",
             "cat /proc/self/cgroup > \"$HUB_DATA_DIR/cgroup.tmp\"\n"
             "mv \"$HUB_DATA_DIR/cgroup.tmp\" \"$HUB_DATA_DIR/cgroup\"\n"
             "echo ready >&3\n" +
                 then + "\n");
}

// The directory of `controller`'s group that the service of `name` runs in, from what it
// wrote (v1 mounts each controller at /sys/fs/cgroup/CONTROLLERS, v2 the whole tree).
fs::path group_dir(const TempDir& root, const std::string& name, const std::string& controller) {
  std::istringstream lines(read_file(root.path() / "data" / name / "cgroup"));
  for (std::string line; std::getline(lines, line);) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    const std::string list = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::istringstream names(list);
    for (std::string c; std::getline(names, c, ',');) {
      if (c == controller)
        return fs::path("/sys/fs/cgroup") / list / fs::path(path).relative_path();
    }
    if (list.empty() && path.find(".service") != std::string::npos)
      return fs::path("/sys/fs/cgroup") / fs::path(path).relative_path();
  }
  return {};
}

std::string trimmed(const fs::path& file) {
  std::string text = read_file(file);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::vector<int> pids_in(const fs::path& dir) {
  std::vector<int> pids;
  std::istringstream in(read_file(dir / "cgroup.procs"));
  for (int pid; in >> pid;) pids.push_back(pid);
  return pids;
}

// Waits (polling with a deadline) until `done` holds.
template <typename Fn>
bool eventually(Fn done, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A subscriber that sees every event since the hub's first (from the journal).
std::unique_ptr<Subscriber> from_start(zmq::context_t& ctx, const TempDir& root,
                                       std::vector<std::string> patterns) {
  SubscriberOptions o = recovering(root, std::move(patterns));
  o.resume_from = 1;
  auto sub = Subscriber::open(ctx, admin_credential(root), o);
  REQUIRE(sub);
  return std::make_unique<Subscriber>(std::move(*sub));
}

int hubctl(const TempDir& root, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--root", root.path().string()};
  all.insert(all.end(), args.begin(), args.end());
  ChildProcess p(HUBCTL_PATH, all);
  return p.wait_exit().value_or(-1);
}

// Waits for the service's cgroup file, i.e. until it is running in its group.
bool started_in_group(const TempDir& root, const std::string& name) {
  return eventually([&] { return fs::exists(root.path() / "data" / name / "cgroup"); });
}

}  // namespace

// ---- service.yml -------------------------------------------------------------------------

TEST_CASE("limits memory, cpu and pids are read from service.yml", "[cgroup][service]") {
  TempDir root;
  root.write("modules/system/Foo/service.yml",
             "command: serve\nlimits: {memory: 64MiB, cpu: 0.5, pids: 100}\n");
  auto spec = load_service_spec(root.path(), {}, root.path() / "modules/system/Foo", "Foo");
  REQUIRE(spec);
  REQUIRE(spec->has_value());
  const ResourceLimits& limits = (*spec)->limits;
  CHECK(limits.memory == uint64_t{64} << 20);
  CHECK(limits.cpu == 0.5);
  CHECK(limits.pids == uint64_t{100});
  CHECK_FALSE(limits.address_space);  // the rlimit stays unset: it is only a fallback
  CHECK_FALSE(limits.processes);
}

TEST_CASE("bad limits memory, cpu and pids name the file, line and key", "[cgroup][service]") {
  TempDir root;
  const auto file = root.write("modules/system/Foo/service.yml",
                               "command: serve\n"
                               "limits:\n"
                               "  memory: lots\n"
                               "  cpu: 0\n"
                               "  pids: 0\n");
  auto spec = load_service_spec(root.path(), {}, root.path() / "modules/system/Foo", "Foo");
  REQUIRE_FALSE(spec);
  const std::string f = file.string();
  CHECK_THAT(spec.error(), Catch::Contains(f + ":3:11: limits.memory: expected a size"));
  CHECK_THAT(spec.error(),
             Catch::Contains(f + ":4:8: limits.cpu: expected a number of cores from 0.01"));
  CHECK_THAT(spec.error(), Catch::Contains(f + ":5:9: limits.pids:"));
}

// ---- detection ---------------------------------------------------------------------------

TEST_CASE("without any cgroup hierarchy every cgroup limit is reported missing, with why",
          "[cgroup]") {
  TempDir root, proc;
  proc.write("mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
  proc.write("cgroup", "0::/\n");
  Cgroups cgroups(root.path(), Cgroups::Options{proc.path()});
  CHECK(std::string(cgroups.version()) == "none");
  ResourceLimits limits;
  limits.memory = 1 << 20;
  limits.pids = 10;
  const auto missing = cgroups.missing(limits);
  CHECK(missing.size() == 2);  // cpu is not asked for
  CHECK(missing.at("memory") == "no cgroup hierarchy is mounted");
  CHECK(missing.at("pids") == "no cgroup hierarchy is mounted");
}

TEST_CASE("a cgroup v1 controller hubd cannot write to is reported with the path and reason",
          "[cgroup]") {
  TempDir root, proc, mount;
  fs::create_directories(mount.path() / "pids");
  fs::permissions(mount.path() / "pids", fs::perms::owner_read | fs::perms::owner_exec);
  proc.write("mountinfo",
             "30 25 0:26 / " + (mount.path() / "pids").string() + " rw - cgroup cgroup rw,pids\n");
  proc.write("cgroup", "3:pids:/\n");
  Cgroups cgroups(root.path(), Cgroups::Options{proc.path()});
  ResourceLimits limits;
  limits.pids = 10;
  limits.memory = 1 << 20;
  const auto missing = cgroups.missing(limits);
  CHECK(missing.at("memory") == "no memory controller is mounted");
  if (::geteuid() != 0) {  // root may write anyway
    CHECK(missing.at("pids") == (mount.path() / "pids").string() + ": Permission denied");
  }
  fs::permissions(mount.path() / "pids", fs::perms::owner_all);
}

TEST_CASE("on cgroup v2 a controller is used when hubd's cgroup or its parent can pass it on",
          "[cgroup]") {
  TempDir root, proc, mount;
  proc.write("mountinfo", "30 25 0:26 / " + mount.path().string() + " rw - cgroup2 cgroup2 rw\n");
  proc.write("cgroup", "0::/app/hubd\n");
  mount.write("app/hubd/cgroup.controllers", "cpu memory\n");  // no pids offered here
  mount.write("app/hubd/cgroup.subtree_control", "\n");        // hubd is in it: none
  mount.write("app/cgroup.subtree_control", "memory\n");       // delegated by the parent
  Cgroups cgroups(root.path(), Cgroups::Options{proc.path()});
  CHECK(std::string(cgroups.version()) == "v2");
  ResourceLimits limits;
  limits.memory = 1 << 20;
  limits.cpu = 0.5;
  limits.pids = 10;
  const auto missing = cgroups.missing(limits);
  CHECK(missing.count("memory") == 0);  // a group beside hubd's, in the delegated parent
  CHECK_THAT(missing.at("cpu"),
             Catch::StartsWith("cgroup v2: hubd's cgroup " + (mount.path() / "app/hubd").string() +
                               " cannot pass cpu"));
  CHECK(missing.at("pids") ==
        (mount.path() / "app/hubd/cgroup.controllers").string() + " does not offer pids");
}

// ---- real cgroups ------------------------------------------------------------------------

TEST_CASE("a service over its memory limit is OOM-killed and exits with reason oom",
          "[cgroup][hubd]") {
  REQUIRE_CGROUPS();
  TempDir root;
  GroupCleanup cleanup{root};
  add_limited(root, "Hog", "{memory: 32MiB}",
              "exec perl -e '$x = \"a\" x (256 * 1024 * 1024); sleep 100'");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  auto sub = from_start(ctx, root, {"Hog/exited"});
  const auto exited = next_on(*sub, "Hog/exited");
  REQUIRE(exited);
  CHECK(json_field(exited->payload(), "signal") == "SIGKILL");
  CHECK(json_field(exited->payload(), "reason") == "oom");
  CHECK(json_int(exited->payload(), "oom_kills") >= 1);
  const fs::path dir = group_dir(root, "Hog", "memory");
  REQUIRE_FALSE(dir.empty());
  CHECK_FALSE(fs::exists(dir));  // removed once the instance exited
}

TEST_CASE("a fork storm is held at limits.pids, hubd keeps answering, and a stop kills it all",
          "[cgroup][hubd]") {
  REQUIRE_CGROUPS();
  TempDir root;
  GroupCleanup cleanup{root};
  // Each child sleeps in a new session and process group: only the cgroup still holds it.
  add_limited(root, "Storm", "{pids: 16, cpu: 0.2}",
              "exec perl -MPOSIX -e 'while (1) { my $p = fork(); "
              "if (defined $p && $p == 0) { POSIX::setsid(); sleep 1000; exit 0 } }'");
  RunningHub hub(root);
  REQUIRE(started_in_group(root, "Storm"));
  const fs::path dir = group_dir(root, "Storm", "pids");
  REQUIRE_FALSE(dir.empty());
  CHECK(trimmed(dir / "pids.max") == "16");
  REQUIRE(eventually([&] { return trimmed(dir / "pids.current") == "16"; }));
  // Forks over the bound are refused (counted in pids.events), not queued.
  REQUIRE(eventually(
      [&] { return read_file(dir / "pids.events").find("max 0") == std::string::npos; }));
  CHECK(hubctl(root, {"status"}) == 0);  // hubd answers during the storm
  CHECK(trimmed(dir / "pids.current") == "16");
  const std::vector<int> storm = pids_in(dir);
  CHECK(storm.size() == 16);

  CHECK(hubctl(root, {"stop", "Storm"}) == 0);
  CHECK_FALSE(fs::exists(dir));
  for (int pid : storm) CHECK_FALSE(process_alive(pid));
}

TEST_CASE("memory, cpu and pids limits are written to the instance's groups, removed at stop",
          "[cgroup][hubd]") {
  REQUIRE_CGROUPS();
  TempDir root;
  GroupCleanup cleanup{root};
  add_limited(root, "Calm", "{memory: 48MiB, cpu: 0.25, pids: 50}", "exec sleep 1000");
  RunningHub hub(root);
  REQUIRE(started_in_group(root, "Calm"));
  const fs::path memory = group_dir(root, "Calm", "memory");
  const fs::path cpu = group_dir(root, "Calm", "cpu");
  const fs::path pids = group_dir(root, "Calm", "pids");
  REQUIRE_FALSE(memory.empty());
  INFO(memory << " " << cpu << " " << pids);
  CHECK(memory.filename() == "Calm.service");
  CHECK(memory.parent_path().filename().string().rfind("hub-", 0) == 0);
  if (fs::exists(cpu / "cpu.max")) {  // v2
    CHECK(trimmed(cpu / "cpu.max") == "25000 100000");
    CHECK(trimmed(memory / "memory.max") == std::to_string(48 << 20));
  } else {
    CHECK(trimmed(cpu / "cpu.cfs_quota_us") == "25000");
    CHECK(trimmed(cpu / "cpu.cfs_period_us") == "100000");
    CHECK(trimmed(memory / "memory.limit_in_bytes") == std::to_string(48 << 20));
  }
  CHECK(trimmed(pids / "pids.max") == "50");
  CHECK(pids_in(pids).size() == 1);

  CHECK(hubctl(root, {"stop", "Calm"}) == 0);
  for (const auto& dir : {memory, cpu, pids}) CHECK_FALSE(fs::exists(dir));
  CHECK(hubctl(root, {"start", "Calm"}) == 0);  // a fresh group for the next run
  REQUIRE(eventually([&] { return fs::exists(pids) && pids_in(pids).size() == 1; }));
  REQUIRE(hub.stop() == 0);
  CHECK_FALSE(fs::exists(pids));
  CHECK_FALSE(fs::exists(pids.parent_path()));  // and the hub's own group at shutdown
}

TEST_CASE("two hubds with a service of the same name use groups of their own", "[cgroup][hubd]") {
  REQUIRE_CGROUPS();
  TempDir first_root, second_root;
  GroupCleanup first_cleanup{first_root}, second_cleanup{second_root};
  for (const TempDir* root : {&first_root, &second_root})
    add_limited(*root, "Same", "{pids: 10}", "exec sleep 1000");
  auto first = std::make_unique<RunningHub>(first_root);
  RunningHub second(second_root);
  REQUIRE(started_in_group(first_root, "Same"));
  REQUIRE(started_in_group(second_root, "Same"));
  const fs::path a = group_dir(first_root, "Same", "pids");
  const fs::path b = group_dir(second_root, "Same", "pids");
  CHECK(a != b);
  CHECK(pids_in(a).size() == 1);
  CHECK(pids_in(b).size() == 1);
  first.reset();  // stops the first hubd and its service
  CHECK_FALSE(fs::exists(a));
  REQUIRE(fs::exists(b));
  CHECK(pids_in(b).size() == 1);
  CHECK(process_alive(pids_in(b).at(0)));
}

TEST_CASE("a hubd killed with SIGKILL leaves nothing in its groups once started again",
          "[cgroup][hubd]") {
  REQUIRE_CGROUPS();
  TempDir root;
  GroupCleanup cleanup{root};
  // The child leaves the process group and ignores SIGTERM: only the cgroup still finds it.
  add_limited(root, "Stray", "{pids: 10}",
              "perl -MPOSIX -e 'POSIX::setsid(); $SIG{TERM} = \"IGNORE\"; sleep 1000' &\n"
              "echo $! > \"$HUB_DATA_DIR/stray\"\nexec sleep 1000");
  fs::path dir;
  int stray = 0;
  {
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    REQUIRE(hubd.wait_stderr("hub is up"));
    REQUIRE(started_in_group(root, "Stray"));
    REQUIRE(eventually([&] { return !trimmed(root.path() / "data/Stray/stray").empty(); }));
    stray = std::stoi(trimmed(root.path() / "data/Stray/stray"));
    dir = group_dir(root, "Stray", "pids");
    REQUIRE(eventually([&] { return pids_in(dir).size() == 2; }));
    hubd.signal(SIGKILL);
    REQUIRE(hubd.wait_exit());
  }
  fs::remove(root.path() / "data/Stray/cgroup");
  REQUIRE(process_alive(stray));
  RunningHub hub(root);
  CHECK_FALSE(process_alive(stray));
  REQUIRE(started_in_group(root, "Stray"));
  CHECK(group_dir(root, "Stray", "pids") == dir);
  REQUIRE(eventually([&] { return pids_in(dir).size() == 2; }));
}

TEST_CASE(
    "a hubd that cannot use cgroups warns, naming the service and what is missing, and "
    "falls back to rlimits",
    "[cgroup][hubd]") {
  const fs::path setpriv = "/usr/bin/setpriv";
  if (::geteuid() != 0 || !fs::exists(setpriv)) {
    WARN("SKIPPED: needs root and setpriv, to run hubd as an unprivileged user");
    return;
  }
  TempDir root;
  add_limited(root, "Calm", "{memory: 48MiB, cpu: 0.5, pids: 50}",
              "grep -E 'processes|address space' /proc/self/limits > \"$HUB_DATA_DIR/limits\"\n"
              "exec sleep 1000");
  for (const auto& entry : fs::recursive_directory_iterator(root.path()))
    REQUIRE(::chown(entry.path().c_str(), 65534, 65534) == 0);
  REQUIRE(::chown(root.path().c_str(), 65534, 65534) == 0);
  ChildProcess hubd(setpriv.string(), {"--reuid=65534", "--regid=65534", "--clear-groups",
                                       HUBD_PATH, "--root", root.path().string()});
  const auto warning = hubd.wait_stderr("cgroups cannot enforce its limits");
  REQUIRE(warning);
  CHECK_THAT(*warning, Catch::Contains("service Calm: "));
  CHECK_THAT(*warning, Catch::Contains("limits.memory: "));
  CHECK_THAT(*warning, Catch::Contains("limits.pids: "));
  CHECK_THAT(*warning, Catch::Contains("Permission denied"));
  CHECK_THAT(*warning, Catch::Contains("limits.memory is applied as RLIMIT_AS"));
  CHECK_THAT(*warning, Catch::Contains("limits.pids is applied as RLIMIT_NPROC"));
  CHECK_THAT(*warning, Catch::Contains("limits.cpu is not enforced"));
  REQUIRE(started_in_group(root, "Calm"));  // started all the same
  REQUIRE(eventually([&] { return !read_file(root.path() / "data/Calm/limits").empty(); }));
  const std::string limits = read_file(root.path() / "data/Calm/limits");
  CHECK_THAT(limits, Catch::Matches("(.|\n)*Max processes +50 +50(.|\n)*"));
  CHECK_THAT(limits,
             Catch::Matches("(.|\n)*Max address space +" + std::to_string(48 << 20) + " (.|\n)*"));
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit() == 0);
}

// packaging/systemd/hubd.service gives hubd Delegate=yes and DelegateSubgroup=hubd, but
// systemd before 254 (Debian 12 has 252) ignores DelegateSubgroup=: hubd runs in
// system.slice/hubd.service itself, which cannot pass controllers on while hubd is in it.
// Its parent system.slice does pass them (to its units), so hubd makes hub-ID there,
// beside hubd.service: its services leave the unit (a final SIGKILL of the unit, or
// `systemctl stop` after a crash, misses them), in a cgroup systemd owns.
TEST_CASE("under systemd without DelegateSubgroup=, the services' groups stay in hubd's unit",
          "[cgroup][systemd]") {
  TempDir fake;
  const fs::path cg = fake.path() / "cgroup";
  fake.write("proc/mountinfo", "30 24 0:26 / " + cg.string() + " rw,nosuid - cgroup2 cgroup2 rw\n");
  fake.write("proc/cgroup", "0::/system.slice/hubd.service\n");
  fake.write("cgroup/cgroup.subtree_control", "cpu io memory pids\n");
  fake.write("cgroup/system.slice/cgroup.controllers", "cpu io memory pids\n");
  fake.write("cgroup/system.slice/cgroup.subtree_control", "cpu io memory pids\n");
  fake.write("cgroup/system.slice/hubd.service/cgroup.controllers", "cpu io memory pids\n");
  fake.write("cgroup/system.slice/hubd.service/cgroup.subtree_control", "");
  fake.write("cgroup/system.slice/hubd.service/cgroup.procs", "1234\n");

  TempDir root;
  Cgroups::Options options;
  options.proc_self = fake.path() / "proc";
  Cgroups groups(root.path(), options);
  ResourceLimits limits;
  limits.memory = 64ull << 20;
  const auto missing = groups.missing(limits);
  // Either no cgroup (limits by rlimits, as the unit's comment says) or one in the unit. A
  // fake hierarchy makes no control files, so creating may fail: where it went counts.
  if (missing.empty()) {
    auto made = groups.create("Svc", limits);
    const std::string where = made ? made->dirs().front().string() : made.error();
    INFO(where);
    CHECK(where.find((cg / "system.slice/hub-").string()) == std::string::npos);
  }
  bool outside = false;
  for (const auto& e : fs::directory_iterator(cg / "system.slice")) {
    outside = outside || e.path().filename().string().rfind("hub-", 0) == 0;
  }
  CHECK_FALSE(outside);
}
