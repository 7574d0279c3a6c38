#include "core/system/main_loop_keepalive.h"

#include <thread>

namespace hub {
namespace {

struct Keepalive {
  std::function<void()> call;
  std::thread::id thread;
};

Keepalive& keepalive() {
  static Keepalive k;
  return k;
}

}  // namespace

void set_main_loop_keepalive(std::function<void()> call) {
  keepalive() = Keepalive{std::move(call), std::this_thread::get_id()};
}

bool main_loop_keepalive_wanted() {
  const Keepalive& k = keepalive();
  return k.call && k.thread == std::this_thread::get_id();
}

void keep_main_loop_alive() {
  if (main_loop_keepalive_wanted()) keepalive().call();
}

}  // namespace hub
