// hubd: binds the bus for a root, publishes the Hub's own events, runs the modules and
// their services, reloads on SIGHUP, and runs until SIGTERM or SIGINT.
#pragma once

#include <signal.h>

#include <filesystem>

namespace hub {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,         // a runtime error (cannot bind, cannot write the root, ...)
  kExitUsage = 2,           // bad command line
  kExitConfig = 3,          // config/hub.yml is missing (when named) or invalid
  kExitAlreadyRunning = 4,  // another hubd holds this root
};

struct HubdOptions {
  std::filesystem::path root;         // absolute
  std::filesystem::path config_file;  // empty: ROOT/config/hub.yml, defaults if absent
};

// SIGTERM and SIGINT: the signals that stop hubd.
sigset_t stop_signals();

// Blocks SIGTERM, SIGINT, SIGHUP and SIGPIPE in the calling thread and every thread it
// starts later, so run_hubd can read them from signalfds. Call first thing in main.
void block_stop_signals();

// Runs the hub (hub.h) until SIGTERM or SIGINT, then publishes Hub/shutdown, drains the
// bus and returns kExitOk. Failures are logged (or printed, before the log exists) and
// returned as an ExitCode. REQUIRES: block_stop_signals() was called.
int run_hubd(const HubdOptions& options);

}  // namespace hub
