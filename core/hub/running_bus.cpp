#include "core/hub/running_bus.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>

#include <spdlog/spdlog.h>

#include "bus/text.h"
#include "bus/wire.h"

namespace hub {
namespace {

constexpr auto kHubEventTimeout = std::chrono::seconds(5);

// Opens the journal and logs what its recovery found.
Result<std::unique_ptr<Journal>> open_journal(const JournalOptions& options,
                                              JournalRecovery& recovery) {
  auto opened = Journal::open(options, recovery);
  if (!opened) return opened.status();
  if (recovery.cut_bytes > 0) {
    spdlog::warn("journal: cut {} bytes of torn or corrupt tail ({})", recovery.cut_bytes,
                 recovery.cut_reason);
  }
  if (!recovery.index_problem.empty()) {
    spdlog::warn("journal: the newest segment's index was not rebuilt ({}); readers scan it",
                 recovery.index_problem);
  }
  if (recovery.lost_first() <= recovery.lost_last()) {
    spdlog::error(
        "journal: events {}..{} were durable (confirmed publishes among them were "
        "acknowledged) and are missing from the journal: lost{}",
        recovery.lost_first(), recovery.lost_last(),
        recovery.cut_bytes > 0 ? " (" + recovery.cut_reason + ")" : std::string());
  }
  if (recovery.skipped_first() <= recovery.skipped_last()) {
    spdlog::warn(
        "journal: events {}..{} may have been handed out by a hubd that crashed and "
        "were not journalled (none was acknowledged); the sequence goes on at {}",
        recovery.skipped_first(), recovery.skipped_last(), recovery.next_after() + 1);
  }
  spdlog::info("journal: {} segment(s), events {}..{}, durability {}", recovery.segments,
               recovery.first_seq, recovery.last_seq, durability_name(options.durability));
  return std::move(*opened);
}

// Hub/recovered (wire::kRecoveredTopic): which numbers of a gap were never acknowledged
// (skipped) and which were, and are lost.
std::string recovered_payload(const JournalRecovery& recovery) {
  const bool lost = recovery.lost_first() <= recovery.lost_last();
  const bool skipped = recovery.skipped_first() <= recovery.skipped_last();
  const auto number = [](bool present, uint64_t n) {
    return static_cast<int64_t>(present ? n : 0);
  };
  return JsonObject()
      .add("skipped_first", number(skipped, recovery.skipped_first()))
      .add("skipped_last", number(skipped, recovery.skipped_last()))
      .add("lost_first", number(lost, recovery.lost_first()))
      .add("lost_last", number(lost, recovery.lost_last()))
      .add("cut_bytes", static_cast<int64_t>(recovery.cut_bytes))
      .str();
}

// {"IDENTITY": N, ...}: refusals by publisher.
std::string by_identity_json(const std::map<std::string, uint64_t>& counts) {
  JsonObject by;
  for (const auto& [identity, n] : counts) by.add(identity, static_cast<int64_t>(n));
  return by.str();
}

}  // namespace

Result<std::unique_ptr<RunningBus>> RunningBus::start(const JournalOptions& journal,
                                                      BrokerOptions broker, const Credential& admin,
                                                      std::optional<CurveServer> curve) {
  auto bus = std::unique_ptr<RunningBus>(new RunningBus());
  bus->credentials_.add(admin);
  bus->curve_ = std::move(curve);
  if (bus->curve_) {
    for (const auto& [key, identity] : bus->curve_->identities) {
      bus->credentials_.add_curve_client(key, identity);
    }
  }
  JournalRecovery recovery;
  auto opened = open_journal(journal, recovery);
  if (!opened) return opened.status();
  bus->journal_ = std::move(*opened);
  const uint64_t go_on = recovery.next_after();
  broker.journal = bus->journal_.get();
  broker.last_seq = go_on;
  if (bus->curve_) broker.curve = &*bus->curve_;
  const std::string internal = broker.internal_endpoint;
  broker.subscribe_rules = &bus->subscribe_rules_;
  auto bound = Broker::bind(bus->ctx_, std::move(broker), bus->credentials_);
  if (!bound) return bound.status();
  bus->broker_ = std::move(*bound);
  const auto tcp = bus->broker_->tcp_endpoints();
  for (size_t i = 0; i < tcp.size(); ++i) {
    if (tcp[i].empty()) continue;
    spdlog::info("bus: {} also on {} (CURVE)", std::array{"ingest", "events", "replay"}[i], tcp[i]);
  }
  bus->thread_ = std::thread([b = bus->broker_.get(), bus_ptr = bus.get()] {
    try {
      b->run();
    } catch (const std::exception& e) {
      // Without a broker there is no hub: wake the main thread, which stops everything.
      spdlog::critical("bus: the broker failed: {}; stopping", e.what());
      bus_ptr->failed_ = true;
      ::kill(::getpid(), SIGTERM);
    }
  });
  auto publisher = Publisher::connect(bus->ctx_, internal, std::nullopt);
  if (!publisher) return publisher.status();
  bus->hub_publisher_.emplace(std::move(*publisher));
  if (go_on > recovery.last_seq) {
    // First of all: subscribers that come back to a gap learn what it holds.
    auto said = bus->publish(wire::kRecoveredTopic, recovered_payload(recovery), false);
    if (!said) spdlog::error("cannot publish {}: {}", wire::kRecoveredTopic, said.error());
  }
  return bus;
}

RunningBus::~RunningBus() { stop(); }

Result<uint64_t> RunningBus::publish(std::string_view topic, const std::string& payload,
                                     bool retain) {
  if (failed_) return Status::error("the bus has failed");
  std::lock_guard lock(publish_mu_);
  PublishOptions options;
  options.retain = retain;
  auto delivered = hub_publisher_->publish_delivered(
      topic, payload, std::chrono::duration_cast<std::chrono::milliseconds>(kHubEventTimeout),
      options);
  if (!delivered) return delivered.status();
  if (!delivered->not_kept.empty()) {
    spdlog::warn("{} (event {}) was delivered but not kept in the journal: {}", topic,
                 delivered->seq, delivered->not_kept);
  }
  return delivered->seq;
}

std::string RunningBus::counters_json() const {
  const BrokerCounters& c = broker_->counters();
  return JsonObject()
      .add("events", static_cast<int64_t>(c.events.load()))
      .add("payload_bytes", static_cast<int64_t>(c.payload_bytes.load()))
      .add("last_seq", static_cast<int64_t>(broker_->last_seq()))
      .add("malformed", static_cast<int64_t>(c.malformed.load()))
      .add_raw("malformed_by",
               JsonObject()
                   .add("frame_count", static_cast<int64_t>(c.bad_frame_count.load()))
                   .add("header", static_cast<int64_t>(c.bad_header.load()))
                   .add("topic", static_cast<int64_t>(c.bad_topic.load()))
                   .add("content_type", static_cast<int64_t>(c.bad_content_type.load()))
                   .str())
      .add("too_large", static_cast<int64_t>(c.too_large.load()))
      .add("auth_failures", static_cast<int64_t>(c.auth_failures.load()))
      .add("snapshots", static_cast<int64_t>(c.snapshots.load()))
      .add("retained_refused", static_cast<int64_t>(c.retained_refused.load()))
      .add_raw("retained_refused_by", by_identity_json(broker_->retained_refused_by_identity()))
      .add("retained_topics", static_cast<int64_t>(c.retained_topics.load()))
      .add("retained_bytes", static_cast<int64_t>(c.retained_bytes.load()))
      .add("acks_undeliverable", static_cast<int64_t>(c.acks_undeliverable.load()))
      .add("journal_failures", static_cast<int64_t>(c.journal_failures.load()))
      .add("journal_lost_events", static_cast<int64_t>(c.journal_lost_events.load()))
      .add("forbidden", static_cast<int64_t>(c.forbidden.load()))
      .add("revoked", static_cast<int64_t>(c.revoked.load()))
      .add("subscriptions_refused", static_cast<int64_t>(c.subscriptions_refused.load()))
      .add_raw("forbidden_by", by_identity_json(broker_->forbidden_by_identity()))
      .add("subscribe_forbidden", static_cast<int64_t>(c.subscribe_forbidden.load()))
      .add_raw("subscribe_forbidden_by",
               by_identity_json(broker_->subscribe_forbidden_by_identity()))
      .add("replays", static_cast<int64_t>(c.replays.load()))
      .add("replay_sessions", static_cast<int64_t>(c.replay_sessions.load()))
      .add("replayed_events", static_cast<int64_t>(c.replayed_events.load()))
      .add_raw("journal", journal_json())
      .str();
}

std::string RunningBus::journal_json() const {
  const JournalDiskUsage usage = journal_disk_usage(journal_->options().dir);
  return JsonObject()
      .add("bytes", static_cast<int64_t>(usage.bytes))
      .add("segments", static_cast<int64_t>(usage.segments))
      .add("first_seq", static_cast<int64_t>(usage.first_seq))
      .str();
}

Credential RunningBus::grant(const std::string& identity) {
  Credential c{identity, random_secret()};
  credentials_.add(c);
  return c;
}

void RunningBus::stop() {
  std::unique_lock lock(publish_mu_);
  if (hub_publisher_) hub_publisher_->close();
  lock.unlock();
  if (broker_) broker_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hub
