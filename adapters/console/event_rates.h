// Events per second of each module over the last minutes (the page's chart): a ring of
// one-second buckets per module. Bounded: at most kMaxModules modules by name, the rest
// counted as "(other)". Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace hub::console {

class EventRates {
 public:
  static constexpr size_t kSeconds = 600;  // ten minutes
  static constexpr size_t kMaxModules = 200;

  // Counts one event of `module` at `unix_second`. Events older than the window, or
  // from the future beyond the newest second seen, are counted where they fall or not
  // at all.
  void count(std::string_view module, uint64_t unix_second);
  // {"now":S,"seconds":N,"modules":{"Timer":[c(S-N+1),…,c(S)],…}} for the last
  // `seconds` seconds up to `now` (a Unix second).
  std::string json(uint64_t now, size_t seconds) const;

 private:
  struct Ring {
    std::vector<uint32_t> counts = std::vector<uint32_t>(kSeconds, 0);
    std::vector<uint64_t> second = std::vector<uint64_t>(kSeconds, 0);  // what each slot holds
  };
  mutable std::mutex mu_;
  std::map<std::string, Ring, std::less<>> modules_;  // guarded by mu_
};

}  // namespace hub::console
