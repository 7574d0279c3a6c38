#include "bus/bus_paths.h"

#include <cstdlib>

#include "bus/root_layout.h"

namespace hub {

BusPaths BusPaths::for_root(const std::filesystem::path& root) { return RootLayout(root).bus(); }

std::filesystem::path default_root() {
  const char* env = std::getenv("HUB_ROOT");
  return env != nullptr && *env != '\0' ? env : ".";
}

std::filesystem::path default_credential_file(const BusPaths& paths) {
  const char* own = std::getenv("HUB_CREDENTIAL_FILE");
  return own != nullptr && *own != '\0' ? std::filesystem::path(own) : paths.admin_credential;
}

std::string ipc_endpoint(const std::filesystem::path& socket) { return "ipc://" + socket.string(); }

}  // namespace hub

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hub {

Status probe_endpoint(const std::string& endpoint) {
  constexpr std::string_view kIpc = "ipc://";
  if (endpoint.compare(0, kIpc.size(), kIpc) != 0) return Status::ok();
  const std::string path = endpoint.substr(kIpc.size());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::error(path + ": the path is too long for a Unix socket");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::error(std::string("socket: ") + std::strerror(errno));
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc == 0) return Status::ok();
  if (err == ENOENT) return Status::error(path + " does not exist");
  if (err == ECONNREFUSED) return Status::error(path + " is left over from a hub that is gone");
  return Status::error(path + ": " + std::strerror(err));
}

}  // namespace hub
