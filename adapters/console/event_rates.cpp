#include "console/event_rates.h"

#include "bus/text.h"

namespace hub::console {

void EventRates::count(std::string_view module, uint64_t unix_second) {
  std::lock_guard lock(mu_);
  auto it = modules_.find(module);
  if (it == modules_.end()) {
    const bool room = modules_.size() < kMaxModules;
    it = modules_.try_emplace(room ? std::string(module) : std::string("(other)")).first;
  }
  Ring& ring = it->second;
  const size_t slot = unix_second % kSeconds;
  if (ring.second[slot] != unix_second) {
    if (ring.second[slot] > unix_second) return;  // older than the window
    ring.second[slot] = unix_second;
    ring.counts[slot] = 0;
  }
  ++ring.counts[slot];
}

std::string EventRates::json(uint64_t now, size_t seconds) const {
  if (seconds > kSeconds) seconds = kSeconds;
  if (seconds == 0) seconds = 1;
  std::string out = "{\"now\":" + std::to_string(now) + ",\"seconds\":" + std::to_string(seconds) +
                    ",\"modules\":{";
  std::lock_guard lock(mu_);
  bool first = true;
  for (const auto& [name, ring] : modules_) {
    std::string counts;
    bool any = false;
    for (size_t i = 0; i < seconds; ++i) {
      const uint64_t s = now + 1 + i - seconds;
      const size_t slot = s % kSeconds;
      const uint32_t c = ring.second[slot] == s ? ring.counts[slot] : 0;
      any = any || c > 0;
      counts += (i ? "," : "") + std::to_string(c);
    }
    if (!any) continue;
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ":[" + counts + "]";
  }
  return out + "}}";
}

}  // namespace hub::console
