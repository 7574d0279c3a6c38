// journald's stream socket for tests: listens at a path the test chooses (give it to hubd
// as $HUB_JOURNAL_SOCKET), accepts every connection and keeps what each one sent, so a
// test can wait for a line instead of sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bus/unique_fd.h"

namespace hub::test {

class FakeJournal {
 public:
  explicit FakeJournal(std::filesystem::path path);  // throws when it cannot listen
  ~FakeJournal();
  FakeJournal(const FakeJournal&) = delete;
  FakeJournal& operator=(const FakeJournal&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Everything one connection sent (header included), once it holds `text`; nullopt when
  // no connection has within `timeout`.
  std::optional<std::string> wait_for(const std::string& text, std::chrono::milliseconds timeout);

 private:
  void run();

  std::filesystem::path path_;
  unique_fd listener_;
  unique_fd stop_;  // an eventfd: the thread ends when it is written
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> streams_;  // guarded by mu_; one per connection, in order
  std::thread thread_;
};

}  // namespace hub::test
