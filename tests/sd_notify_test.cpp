#include "core/system/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "bus/unique_fd.h"
#include "support/notify_listener.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::has_line;
using hub::test::NotifyListener;
using hub::test::TempDir;
using namespace std::chrono_literals;

namespace {

int64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

// The value of KEY=... in a message; empty when absent.
std::string value_of(const std::string& message, const std::string& key) {
  const size_t at = message.find(key + "=");
  if (at == std::string::npos || (at > 0 && message[at - 1] != '\n')) return {};
  const size_t start = at + key.size() + 1;
  return message.substr(start, message.find('\n', start) - start);
}

}  // namespace

TEST_CASE("sd_notify messages arrive as one datagram each", "[sd_notify]") {
  TempDir dir;
  NotifyListener listener(dir.path() / "notify");
  SdNotifier notifier(listener.path().string(), 0us);
  REQUIRE(notifier.enabled());

  REQUIRE(notifier.ready("up: 2 modules, 1 service"));
  auto ready = listener.next(5s);
  REQUIRE(ready);
  CHECK(*ready == "READY=1\nSTATUS=up: 2 modules, 1 service");

  const int64_t before = monotonic_usec();
  REQUIRE(notifier.reloading("reloading"));
  auto reloading = listener.next(5s);
  REQUIRE(reloading);
  CHECK(has_line(*reloading, "RELOADING=1"));
  CHECK(has_line(*reloading, "STATUS=reloading"));
  const int64_t stamp = std::stoll(value_of(*reloading, "MONOTONIC_USEC"));
  CHECK(stamp >= before);
  CHECK(stamp <= monotonic_usec());

  REQUIRE(notifier.stopping("stopping"));
  CHECK(listener.next(5s) == std::optional<std::string>("STOPPING=1\nSTATUS=stopping"));

  // A status is one line: a newline in it cannot forge another KEY=VALUE.
  REQUIRE(notifier.status("bad\nREADY=1"));
  CHECK(listener.next(5s) == std::optional<std::string>("STATUS=bad READY=1"));
}

TEST_CASE("sd_notify reaches an abstract socket ('@' name)", "[sd_notify]") {
  const std::string name = "@hub-test-notify-" + std::to_string(::getpid());
  unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr),
                 static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0);

  SdNotifier notifier(name, 0us);
  REQUIRE(notifier.send("READY=1"));
  char buffer[64] = {};
  const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, MSG_DONTWAIT);
  CHECK(std::string(buffer, static_cast<size_t>(std::max<ssize_t>(n, 0))) == "READY=1");
}

TEST_CASE("sd_notify: no socket, nothing sent; a socket gone is a failure, not a crash",
          "[sd_notify]") {
  SdNotifier none;
  CHECK_FALSE(none.enabled());
  CHECK(none.ready("up"));
  CHECK_FALSE(none.ping_watchdog_if_due());

  TempDir dir;
  SdNotifier gone((dir.path() / "nobody").string(), 0us);
  CHECK_FALSE(gone.send("READY=1"));
  CHECK_FALSE(SdNotifier("relative/path", 0us).send("READY=1"));
}

TEST_CASE(
    "sd_notify from the environment: the watchdog is ours only for our pid, and "
    "children inherit none of it",
    "[sd_notify]") {
  TempDir dir;
  const std::string socket = (dir.path() / "notify").string();
  ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  SdNotifier ours = SdNotifier::from_environment();
  CHECK(ours.address() == socket);
  CHECK(ours.watchdog_interval() == std::optional<std::chrono::microseconds>(200ms));
  CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
  CHECK(std::getenv("WATCHDOG_USEC") == nullptr);
  CHECK(std::getenv("WATCHDOG_PID") == nullptr);

  ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);  // another process's watchdog
  CHECK_FALSE(SdNotifier::from_environment().watchdog_interval());

  ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "400000", 1);  // no WATCHDOG_PID: ours
  CHECK(SdNotifier::from_environment().watchdog_interval());

  ::setenv("WATCHDOG_USEC", "400000", 1);  // no NOTIFY_SOCKET: nowhere to ping
  CHECK_FALSE(SdNotifier::from_environment().watchdog_interval());
  ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "soon", 1);
  CHECK_FALSE(SdNotifier::from_environment().watchdog_interval());
}

TEST_CASE("sd_notify watchdog: a ping when due, then the time until the next", "[sd_notify]") {
  TempDir dir;
  NotifyListener listener(dir.path() / "notify");
  SdNotifier notifier(listener.path().string(), 2s);  // a ping every second

  auto wait = notifier.ping_watchdog_if_due();  // due at once
  REQUIRE(wait);
  CHECK(*wait <= 1000ms);
  CHECK(*wait > 500ms);
  CHECK(listener.next(5s) == std::optional<std::string>("WATCHDOG=1"));

  wait = notifier.ping_watchdog_if_due();  // not yet due: nothing sent
  REQUIRE(wait);
  CHECK(*wait <= 1000ms);
  CHECK_FALSE(listener.next(0ms));
}
