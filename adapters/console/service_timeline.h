// Each service's ups and downs (the page's timeline), from the lifecycle events the Hub
// publishes (NAME/starting, started, ready, restarting, exited, stopping, stopped,
// failed; README, "Events"): per instance (a dynamic one is named by the payload's
// "instance"), the last kMaxTransitions, for at most kMaxServices instances. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace hub::console {

class ServiceTimeline {
 public:
  static constexpr size_t kMaxTransitions = 500;
  static constexpr size_t kMaxServices = 500;

  // True when `topic` from `source` is a lifecycle event the timeline keeps.
  static bool is_lifecycle(std::string_view topic, std::string_view source);
  // Records a lifecycle event (is_lifecycle). `payload` is its JSON.
  void record(std::string_view topic, std::string_view payload, uint64_t time_ns);
  // {"services":{"Timer":[{"t":MS,"event":"started"},{"t":…,"event":"failed","reason":…}],…}}
  std::string json() const;

 private:
  struct Transition {
    uint64_t time_ms = 0;
    std::string event;
    std::string reason;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Transition>> services_;  // guarded by mu_
};

}  // namespace hub::console
