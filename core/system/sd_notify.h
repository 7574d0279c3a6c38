// The service manager's side of systemd's sd_notify protocol, spoken without libsystemd:
// each message is one datagram of "KEY=VALUE" lines sent to the AF_UNIX socket that
// $NOTIFY_SOCKET names (a path, or an abstract name when it starts with '@').
//
// The watchdog: with $WATCHDOG_USEC set (and $WATCHDOG_PID absent or this process's pid)
// the manager expects "WATCHDOG=1" at least that often; ping_watchdog_if_due() sends it
// every half of that, and the caller decides where it is called from (hubd: its main
// loop, so a stuck main loop stops the pings and the manager restarts hubd).
//
// from_environment() unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, so no child
// started later inherits them (a service must not talk to hubd's manager). Call it before
// any other thread runs (setenv/unsetenv are not thread-safe). Without $NOTIFY_SOCKET every
// call is a no-op. One thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "bus/status.h"
#include "bus/unique_fd.h"

namespace hub {

class SdNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  SdNotifier() = default;  // disabled: sends nothing
  // To `address` (as $NOTIFY_SOCKET spells it), pinging every half of `watchdog` when it is
  // above zero.
  SdNotifier(std::string address, std::chrono::microseconds watchdog);
  static SdNotifier from_environment();

  bool enabled() const { return !address_.empty(); }
  const std::string& address() const { return address_; }
  // Half of WATCHDOG_USEC; nullopt when the manager expects no pings.
  std::optional<std::chrono::microseconds> watchdog_interval() const;

  // Sends `message` (lines "KEY=VALUE", separated by '\n'). Fails with why (the first
  // failure is worth a log line; a manager that went away is not a reason to stop).
  Status send(std::string_view message);
  Status ready(std::string_view status);      // READY=1 + STATUS=
  Status reloading(std::string_view status);  // RELOADING=1 + MONOTONIC_USEC= + STATUS=
  Status stopping(std::string_view status);   // STOPPING=1 + STATUS=
  Status status(std::string_view status);     // STATUS=

  // Sends WATCHDOG=1 when the interval has passed since the last ping; returns how long
  // until the next one is due (nullopt: no watchdog). A poll waits at most that long.
  std::optional<std::chrono::milliseconds> ping_watchdog_if_due();

 private:
  std::string address_;
  std::chrono::microseconds watchdog_{0};
  Clock::time_point next_ping_{};
  unique_fd socket_;  // unbound, unconnected: each message is addressed (a manager that
                      // re-created its socket is still reached)
};

// STATUS= text as one line: newlines and other control characters become spaces.
std::string status_line(std::string_view text);

}  // namespace hub
