#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include <fstream>

#include <catch2/catch.hpp>

#include "core/scripts/script_runner.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::process_alive;
using hub::test::process_exits;
using hub::test::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path script(const TempDir& dir, const std::string& name, const std::string& body,
                bool executable = true) {
  const fs::path file = dir.write(name, "#!/bin/sh\n" + body);
  fs::permissions(file, executable ? fs::perms(0755) : fs::perms(0644));
  return file;
}

ScriptRequest request(const fs::path& file) {
  ScriptRequest r;
  r.script = file;
  r.env = {"PATH=/usr/bin:/bin"};
  r.timeout = 10s;
  return r;
}

}  // namespace

TEST_CASE("scripts in a directory run in C-locale order, leftovers skipped, non-executables warned",
          "[scripts]") {
  TempDir dir;
  for (const char* name :
       {"10-b", "02-a", "B", "a", ".hidden", "x~", "y.swp", "y.bak", "y.old", "y.new", "z.dpkg-old",
        "z.dpkg-dist", "w.rpmnew", "w.rpmsave", "v.ucf-dist"}) {
    script(dir, std::string("d/") + name, "exit 0\n");
  }
  script(dir, "d/noexec", "exit 0\n", false);
  fs::create_directories(dir.path() / "d/subdir");
  const ScriptSelection selection = select_scripts(dir.path() / "d");
  std::vector<std::string> names;
  for (const auto& s : selection.scripts) names.push_back(s.filename().string());
  CHECK(names == std::vector<std::string>{"02-a", "10-b", "B", "a"});
  REQUIRE(selection.warnings.size() == 1);
  CHECK(selection.warnings[0] ==
        (dir.path() / "d/noexec").string() + ": skipped, not executable (chmod +x to run it)");
}

TEST_CASE("an executable file where the directory would be counts as one script", "[scripts]") {
  TempDir dir;
  script(dir, "startup", "exit 0\n");
  CHECK(select_scripts(dir.path() / "startup").scripts ==
        std::vector<fs::path>{dir.path() / "startup"});
  CHECK(select_scripts(dir.path() / "missing").scripts.empty());
}

TEST_CASE("a script gets its arguments, environment, input and working directory", "[scripts]") {
  TempDir dir;
  auto r = request(script(dir, "show", "echo \"$1 $2 $GREETING $(pwd)\"; cat; echo oops >&2\n"));
  r.args = {"Hub", "startup"};
  r.env.push_back("GREETING=hello");
  r.cwd = dir.path();
  r.input = "{\"pid\":1}";
  const ScriptOutcome outcome = run_script(r);
  CHECK(outcome.ok());
  CHECK(outcome.describe() == "exited with 0");
  CHECK(outcome.out == "Hub startup hello " + dir.path().string() + "\n{\"pid\":1}");
  CHECK(outcome.err == "oops\n");
}

TEST_CASE("exit codes and signals are reported as they happened", "[scripts]") {
  TempDir dir;
  const ScriptOutcome failed = run_script(request(script(dir, "fail", "exit 3\n")));
  CHECK_FALSE(failed.ok());
  CHECK(failed.exit_code == 3);
  CHECK(failed.describe() == "exited with 3");
  const ScriptOutcome crashed = run_script(request(script(dir, "crash", "kill -SEGV $$\n")));
  CHECK(crashed.signal == SIGSEGV);
  CHECK(crashed.describe() == "killed by SIGSEGV");
}

TEST_CASE("a script past its timeout is killed with its whole process group", "[scripts]") {
  TempDir dir;
  const fs::path pid_file = dir.path() / "child.pid";
  auto r = request(
      script(dir, "hang", "sleep 1000 & echo $! > " + pid_file.string() + "\nsleep 1000\n"));
  r.timeout = 1s;  // time for the shell to write the pid file, even on a loaded machine
  const ScriptOutcome outcome = run_script(r);
  CHECK(outcome.timed_out);
  CHECK_THAT(outcome.describe(), Catch::StartsWith("timed out after "));
  CHECK(outcome.duration >= 1s);
  int child = 0;
  std::ifstream(pid_file) >> child;
  REQUIRE(child > 0);
  CHECK(process_exits(child, 5s));  // the background child dies with the group
}

TEST_CASE("output beyond the cap is discarded without blocking the script", "[scripts]") {
  TempDir dir;
  auto r =
      request(script(dir, "chatty", "head -c 1000000 /dev/zero | tr '\\0' x; echo done >&2\n"));
  r.output_cap = 1000;
  const ScriptOutcome outcome = run_script(r);
  CHECK(outcome.ok());
  CHECK(outcome.out == std::string(1000, 'x'));
  CHECK(outcome.out_truncated);
  CHECK(outcome.err == "done\n");
  CHECK_FALSE(outcome.err_truncated);
}

TEST_CASE("a script that ignores its input does not disturb the runner", "[scripts]") {
  TempDir dir;
  auto r = request(script(dir, "deaf", "exit 0\n"));
  r.input = std::string(4 * 1024 * 1024, 'p');  // far more than a pipe holds
  CHECK(run_script(r).ok());
}

TEST_CASE("a file that cannot be executed gives a clear reason", "[scripts]") {
  TempDir dir;
  const fs::path file = dir.write("noshebang", "echo hi\n");
  fs::permissions(file, fs::perms(0755));
  const ScriptOutcome outcome = run_script(request(file));
  CHECK_FALSE(outcome.ok());
  CHECK_THAT(outcome.describe(), Catch::Contains("could not start: " + file.string()));
  CHECK_THAT(outcome.describe(), Catch::Contains("#!"));
}

TEST_CASE("a script starts with no blocked or ignored signals and only fds 0, 1 and 2",
          "[scripts]") {
  TempDir dir;
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: would leak if not closed
  REQUIRE(leaked > 2);
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old);  // as in hubd, where every thread blocks it
  const auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  auto r = request(script(dir, "probe",
                          // Read with the shell's own builtins: a forked grep would catch
                          // the shell while it blocks signals around the fork.
                          "while read -r k v; do case $k in SigBlk:|SigIgn:) "
                          "printf '%s\\t%s\\n' \"$k\" \"$v\";; esac; done < /proc/$$/status\n"
                          "[ -e /proc/$$/fd/" +
                              std::to_string(leaked) +
                              " ] && echo leaked\n"
                              "exit 0\n"));
  const ScriptOutcome outcome = run_script(r);
  ::signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(leaked);
  CHECK(outcome.ok());
  CHECK_THAT(outcome.out, Catch::StartsWith("SigBlk:\t0000000000000000\nSigIgn:\t"));
  // Bit n-1 is signal n. Signals 32 and 33 are glibc's own, which its posix_spawn sets to
  // ignore on purpose; 1 to 31 must all have their default action.
  const size_t ign = outcome.out.find("SigIgn:\t");
  REQUIRE(ign != std::string::npos);
  const uint64_t ignored = std::stoull(outcome.out.substr(ign + 8, 16), nullptr, 16);
  CHECK((ignored & 0x7fffffffULL) == 0);
  CHECK(outcome.out.find("leaked") == std::string::npos);
}

// Polls, with a deadline, until `file` exists with a number in it.
static int wait_for_number(const fs::path& file, std::chrono::seconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int n = 0;
    if (std::ifstream(file) >> n && n > 0) return n;
    ::poll(nullptr, 0, 10);
  }
  return 0;
}

// Polls, with a deadline, until `dir` holds a file (a run's record); that file.
static fs::path wait_for_record(const fs::path& dir, std::chrono::seconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) return e.path();
    ::poll(nullptr, 0, 10);
  }
  return {};
}

TEST_CASE("a background child that keeps stdout open does not hold the run", "[scripts]") {
  TempDir dir;
  const ScriptOutcome outcome =
      run_script(request(script(dir, "detach", "sleep 3 &\necho started\n")));
  CHECK(outcome.ok());
  CHECK(outcome.out == "started\n");
  CHECK(outcome.duration < 2s);
}

TEST_CASE("a run is cancelled at once when the cancel fd becomes readable", "[scripts]") {
  TempDir dir;
  const int cancel = ::eventfd(1, EFD_CLOEXEC);  // already readable: the hub is stopping
  auto r = request(script(dir, "long", "sleep 3600\n"));
  r.cancel_fd = cancel;
  const ScriptOutcome outcome = run_script(r);
  ::close(cancel);
  CHECK(outcome.cancelled);
  CHECK_FALSE(outcome.ok());
  CHECK_THAT(outcome.describe(), Catch::StartsWith("cancelled because the hub is stopping"));
  CHECK(outcome.duration < 5s);
}

TEST_CASE("background children die when the script exits; one that left with setsid lives on",
          "[scripts]") {
  TempDir dir;
  const fs::path bg = dir.path() / "bg", detached = dir.path() / "detached";
  const ScriptOutcome outcome = run_script(
      request(script(dir, "spawner",
                     "sleep 1000 & echo $! > " + bg.string() + "\n" + "setsid sh -c 'echo $$ > " +
                         detached.string() + "; exec sleep 1000' &\n" + "while [ ! -s " +
                         detached.string() + " ]; do sleep 0.01; done\n")));
  CHECK(outcome.ok());
  int background = 0, left = 0;
  std::ifstream(bg) >> background;
  std::ifstream(detached) >> left;
  REQUIRE(background > 0);
  REQUIRE(left > 0);
  CHECK(process_exits(background, 5s));
  CHECK(process_alive(left));  // killed with the group it would have died at once
  ::kill(left, SIGKILL);
}

TEST_CASE("a run is recorded while it runs and what a dead parent left is killed from the record",
          "[scripts]") {
  TempDir dir;
  const fs::path records = dir.path() / "records", left = dir.path() / "left";
  const fs::path child_file = dir.path() / "child";
  auto r = request(script(dir, "hang",
                          "echo \"$HUB_RUN_ID\" > run_id\n"
                          "sh -c 'trap \"\" TERM HUP; exec sleep 1000' &\n"
                          "echo $! > " +
                              child_file.string() + "\nwait\n"));
  r.cwd = dir.path();
  r.timeout = 60s;
  r.record_dir = records;
  ScriptOutcome outcome;
  std::thread runner([&] { outcome = run_script(r); });
  const int child = wait_for_number(child_file);
  REQUIRE(child > 0);
  // Once the child is sleep, past its exec, the run's processes are settled.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string comm;
  while (comm != "sleep" && std::chrono::steady_clock::now() < deadline) {
    std::ifstream("/proc/" + std::to_string(child) + "/comm") >> comm;
    if (comm != "sleep") ::poll(nullptr, 0, 10);
  }
  REQUIRE(comm == "sleep");
  // The record a hubd killed now would leave behind: a copy of it.
  const fs::path record = wait_for_record(records);
  REQUIRE(!record.empty());
  std::string run_id;
  std::ifstream(dir.path() / "run_id") >> run_id;
  CHECK(record.filename() == run_id);
  fs::create_directories(left);
  fs::copy_file(record, left / record.filename());

  const auto lines = stop_script_leftovers(left);
  runner.join();
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::Contains("2 process(es)"));
  CHECK(outcome.signal == SIGKILL);
  CHECK(process_exits(child, 5s));
  CHECK(fs::is_empty(left));
  CHECK(fs::is_empty(records));  // the run removed its own record when it ended
}

TEST_CASE("a record whose pid now belongs to another process kills nothing", "[scripts]") {
  TempDir dir;
  auto r = request(script(dir, "hang", "exec sleep 1000\n"));
  r.timeout = 60s;
  const int cancel = ::eventfd(0, EFD_CLOEXEC);
  r.cancel_fd = cancel;
  r.record_dir = dir.path() / "records";
  ScriptOutcome outcome;
  std::thread runner([&] { outcome = run_script(r); });
  const fs::path record = wait_for_record(r.record_dir);
  REQUIRE(!record.empty());
  // Written first with no pid (the launch under way), then with the pid: wait for that.
  int pid = 0;
  uint64_t start_time = 0;
  std::string boot, run;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s;
       pid == 0 && std::chrono::steady_clock::now() < deadline;) {
    std::ifstream(record) >> pid >> start_time >> boot >> run;
    if (pid == 0) ::poll(nullptr, 0, 10);
  }
  REQUIRE(pid > 0);
  // The same pid, but started at another time: the pid was reused, not ours to kill.
  const fs::path left = dir.path() / "left";
  fs::create_directories(left);
  std::ofstream(left / "stale") << pid << ' ' << start_time + 1 << ' ' << boot << " other\n";
  CHECK(stop_script_leftovers(left).empty());
  CHECK(process_alive(pid));
  const uint64_t one = 1;
  CHECK(::write(cancel, &one, sizeof one) == sizeof one);
  runner.join();
  ::close(cancel);
  CHECK(outcome.cancelled);
}
