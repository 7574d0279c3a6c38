#include "bus/subscription_gate.h"

#include <spdlog/spdlog.h>

#include "bus/topic_filter.h"

namespace hub {
namespace {

constexpr size_t kMaxLogged = 4096;  // identity+prefix pairs logged; later ones are not
constexpr uint64_t kLoggedPerIdentity = 8;
const std::string kOthers = "(others)";

}  // namespace

std::optional<std::string> SubscriptionGate::live(const std::string& identity,
                                                  const std::string& prefix) {
  if (rules_ == nullptr) return std::nullopt;
  auto why = rules_->refusal(identity, prefix);
  if (why) count(identity, prefix, *why);
  return why;
}

std::optional<std::string> SubscriptionGate::patterns(const std::string& identity,
                                                      const std::vector<std::string>& patterns) {
  if (rules_ == nullptr) return std::nullopt;
  auto filter = TopicFilter::parse(patterns);
  if (!filter) return std::nullopt;
  for (const auto& prefix : filter->zmq_prefixes()) {
    if (auto why = rules_->refusal(identity, prefix)) {
      count(identity, prefix, *why);
      return why;
    }
  }
  return std::nullopt;
}

std::map<std::string, uint64_t> SubscriptionGate::refused_by_identity() const {
  std::lock_guard lock(mu_);
  return by_identity_;
}

void SubscriptionGate::count(const std::string& identity, const std::string& prefix,
                             const std::string& why) {
  ++refused_;
  uint64_t n = 0;
  {
    std::lock_guard lock(mu_);
    const bool known = by_identity_.count(identity) != 0;
    n = ++by_identity_[known || by_identity_.size() < kMaxGateIdentities ? identity : kOthers];
  }
  // Each identity's first few prefixes, then at 16, 32, 64, ... refusals: a flood of
  // prefixes cannot flood the log.
  const bool few = n <= kLoggedPerIdentity || (n & (n - 1)) == 0;
  if (few && logged_.size() < kMaxLogged && logged_.emplace(identity, prefix).second) {
    spdlog::warn("bus: refused a subscription ({} so far from {}): {}", n, identity, why);
  }
}

}  // namespace hub
