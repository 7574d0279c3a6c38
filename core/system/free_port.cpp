#include "core/system/free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bus/unique_fd.h"

namespace hub {

Result<std::vector<int>> free_ports(size_t count) {
  std::vector<unique_fd> bound;  // closed on return, once every port is known
  std::vector<int> ports;
  for (size_t i = 0; i < count; ++i) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Status::error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return Status::error(std::string("bind: ") + std::strerror(errno));
    ports.push_back(static_cast<int>(ntohs(addr.sin_port)));
    bound.push_back(std::move(fd));
  }
  return ports;
}

Result<int> free_port() {
  auto ports = free_ports(1);
  if (!ports) return ports.status();
  return ports->front();
}

}  // namespace hub
