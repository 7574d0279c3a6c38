#include "core/system/journal_stream.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace hub {

Result<unique_fd> open_journal_stream(const std::filesystem::path& socket,
                                      const std::string& identifier) {
  const std::string path = socket.string();
  const auto failed = [&](const char* step) {
    return Status::error(path + ": " + step + ": " + std::strerror(errno));
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Status::error(path + ": not a socket path");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return failed("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return failed("connect");
  }
  ::shutdown(fd.get(), SHUT_RD);
  // As systemd does: room for bursts of output while journald is busy (best effort).
  const int sndbuf = 8 << 20;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  // identifier, unit id (none), priority, level prefix, syslog, kmsg, console
  const std::string header = identifier + "\n\n6\n1\n0\n0\n0\n";
  for (size_t sent = 0; sent < header.size();) {
    const ssize_t n = ::send(fd.get(), header.data() + sent, header.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed("send");
    sent += static_cast<size_t>(n);
  }
  return fd;
}

std::string journal_stream_id(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

}  // namespace hub
