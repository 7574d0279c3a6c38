// hubd's main loop proves it is alive to its service manager (the systemd watchdog). Some
// of its work waits on purpose, for seconds, on that same thread: a service's readiness,
// a stop's grace, a control script, a configuration check. Those waits call
// keep_main_loop_alive() at least every kKeepaliveEvery, so the proof goes on while the
// loop waits on purpose, and stops only when it is stuck for real.
#pragma once

#include <chrono>
#include <functional>

namespace hub {

inline constexpr std::chrono::milliseconds kKeepaliveEvery{100};

// Set once, on the main thread, before anything waits; `keepalive` runs on that thread only.
void set_main_loop_keepalive(std::function<void()> keepalive);
// True on the main thread once a keepalive is set: a wait there should wake every
// kKeepaliveEvery to call keep_main_loop_alive().
bool main_loop_keepalive_wanted();
// Runs the keepalive when called on the main thread; does nothing elsewhere.
void keep_main_loop_alive();

}  // namespace hub
