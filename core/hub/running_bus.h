// The running bus of one root: the journal, the broker on a thread of its own, and the
// publisher that hubd's components share to publish as Hub. A broker that fails stops
// hubd (SIGTERM to itself); failed() then says so.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "bus/broker.h"
#include "bus/credentials.h"
#include "bus/curve.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "bus/status.h"
#include "bus/subscribe_rules.h"

namespace hub {

class RunningBus {
 public:
  // Opens the journal (logging what its recovery found), binds the broker with `broker`
  // (whose journal, last seq and CURVE keys this fills in; `curve` serves its tcp
  // endpoints, when set), starts it, and publishes Hub/recovered when the journal had a
  // gap. `admin` may use the bus, and so may `curve`'s clients.
  static Result<std::unique_ptr<RunningBus>> start(const JournalOptions& journal,
                                                   BrokerOptions broker, const Credential& admin,
                                                   std::optional<CurveServer> curve);
  ~RunningBus();
  RunningBus(const RunningBus&) = delete;
  RunningBus& operator=(const RunningBus&) = delete;

  // True once the broker thread has died; nothing can be published any more.
  bool failed() const { return failed_; }

  zmq::context_t& context() { return ctx_; }

  // Publishes as Hub and waits until the broker has stamped and fanned the event out.
  // An event delivered live that the journal could not keep (a full disk) is not a
  // failure here: subscribers have it, the broker reports the journal's failure
  // (Hub/journal-failed), and the hub must go on. Safe from any thread.
  Result<uint64_t> publish(std::string_view topic, const std::string& payload, bool retain);

  uint64_t last_seq() const { return broker_->last_seq(); }
  const std::map<std::string, std::set<std::string>>& rebuilt_lifecycle() const {
    return broker_->rebuilt_lifecycle();
  }
  const CurveServer* curve() const { return curve_ ? &*curve_ : nullptr; }
  const CredentialStore& credentials() const { return credentials_; }

  // The broker's counters as a JSON object (Hub API "status").
  std::string counters_json() const;
  // The journal on disk: {bytes, segments, first_seq} (journal_disk_usage).
  std::string journal_json() const;

  // A fresh credential for `identity`, valid on the bus until revoked.
  Credential grant(const std::string& identity);
  void revoke(const std::string& identity) { credentials_.remove(identity); }
  // What each module may read besides its own topics (service.yml subscribe:).
  void declare_subscriptions(std::map<std::string, std::vector<std::string>> by_module) {
    subscribe_rules_.declare(std::move(by_module));
  }

  // Drains and closes the bus. Idempotent.
  void stop();

 private:
  RunningBus() : ctx_(1) {}

  // Members are declared in the order they must be torn down in reverse.
  zmq::context_t ctx_;
  CredentialStore credentials_;
  SubscribeRules subscribe_rules_;    // outlives the broker that reads it
  std::optional<CurveServer> curve_;  // for the tcp endpoints; outlives the broker
  std::unique_ptr<Journal> journal_;  // outlives the broker that writes it
  std::unique_ptr<Broker> broker_;
  std::thread thread_;
  std::mutex publish_mu_;
  std::optional<Publisher> hub_publisher_;  // guarded by publish_mu_
  std::atomic<bool> failed_{false};         // set by the broker thread
};

}  // namespace hub
