// The bundled Heartbeat service: module-to-module events. It subscribes to Timer/tick and,
// for each tick, publishes Heartbeat/beat with how many ticks it has seen and the tick's
// sequence number, and logs it (var/log/hub/Heartbeat.log).
#include <atomic>
#include <string>

#include <hub/sdk.h>

#include "bus/text.h"

int main() {
  return hub::sdk::run([](hub::sdk::Context& ctx) -> hub::Status {
    std::atomic<int64_t> ticks{0};
    const hub::Status subscribed = ctx.subscribe({"Timer/tick"}, [&](const hub::sdk::Event& tick) {
      const int64_t n = ++ticks;
      ctx.log().info("tick {} (event {}): {}", n, tick.seq, tick.payload());
      const std::string beat =
          hub::JsonObject().add("ticks", n).add("tick_seq", static_cast<int64_t>(tick.seq)).str();
      if (auto s = ctx.publish("beat", beat); !s) ctx.log().error("{}", s.message());
    });
    if (!subscribed) return subscribed;
    ctx.notify_ready();  // subscribed: no tick from now on is missed
    ctx.wait();
    ctx.log().info("stopping after {} ticks", ticks.load());
    return hub::Status::ok();
  });
}
