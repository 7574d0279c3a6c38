#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "bus/unique_fd.h"
#include "core/system/child_launcher.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;

namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

// `sh -c script` with its stdout on a pipe.
struct Shell {
  Pipe out;
  ChildSpec spec;
  explicit Shell(const std::string& script) {
    auto opened = Pipe::open();
    REQUIRE(opened);
    out = std::move(*opened);
    spec.program = "/bin/sh";
    spec.args = {"-c", script};
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.stdout_fd = out.write.get();
  }
  Child launch() {
    auto child = launch_child(spec);
    REQUIRE(child);
    out.write.reset();
    return std::move(*child);
  }
  // Everything the shell (and what inherited its stdout) wrote, to the end.
  std::string output() {
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out.read.get(), buf, sizeof buf)) > 0) text.append(buf, size_t(n));
    return text;
  }
};

int exit_code(Child& child) {
  auto status = child.reap();
  REQUIRE(status);
  REQUIRE(WIFEXITED(*status));
  return WEXITSTATUS(*status);
}

// Waits (on its pidfd) until `pid` has exited; false after 10 s.
bool exits(const unique_fd& pidfd) {
  pollfd p{pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 10'000) == 1;
}

}  // namespace

TEST_CASE("a unique_fd closes its descriptor once, when its owner goes away", "[launcher]") {
  int raw = -1;
  {
    unique_fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw = fd.get();
    REQUIRE(is_open(raw));
    unique_fd moved(std::move(fd));
    CHECK_FALSE(fd);
    CHECK(moved.get() == raw);
    CHECK(is_open(raw));
  }
  CHECK_FALSE(is_open(raw));

  unique_fd kept(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int released = kept.release();
  CHECK_FALSE(kept);
  CHECK(is_open(released));
  kept.reset(released);
  kept.reset();
  CHECK_FALSE(is_open(released));
}

TEST_CASE("a pipe closes both ends with its owner", "[launcher]") {
  int read_end = -1, write_end = -1;
  {
    auto pipe = Pipe::open();
    REQUIRE(pipe);
    read_end = pipe->read.get();
    write_end = pipe->write.get();
    CHECK((::fcntl(read_end, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(write_end, F_GETFD) & FD_CLOEXEC) != 0);
  }
  CHECK_FALSE(is_open(read_end));
  CHECK_FALSE(is_open(write_end));
}

TEST_CASE("a child runs with its arguments, environment and working directory", "[launcher]") {
  TempDir dir;
  Shell sh("echo \"$0 $1 $FOO\"; pwd; exit 3");
  sh.spec.args.insert(sh.spec.args.end(), {"zero", "one"});  // `sh -c`'s $0 and $1
  sh.spec.env.push_back("FOO=bar");
  sh.spec.cwd = dir.path();
  Child child = sh.launch();
  CHECK(child.pid() > 0);
  CHECK(child.pidfd() >= 0);
  CHECK(sh.output() == "zero one bar\n" + fs::canonical(dir.path()).string() + "\n");
  CHECK(exit_code(child) == 3);
  CHECK(child.pid() == -1);  // reaped: owns nothing
}

TEST_CASE("a child leads a process group, or a session, of its own", "[launcher]") {
  Shell group("exec sleep 30");
  Child in_group = group.launch();
  CHECK(::getpgid(in_group.pid()) == in_group.pid());
  CHECK(::getsid(in_group.pid()) == ::getsid(0));

  Shell session("exec sleep 30");
  session.spec.group = ChildSpec::Group::kSession;
  Child in_session = session.launch();
  CHECK(::getsid(in_session.pid()) == in_session.pid());

  Shell inherit("exec sleep 30");
  inherit.spec.group = ChildSpec::Group::kInherit;
  Child same = inherit.launch();
  CHECK(::getpgid(same.pid()) == ::getpgid(0));
}

TEST_CASE("a child dropped while running takes its whole process group with it", "[launcher]") {
  Shell sh("sh -c 'echo $$; exec sleep 30' & wait");
  Child child = sh.launch();
  std::string line;
  char c;
  while (::read(sh.out.read.get(), &c, 1) == 1 && c != '\n') line += c;
  const pid_t member = static_cast<pid_t>(std::stol(line));
  const unique_fd member_fd(static_cast<int>(::syscall(SYS_pidfd_open, member, 0)));
  REQUIRE(member_fd);
  const pid_t leader = child.pid();
  { Child dropped = std::move(child); }
  CHECK(exits(member_fd));
  CHECK(::waitpid(leader, nullptr, WNOHANG) == -1);  // reaped already
  CHECK(errno == ECHILD);
}

TEST_CASE("a released child is left running", "[launcher]") {
  Shell sh("exec sleep 30");
  Child child = sh.launch();
  unique_fd pidfd = child.take_pidfd();
  const pid_t pid = child.release();
  { Child gone = std::move(child); }
  pollfd p{pidfd.get(), POLLIN, 0};
  CHECK(::poll(&p, 1, 50) == 0);  // still running
  ::kill(pid, SIGKILL);
  CHECK(::waitpid(pid, nullptr, 0) == pid);
}

TEST_CASE("a child keeps only stdio and the descriptors asked for, as the numbers asked",
          "[launcher]") {
  const unique_fd stray(::open("/dev/null", O_RDONLY));  // not close-on-exec
  const unique_fd asked(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  REQUIRE(stray);
  Shell sh("ls /proc/$$/fd; exit 0");  // the shell's own descriptors
  sh.spec.fds.emplace_back(asked.get(), 7);
  Child child = sh.launch();
  CHECK(sh.output() == "0\n1\n2\n7\n");
  CHECK(exit_code(child) == 0);
}

TEST_CASE("signals come back to their default action and unblocked", "[launcher]") {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_term {
  }, old_usr1{};
  ::sigaction(SIGTERM, &ignore, &old_term);
  ::sigaction(SIGUSR1, &ignore, &old_usr1);
  Shell sh("grep -E '^Sig(Ign|Blk)' /proc/self/status");
  sh.spec.signals = ChildSpec::Signals::kCommon;
  Child child = sh.launch();
  const std::string common = sh.output();
  CHECK(exit_code(child) == 0);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::sigaction(SIGUSR1, &old_usr1, nullptr);
  CHECK(common == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST_CASE("a step that fails is named, and so is a failed exec with its likely cause",
          "[launcher]") {
  TempDir dir;
  Shell missing_dir("exit 0");
  missing_dir.spec.cwd = dir.path() / "nowhere";
  auto failed = launch_child(missing_dir.spec);
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == "working directory: No such file or directory");

  const fs::path no_line = dir.write("no-line", "echo hi\n");
  fs::permissions(no_line, fs::perms(0755));
  ChildSpec spec;
  spec.program = no_line;
  failed = launch_child(spec);
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == no_line.string() + ": Exec format error (does it start with a #! line?)");

  const fs::path no_interpreter = dir.write("no-interpreter", "#!/nonexistent/sh\n");
  fs::permissions(no_interpreter, fs::perms(0755));
  spec.program = no_interpreter;
  failed = launch_child(spec);
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == no_interpreter.string() +
                              ": No such file or directory (its #! interpreter, or the dynamic "
                              "loader it names, is missing)");

  spec.program = "/bin/true";
  spec.limits.push_back({RLIMIT_NOFILE, RLIM_INFINITY, "limits.open_files"});  // > nr_open
  failed = launch_child(spec);
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == "limits.open_files: Operation not permitted");
}

TEST_CASE("a child takes on its account: supplementary groups, then group, then user",
          "[launcher][security]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root");
    return;
  }
  Shell sh("id -u; id -g; id -G");
  sh.spec.account = Account{65534, 65533, gid_t{4242}};
  Child child = sh.launch();
  CHECK(sh.output() == "65534\n65533\n65533 4242\n");
  CHECK(exit_code(child) == 0);

  Shell none("id -G");
  none.spec.account = Account{65534, 65533, std::nullopt};
  Child alone = none.launch();
  CHECK(none.output() == "65533\n");
  CHECK(exit_code(alone) == 0);
}
