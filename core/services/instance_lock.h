// At most one hubd per root: an flock(2) on ROOT/var/run/hub/hubd.lock, held for the
// life of the process. The kernel drops it when the process dies however it dies, so a
// killed hubd never blocks the next start. Move-only RAII handle.
#pragma once

#include <filesystem>

#include "bus/status.h"
#include "bus/unique_fd.h"

namespace hub {

class InstanceLock {
 public:
  // Takes the lock and writes our pid into the file. Fails, naming the pid that holds
  // it, when another process has it.
  static Result<InstanceLock> acquire(const std::filesystem::path& file);

  InstanceLock(InstanceLock&& other) noexcept = default;
  InstanceLock& operator=(InstanceLock&&) = delete;
  InstanceLock(const InstanceLock&) = delete;

 private:
  explicit InstanceLock(unique_fd fd) : fd_(std::move(fd)) {}
  unique_fd fd_;
};

}  // namespace hub
