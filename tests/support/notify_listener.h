// The service manager's end of sd_notify for tests: a datagram socket bound at a path
// the test chooses (give it to hubd as $NOTIFY_SOCKET), with waits on what arrives
// instead of sleeps. Each datagram is kept as it came, "KEY=VALUE" lines and all.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bus/unique_fd.h"

namespace hub::test {

class NotifyListener {
 public:
  // Binds a socket at `path` (throws when it cannot).
  explicit NotifyListener(std::filesystem::path path);
  ~NotifyListener();
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The next datagram; nullopt when none comes within `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout);
  // Datagrams until one has the line `line` (that one last); empty when `timeout` passes
  // first (what came meanwhile is lost to later calls).
  std::vector<std::string> until_line(const std::string& line, std::chrono::milliseconds timeout);

 private:
  std::filesystem::path path_;
  unique_fd fd_;
};

// True when `message` has the line `line` (exactly, not as part of another).
bool has_line(const std::string& message, const std::string& line);

}  // namespace hub::test
