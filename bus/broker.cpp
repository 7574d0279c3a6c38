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
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "bus/journal_failure_report.h"
#include "bus/retained_store.h"
#include "bus/topic_filter.h"
#include "bus/topic_owner.h"
#include "bus/wire.h"
#include "bus/zap_handler.h"

namespace hub {
namespace {

using Clock = std::chrono::steady_clock;

// Messages taken from one socket before the others get a turn.
constexpr int kBatch = 256;
// How long a snapshot request waits for its sync subscription to show up on the XPUB.
constexpr auto kSyncWait = std::chrono::seconds(5);
constexpr size_t kMaxSyncTokens = 4096;
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

// A replay in progress: its reader stays where the last answer stopped.
struct ReplaySession {
  std::unique_ptr<JournalReader> reader;
  uint64_t next = 0;  // the sequence number the client will ask from
  Clock::time_point used;
};
constexpr size_t kMaxReplays = 64;
constexpr auto kReplayIdle = std::chrono::seconds(30);
constexpr uint64_t kReplayScanLimit = 100000;  // records read per answer, matching or not
constexpr auto kRetentionEvery = std::chrono::minutes(1);
constexpr size_t kReplayBatch = 128;               // events per message of an answer, at most,
constexpr size_t kReplayBatchBytes = 1024 * 1024;  // or this many bytes (large payloads)
constexpr size_t kMaxRefusedIdentities = 1024;     // counted one by one; the rest together
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

constexpr size_t kMaxGapsLogged = 4096;      // distinct journal gaps remembered as logged
constexpr size_t kMaxLiveRemembered = 4096;  // live connections remembered by revoked()
// Modules whose newest seq is remembered; events of others say "look" (module_prev seq-1).
constexpr size_t kMaxChainedModules = 65536;

struct PendingSnapshot {
  zmq::message_t routing_id;
  std::string token;
  TopicFilter filter;
  Clock::time_point deadline;
};

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
        failure_report_(options_.journal_failure_interval) {
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
      if (items[2].revents) take_subscriptions();
      if (items[3].revents) take_snapshot_requests();
      if (items[4].revents) counters_.auth_failures += zap_.serve_pending();
      expire_snapshots();
      settle_journal(false);
      report_journal_failures();
      if (!replays_.empty()) expire_replays(false);
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
    std::optional<Clock::time_point> at;
    if (!pending_.empty()) at = pending_.front().deadline;
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
        (void)admit_subscription(identity != nullptr ? identity : "", std::string(prefix));
        continue;
      }
      const std::string token(prefix.substr(wire::kSyncPrefix.size()));
      auto waiting = std::find_if(pending_.begin(), pending_.end(),
                                  [&](const PendingSnapshot& p) { return p.token == token; });
      if (waiting != pending_.end()) {
        answer_snapshot(waiting->routing_id, waiting->filter);
        pending_.erase(waiting);
      } else {
        remember_sync_token(token);
      }
    }
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

  void remember_sync_token(const std::string& token) {
    if (sync_order_.size() >= kMaxSyncTokens) {
      sync_seen_.erase(sync_order_.front());
      sync_order_.pop_front();
    }
    if (sync_seen_.insert(token).second) sync_order_.push_back(token);
  }

  void take_snapshot_requests() {
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
          reply_error(routing_id, *why);
          continue;
        }
      }
      std::vector<std::string> frames;
      for (size_t f = 1; f < message.size(); ++f) frames.push_back(message[f].to_string());
      if (!frames.empty() && frames[0] == wire::kReplayRequest) {
        answer_replay(routing_id, frames);
        continue;
      }
      if (frames.size() < 2 || frames[0] != wire::kSnapshotRequest) {
        reply_error(
            routing_id,
            "expected [\"retained\"][token][pattern]* or [\"replay\"][from][credit][pattern]*");
        continue;
      }
      auto filter = TopicFilter::parse({frames.begin() + 2, frames.end()});
      if (!filter) {
        reply_error(routing_id, filter.error());
        continue;
      }
      const std::string& token = frames[1];
      if (sync_seen_.erase(token) != 0) {
        sync_order_.erase(std::find(sync_order_.begin(), sync_order_.end(), token));
        answer_snapshot(routing_id, *filter);
      } else {
        pending_.push_back(
            {std::move(routing_id), token, std::move(*filter), Clock::now() + kSyncWait});
      }
    }
  }

  void expire_snapshots() {
    const auto now = Clock::now();
    while (!pending_.empty() && pending_.front().deadline <= now) {
      reply_error(pending_.front().routing_id,
                  "the sync subscription did not arrive on the events socket in time");
      pending_.pop_front();
    }
  }

  // [ok][last_seq, subscriber queue bound] then [topic][header][payload] per retained
  // event, in sequence order.
  void answer_snapshot(zmq::message_t& routing_id, const TopicFilter& filter) {
    std::vector<zmq::message_t> reply;
    reply.emplace_back(wire::kReplyOk.data(), wire::kReplyOk.size());
    char joined[16];
    wire::put_u64(joined, last_seq());
    wire::put_u64(joined + 8, static_cast<uint64_t>(options_.subscriber_hwm));
    reply.emplace_back(joined, sizeof joined);
    retained_.append_matching(filter, reply);
    ++counters_.snapshots;
    send_reply(routing_id, reply);
  }

  // Sends one reply of `frames` to `routing_id` (kept for more replies). False when the
  // client cannot take it now (gone, or its queue full).
  bool send_to(const zmq::message_t& routing_id, std::initializer_list<std::string_view> frames) {
    try {
      zmq::message_t id(routing_id.data(), routing_id.size());
      if (!replay_.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
      size_t i = 0;
      for (std::string_view f : frames) {
        ++i;
        replay_.send(zmq::buffer(f),
                     i < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
      return true;
    } catch (const zmq::error_t&) {
      return false;  // the client left
    }
  }

  // A replay from the journal: up to `credit` events matching the patterns, from `from`
  // on (see wire.h). A client that asks again from where the last answer stopped goes on
  // with the same reader, so a long replay costs no re-reading; memory stays bounded by
  // the credit on both sides.
  void answer_replay(zmq::message_t& routing_id, const std::vector<std::string>& frames) {
    Journal* journal = options_.journal;
    if (journal == nullptr) return reply_error(routing_id, "this hub keeps no journal");
    char* end = nullptr;
    const uint64_t from = frames.size() >= 3 ? std::strtoull(frames[1].c_str(), &end, 10) : 0;
    const uint64_t credit =
        from > 0 && *end == '\0' ? std::strtoull(frames[2].c_str(), &end, 10) : 0;
    if (from == 0 || credit == 0 || *end != '\0') {
      return reply_error(routing_id, "expected [\"replay\"][from seq][credit][pattern]*");
    }
    std::vector<std::string> patterns(frames.begin() + 3, frames.end());
    auto filter = TopicFilter::parse(patterns);
    if (!filter) return reply_error(routing_id, filter.error());
    const uint64_t newest = last_seq_.load(std::memory_order_relaxed);
    if (from > newest) {  // nothing to read (a subscriber's idle check, mostly): no reader
      send_to(routing_id, {wire::kReplayCaughtUp, std::to_string(newest)});
      return;
    }
    if (Status s = journal->flush(false); !s) {  // everything appended so far is readable
      journal_failed(s.message());
    }

    std::string key(static_cast<const char*>(routing_id.data()), routing_id.size());
    for (const auto& p : patterns) key += '\n' + p;
    auto it = replays_.find(key);
    const bool fresh = it == replays_.end() || it->second.next != from;
    if (fresh) {
      if (replays_.size() >= kMaxReplays) expire_replays(true);
      auto reader = std::make_unique<JournalReader>(
          journal->options().dir, from,
          [](const std::string& why) { spdlog::error("journal: {}", why); });
      it = replays_.insert_or_assign(key, ReplaySession{std::move(reader), from, {}}).first;
    }
    ReplaySession& session = it->second;
    session.used = Clock::now();
    const uint64_t last = last_seq_.load(std::memory_order_relaxed);
    uint64_t sent = 0, scanned = 0;
    const uint64_t limit = std::min(credit, wire::kReplayMaxCredit);
    std::string& records = replay_records_;  // up to kReplayBatch events, wire::append_record
    records.clear();
    size_t batched = 0;
    const auto send_batch = [&] {
      if (batched == 0) return true;
      if (!send_to(routing_id, {wire::kReplayEvents, records})) return false;
      records.clear();
      batched = 0;
      return true;
    };
    // Numbers missing from the journal go to the client in order, between the events.
    const auto send_gap = [&](const JournalGap& gap) {
      log_gap(gap);
      return send_batch() && send_to(routing_id, {wire::kReplayLost, std::to_string(gap.first),
                                                  std::to_string(gap.last), gap.why});
    };
    while (sent < limit && scanned < kReplayScanLimit) {
      const JournalRecord* r = session.reader->next();
      if (r == nullptr) break;
      ++scanned;
      for (const JournalGap& gap : session.reader->gaps()) {
        if (!send_gap(gap)) {
          replays_.erase(it);  // the client is gone or not reading: it asks again
          return;
        }
      }
      session.next = r->seq + 1;
      if (!filter->matches(r->topic)) continue;
      wire::append_record(records, r->topic, r->header, r->payload);
      ++sent;
      if ((++batched == kReplayBatch || records.size() >= kReplayBatchBytes) && !send_batch()) {
        replays_.erase(it);
        return;
      }
    }
    if (sent < limit && scanned < kReplayScanLimit) {
      // The end of the journal: numbers this run handed out past it were not journalled
      // (a write that failed). Those of earlier runs show before the next record.
      const uint64_t from_here = std::max(session.next, options_.last_seq + 1);
      if (from_here <= last &&
          !send_gap({from_here, last, "never written to the journal (a failed write)"})) {
        replays_.erase(it);
        return;
      }
    }
    if (!send_batch()) {
      replays_.erase(it);
      return;
    }
    if (sent < limit && scanned < kReplayScanLimit) {
      send_to(routing_id, {wire::kReplayCaughtUp, std::to_string(last)});
      replays_.erase(it);
    } else {
      send_to(routing_id, {wire::kReplayMore, std::to_string(session.next)});
    }
  }

  // Says in the log, once per range, that a reader met numbers missing from the journal.
  void log_gap(const JournalGap& gap) {
    if (gaps_logged_.size() >= kMaxGapsLogged) gaps_logged_.clear();
    if (!gaps_logged_.insert({gap.first, gap.last}).second) return;
    spdlog::warn("journal: events {}..{} are missing from {}: {}", gap.first, gap.last,
                 options_.journal->options().dir.string(), gap.why);
  }

  // Forgets replays idle for a while (or, when `all_old`, the least recently used one).
  void expire_replays(bool oldest) {
    auto victim = replays_.end();
    for (auto it = replays_.begin(); it != replays_.end();) {
      if (Clock::now() - it->second.used > kReplayIdle) {
        it = replays_.erase(it);
        continue;
      }
      if (victim == replays_.end() || it->second.used < victim->second.used) victim = it;
      ++it;
    }
    if (oldest && victim != replays_.end()) replays_.erase(victim);
  }

  void reply_error(zmq::message_t& routing_id, const std::string& why) {
    std::vector<zmq::message_t> reply;
    reply.emplace_back(wire::kReplyError.data(), wire::kReplyError.size());
    reply.emplace_back(why.data(), why.size());
    send_reply(routing_id, reply);
  }

  void send_reply(zmq::message_t& routing_id, std::vector<zmq::message_t>& frames) {
    try {
      if (!replay_.send(routing_id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
      for (size_t i = 0; i < frames.size(); ++i) {
        replay_.send(frames[i],
                     i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    } catch (const zmq::error_t&) {
      // The client left before its answer.
    }
  }

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
  std::string replay_records_;
  std::vector<std::string> tcp_bound_;  // set by bind()

  std::deque<PendingSnapshot> pending_;  // ordered by deadline
  std::deque<PendingAck> pending_acks_;  // in sequence order
  JournalFailureReport failure_report_;
  std::map<std::string, ReplaySession> replays_;         // by client and patterns
  std::set<std::pair<uint64_t, uint64_t>> gaps_logged_;  // journal gaps said in the log
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
  std::unordered_set<std::string> sync_seen_;
  std::deque<std::string> sync_order_;  // eviction order of sync_seen_
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
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() = default;
void Broker::run() { impl_->run(); }
void Broker::stop() { impl_->stop(); }
const BrokerCounters& Broker::counters() const { return impl_->counters(); }
std::map<std::string, uint64_t> Broker::forbidden_by_identity() const {
  return impl_->forbidden_by_identity();
}
std::map<std::string, uint64_t> Broker::retained_refused_by_identity() const {
  return impl_->retained_refused_by_identity();
}
uint64_t Broker::last_seq() const { return impl_->last_seq(); }
std::vector<std::string> Broker::tcp_endpoints() const { return impl_->tcp_endpoints(); }

}  // namespace hub
