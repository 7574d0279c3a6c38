// unique_fd: the one owner of a file descriptor, closed when the owner goes away (or is
// reset), so no error path has to remember to close it. Move-only; -1 means none.
// Not thread-safe (like the int it wraps).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "bus/status.h"

namespace hub {

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  ~unique_fd() { reset(); }
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Closes the fd held (if any) and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Gives the fd up without closing it.
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// Both ends of a pipe, each closed with its owner.
struct Pipe {
  unique_fd read, write;
  // A fresh pipe (close-on-exec ends, with `flags` added: O_NONBLOCK, ...); fails with
  // "pipe: reason".
  static Result<Pipe> open(int flags = 0) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | flags) != 0) {
      return Status::error(std::string("pipe: ") + std::strerror(errno));
    }
    return Pipe{unique_fd(fds[0]), unique_fd(fds[1])};
  }
};

}  // namespace hub
