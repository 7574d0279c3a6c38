#include "support/notify_listener.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <sstream>
#include <stdexcept>

namespace hub::test {

NotifyListener::NotifyListener(std::filesystem::path path) : path_(std::move(path)) {
  fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path_.string();
  if (!fd_ || p.size() >= sizeof addr.sun_path) throw std::runtime_error("notify socket: " + p);
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  if (::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("notify socket: bind " + p + ": " + std::strerror(errno));
  }
}

NotifyListener::~NotifyListener() {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

std::optional<std::string> NotifyListener::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd item{fd_.get(), POLLIN, 0};
    const int ready = ::poll(&item, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
    if (n >= 0) return std::string(buffer, static_cast<size_t>(n));
  }
}

std::vector<std::string> NotifyListener::until_line(const std::string& line,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::string> seen;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    auto message = next(left);
    if (!message) return {};
    seen.push_back(*message);
    if (has_line(*message, line)) return seen;
  }
}

bool has_line(const std::string& message, const std::string& line) {
  std::istringstream in(message);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

}  // namespace hub::test
