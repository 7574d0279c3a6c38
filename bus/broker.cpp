#include "bus/broker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "bus/journal_failure_report.h"
#include "bus/peer_cutter.h"
#include "bus/replay_service.h"
#include "bus/retained_rebuild.h"
#include "bus/retained_store.h"
#include "bus/router_replies.h"
#include "bus/snapshot_service.h"
#include "bus/subscription_gate.h"
#include "bus/topic_filter.h"
#include "bus/topic_owner.h"
#include "bus/wire.h"
#include "bus/zap_handler.h"

namespace hub {
namespace {

using Clock = std::chrono::steady_clock;

// Messages taken from one socket before the others get a turn.
constexpr int kBatch = 256;
// Room above max_payload for the topic and header frames of one publish.
constexpr size_t kMaxFrameSlack = 64 * 1024;

// Counts a rejection and logs it at 1, 2, 4, 8, ... occurrences so a flood of bad
// frames cannot flood the log, yet every kind of rejection shows up.
void count_rejection(std::atomic<uint64_t>& counter, const std::string& what) {
  const uint64_t n = ++counter;
  if ((n & (n - 1)) == 0) spdlog::warn("bus: rejected a publish ({} so far): {}", n, what);
}

// A confirmed publish whose ack waits until its event is durable in the journal.
struct PendingAck {
  zmq::socket_t* router;
  zmq::message_t routing_id;
  wire::PublishHeader header;
  uint64_t seq;
  std::string not_retained;  // why a retain was refused; empty when kept or not asked
};

constexpr auto kRetentionEvery = std::chrono::minutes(1);
constexpr size_t kMaxRefusedIdentities = 1024;  // counted one by one; the rest together
const std::string kOtherIdentities = "(others)";

// Refusals counted by identity, for inspect: the first kMaxRefusedIdentities identities
// one by one, later ones together under "(others)". Safe from any thread.
class CountsByIdentity {
 public:
  // Counts one more for `identity`; returns its count.
  uint64_t add(const std::string& identity) {
    std::lock_guard lock(mu_);
    const bool known = by_.count(identity) != 0;
    return ++by_[known || by_.size() < kMaxRefusedIdentities ? identity : kOtherIdentities];
  }
  std::map<std::string, uint64_t> snapshot() const {
    std::lock_guard lock(mu_);
    return by_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> by_;  // guarded by mu_
};

RetainedLimits retained_limits(const BrokerOptions& o) {
  RetainedLimits limits;
  limits.max_topics = o.max_retained;
  limits.max_bytes = o.max_retained_bytes;
  limits.max_topics_per_owner = o.max_retained_per_module;
  limits.max_bytes_per_owner = o.max_retained_bytes_per_module;
  return limits;
}

constexpr size_t kMaxLiveRemembered = 4096;  // live connections remembered by revoked()
// Modules whose newest seq is remembered; events of others say "look" (module_prev seq-1).
constexpr size_t kMaxChainedModules = 65536;

}  // namespace

class Broker::Impl {
 public:
  Impl(zmq::context_t& ctx, BrokerOptions options, const CredentialStore& credentials)
      : options_(std::move(options)),
        credentials_(credentials),
        zap_(ctx, credentials),
        ingest_(ctx, zmq::socket_type::router),
        internal_(ctx, zmq::socket_type::router),
        events_(ctx, zmq::socket_type::xpub),
        replay_(ctx, zmq::socket_type::router),
        retained_(retained_limits(options_)),
        stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        failure_report_(options_.journal_failure_interval),
        replays_(replay_, options_.journal, options_.last_seq,
                 [this](const std::string& why) { journal_failed(why); }),
        snapshots_(replay_, retained_, static_cast<uint64_t>(options_.subscriber_hwm),
                   counters_.snapshots),
        gate_(options_.subscribe_rules, counters_.subscribe_forbidden) {
    if (gate_.checks()) cutter_.emplace(ctx, events_);
    last_seq_.store(options_.last_seq, std::memory_order_relaxed);
  }

  ~Impl() {
    if (stop_fd_ >= 0) ::close(stop_fd_);
  }

  Status bind() {
    if (stop_fd_ < 0) return Status::error("bus: eventfd failed");
    const std::string* endpoint = nullptr;
    try {
      for (zmq::socket_t* s : {&ingest_, &events_, &replay_}) {
        s->set(zmq::sockopt::plain_server, 1);
        s->set(zmq::sockopt::zap_domain, kZapDomain);
      }
      for (zmq::socket_t* s : {&ingest_, &internal_, &replay_}) {
        s->set(zmq::sockopt::router_mandatory, 1);
        s->set(zmq::sockopt::linger, 0);
      }
      // A frame far beyond the payload limit is not even taken in: ZeroMQ drops the
      // connection instead of buffering it (smaller excess is refused with status 3).
      ingest_.set(zmq::sockopt::maxmsgsize,
                  static_cast<int64_t>(options_.max_payload + kMaxFrameSlack));
      events_.set(zmq::sockopt::sndhwm, options_.subscriber_hwm);
      // A whole replay answer fits: its credit, plus the control messages around it.
      replay_.set(zmq::sockopt::sndhwm, static_cast<int>(2 * wire::kReplayMaxCredit + 16));
      events_.set(zmq::sockopt::xpub_verbose, 1);
      // A subscription is a prefix of a topic (at most 255 bytes) or a sync token: anything
      // much longer drops the connection. (xpub_manual, which would let the broker refuse
      // a subscription, is not used: in libzmq 4.3 a peer that sends other messages
      // upstream makes it apply later subscriptions to the wrong connections.)
      events_.set(zmq::sockopt::maxmsgsize, int64_t{1024});
      events_.set(zmq::sockopt::linger, static_cast<int>(options_.drain_timeout.count()));
      for (const auto& [socket, where] :
           std::array<std::pair<zmq::socket_t*, const std::string*>, 4>{{
               {&ingest_, &options_.ingest_endpoint},
               {&internal_, &options_.internal_endpoint},
               {&events_, &options_.events_endpoint},
               {&replay_, &options_.replay_endpoint},
           }}) {
        endpoint = where;
        socket->bind(*endpoint);
      }
      for (const auto& [socket, where] :
           std::array<std::pair<zmq::socket_t*, const std::string*>, 3>{{
               {&ingest_, &options_.ingest_tcp},
               {&events_, &options_.events_tcp},
               {&replay_, &options_.replay_tcp},
           }}) {
        endpoint = where;
        tcp_bound_.emplace_back();
        if (where->empty()) continue;
        if (options_.curve == nullptr) {
          return Status::error("bus: " + *where + ": tcp needs CURVE (hub.yml network:)");
        }
        bind_curve(*socket, *options_.curve, *where);
        tcp_bound_.back() = socket->get(zmq::sockopt::last_endpoint);
      }
    } catch (const zmq::error_t& e) {
      return Status::error(endpoint ? "bus: cannot bind " + *endpoint + ": " + e.what()
                                    : std::string("bus: cannot set up the sockets: ") + e.what());
    }
    return Status::ok();
  }

  // The retained events the journal holds, as they were when the last hubd stopped.
  void rebuild_retained() {
    if (options_.journal == nullptr) return;
    const auto began = Clock::now();
    const RetainedRebuild done = hub::rebuild_retained(options_.journal->options().dir, retained_);
    counters_.retained_topics.store(retained_.size(), std::memory_order_relaxed);
    counters_.retained_bytes.store(retained_.bytes(), std::memory_order_relaxed);
    rebuilt_lifecycle_ = retained_.lifecycle_events();
    if (done.events_read == 0) return;
    spdlog::info(
        "bus: {} retained events rebuilt from {} journalled events in {} ms ({} refused now)",
        retained_.size(), done.events_read,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count(),
        done.refused);
  }

  void run() {
    bool stopping = false;
    while (!stopping) {
      std::array<zmq::pollitem_t, 6> items = {{
          {ingest_.handle(), 0, ZMQ_POLLIN, 0},
          {internal_.handle(), 0, ZMQ_POLLIN, 0},
          {events_.handle(), 0, ZMQ_POLLIN, 0},
          {replay_.handle(), 0, ZMQ_POLLIN, 0},
          {zap_.socket().handle(), 0, ZMQ_POLLIN, 0},
          {nullptr, stop_fd_, ZMQ_POLLIN, 0},
      }};
      try {
        zmq::poll(items.data(), items.size(), next_deadline());
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;  // a signal in a process that does not block them
        throw;
      }
      if (items[0].revents) take_publishes(ingest_, false);
      if (items[1].revents) take_publishes(internal_, true);
      if (cutter_) cutter_->take_events();
      if (items[2].revents) take_subscriptions();
      if (items[3].revents) take_requests();
      if (items[4].revents) counters_.auth_failures += zap_.serve_pending();
      snapshots_.expire();
      settle_journal(false);
      report_journal_failures();
      replays_.expire_idle();
      count_replays();
      // After the acks: retention when a segment rolled over, and by age also while none
      // does (an idle bus), once a minute.
      if (options_.journal != nullptr && (options_.journal->retention_due() ||
                                          Clock::now() - last_retention_ >= kRetentionEvery)) {
        options_.journal->enforce_retention();
        last_retention_ = Clock::now();
      }
      stopping = items[5].revents != 0;
    }
    drain();
  }

  void stop() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
  }

  const BrokerCounters& counters() const { return counters_; }
  const std::vector<std::string>& tcp_endpoints() const { return tcp_bound_; }
  uint64_t last_seq() const { return last_seq_.load(std::memory_order_relaxed); }

 private:
  // Takes in everything publishers queued before stop(), then closes the sockets; the
  // XPUB's linger bounds the wait for subscribers to receive what is in flight.
  void drain() {
    // Bounded: a publisher that keeps sending cannot hold the hub open.
    const auto deadline = Clock::now() + options_.drain_timeout;
    while (take_publishes(internal_, true) + take_publishes(ingest_, false) > 0 &&
           Clock::now() < deadline) {
    }
    settle_journal(true);
    report_journal_failures();
    settle_journal(true);
    ingest_.close();
    internal_.close();
    replay_.close();
    events_.close();
  }

  std::chrono::milliseconds next_deadline() const {
    std::optional<Clock::time_point> at = snapshots_.next_deadline();
    const Journal* j = options_.journal;
    if (j != nullptr && j->unsynced()) {  // a sync falls due
      const auto sync_at = last_sync_ + j->options().sync_interval;
      if (!at || sync_at < *at) at = sync_at;
    }
    if (const auto report_at = failure_report_.due(); report_at && (!at || *report_at < *at)) {
      at = std::max(*report_at, Clock::now());
    }
    if (!at) return std::chrono::milliseconds(-1);
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(*at - Clock::now()) +
                        std::chrono::milliseconds(1));
  }

  // The replay service's numbers, for counters().
  void count_replays() {
    counters_.replays.store(replays_.begun(), std::memory_order_relaxed);
    counters_.replay_sessions.store(replays_.open(), std::memory_order_relaxed);
    counters_.replayed_events.store(replays_.events_sent(), std::memory_order_relaxed);
  }

  // Writes (and, per the durability, syncs) the journal when acks wait for it or the sync
  // interval is up, then acknowledges the events that are durable now. When the journal
  // fails, the acks of exactly the events it lost say `failed` (journal_failed).
  void settle_journal(bool now) {
    Journal* j = options_.journal;
    if (j == nullptr) return;
    const bool unsynced = j->unsynced();
    const bool due = now || !pending_acks_.empty() ||
                     (unsynced && Clock::now() - last_sync_ >= j->options().sync_interval);
    if (!due) return;
    if (unsynced) {
      const Status flushed = j->flush(true);
      last_sync_ = Clock::now();  // after a failure too: the next try waits its turn
      if (!flushed) journal_failed(flushed.message());
    }
    while (!pending_acks_.empty() && pending_acks_.front().seq <= j->durable_seq()) {
      PendingAck& a = pending_acks_.front();
      std::swap(routing_id_, a.routing_id);
      accept(*a.router, a.header, a.seq, a.not_retained);
      pending_acks_.pop_front();
    }
  }

  // The journal lost the events of its last_loss(): their waiting acks say `failed`, and
  // the failure is counted and reported (Hub/journal-failed and the log, rate-bounded).
  // Those events were fanned out already; subscribers that read the journal later meet
  // their numbers as a gap.
  void journal_failed(const std::string& why) {
    const JournalLoss loss = options_.journal->last_loss();
    ++counters_.journal_failures;
    if (!loss.empty()) counters_.journal_lost_events += loss.last - loss.first + 1;
    failure_report_.record(loss, why, Clock::now());
    if (loss.empty()) return;
    const std::string reason = "not kept: " + why;
    for (auto it = pending_acks_.begin(); it != pending_acks_.end();) {
      if (it->seq < loss.first || it->seq > loss.last) {
        ++it;
        continue;
      }
      std::swap(routing_id_, it->routing_id);  // the publish being handled keeps its own
      acknowledge(*it->router, it->header, wire::AckStatus::kFailed, it->seq, reason);
      std::swap(routing_id_, it->routing_id);
      it = pending_acks_.erase(it);
    }
  }

  // Publishes the Hub/journal-failed report that is due, as the Hub (through the same path
  // as any publish, so it is numbered, journalled if the journal can, and fanned out).
  void report_journal_failures() {
    auto report = failure_report_.take(Clock::now());
    if (!report) return;
    spdlog::error("journal: {}", *report);
    parts_[0].rebuild(wire::kJournalFailedTopic.data(), wire::kJournalFailedTopic.size());
    wire::encode(wire::PublishHeader{0, 0, wire::kDefaultContentType}, ack_buf_);
    parts_[1].rebuild(ack_buf_.data(), ack_buf_.size());
    parts_[2].rebuild(report->data(), report->size());
    handle_publish(internal_, /*internal=*/true, 3);
  }

  // Receives the rest of a multipart message into parts_; returns the part count.
  size_t receive_parts(zmq::socket_t& socket, bool more) {
    size_t n = 0;
    while (more) {
      zmq::message_t& dst = n < parts_.size() ? parts_[n] : overflow_;
      (void)socket.recv(dst);
      more = dst.more();
      ++n;
    }
    return n;
  }

  int take_publishes(zmq::socket_t& router, bool internal) {
    int taken = 0;
    for (; taken < kBatch; ++taken) {
      if (!router.recv(routing_id_, zmq::recv_flags::dontwait)) break;
      const size_t n = receive_parts(router, routing_id_.more());
      handle_publish(router, internal, n);
    }
    return taken;
  }

  void handle_publish(zmq::socket_t& router, bool internal, size_t parts) {
    if (parts != 3) {
      ++counters_.bad_frame_count;
      count_rejection(counters_.malformed,
                      "expected 3 frames [topic][header][payload], got " + std::to_string(parts));
      return;
    }
    const auto header = wire::decode_publish_header(parts_[1].to_string_view());
    if (!header) {
      ++counters_.bad_header;
      count_rejection(counters_.malformed,
                      "the publish header is malformed or of an unknown "
                      "version");
      return;
    }
    const char* source = internal ? kHubIdentity : zmq_msg_gets(parts_[0].handle(), "User-Id");
    if (source == nullptr) {
      count_rejection(counters_.malformed, "the publisher is not authenticated");
      return;
    }
    const std::string_view topic = parts_[0].to_string_view();
    auto problem = wire::topic_problem(topic);
    const bool topic_bad = problem.has_value();
    if (!problem) problem = wire::content_type_problem(header->content_type);
    if (problem) {
      ++(topic_bad ? counters_.bad_topic : counters_.bad_content_type);
      count_rejection(counters_.malformed, std::string(source) + ": " + *problem);
      return acknowledge(router, *header, wire::AckStatus::kMalformed, 0, *problem);
    }
    if (!internal && options_.check_ownership) {
      auto why = revoked(parts_[0], source, &routing_id_);
      if (why) ++counters_.revoked;
      if (!why) why = publish_refusal(source, topic);
      if (why) {
        count_forbidden(source, *why);
        return acknowledge(router, *header, wire::AckStatus::kForbidden, 0, *why);
      }
    }
    if (parts_[2].size() > options_.max_payload) {
      const std::string why = "the payload of " + std::to_string(parts_[2].size()) +
                              " bytes exceeds the limit of " + std::to_string(options_.max_payload);
      count_rejection(counters_.too_large, std::string(source) + ": " + why);
      return acknowledge(router, *header, wire::AckStatus::kTooLarge, 0, why);
    }

    const uint64_t seq = last_seq_.load(std::memory_order_relaxed) + 1;
    // The number must be one no hubd will hand out again (and the sequence never wraps):
    // otherwise the publish is refused, and no number is used.
    if (seq > wire::kMaxSeq) {
      return refuse_unkept(
          router, *header,
          "the sequence is exhausted (past " + std::to_string(wire::kMaxSeq) + ")");
    }
    if (options_.journal != nullptr) {
      if (Status s = options_.journal->reserve(seq); !s) {
        return refuse_unkept(router, *header, s.message());
      }
    }
    wire::EventHeader stamp;
    stamp.flags = header->flags & wire::kFlagRetain;
    stamp.seq = seq;
    stamp.time_ns = wire::now_ns();
    stamp.source = source;
    stamp.content_type = header->content_type;
    stamp.module_prev = chain_module(topic, stamp.seq);
    zmq::message_t stamped(wire::event_header_size(stamp));
    wire::encode_to(stamp, static_cast<char*>(stamped.data()));
    last_seq_.store(stamp.seq, std::memory_order_relaxed);
    // Delivery never waits for the disk: an event the journal could not take is still
    // fanned out (it is numbered: subscribers would see a gap otherwise), and its
    // publisher told `failed`.
    std::optional<std::string> unkept;
    if (options_.journal != nullptr) {
      if (Status s = options_.journal->append(stamp.seq, topic, stamped.to_string_view(),
                                              parts_[2].to_string_view());
          !s) {
        journal_failed(s.message());
        unkept = "not kept: " + s.message();
      }
    }
    ++counters_.events;
    counters_.payload_bytes += parts_[2].size();

    std::string not_retained;
    if (header->flags & wire::kFlagRetain) {
      if (auto why = retained_.keep(parts_[0], stamped, parts_[2], stamp.seq, source)) {
        not_retained = std::move(*why);
        count_by_identity(counters_.retained_refused, retained_refused_by_, source,
                          "did not retain an event",
                          std::string(topic) + " was delivered, not retained: " + not_retained);
      }
      counters_.retained_topics.store(retained_.size(), std::memory_order_relaxed);
      counters_.retained_bytes.store(retained_.bytes(), std::memory_order_relaxed);
    } else if (internal) {  // NAME/exited ends what NAME/started said
      retained_.note_transient(topic, parts_[2].to_string_view());
      counters_.retained_topics.store(retained_.size(), std::memory_order_relaxed);
    }
    // Copy what the ack needs before the sends move the frames out.
    const wire::PublishHeader ack_for{header->flags, header->request_id, {}};
    events_.send(parts_[0], zmq::send_flags::sndmore);
    events_.send(stamped, zmq::send_flags::sndmore);
    events_.send(parts_[2], zmq::send_flags::none);
    if (unkept) return acknowledge(router, ack_for, wire::AckStatus::kFailed, stamp.seq, *unkept);
    if (options_.journal != nullptr && (ack_for.flags & wire::kFlagConfirm)) {
      zmq::message_t id;
      id.copy(routing_id_);
      pending_acks_.push_back(
          {&router, std::move(id), ack_for, stamp.seq, std::move(not_retained)});
      return;
    }
    accept(router, ack_for, stamp.seq, not_retained);
  }

  // A publish refused before it got a number, because the number could not be reserved:
  // counted and reported as a journal failure that lost nothing, acked `failed`.
  void refuse_unkept(zmq::socket_t& router, const wire::PublishHeader& header,
                     const std::string& why) {
    ++counters_.journal_failures;
    failure_report_.record(JournalLoss{}, why, Clock::now());
    acknowledge(router, header, wire::AckStatus::kFailed, 0, "not kept: " + why);
  }

  // Why the connection `msg` came on may not act any more (the credential it authenticated
  // with was revoked or replaced since), or nullopt. While nothing was ever revoked it
  // costs one atomic load. With the `routing_id` of an ingest_ message, connections found
  // live are remembered until the next revocation, so a publisher seen before costs one
  // hash lookup (routing ids are 5 bytes: no allocation); others cost a property lookup
  // and a look in the store. (A routing id is not reused while its connection lasts, and
  // one made later was admitted with a grant live then: remembering only "live" never
  // lets a revoked connection through.)
  std::optional<std::string> revoked(const zmq::message_t& msg, const char* identity,
                                     const zmq::message_t* routing_id = nullptr) {
    const uint64_t revocations = credentials_.revocations();
    if (revocations == 0) return std::nullopt;
    if (revocations != live_at_revocations_ || live_routing_ids_.size() >= kMaxLiveRemembered) {
      live_routing_ids_.clear();
      live_at_revocations_ = revocations;
    }
    std::string id;
    if (routing_id != nullptr) {
      id.assign(routing_id->to_string_view());
      if (live_routing_ids_.count(id) != 0) return std::nullopt;
    }
    if (!credentials_.is_revoked(zmq_msg_gets(msg.handle(), kGrantProperty))) {
      if (routing_id != nullptr) live_routing_ids_.insert(std::move(id));
      return std::nullopt;
    }
    return "the credential of " + std::string(identity) +
           " this connection authenticated with was revoked (what it was given to stopped)";
  }

  // Counts a refusal in `counter` and for `identity` in `by`, and logs it ("bus: WHAT (N so
  // far from IDENTITY): WHY") at 1, 2, 4, ... refusals of that identity (so every offender
  // shows up, and none can flood the log).
  static void count_by_identity(std::atomic<uint64_t>& counter, CountsByIdentity& by,
                                const std::string& identity, const char* what,
                                const std::string& why) {
    ++counter;
    const uint64_t n = by.add(identity);
    if ((n & (n - 1)) == 0) spdlog::warn("bus: {} ({} so far from {}): {}", what, n, identity, why);
  }

  void count_forbidden(const std::string& identity, const std::string& why) {
    count_by_identity(counters_.forbidden, forbidden_by_, identity, "refused a publish", why);
  }

 public:
  std::map<std::string, uint64_t> forbidden_by_identity() const { return forbidden_by_.snapshot(); }
  std::map<std::string, uint64_t> retained_refused_by_identity() const {
    return retained_refused_by_.snapshot();
  }

 private:
  // The seq of the previous event of `topic`'s module, and `seq` remembered as the newest.
  // A module first seen in this run may have events in the journal from earlier runs, so
  // it gets the last seq from before this run: higher than the truth is safe (a subscriber
  // looks in the journal and finds nothing), lower never happens.
  uint64_t chain_module(std::string_view topic, uint64_t seq) {
    const std::string_view module = wire::topic_module(topic);
    if (chained_prev_ == nullptr || module != chained_module_) {
      auto it = module_last_.find(std::string(module));
      if (it == module_last_.end()) {
        if (module_last_.size() >= kMaxChainedModules) return seq - 1;
        it = module_last_.emplace(module, options_.last_seq).first;
      }
      chained_module_ = it->first;
      chained_prev_ = &it->second;  // element addresses survive rehashing
    }
    return std::exchange(*chained_prev_, seq);
  }

  // Acks an accepted publish as event `seq`; with kAckNotRetained when `not_retained`
  // (the reason) is not empty.
  void accept(zmq::socket_t& router, const wire::PublishHeader& header, uint64_t seq,
              std::string_view not_retained) {
    acknowledge(router, header, wire::AckStatus::kAccepted, seq, not_retained,
                not_retained.empty() ? 0 : wire::kAckNotRetained);
  }

  void acknowledge(zmq::socket_t& router, const wire::PublishHeader& header, wire::AckStatus status,
                   uint64_t seq, std::string_view reason, uint8_t flags = 0) {
    if (!(header.flags & wire::kFlagConfirm)) return;
    wire::encode(wire::Ack{status, header.request_id, seq, flags}, ack_buf_);
    try {
      if (router.send(routing_id_, zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
          router.send(zmq::buffer(ack_buf_), zmq::send_flags::sndmore) &&
          router.send(zmq::buffer(reason), zmq::send_flags::none)) {
        return;
      }
    } catch (const zmq::error_t&) {
      // EHOSTUNREACH: the publisher left before its ack.
    }
    ++counters_.acks_undeliverable;
  }

  // XPUB hands up every subscription (xpub_verbose), with its sender's identity. The
  // broker answers the sync subscriptions of clients joining with a snapshot, and counts
  // each identity's distinct prefixes: one that goes past kMaxSubscriptionsPerIdentity is
  // refused any new connection (its subscription is already in force: libzmq applies it).
  void take_subscriptions() {
    zmq::message_t msg;
    for (int i = 0; i < kBatch && events_.recv(msg, zmq::recv_flags::dontwait); ++i) {
      const std::string_view body = msg.to_string_view();
      if (body.empty() || static_cast<unsigned char>(body[0]) != 1) continue;
      const std::string_view prefix = body.substr(1);
      if (prefix.substr(0, wire::kSyncPrefix.size()) != wire::kSyncPrefix) {
        const char* identity = zmq_msg_gets(msg.handle(), "User-Id");
        const std::string who = identity != nullptr ? identity : "";
        if (admit_subscription(who, std::string(prefix)) && gate_.live(who, std::string(prefix))) {
          // XPUB applied it already: only closing the connection undoes it (peer_cutter.h).
          const char* peer = zmq_msg_gets(msg.handle(), "Peer-Address");
          if (peer != nullptr && *peer != '\0') {
            zap_.ban_peer(peer, who, grant_of(msg));
            (void)cutter_->cut(peer);
          }
        }
        continue;
      }
      snapshots_.sync_arrived(std::string(prefix.substr(wire::kSyncPrefix.size())), last_seq());
    }
  }

  // The grant (credentials.h) the connection `msg` came on authenticated with; a message
  // without one (never, past the ZAP handler) gives the permanent grant.
  static uint64_t grant_of(const zmq::message_t& msg) {
    const char* grant = zmq_msg_gets(msg.handle(), kGrantProperty);
    return grant != nullptr ? std::strtoull(grant, nullptr, 10) : CredentialStore::kPermanentGrant;
  }

  // True when `identity` may hold `prefix`: it already does (on some connection), or holds
  // fewer than kMaxSubscriptionsPerIdentity distinct prefixes. False: counted, and the
  // identity (unless the administrator's or the Hub's) is refused from now on.
  bool admit_subscription(const std::string& identity, const std::string& prefix) {
    auto& held = subscriptions_[identity];
    if (held.count(prefix) != 0) return true;
    if (held.size() < kMaxSubscriptionsPerIdentity) {
      held.insert(prefix);
      return true;
    }
    const uint64_t n = ++counters_.subscriptions_refused;
    const bool banned = identity != kAdminIdentity && identity != kHubIdentity;
    if (banned) zap_.ban(identity);
    if ((n & (n - 1)) == 0) {
      spdlog::warn("bus: {} holds {} subscriptions already ({} past that so far){}", identity,
                   kMaxSubscriptionsPerIdentity, n,
                   banned ? "; it may not connect again while hubd runs" : "");
    }
    return false;
  }

  // Requests on the replay socket: journal replays and retained snapshots, from clients
  // whose credential still stands.
  void take_requests() {
    for (int i = 0; i < kBatch; ++i) {
      std::vector<zmq::message_t> message;  // [routing id][request frames...]
      if (!zmq::recv_multipart(replay_, std::back_inserter(message), zmq::recv_flags::dontwait)) {
        return;
      }
      zmq::message_t routing_id = std::move(message.front());
      if (message.size() > 1) {
        const char* identity = zmq_msg_gets(message[1].handle(), "User-Id");
        if (auto why = revoked(message[1], identity != nullptr ? identity : "?")) {
          ++counters_.revoked;
          reply_error(replay_, routing_id, *why);
          continue;
        }
      }
      std::vector<std::string> frames;
      for (size_t f = 1; f < message.size(); ++f) frames.push_back(message[f].to_string());
      if (auto why = read_refusal(message, frames)) {
        reply_error(replay_, routing_id, *why);
        continue;
      }
      if (!frames.empty() && frames[0] == wire::kMayRead) {
        reply_may_read(routing_id, frames);
      } else if (!frames.empty() && frames[0] == wire::kReplayRequest) {
        replays_.answer(routing_id, frames, last_seq());
      } else if (frames.size() >= 2 && frames[0] == wire::kSnapshotRequest) {
        snapshots_.request(std::move(routing_id), frames, last_seq());
      } else {
        reply_error(
            replay_, routing_id,
            "expected [\"retained\"][token][pattern]* or [\"replay\"][from][credit][pattern]*");
      }
    }
  }

  // [ok], or an error naming the first invalid pattern (permissions were checked before).
  void reply_may_read(zmq::message_t& routing_id, const std::vector<std::string>& frames) {
    auto filter = TopicFilter::parse({frames.begin() + 1, frames.end()});
    if (!filter) return reply_error(replay_, routing_id, filter.error());
    (void)send_frames(replay_, routing_id, {wire::kReplyOk});
  }

  // Why the may-read, snapshot or replay request `frames` (of `message`) may not read what it asks
  // for, or nullopt.
  std::optional<std::string> read_refusal(const std::vector<zmq::message_t>& message,
                                          const std::vector<std::string>& frames) {
    if (!gate_.checks() || message.size() < 2) return std::nullopt;
    size_t first_pattern = 0;
    if (frames.size() >= 3 && frames[0] == wire::kReplayRequest) first_pattern = 3;
    if (frames.size() >= 2 && frames[0] == wire::kSnapshotRequest) first_pattern = 2;
    if (!frames.empty() && frames[0] == wire::kMayRead) first_pattern = 1;
    if (first_pattern == 0) return std::nullopt;
    const char* identity = zmq_msg_gets(message[1].handle(), "User-Id");
    return gate_.patterns(identity != nullptr ? identity : "",
                          {frames.begin() + static_cast<ptrdiff_t>(first_pattern), frames.end()});
  }

 public:
  std::map<std::string, uint64_t> subscribe_forbidden_by_identity() const {
    return gate_.refused_by_identity();
  }

 private:
  BrokerOptions options_;
  const CredentialStore& credentials_;
  ZapHandler zap_;
  zmq::socket_t ingest_, internal_, events_, replay_;
  RetainedStore retained_;
  int stop_fd_;
  BrokerCounters counters_;
  std::atomic<uint64_t> last_seq_{0};  // written by the broker thread only

  // Receive buffers reused across publishes.
  zmq::message_t routing_id_;
  std::array<zmq::message_t, 3> parts_;
  zmq::message_t overflow_;
  std::string ack_buf_;
  std::vector<std::string> tcp_bound_;  // set by bind()

  std::deque<PendingAck> pending_acks_;  // in sequence order
  JournalFailureReport failure_report_;
  ReplayService replays_;
  SnapshotService snapshots_;
  SubscriptionGate gate_;
  std::optional<PeerCutter> cutter_;  // when gate_ checks
  Clock::time_point last_sync_ = Clock::now();
  Clock::time_point last_retention_ = Clock::now();
  CountsByIdentity forbidden_by_;
  CountsByIdentity retained_refused_by_;
  // The ingest connection revoked() last found live, and the count of revocations then.
  std::unordered_set<std::string> live_routing_ids_;  // found live since the last revocation
  uint64_t live_at_revocations_ = 0;
  std::unordered_map<std::string, uint64_t> module_last_;  // newest seq of each module
  std::string_view chained_module_;                        // the last module looked up,
  uint64_t* chained_prev_ = nullptr;                       // and its entry
  // Distinct prefixes each identity subscribed to (kept while the broker runs: the same
  // ones come back when a client reconnects).
  std::unordered_map<std::string, std::unordered_set<std::string>> subscriptions_;

 public:
  // The lifecycle state the journal gave back at bind(): written before run(), then only read.
  std::map<std::string, std::set<std::string>> rebuilt_lifecycle_;
};

Result<std::unique_ptr<Broker>> Broker::bind(zmq::context_t& ctx, BrokerOptions options,
                                             const CredentialStore& credentials) {
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(ctx, std::move(options), credentials);
  } catch (const zmq::error_t& e) {
    return Status::error(std::string("bus: cannot set up the broker: ") + e.what());
  }
  if (Status s = impl->bind(); !s) return s;
  impl->rebuild_retained();
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() = default;
void Broker::run() { impl_->run(); }
void Broker::stop() { impl_->stop(); }
const BrokerCounters& Broker::counters() const { return impl_->counters(); }
const std::map<std::string, std::set<std::string>>& Broker::rebuilt_lifecycle() const {
  return impl_->rebuilt_lifecycle_;
}
std::map<std::string, uint64_t> Broker::forbidden_by_identity() const {
  return impl_->forbidden_by_identity();
}
std::map<std::string, uint64_t> Broker::retained_refused_by_identity() const {
  return impl_->retained_refused_by_identity();
}
std::map<std::string, uint64_t> Broker::subscribe_forbidden_by_identity() const {
  return impl_->subscribe_forbidden_by_identity();
}
uint64_t Broker::last_seq() const { return impl_->last_seq(); }
std::vector<std::string> Broker::tcp_endpoints() const { return impl_->tcp_endpoints(); }

}  // namespace hub
