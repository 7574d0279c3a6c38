#include "core/hub/hubd.h"

#include <signal.h>

#include "core/hub/hub.h"

namespace hub {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

void block_stop_signals() {
  sigset_t set = stop_signals();
  sigaddset(&set, SIGPIPE);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int run_hubd(const HubdOptions& options) {
  Hub hub(options);
  if (int failed = hub.start(); failed != kExitOk) return failed;
  hub.serve();
  return hub.shut_down();
}

}  // namespace hub
