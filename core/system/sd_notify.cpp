#include "core/system/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace hub {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// A decimal number with nothing else, or nullopt.
std::optional<uint64_t> parse_number(const char* text) {
  if (text == nullptr || *text < '0' || *text > '9') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return static_cast<uint64_t>(value);
}

int64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

std::string with_status(std::string head, std::string_view status) {
  if (!status.empty()) head += "\nSTATUS=" + status_line(status);
  return head;
}

}  // namespace

SdNotifier::SdNotifier(std::string address, microseconds watchdog)
    : address_(std::move(address)), watchdog_(watchdog), next_ping_(Clock::now()) {}

SdNotifier SdNotifier::from_environment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::string address = socket ? socket : "";
  microseconds watchdog{0};
  if (const auto usec = parse_number(std::getenv("WATCHDOG_USEC")); usec && *usec > 0) {
    const auto pid = parse_number(std::getenv("WATCHDOG_PID"));
    const bool ours = std::getenv("WATCHDOG_PID") == nullptr ||
                      (pid && *pid == static_cast<uint64_t>(::getpid()));
    if (ours) watchdog = microseconds(static_cast<int64_t>(*usec));
  }
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  if (address.empty()) return SdNotifier();
  return SdNotifier(std::move(address), watchdog);
}

std::optional<microseconds> SdNotifier::watchdog_interval() const {
  if (!enabled() || watchdog_.count() <= 0) return std::nullopt;
  return std::max(microseconds(1000), watchdog_ / 2);
}

Status SdNotifier::send(std::string_view message) {
  if (!enabled()) return Status::ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const bool abstract = address_[0] == '@';
  // A path needs room for its terminating NUL; an abstract name has none.
  if (address_.size() + (abstract ? 0 : 1) > sizeof addr.sun_path ||
      (address_[0] != '/' && !abstract)) {
    return Status::error("NOTIFY_SOCKET " + address_ + ": not a socket path or abstract name");
  }
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  if (abstract) addr.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                             (abstract ? 0 : 1));
  if (!socket_) {
    socket_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!socket_) return Status::error(std::string("NOTIFY_SOCKET: socket: ") + strerror(errno));
    // A manager that does not read must not hang hubd: a message waits at most this long.
    const timeval timeout{2, 0};
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  }
  ssize_t sent;
  do {
    sent = ::sendto(socket_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&addr), length);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Status::error("NOTIFY_SOCKET " + address_ + ": " + strerror(errno));
  return Status::ok();
}

Status SdNotifier::ready(std::string_view status) { return send(with_status("READY=1", status)); }

Status SdNotifier::reloading(std::string_view status) {
  return send(
      with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()), status));
}

Status SdNotifier::stopping(std::string_view status) {
  return send(with_status("STOPPING=1", status));
}

Status SdNotifier::status(std::string_view status) { return send("STATUS=" + status_line(status)); }

std::optional<milliseconds> SdNotifier::ping_watchdog_if_due() {
  const auto interval = watchdog_interval();
  if (!interval) return std::nullopt;
  const Clock::time_point now = Clock::now();
  if (now >= next_ping_) {
    (void)send("WATCHDOG=1");  // a lost ping is the manager's to judge
    next_ping_ = now + *interval;
  }
  // Rounded up, so a poll does not wake just before the ping is due and spin.
  const auto left = std::chrono::ceil<milliseconds>(next_ping_ - now);
  return std::max(milliseconds(1), left);
}

std::string status_line(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return line;
}

}  // namespace hub
