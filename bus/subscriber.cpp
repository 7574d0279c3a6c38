#include "bus/subscriber.h"

#include <algorithm>
#include <cerrno>
#include <iterator>

#include <zmq_addon.hpp>

#include "bus/bus_paths.h"

namespace hub {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kIdleCheckEvery = std::chrono::seconds(1);

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

// Asks the broker whether `credential` may subscribe to `patterns` (none: every topic)
// live: a live subscription it refuses costs this process its connections (wire.h).
Status ask_may_read(zmq::context_t& ctx, const Credential& credential,
                    const SubscriberOptions& options, const std::vector<std::string>& patterns) {
  const std::string no_answer = "no answer from the hub at " + options.replay_endpoint +
                                " within " + std::to_string(options.connect_timeout.count()) +
                                " ms (wrong credential, or hubd is stuck)";
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::sndtimeo, static_cast<int>(options.connect_timeout.count()));
  set_plain_credential(dealer, credential);
  dealer.connect(options.replay_endpoint);
  if (!dealer.send(zmq::buffer(wire::kMayRead),
                   patterns.empty() ? zmq::send_flags::none : zmq::send_flags::sndmore)) {
    return Status::error(no_answer);
  }
  for (size_t i = 0; i < patterns.size(); ++i) {
    dealer.send(zmq::buffer(patterns[i]),
                i + 1 < patterns.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, options.connect_timeout) == 0) return Status::error(no_answer);
  std::vector<zmq::message_t> frames;
  (void)zmq::recv_multipart(dealer, std::back_inserter(frames));
  if (frames.size() >= 2 && frames[0].to_string_view() == wire::kReplyError) {
    return Status::error("the hub refused the subscription: " + frames[1].to_string());
  }
  if (frames.size() != 1 || frames[0].to_string_view() != wire::kReplyOk) {
    return Status::error("the hub sent a malformed answer to may-read");
  }
  return Status::ok();
}

}  // namespace

Result<Subscriber> Subscriber::open(zmq::context_t& ctx, const Credential& credential,
                                    SubscriberOptions options) {
  auto filter = TopicFilter::parse(options.patterns);
  if (!filter) return filter.status();
  if (options.resume_from > 0 && options.retained) {
    return Status::error("a subscriber resuming from the journal takes no retained snapshot");
  }
  if (Status s = probe_endpoint(options.events_endpoint); !s) {
    return Status::error("no hub is running: " + s.message());
  }
  // A recovering subscriber must see its gaps. One to a single module's topics receives
  // all of that module's events: each names the previous one (module_prev), so a gap
  // shows without the whole bus. Patterns across modules need every event (lossless).
  std::string chain_module;
  if (options.recover && !options.lossless && !options.replay_endpoint.empty() &&
      !filter->matches_all()) {
    chain_module = filter->single_module();
    options.lossless = chain_module.empty();
  }
  const std::vector<std::string> live = options.lossless ? std::vector<std::string>{}
                                        : !chain_module.empty()
                                            ? std::vector<std::string>{chain_module + "/#"}
                                            : filter->patterns();
  const std::string token = random_secret().substr(0, 16);
  const std::string endpoint = options.events_endpoint;
  try {
    if (!options.replay_endpoint.empty()) {
      if (Status s = ask_may_read(ctx, credential, options, live); !s) return s;
    }
    zmq::socket_t socket(ctx, zmq::socket_type::sub);
    socket.set(zmq::sockopt::rcvhwm, options.receive_hwm);
    socket.set(zmq::sockopt::linger, 0);
    set_plain_credential(socket, credential);
    // Connect first, then subscribe: subscriptions made on a connected pipe reach the
    // broker in the order they are made, so the sync subscription (last) arrives after
    // every pattern's. Made before connect, they would go out in byte order, sync first.
    socket.connect(options.events_endpoint);
    if (options.lossless) {
      socket.set(zmq::sockopt::subscribe, "");  // every event: its number tells of a gap
    } else if (!chain_module.empty()) {
      socket.set(zmq::sockopt::subscribe, chain_module + "/");
    } else {
      for (const auto& prefix : filter->zmq_prefixes()) socket.set(zmq::sockopt::subscribe, prefix);
    }
    const bool join = options.retained || options.sync;
    if (join) socket.set(zmq::sockopt::subscribe, std::string(wire::kSyncPrefix) + token);
    Subscriber sub(std::move(socket), std::move(*filter), std::move(options), ctx, credential,
                   !chain_module.empty());
    if (join) {
      if (Status s = sub.join_with_snapshot(ctx, credential, token); !s) return s;
    }
    if (sub.options_.resume_from > 0 && sub.options_.recover) {
      // Nothing to fetch when nothing from there on came before the join.
      sub.gaps_.resume_from(sub.options_.resume_from,
                            !join || sub.options_.resume_from <= sub.join_seq_);
    }
    return sub;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return Status::error("interrupted while joining the bus");
    return Status::error("bus: cannot subscribe at " + endpoint + ": " + e.what());
  }
}

Status Subscriber::join_with_snapshot(zmq::context_t& ctx, const Credential& credential,
                                      const std::string& token) {
  const std::string no_answer = "no answer from the hub at " + options_.replay_endpoint +
                                " within " + std::to_string(options_.connect_timeout.count()) +
                                " ms (wrong credential, or hubd is stuck)";
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  // A refused login drops the connection for good; a send must not wait for it forever.
  dealer.set(zmq::sockopt::sndtimeo, static_cast<int>(options_.connect_timeout.count()));
  set_plain_credential(dealer, credential);
  dealer.connect(options_.replay_endpoint);
  if (!dealer.send(zmq::buffer(wire::kSnapshotRequest), zmq::send_flags::sndmore)) {
    return Status::error(no_answer);
  }
  dealer.send(zmq::buffer(token),
              filter_.patterns().empty() ? zmq::send_flags::none : zmq::send_flags::sndmore);
  const auto& patterns = filter_.patterns();
  for (size_t i = 0; i < patterns.size(); ++i) {
    dealer.send(zmq::buffer(patterns[i]),
                i + 1 < patterns.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }

  zmq::pollitem_t item{dealer.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, options_.connect_timeout) == 0) return Status::error(no_answer);
  std::vector<zmq::message_t> frames;
  (void)zmq::recv_multipart(dealer, std::back_inserter(frames));
  if (frames.size() >= 2 && frames[0].to_string_view() == wire::kReplyError) {
    return Status::error("the hub refused the snapshot: " + frames[1].to_string());
  }
  if (frames.size() < 2 || frames[0].to_string_view() != wire::kReplyOk || frames[1].size() != 16 ||
      (frames.size() - 2) % 3 != 0) {
    return Status::error("the hub sent a malformed snapshot reply");
  }
  join_seq_ = wire::get_u64(static_cast<const char*>(frames[1].data()));
  queue_bound_ = wire::get_u64(static_cast<const char*>(frames[1].data()) + 8);
  join_time_ns_ = wire::now_ns();  // the broker answered before this; it shares our clock
  last_seq_ = join_seq_;
  gaps_.joined(join_seq_);
  for (size_t i = 2; i < frames.size(); i += 3) {
    auto event = Event::decode(std::move(frames[i]), frames[i + 1], std::move(frames[i + 2]));
    if (!event) {
      ++malformed_;
    } else if (options_.retained) {
      snapshot_.push_back(std::move(*event));
    }
  }
  socket_.set(zmq::sockopt::unsubscribe, std::string(wire::kSyncPrefix) + token);
  return Status::ok();
}

// Starts fetching what gaps_ asks for from the journal.
void Subscriber::start_fetch() {
  const GapTracker::Range range = gaps_.fetch_range();
  ReplayRequest request;
  request.endpoint = options_.replay_endpoint;
  request.from = range.first;
  request.to = range.last;
  if (!filter_.matches_all()) request.patterns = options_.patterns;
  recovering_ = std::make_unique<ReplayCursor>(*ctx_, credential_, request);
}

// Delivers what the journal gives back of a gap, then the live event that showed it (if
// it is one this subscriber wants; an idle check has none). nullopt when nothing is left
// to deliver. gaps_ reports every number the journal lacks.
std::optional<Event> Subscriber::next_recovered() {
  while (recovering_) {
    auto replayed = recovering_->next();
    gaps_.fetch_lost(recovering_->outcome().lost);
    if (!replayed) {
      if (gaps_.fetch_failed()) {
        start_fetch();  // a busy or restarting hub: ask again, from where it was
        continue;
      }
      recovering_.reset();
      break;
    }
    if (!*replayed) {  // caught up
      gaps_.fetch_caught_up(recovering_->outcome().last_seq);
      recovering_.reset();
      break;
    }
    Event& e = **replayed;
    if (!gaps_.fetched(e.seq) || !filter_.matches(e.topic())) continue;
    last_seq_ = e.seq;
    ++recovered_;
    return std::move(e);
  }
  if (!resume_) return std::nullopt;
  Event live = std::move(*resume_);
  resume_.reset();
  last_seq_ = live.seq;
  return live;
}

Subscriber::Subscriber(zmq::socket_t socket, TopicFilter filter, SubscriberOptions options,
                       zmq::context_t& ctx, Credential credential, bool tracks_module)
    : socket_(std::move(socket)),
      filter_(std::move(filter)),
      options_(std::move(options)),
      ctx_(&ctx),
      credential_(std::move(credential)),
      gaps_(GapTrackerMode{filter_.matches_all() || options_.lossless, tracks_module,
                           options_.recover && !options_.replay_endpoint.empty(),
                           filter_.matches_all()},
            options_.on_gap) {}

Subscriber::~Subscriber() = default;

// ZeroMQ drops an event for a subscriber only when the broker's queue for it is full; all
// that queue holds then still arrives. A subscriber that received this many since it last
// asked the journal asks as soon as it runs dry: the queue counts as full once about half
// its bound is unread (libzmq acknowledges reads in batches of half the bound, and late),
// so this is an eighth. Having received fewer, it asks at most every kIdleCheckEvery:
// losses at the end of a burst show within about that long, and a quiet bus costs at
// most one question a second. Unknown bound (no join): after every spell.
uint64_t Subscriber::idle_check_after() const { return std::max<uint64_t>(1, queue_bound_ / 8); }

Subscriber::Subscriber(Subscriber&&) noexcept = default;
Subscriber& Subscriber::operator=(Subscriber&&) noexcept = default;

std::optional<Event> Subscriber::next(std::chrono::milliseconds timeout) {
  if (gaps_.start_resume(join_seq_)) start_fetch();
  if (resume_ || recovering_) {
    if (auto e = next_recovered()) return e;
  }
  if (!snapshot_.empty()) {
    Event event = std::move(snapshot_.front());
    snapshot_.pop_front();
    return event;
  }
  return receive(timeout);
}

std::optional<Event> Subscriber::receive(std::chrono::milliseconds timeout) {
  const bool forever = timeout.count() < 0;
  const auto deadline = Clock::now() + timeout;
  std::vector<zmq::message_t> frames;
  for (;;) {
    frames.clear();
    // What is already queued is taken without a poll (a system call): under load that
    // is most of the time.
    if (!zmq::recv_multipart(socket_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      // Nothing queued: events lost at the very end of a burst would show no gap until a
      // later event comes, so a recovering subscriber asks the journal when it runs dry
      // (see idle_check_after). Only when the caller would wait: a zero-timeout poll for
      // more is not idleness.
      const bool check_due =
          received_since_check_ >= idle_check_after() ||
          (received_since_check_ > 0 && Clock::now() - last_check_ >= kIdleCheckEvery);
      if (check_due && timeout.count() != 0 && gaps_.start_catch_up()) {
        received_since_check_ = 0;
        last_check_ = Clock::now();
        start_fetch();
        if (auto e = next_recovered()) return e;
        continue;
      }
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, options_.wake_fd, ZMQ_POLLIN, 0}};
      auto wait = forever ? std::chrono::milliseconds(-1) : left_until(deadline);
      if (gaps_.can_fetch() && received_since_check_ > 0) {  // wake for the timed check
        const auto check_in = left_until(last_check_ + kIdleCheckEvery);
        if (wait.count() < 0 || check_in < wait) wait = check_in;
      }
      int ready = 0;
      try {
        ready = zmq::poll(items, options_.wake_fd >= 0 ? 2 : 1, wait);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) return std::nullopt;  // let the caller look at its signal flag
        throw;
      }
      if (items[1].revents != 0) return std::nullopt;
      if (ready == 0 && (forever || Clock::now() < deadline)) continue;
      if (ready == 0) return std::nullopt;
      continue;  // readable now: take it at the top
    }
    ++received_since_check_;
    auto event = frames.size() == 3
                     ? Event::decode(std::move(frames[0]), frames[1], std::move(frames[2]))
                     : std::nullopt;
    if (!event) {
      ++malformed_;
      continue;
    }
    if (!joined_) {
      // Stamped before the snapshot was answered: the snapshot covers that moment. (A
      // lower seq stamped later is a restarted hub counting from 1 again: deliver it.)
      if (event->seq <= join_seq_ && event->time_ns <= join_time_ns_) continue;
      joined_ = true;
    }
    switch (gaps_.live(*event)) {
      case GapTracker::Verdict::kDeliver:
        break;
      case GapTracker::Verdict::kDrop:
        continue;
      case GapTracker::Verdict::kFetch:
        start_fetch();
        if (filter_.matches(event->topic())) resume_ = std::move(*event);
        if (auto e = next_recovered()) return e;
        continue;
    }
    if (!filter_.matches(event->topic())) continue;
    last_seq_ = event->seq;
    return event;
  }
}

}  // namespace hub
