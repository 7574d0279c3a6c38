// A program the test starts for real (hubd, bus-tap), with its stdout and stderr read
// line by line on background threads so a test can wait for a line instead of sleeping.
// Killed (SIGKILL) if still running when destroyed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hub::test {

using namespace std::chrono_literals;

// Variables set (or replaced) in a child's environment, which is otherwise the test's.
using EnvVars = std::vector<std::pair<std::string, std::string>>;

class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const EnvVars& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const;
  void signal(int sig);

  // Waits until some stdout line contains `text`; returns that line.
  std::optional<std::string> wait_stdout(const std::string& text,
                                         std::chrono::milliseconds timeout = 20s);
  std::optional<std::string> wait_stderr(const std::string& text,
                                         std::chrono::milliseconds timeout = 20s);
  // Waits for the process to exit; returns its exit code, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 20s);

  // Everything read so far (complete once the process has exited and wait_exit returned).
  std::vector<std::string> stdout_lines();
  std::string stderr_text();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when `pid` exists and is not a zombie.
bool process_alive(int pid);
// Waits until `pid` (not necessarily our child) has exited: true when it has (or never
// existed) within `timeout`.
bool process_exits(int pid, std::chrono::milliseconds timeout);

}  // namespace hub::test
