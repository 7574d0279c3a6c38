// The bus broker: takes publishes on ROUTER sockets (publishers connect DEALERs, which
// queue or block at their high-water mark instead of dropping), stamps each event with a
// global sequence number, the time and the authenticated source, and fans it out on an
// XPUB socket. Payloads are forwarded without copying or parsing. Its replay socket
// answers retained-event snapshots for clients joining (snapshot_service.h) and replays
// of the journal (replay_service.h); it is the ZAP handler for its own sockets.
//
// One thread only: bind() on any thread, then run() on exactly one thread; stop() and
// counters() are safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/curve.h"
#include "bus/journal.h"
#include "bus/status.h"
#include "bus/subscribe_rules.h"

namespace hub {

// Defaults of the options below that hub.yml sets too (bus:, shutdown.drain_timeout).
inline constexpr int kDefaultSubscriberHwm = 10000;
inline constexpr size_t kDefaultMaxPayload = 1 << 20;
inline constexpr size_t kDefaultMaxRetained = 10000;
inline constexpr uint64_t kDefaultMaxRetainedBytes = 64ull << 20;
inline constexpr size_t kDefaultMaxRetainedPerModule = 1000;
inline constexpr uint64_t kDefaultMaxRetainedBytesPerModule = 8ull << 20;
inline constexpr std::chrono::milliseconds kDefaultDrainTimeout{2000};

struct BrokerOptions {
  std::string ingest_endpoint;  // authenticated publishers (PLAIN, checked by ZAP)
  std::string events_endpoint;  // subscribers (PLAIN, checked by ZAP)
  std::string replay_endpoint;  // retained snapshots (PLAIN, checked by ZAP)
  // In-process publishers; every event from here is stamped with source "Hub".
  std::string internal_endpoint = "inproc://hub.internal";
  int subscriber_hwm = kDefaultSubscriberHwm;  // events queued per subscriber before it misses
  size_t max_payload = kDefaultMaxPayload;     // larger payloads are refused
  // The retained store's bounds (retained_store.h; the Hub's own events are not counted).
  // Topics of all publishers together, their bytes together, topics of one module (or
  // admin), and their bytes.
  size_t max_retained = kDefaultMaxRetained;
  uint64_t max_retained_bytes = kDefaultMaxRetainedBytes;
  size_t max_retained_per_module = kDefaultMaxRetainedPerModule;
  uint64_t max_retained_bytes_per_module = kDefaultMaxRetainedBytesPerModule;
  // Bound on taking in what publishers queued at stop, and on flushing subscribers.
  std::chrono::milliseconds drain_timeout = kDefaultDrainTimeout;
  // When set, every event is appended to it before it is fanned out, a confirmed publish
  // is acknowledged only once its event is durable (under the journal's durability), and
  // the journal is synced at least every sync_interval. Used by the broker thread only.
  // A write or sync that fails loses events (Journal's contract): their confirmed
  // publishes are acked `failed`, never `accepted`; the events are still fanned out.
  // bind() rebuilds the retained events from it (retained_rebuild.h).
  Journal* journal = nullptr;
  // Hub/journal-failed and the log line about journal failures: the first at once, then at
  // most one per this interval, with counts.
  std::chrono::milliseconds journal_failure_interval{10000};
  // The same three sockets also on tcp, with CURVE only (hub.yml network:; "" for none;
  // a port of '*' is chosen by the system). `curve` must outlive the broker.
  std::string ingest_tcp, events_tcp, replay_tcp;
  const CurveServer* curve = nullptr;
  // Refuse topics a publisher does not own (topic_owner.h), and publishes on connections
  // whose credential was revoked since. Off only to measure its cost.
  bool check_ownership = true;
  // Who may read what (subscribe_rules.h), applied to live subscriptions, retained
  // snapshots and replays; must outlive the broker. nullptr: everyone reads everything.
  const SubscribeRules* subscribe_rules = nullptr;
  uint64_t last_seq = 0;  // the sequence goes on after this (the journal's recovery)
};

// Monotonic counters, readable while the broker runs.
// Distinct subscription prefixes one identity may hold. Going past it is counted, and the
// identity (but the administrator's or the Hub's) may not connect again while hubd runs.
inline constexpr size_t kMaxSubscriptionsPerIdentity = 10000;

struct BrokerCounters {
  std::atomic<uint64_t> events{0};  // stamped and fanned out
  std::atomic<uint64_t> payload_bytes{0};
  std::atomic<uint64_t> malformed{0};         // the four below, and publishes without an identity
  std::atomic<uint64_t> bad_frame_count{0};   // not [topic][header][payload]
  std::atomic<uint64_t> bad_header{0};        // malformed, or of an unknown version
  std::atomic<uint64_t> bad_topic{0};         // not MODULE/EVENT (wire::topic_problem)
  std::atomic<uint64_t> bad_content_type{0};  // not printable ASCII, or too long
  std::atomic<uint64_t> too_large{0};
  std::atomic<uint64_t> acks_undeliverable{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> snapshots{0};
  std::atomic<uint64_t> retained_refused{0};     // retain asked for, a store limit in the way
  std::atomic<uint64_t> retained_topics{0};      // held now (with the Hub's own)
  std::atomic<uint64_t> retained_bytes{0};       // held now for publishers but the Hub
  std::atomic<uint64_t> journal_failures{0};     // writes, syncs, reservations that failed
  std::atomic<uint64_t> journal_lost_events{0};  // events they lost (fanned out, not journalled)
  std::atomic<uint64_t> forbidden{0};  // publishes of topics the publisher does not own, or
                                       // on a connection whose credential was revoked
  std::atomic<uint64_t> revoked{0};    // of those, the revoked ones (and replay requests)
  std::atomic<uint64_t> subscriptions_refused{0};  // past kMaxSubscriptionsPerIdentity
                                                   // (the identity is then refused)
  std::atomic<uint64_t> subscribe_forbidden{0};    // subscriptions, snapshots, replays refused
                                                   // by the subscribe rules
  std::atomic<uint64_t> replays{0};                // replay sessions begun (replay_service.h)
  std::atomic<uint64_t> replay_sessions{0};        // open now
  std::atomic<uint64_t> replayed_events{0};        // events sent in replay answers
};

class Broker {
 public:
  // Binds every endpoint in `ctx` and becomes the context's ZAP handler. Fails naming
  // the endpoint that could not be bound. `credentials` must outlive the broker; what is
  // removed from it is refused from then on, also on connections made before (their
  // publishes with status forbidden, their snapshot and replay requests with an error).
  static Result<std::unique_ptr<Broker>> bind(zmq::context_t& ctx, BrokerOptions options,
                                              const CredentialStore& credentials);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Serves until stop() is called, then takes in what publishers have already queued,
  // fans it out, and closes its sockets, waiting at most drain_timeout for subscribers.
  // Throws zmq::error_t only if ZeroMQ itself fails (out of memory, context closed).
  void run();
  // Asks run() to return. Idempotent; safe from any thread, including signal-free ones.
  void stop();

  const BrokerCounters& counters() const;
  // Forbidden publishes by identity (the first kMaxRefusedIdentities identities; later
  // ones are counted under "(others)"). Safe from any thread.
  std::map<std::string, uint64_t> forbidden_by_identity() const;
  // Retained publishes not retained (a limit of the store), by identity, counted alike.
  std::map<std::string, uint64_t> retained_refused_by_identity() const;
  // Subscriptions, snapshots and replays the subscribe rules refused, by identity.
  std::map<std::string, uint64_t> subscribe_forbidden_by_identity() const;
  // The last sequence number assigned (0 before the first event).
  uint64_t last_seq() const;
  // The Hub's lifecycle state rebuilt from the journal at bind() (module -> EVENTs held),
  // so hubd can clear what its modules no longer say (a module removed while it was down).
  const std::map<std::string, std::set<std::string>>& rebuilt_lifecycle() const;
  // The tcp endpoints bound (ports chosen by the system filled in), in the order ingest,
  // events, replay; empty for those not asked for.
  std::vector<std::string> tcp_endpoints() const;

 private:
  class Impl;
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hub
