// The control thread: hubd's long operations (starting, stopping and reloading modules,
// at startup, on SIGHUP or for an API request) run on it one at a time, in the order they
// were queued, so hubd's main thread keeps answering the API and feeding the watchdog
// meanwhile. The module manager is used from this thread only once it runs.
//
// The main thread queues operations and runs what they hand back (on_main()) whenever
// wake_fd() turns readable: replies go out on the main thread's sockets, the service
// manager is told from there. Thread-safe, except that run_main_tasks() and stop() are
// the main thread's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bus/status.h"
#include "bus/unique_fd.h"

namespace hub {

struct ControlOperation {
  std::string what;           // for the log: "start Timer"
  std::function<void()> run;  // on the control thread
  // On the main thread, instead of run, when the operation is not carried out: its
  // deadline passed before it could begin (a timeout), or hubd is stopping.
  std::function<void(const Status& why)> dropped;
  // The caller gives up then: not begun by then, it is dropped.
  std::optional<std::chrono::system_clock::time_point> deadline;
};

class ControlThread {
 public:
  ControlThread();   // starts the thread; throws std::system_error when it cannot
  ~ControlThread();  // stop()
  ControlThread(const ControlThread&) = delete;
  ControlThread& operator=(const ControlThread&) = delete;

  // Queues `op` after those already queued. After stop(), it is dropped at once.
  void submit(ControlOperation op);
  // Runs `task` on the main thread, at its next run_main_tasks(), after those handed
  // over before it.
  void on_main(std::function<void()> task);

  // Readable while tasks wait for run_main_tasks().
  int wake_fd() const { return wake_.get(); }
  void run_main_tasks();
  // True while an operation runs or waits.
  bool busy() const;

  // Drops what is queued (`why`), waits for the running operation to end (a stop signal
  // cuts it short through the module manager's cancel_fd, as without this thread), then
  // runs every task handed over. Idempotent.
  void stop(const Status& why);

 private:
  void loop();

  unique_fd wake_;  // an eventfd
  mutable std::mutex mu_;
  std::condition_variable queued_cv_;
  std::deque<ControlOperation> queue_;       // guarded by mu_
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool running_ = false;                     // an operation runs; guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace hub
