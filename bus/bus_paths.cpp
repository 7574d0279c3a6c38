#include "bus/bus_paths.h"

#include <cstdlib>

#include "bus/root_layout.h"

namespace hub {

BusPaths BusPaths::for_root(const std::filesystem::path& root) { return RootLayout(root).bus(); }

std::filesystem::path default_root() {
  const char* env = std::getenv("HUB_ROOT");
  return env != nullptr && *env != '\0' ? env : ".";
}

std::filesystem::path installed_config_file() {
  // The prefix this was configured with, else the package's place: a package is built
  // with cpack from a tree configured for any prefix, and installs to /etc (for /usr).
  std::error_code ec;
  const std::filesystem::path configured = HUB_INSTALLED_CONFIG;
  const std::filesystem::path packaged = "/etc/hub/hub.yml";
  return !std::filesystem::exists(configured, ec) && std::filesystem::exists(packaged, ec)
             ? packaged
             : configured;
}

HubLocation locate_hub(const std::filesystem::path& cwd,
                       const std::filesystem::path& installed_config) {
  namespace fs = std::filesystem;
  const auto env = [](const char* name) -> fs::path {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
  };
  if (const fs::path root = env("HUB_ROOT"); !root.empty()) {
    const fs::path config = env("HUB_YML");
    return {root, config.empty() ? RootLayout(root).config_file() : config};
  }
  const RootLayout here(cwd);
  std::error_code ec;
  const bool installed = fs::exists(installed_config, ec);
  // In /, /var/run/hub is the installed hub's /run/hub: the root is the installed hub's.
  if (installed && fs::equivalent(cwd, "/", ec)) return {"/", installed_config};
  if (fs::exists(here.config_file(), ec) || fs::is_directory(here.run_dir(), ec)) {
    return {cwd, here.config_file()};
  }
  if (installed) return {"/", installed_config};
  return {cwd, here.config_file()};
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
