// The bundled Timer service: publishes Timer/tick ({"time": UNIX_SECONDS}) every
// `timer.interval` of its config. A line-for-line counterpart of the timer example in
// Baetyl's "Customize Module" guide, on the hub SDK.
#include <chrono>
#include <ctime>
#include <string>

#include <hub/sdk.h>

#include "bus/text.h"

// custom configuration of the timer module
struct TimerConfig {
  std::chrono::milliseconds interval{60000};  // timer.interval: "500ms", "5s", "1m"
  std::string publish = "tick";               // publish.event
};

namespace YAML {
template <>
struct convert<TimerConfig> {
  static bool decode(const Node& node, TimerConfig& cfg) {
    const Node timer = node["timer"];
    const Node interval = timer ? timer["interval"] : Node(NodeType::Undefined);
    if (interval) {
      const std::string text = interval.as<std::string>();
      size_t end = 0;
      const long long n = std::stoll(text, &end);
      const std::string unit = text.substr(end);
      const long long ms = unit == "ms" ? n : unit == "m" ? n * 60000 : n * 1000;
      if (n <= 0 || !(unit == "ms" || unit == "s" || unit == "m" || unit.empty())) return false;
      cfg.interval = std::chrono::milliseconds(ms);
    }
    if (const Node publish = node["publish"]) {
      if (const Node event = publish["event"]) cfg.publish = event.as<std::string>();
    }
    return true;
  }
};
}  // namespace YAML

int main() {
  // Running module in hub context
  return hub::sdk::run([](hub::sdk::Context& ctx) -> hub::Status {
    // load custom config
    auto cfg = ctx.load_config_as<TimerConfig>();
    if (!cfg) return cfg.status();
    // the hub client connects on the first publish; say we are ready
    ctx.notify_ready();
    ctx.log().info("publishing {}/{} every {} ms", ctx.config().module, cfg->publish,
                   cfg->interval.count());
    // create a timer
    auto next = std::chrono::steady_clock::now() + cfg->interval;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          next - std::chrono::steady_clock::now());
      // wait until service is stopped
      if (ctx.wait_for(std::max(left, std::chrono::milliseconds(0)))) return hub::Status::ok();
      next += cfg->interval;
      const std::string msg =
          hub::JsonObject().add("time", static_cast<int64_t>(std::time(nullptr))).str();
      // send a message to hub triggered by timer
      if (auto s = ctx.publish(cfg->publish, msg); !s) {
        // log error message
        ctx.log().error("{}", s.message());
      }
    }
  });
}
