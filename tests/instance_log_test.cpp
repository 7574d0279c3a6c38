#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "core/services/instance_log.h"
#include "core/services/instance_records.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

fs::path rotated(const fs::path& log, int n) { return log.string() + "." + std::to_string(n); }

// The rotated files of `log` (.1, .2, ... while they exist).
int rotated_count(const fs::path& log) {
  int n = 0;
  while (fs::exists(rotated(log, n + 1))) ++n;
  return n;
}

// Every file of `log`, oldest first: .N ... .1, then the current file if there is one.
std::vector<std::string> files_oldest_first(const fs::path& log) {
  std::vector<std::string> files;
  for (int n = rotated_count(log); n >= 1; --n) files.push_back(contents(rotated(log, n)));
  if (fs::exists(log)) files.push_back(contents(log));
  return files;
}

std::string joined(const std::vector<std::string>& files) {
  std::string all;
  for (const auto& f : files) all += f;
  return all;
}

// Lines of varied lengths ("line 7 xxxxx...\n"), numbered so none equals another.
std::string numbered_lines(int count) {
  std::string text;
  for (int i = 1; i <= count; ++i) {
    text += "line " + std::to_string(i) + " " + std::string(static_cast<size_t>(i * 7 % 23), 'x') +
            "\n";
  }
  return text;
}

// Writes `text` in chunks of odd sizes, so chunks end in the middle of lines.
void write_in_odd_chunks(InstanceLog& log, const std::string& text) {
  const size_t sizes[] = {1, 7, 13, 29, 3, 64, 11};
  size_t at = 0;
  for (size_t i = 0; at < text.size(); ++i) {
    const size_t n = std::min(sizes[i % std::size(sizes)], text.size() - at);
    REQUIRE(log.write(std::string_view(text).substr(at, n)));
    at += n;
  }
}

}  // namespace

// ---- InstanceLog -----------------------------------------------------------------------

TEST_CASE("an instance log appends what the instance writes to the existing file",
          "[instance-log]") {
  TempDir dir;
  const auto file = dir.write("svc.log", "earlier run\n");
  InstanceLog log(file, 1 << 20, 3);
  REQUIRE(log.write("one\n"));
  REQUIRE(log.write("tw"));
  REQUIRE(log.write("o\n"));
  CHECK(contents(file) == "earlier run\none\ntwo\n");
  CHECK(rotated_count(file) == 0);
}

TEST_CASE("an instance log rotates at a line end once past its size, keeping the newest files",
          "[instance-log]") {
  TempDir dir;
  const fs::path file = dir.path() / "svc.log";
  InstanceLog log(file, 10, 2);
  for (int i = 1; i <= 7; ++i) REQUIRE(log.write("line" + std::to_string(i) + "\n"));
  // Each file passed 10 bytes in its second line and was rotated at that line's end.
  CHECK(contents(rotated(file, 2)) == "line3\nline4\n");
  CHECK(contents(rotated(file, 1)) == "line5\nline6\n");
  CHECK(contents(file) == "line7\n");
  CHECK_FALSE(fs::exists(rotated(file, 3)));  // line1 and line2 are gone
}

TEST_CASE("an instance log that keeps no rotated files just starts its file again",
          "[instance-log]") {
  TempDir dir;
  const fs::path file = dir.path() / "svc.log";
  InstanceLog log(file, 10, 0);
  for (int i = 1; i <= 5; ++i) REQUIRE(log.write("line" + std::to_string(i) + "\n"));
  CHECK(contents(file) == "line5\n");
  CHECK(rotated_count(file) == 0);
}

TEST_CASE("no line is split across instance log files, however the output arrives",
          "[instance-log]") {
  TempDir dir;
  const fs::path file = dir.path() / "svc.log";
  const std::string text = numbered_lines(200);
  constexpr uint64_t kMaxSize = 100;
  InstanceLog log(file, kMaxSize, 100);
  write_in_odd_chunks(log, text);

  const std::vector<std::string> files = files_oldest_first(file);
  REQUIRE(files.size() > 10);
  CHECK(joined(files) == text);  // nothing lost, nothing repeated, in order
  for (size_t i = 0; i < files.size(); ++i) {
    INFO("file " << i << " of " << files.size() << ": " << files[i]);
    REQUIRE_FALSE(files[i].empty());
    CHECK(files[i].back() == '\n');  // and, all being joined in order, each starts a line
    if (i + 1 < files.size()) {      // rotated once past the size, at the first line end
      CHECK(files[i].size() >= kMaxSize);
      CHECK(files[i].size() < kMaxSize + 40);
    }
  }
}

TEST_CASE("an instance log drops its oldest files whole, never part of a line", "[instance-log]") {
  TempDir dir;
  const fs::path file = dir.path() / "svc.log";
  const std::string text = numbered_lines(200);
  InstanceLog log(file, 100, 3);
  write_in_odd_chunks(log, text);

  CHECK(rotated_count(file) == 3);
  const std::string kept = joined(files_oldest_first(file));
  REQUIRE(kept.size() < text.size());
  const std::string dropped = text.substr(0, text.size() - kept.size());
  CHECK(text.substr(dropped.size()) == kept);  // the newest part of what was written
  CHECK(dropped.back() == '\n');               // cut at a line end
}

TEST_CASE("one endless line is cut into new files instead of growing one without bound",
          "[instance-log]") {
  TempDir dir;
  const fs::path file = dir.path() / "svc.log";
  constexpr uint64_t kMaxSize = 100;
  const std::string text = "short\n" + std::string(200 * 1024, 'y') + "\nafter\n";
  InstanceLog log(file, kMaxSize, 100);
  REQUIRE(log.write(text));

  const std::vector<std::string> files = files_oldest_first(file);
  REQUIRE(files.size() >= 4);
  CHECK(joined(files) == text);
  for (const auto& f : files) CHECK(f.size() <= kMaxSize + 64 * 1024);
  CHECK(files[0].size() == kMaxSize + 64 * 1024);  // cut exactly at the bound
  CHECK(files[0].back() == 'y');
}

TEST_CASE("an instance log reopened on an existing file counts the size already there",
          "[instance-log]") {
  TempDir dir;
  const fs::path file = dir.path() / "svc.log";
  const std::string first(79, 'a');
  const std::string second(29, 'b');
  {
    InstanceLog log(file, 100, 3);
    REQUIRE(log.write(first + "\n"));
  }
  InstanceLog log(file, 100, 3);
  REQUIRE(log.write(second + "\n"));  // passes 100 bytes only together with the first line
  REQUIRE(log.write("next\n"));
  CHECK(contents(rotated(file, 1)) == first + "\n" + second + "\n");
  CHECK(contents(file) == "next\n");
}

TEST_CASE("an instance log that cannot be written says why and tries again on the next write",
          "[instance-log]") {
  TempDir dir;
  const fs::path file = dir.path() / "not-yet/svc.log";
  InstanceLog log(file, 100, 3);
  const Status failed = log.write("lost\n");
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.message(), Catch::StartsWith(file.string() + ": cannot be opened: "));
  fs::create_directory(dir.path() / "not-yet");
  REQUIRE(log.write("kept\n"));
  CHECK(contents(file) == "kept\n");
}

// ---- InstanceRecords -------------------------------------------------------------------

TEST_CASE("instance records are saved, loaded back and removed", "[instance-log]") {
  TempDir root;
  const InstanceRecords records(root.path() / "var/run/hub/instances");
  std::vector<std::string> problems;
  CHECK(records.load(problems).empty());  // no directory yet: no records
  CHECK(problems.empty());

  REQUIRE(records.save({"Foo", 4242, 987654, "boot-a", "run-1"}));
  REQUIRE(records.save({"Bar", 17, 12, "boot-a", "run-2"}));
  REQUIRE(records.save({"Foo", 4343, 987700, "boot-a", "run-3"}));  // replaces Foo's
  const auto loaded = records.load(problems);
  CHECK(problems.empty());
  REQUIRE(loaded.size() == 2);
  CHECK(loaded[0].instance == "Bar");
  CHECK(loaded[1].instance == "Foo");
  CHECK(loaded[1].pid == 4343);
  CHECK(loaded[1].start_time == 987700);
  CHECK(loaded[1].boot_id == "boot-a");
  CHECK(loaded[1].run_id == "run-3");

  records.remove("Foo");
  const auto left = records.load(problems);
  REQUIRE(left.size() == 1);
  CHECK(left[0].instance == "Bar");
  CHECK(problems.empty());
}

TEST_CASE("a malformed instance record is reported and skipped", "[instance-log]") {
  TempDir root;
  const InstanceRecords records(root.path());
  REQUIRE(records.save({"Good", 4242, 1, "boot", "run"}));
  const auto garbage = root.write("Garbage", "not a record\n");
  const auto init = root.write("Init", "1 5 boot run\n");  // pid 1 is never an instance
  root.write(".Half.new", "");                             // a save that did not finish
  std::vector<std::string> problems;
  const auto loaded = records.load(problems);
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].instance == "Good");
  REQUIRE(problems.size() == 2);
  CHECK(problems[0] == garbage.string() + ": not an instance record (expected PID START BOOT RUN)");
  CHECK_THAT(problems[1], Catch::StartsWith(init.string() + ": not an instance record"));
}

// ---- processes -------------------------------------------------------------------------

namespace {

// `sh -c script` as the leader of its own process group (as every instance is), with
// `env` as its whole environment and its stdout on a pipe. The group is killed and the
// leader reaped when the object goes away, unless the test reaped it.
class Shell {
 public:
  Shell(const std::string& script, const std::vector<std::string>& env) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<std::string> argv_text = {"/bin/sh", "-c", script};
    std::vector<std::string> env_text = env;
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(a.data());
    for (auto& e : env_text) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, "/bin/sh", &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    out_ = fds[0];
    REQUIRE(rc == 0);
  }
  ~Shell() {
    if (!reaped_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }
  Shell(const Shell&) = delete;
  Shell& operator=(const Shell&) = delete;

  pid_t pid() const { return pid_; }

  // The next line the shell writes (without '\n'); empty if none comes within 10 s.
  std::string read_line() {
    std::string line;
    char c = 0;
    pollfd p{out_, POLLIN, 0};
    while (::poll(&p, 1, 10'000) == 1 && ::read(out_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }

  // Waits for the leader to exit without reaping it: it stays a zombie.
  void wait_exited() {
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) == 0);
  }

  // Reaps the leader; returns its wait status.
  int reap() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
};

std::vector<std::string> environment(const std::string& run_id) {
  const char* path = std::getenv("PATH");
  return {std::string("PATH=") + (path ? path : "/usr/bin:/bin"), "HUB_RUN_ID=" + run_id};
}

// What hubd records for the instance `shell` runs.
InstanceRecord record_of(const Shell& shell, const std::string& run_id) {
  InstanceRecord r;
  r.instance = "Foo";
  r.pid = shell.pid();
  r.start_time = process_start_time(shell.pid()).value_or(0);
  r.boot_id = current_boot_id();
  r.run_id = run_id;
  return r;
}

std::vector<pid_t> sorted(std::vector<pid_t> pids) {
  std::sort(pids.begin(), pids.end());
  return pids;
}

pid_t to_pid(const std::string& text) { return static_cast<pid_t>(std::stol(text)); }

// A shell command for a group member that prints its pid once its own exec is complete,
// then waits without forking or exec'ing again: blocked opening a FIFO no one writes.
// (`sleep 30 & echo $!` prints the pid before the member has exec'd: caught in the
// middle of execve, its environment reads empty, and it is not recognised.)
class SettledMember {
 public:
  SettledMember() { REQUIRE(::mkfifo(fifo_.c_str(), 0600) == 0); }
  // Run as `sh -c` in the background of a Shell; `env_prefix` goes before it ("env -u X").
  // It prints "LABEL PID" (members started together print in either order).
  std::string command(const std::string& label = "member",
                      const std::string& env_prefix = "") const {
    return env_prefix + "sh -c 'echo " + label + " $$; read line < " + fifo_.string() + "' &\n";
  }
  // The pid in a line command() printed, by its label.
  static std::map<std::string, pid_t> pids(const std::vector<std::string>& lines) {
    std::map<std::string, pid_t> by_label;
    for (const auto& line : lines) {
      const size_t space = line.find(' ');
      if (space != std::string::npos)
        by_label[line.substr(0, space)] = to_pid(line.substr(space + 1));
    }
    return by_label;
  }

 private:
  TempDir dir_;
  fs::path fifo_ = dir_.path() / "never-written";
};

}  // namespace

TEST_CASE("a live process has a start time and a pid nobody has does not", "[instance-log]") {
  const auto mine = process_start_time(::getpid());
  REQUIRE(mine);
  Shell child("exec sleep 30", environment(new_run_id()));
  const auto childs = process_start_time(child.pid());
  REQUIRE(childs);
  CHECK(*childs >= *mine);
  // pid_max itself is never a pid: pids stay below it.
  const std::string pid_max = contents("/proc/sys/kernel/pid_max");
  CHECK_FALSE(process_start_time(to_pid(pid_max)));
}

TEST_CASE("a recorded process is found again only with its own start time and boot",
          "[instance-log]") {
  const std::string run_id = new_run_id();
  Shell child("exec sleep 30", environment(run_id));
  const InstanceRecord record = record_of(child, run_id);
  REQUIRE(record.start_time > 0);
  CHECK(leftover_processes(record) == std::vector<pid_t>{child.pid()});

  InstanceRecord reused = record;  // an earlier run's process, whose pid `child` reused
  reused.start_time = record.start_time - 1;
  reused.run_id = new_run_id();
  CHECK(leftover_processes(reused).empty());
  InstanceRecord later = record;
  later.start_time = record.start_time + 1;
  CHECK(leftover_processes(later).empty());

  InstanceRecord other_boot = record;
  other_boot.boot_id = "00000000-0000-0000-0000-000000000000";
  CHECK(leftover_processes(other_boot).empty());
}

TEST_CASE("a group member counts as left over only when it carries the run's HUB_RUN_ID",
          "[instance-log]") {
  const std::string run_id = new_run_id();
  const SettledMember member;
  Shell group(
      member.command("marked") + member.command("unmarked", "env -u HUB_RUN_ID ") + "wait\n",
      environment(run_id));
  auto pids = SettledMember::pids({group.read_line(), group.read_line()});
  REQUIRE(pids.size() == 2);
  const pid_t marked = pids["marked"], unmarked = pids["unmarked"];
  REQUIRE(::getpgid(unmarked) == group.pid());  // in the group, but not of this run
  const InstanceRecord record = record_of(group, run_id);
  CHECK(sorted(leftover_processes(record)) == sorted({group.pid(), marked}));
}

TEST_CASE("a zombie is not a leftover process", "[instance-log]") {
  const std::string run_id = new_run_id();
  Shell child("exec sleep 30", environment(run_id));
  const InstanceRecord record = record_of(child, run_id);
  REQUIRE(::kill(child.pid(), SIGKILL) == 0);
  child.wait_exited();
  REQUIRE(process_start_time(child.pid()));  // still in /proc, as a zombie
  CHECK(leftover_processes(record).empty());
  child.reap();
}

TEST_CASE("leftovers that ignore SIGTERM are killed, group members too, after the grace",
          "[instance-log]") {
  const std::string run_id = new_run_id();
  const SettledMember settled;
  Shell group("trap '' TERM\n" + settled.command() + "wait\n", environment(run_id));
  const auto pids = SettledMember::pids({group.read_line()});
  REQUIRE(pids.count("member") == 1);
  const pid_t member = pids.at("member");  // ignores TERM, as its shell does
  const InstanceRecord record = record_of(group, run_id);
  REQUIRE(sorted(leftover_processes(record)) == sorted({group.pid(), member}));

  const auto start = std::chrono::steady_clock::now();
  const auto stopped = stop_leftovers({record}, milliseconds(300));
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0] == "Foo (pid " + std::to_string(group.pid()) +
                          ", 2 process(es)) killed after the grace period");
  CHECK(took >= milliseconds(300));
  CHECK(took < milliseconds(5000));
  CHECK(leftover_processes(record).empty());
  const int status = group.reap();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("a leftover that obeys SIGTERM is stopped with it, and a gone one is left alone",
          "[instance-log]") {
  const std::string run_id = new_run_id();
  Shell child("exec sleep 30", environment(run_id));
  const InstanceRecord record = record_of(child, run_id);
  InstanceRecord gone = record;
  gone.instance = "Gone";
  gone.start_time = record.start_time + 1;  // its pid was reused by `child`

  const auto stopped = stop_leftovers({gone, record}, milliseconds(20'000));
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0] ==
        "Foo (pid " + std::to_string(child.pid()) + ", 1 process(es)) stopped with SIGTERM");
  const int status = child.reap();
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
}

TEST_CASE("a log that cannot be rotated keeps every byte and does not spin", "[instance-log]") {
  TempDir dir;
  const fs::path log = dir.path() / "Svc.log";
  fs::create_directories(rotated(log, 1) / "in-the-way");  // rename onto it fails
  InstanceLog out(log, 100, 1);
  const std::string line(49, 'x');
  std::string written;
  int failures = 0;
  for (int i = 0; i < 10; ++i) {
    const Status s = out.write(line + "\n");
    written += line + "\n";
    if (!s) {
      ++failures;
      CHECK_THAT(s.message(), Catch::Contains("Svc.log: cannot be rotated"));
    }
  }
  CHECK(contents(log) == written);  // nothing lost, all in the unrotated file
  // Tried once at 100 bytes, then again only after another 100: not on every write.
  CHECK(failures == 4);
}

TEST_CASE("a run recorded before its launch (no pid yet) is found by its HUB_RUN_ID alone",
          "[instance-log]") {
  // What a hubd killed between a launch and recording its pid leaves: a record with pid 0.
  TempDir dir;
  const std::string run_id = new_run_id();
  Shell child("exec sleep 30", environment(run_id));
  Shell stranger("exec sleep 30", environment(new_run_id()));
  const InstanceRecords records(dir.path() / "records");
  REQUIRE(records.save({"Run.pending", 0, 0, current_boot_id(), run_id}));
  std::vector<std::string> problems;
  const auto found = records.load(problems);
  CHECK(problems.empty());
  REQUIRE(found.size() == 1);
  CHECK(leftover_processes(found[0]) == std::vector<pid_t>{child.pid()});
  const auto stopped = stop_leftovers(found, std::chrono::milliseconds(0));
  REQUIRE(stopped.size() == 1);
  child.wait_exited();                    // killed (a test timeout otherwise)
  CHECK(::kill(stranger.pid(), 0) == 0);  // another run's process is left alone
}
