#include "support/child_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include <boost/process.hpp>

namespace hub::test {
namespace bp = boost::process;

struct ChildProcess::Impl {
  bp::ipstream out, err;
  bp::child child;
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::string> out_lines, err_lines;  // guarded by mu
  int streams_open = 2;                           // guarded by mu
  std::thread out_reader, err_reader;

  Impl(const std::string& program, const std::vector<std::string>& args, const EnvVars& env)
      : child(env.empty() ? program : std::string("/usr/bin/env"),
              bp::args(with_env(program, args, env)), bp::std_out > out, bp::std_err > err,
              bp::std_in.close()) {
    out_reader = std::thread([this] { read_lines(out, out_lines); });
    err_reader = std::thread([this] { read_lines(err, err_lines); });
  }

  // Extra variables go through env(1), which execs the program (the same pid): Boost
  // 1.74's environment lookup reads past short entries (AddressSanitizer sees it).
  static std::vector<std::string> with_env(const std::string& program,
                                           const std::vector<std::string>& args,
                                           const EnvVars& vars) {
    if (vars.empty()) return args;
    std::vector<std::string> out;
    for (const auto& [key, value] : vars) out.push_back(key + "=" + value);
    out.push_back(program);
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  void read_lines(bp::ipstream& stream, std::vector<std::string>& lines) {
    for (std::string line; std::getline(stream, line);) {
      std::lock_guard lock(mu);
      lines.push_back(line);
      changed.notify_all();
    }
    std::lock_guard lock(mu);
    --streams_open;
    changed.notify_all();
  }

  std::optional<std::string> wait_line(std::vector<std::string>& lines, const std::string& text,
                                       std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    std::optional<std::string> found;
    size_t checked = 0;
    changed.wait_for(lock, timeout, [&] {
      for (; checked < lines.size(); ++checked) {
        if (lines[checked].find(text) != std::string::npos) {
          found = lines[checked];
          return true;
        }
      }
      return streams_open == 0;
    });
    return found;
  }
};

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const EnvVars& env)
    : impl_(std::make_unique<Impl>(program, args, env)) {}

ChildProcess::~ChildProcess() {
  std::error_code ignored;
  if (impl_->child.running(ignored)) {
    ::kill(impl_->child.id(), SIGKILL);
    impl_->child.wait(ignored);
  }
  impl_->out_reader.join();
  impl_->err_reader.join();
}

int ChildProcess::pid() const { return impl_->child.id(); }
void ChildProcess::signal(int sig) { ::kill(impl_->child.id(), sig); }

std::optional<std::string> ChildProcess::wait_stdout(const std::string& text,
                                                     std::chrono::milliseconds timeout) {
  return impl_->wait_line(impl_->out_lines, text, timeout);
}

std::optional<std::string> ChildProcess::wait_stderr(const std::string& text,
                                                     std::chrono::milliseconds timeout) {
  return impl_->wait_line(impl_->err_lines, text, timeout);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  // A pidfd becomes readable when the process exits: a real wait, no polling loop.
  // (Boost.Process's wait_for relies on SIGCHLD timing and can oversleep.)
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, impl_->child.id(), 0));
  if (pidfd >= 0) {
    pollfd item{pidfd, POLLIN, 0};
    const int ready = ::poll(&item, 1, static_cast<int>(timeout.count()));
    ::close(pidfd);
    if (ready <= 0) return std::nullopt;
  }
  std::error_code ec;
  impl_->child.wait(ec);
  if (ec) return std::nullopt;
  // The streams close right after exit; wait for the readers so output is complete.
  std::unique_lock lock(impl_->mu);
  impl_->changed.wait_for(lock, timeout, [&] { return impl_->streams_open == 0; });
  return impl_->child.exit_code();
}

std::vector<std::string> ChildProcess::stdout_lines() {
  std::lock_guard lock(impl_->mu);
  return impl_->out_lines;
}

std::string ChildProcess::stderr_text() {
  std::lock_guard lock(impl_->mu);
  std::string all;
  for (const auto& line : impl_->err_lines) all += line + "\n";
  return all;
}

bool process_alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

bool process_exits(int pid, std::chrono::milliseconds timeout) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return errno == ESRCH;  // already gone
  pollfd item{pidfd, POLLIN, 0};
  const bool exited = ::poll(&item, 1, static_cast<int>(timeout.count())) == 1;
  ::close(pidfd);
  return exited;
}

}  // namespace hub::test
