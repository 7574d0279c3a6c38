// The broker's check of subscribe permissions (subscribe_rules.h) on its three ways to
// read: live subscriptions (a ZeroMQ prefix), retained snapshots and journal replays (MQTT
// patterns, judged by their prefixes). Refusals are counted by identity (the first
// kMaxGateIdentities one by one, later ones under "(others)") and logged once per
// identity and prefix (each identity's first 8 refusals, then at 16, 32, 64, ...). Checks on the
// broker thread; counts readable from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bus/subscribe_rules.h"

namespace hub {

inline constexpr size_t kMaxGateIdentities = 1024;

class SubscriptionGate {
 public:
  // No rules: everyone may read everything (a broker without hubd's modules).
  SubscriptionGate(const SubscribeRules* rules, std::atomic<uint64_t>& refused)
      : rules_(rules), refused_(refused) {}

  bool checks() const { return rules_ != nullptr; }
  // Why `identity` may not hold the live subscription `prefix`, or nullopt. Counted.
  std::optional<std::string> live(const std::string& identity, const std::string& prefix);
  // Why `identity` may not read the topics `patterns` match (none: every topic), or
  // nullopt. Invalid patterns are left to the request's own checks. Counted.
  std::optional<std::string> patterns(const std::string& identity,
                                      const std::vector<std::string>& patterns);
  // Refusals by identity.
  std::map<std::string, uint64_t> refused_by_identity() const;

 private:
  void count(const std::string& identity, const std::string& prefix, const std::string& why);

  const SubscribeRules* rules_;
  std::atomic<uint64_t>& refused_;
  std::set<std::pair<std::string, std::string>> logged_;  // identity, prefix; broker thread
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> by_identity_;  // guarded by mu_
};

}  // namespace hub
