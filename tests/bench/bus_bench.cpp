// bus_bench: our broker (hub::Broker) side by side with the raw libzmq proxy a user would
// otherwise run (zmq::proxy between an XSUB and an XPUB), in one run on one machine.
//
//   build/tests/bench/bus_bench [--quick] [--events N] [--repeat R]
//
// (A) raw: XSUB and XPUB bound on ipc, zmq::proxy on its own thread; a PUB connects to the
//     XSUB, SUBs connect to the XPUB and subscribe to everything. libzmq default high-water
//     marks everywhere, so it drops events when a subscriber falls behind.
// (B) ours: hub::Broker bound on ipc, run() on its own thread, a CredentialStore with the
//     admin identity; hub::Publisher::publish() (fire-and-forget) as the publisher; SUB
//     sockets with PLAIN credentials (and hub::Subscriber's default receive HWM) as the
//     subscribers, which decode each event header and check the sequence numbers.
// The server side (proxy or broker) and the clients use separate ZeroMQ contexts, as
// separate processes would.
//
// Throughput: a burst of N events as fast as the publisher can send them; events/s is the
// events delivered to each subscriber (the minimum over subscribers) divided by the time
// from the first send to the last subscriber's last receive. The end of a burst is a
// marker event (confirmed with publish_confirmed for ours), re-sent until every subscriber
// saw one; a subscriber also gives up after 1 s without any message.
// With --repeat R every burst runs R times, raw and ours alternating, and the run with the
// median events/s of each is reported.
// Latency: one event at a time, publish then a blocking receive on the same thread; raw and
// ours are both set up and measured in alternating blocks of 1000 samples.
// Threads are named (hub-broker, raw-proxy, ours-sub, raw-sub; 1/ZMQbg/IO/0 is the server
// context's I/O thread, 2/ZMQbg/IO/0 the clients') so `perf record` can tell them apart.
#include <pthread.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "bus/broker.h"
#include "bus/credentials.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "bus/subscribe_rules.h"
#include "bus/subscriber.h"
#include "bus/wire.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view kProbeTopic = "bench/probe";
constexpr std::string_view kStartTopic = "bench/start";
constexpr std::string_view kDataTopic = "bench/data";
constexpr std::string_view kEndTopic = "bench/end";

constexpr auto kIdleEnd = 1s;          // a subscriber stops after this long without messages
constexpr auto kReadyTimeout = 10s;    // subscriptions must be active within this
constexpr auto kEndTimeout = 30s;      // every subscriber must be done within this after a burst
constexpr auto kConfirmTimeout = 30s;  // publish_confirmed of the start and end markers
constexpr int kLatencyWarmup = 1000;
constexpr int kLatencySamples = 20000;

enum class Impl { kRaw, kOurs };

const char* impl_name(Impl impl) { return impl == Impl::kRaw ? "raw" : "ours"; }

enum class Kind { kProbe, kStart, kData, kEnd, kOther };

Kind kind_of(std::string_view topic) {
  if (topic == kDataTopic) return Kind::kData;
  if (topic == kProbeTopic) return Kind::kProbe;
  if (topic == kStartTopic) return Kind::kStart;
  if (topic == kEndTopic) return Kind::kEnd;
  return Kind::kOther;
}

// Every payload starts with the event's index in the burst (8 bytes, big-endian): the raw
// subscribers check order with it, ours with the broker's sequence number.
std::string make_payload(size_t size) { return std::string(std::max<size_t>(size, 8), 'x'); }
void set_index(std::string& payload, uint64_t index) { hub::wire::put_u64(payload.data(), index); }

// Names the calling thread, so perf and top tell the parts apart.
void name_thread(const char* name) { ::pthread_setname_np(::pthread_self(), name); }

// A context with one I/O thread (the default), named "1/ZMQbg/IO/0" on the server side and
// "2/ZMQbg/IO/0" on the clients' side.
enum class Side : int { kServer = 1, kClients = 2 };
zmq::context_t make_context(Side side) {
  zmq::context_t ctx(1);
  ctx.set(zmq::ctxopt::thread_name_prefix, static_cast<int>(side));
  return ctx;
}

// A short directory under /tmp for the ipc sockets (ipc paths must stay under 108 bytes).
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/hubbench.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // A fresh ipc endpoint for every server, so no run sees another's socket file.
  std::string endpoint(const std::string& name) {
    return "ipc://" + path_ + "/" + std::to_string(++count_) + "-" + name + ".sock";
  }

 private:
  std::string path_;
  int count_ = 0;
};

// ---- servers -------------------------------------------------------------------------

// (A) zmq::proxy between an XSUB and an XPUB, on its own thread and context.
class RawProxy {
 public:
  explicit RawProxy(TempDir& dir)
      : in_endpoint_(dir.endpoint("raw-in")),
        out_endpoint_(dir.endpoint("raw-out")),
        xsub_(ctx_, zmq::socket_type::xsub),
        xpub_(ctx_, zmq::socket_type::xpub) {
    xsub_.set(zmq::sockopt::linger, 0);
    xpub_.set(zmq::sockopt::linger, 0);
    xsub_.bind(in_endpoint_);
    xpub_.bind(out_endpoint_);
    // The sockets move to the proxy thread (thread creation is a full memory barrier).
    thread_ = std::thread([this] {
      name_thread("raw-proxy");
      try {
        zmq::proxy(xsub_, xpub_);
      } catch (const zmq::error_t& e) {
        if (e.num() != ETERM) std::fprintf(stderr, "raw proxy: %s\n", e.what());
      }
      xsub_.close();
      xpub_.close();
    });
  }
  ~RawProxy() {
    ctx_.shutdown();  // zmq::proxy returns with ETERM
    thread_.join();
    ctx_.close();
  }
  RawProxy(const RawProxy&) = delete;
  RawProxy& operator=(const RawProxy&) = delete;

  const std::string& publish_endpoint() const { return in_endpoint_; }
  const std::string& subscribe_endpoint() const { return out_endpoint_; }

 private:
  std::string in_endpoint_, out_endpoint_;
  zmq::context_t ctx_ = make_context(Side::kServer);
  zmq::socket_t xsub_, xpub_;
  std::thread thread_;
};

// --journal: the broker journals every event, with this durability, into a fresh
// journal per burst; unset, it runs without one (the foundation measurement).
std::optional<hub::Durability> g_journal;
// --no-ownership: the broker does not check that publishers own their topics (the
// baseline for what the check costs). Our publisher is module "bench", so it is checked.
bool g_check_ownership = true;
// --no-subscribe-rules: the broker checks no subscribe permissions (the baseline for what
// they cost: they run per subscription, plus a look at the events socket's monitor per
// turn of the broker's loop).
bool g_subscribe_rules = true;

// (B) hub::Broker, on its own thread and context.
class OurBroker {
 public:
  explicit OurBroker(TempDir& dir)
      : admin_{hub::kAdminIdentity, hub::random_secret()}, module_{"bench", hub::random_secret()} {
    credentials_.add(admin_);
    credentials_.add(module_);
    hub::BrokerOptions options;
    options.check_ownership = g_check_ownership;
    if (g_subscribe_rules) options.subscribe_rules = &subscribe_rules_;
    if (g_journal) {
      hub::JournalOptions j;
      j.dir = std::filesystem::path(dir.path()) / "journal";
      std::error_code ignored;
      std::filesystem::remove_all(j.dir, ignored);
      j.durability = *g_journal;
      hub::JournalRecovery recovery;
      auto opened = hub::Journal::open(j, recovery);
      if (!opened) throw std::runtime_error(opened.error());
      journal_ = std::move(*opened);
      options.journal = journal_.get();
    }
    options.ingest_endpoint = dir.endpoint("ingest");
    options.events_endpoint = dir.endpoint("events");
    options.replay_endpoint = dir.endpoint("replay");
    auto bound = hub::Broker::bind(ctx_, options, credentials_);
    if (!bound) throw std::runtime_error(bound.error());
    broker_ = std::move(*bound);
    options_ = std::move(options);
    thread_ = std::thread([this] {
      name_thread("hub-broker");
      broker_->run();
    });
  }
  ~OurBroker() {
    broker_->stop();
    thread_.join();
    broker_.reset();  // closes the ZAP socket
    ctx_.close();
  }
  OurBroker(const OurBroker&) = delete;
  OurBroker& operator=(const OurBroker&) = delete;

  const std::string& publish_endpoint() const { return options_.ingest_endpoint; }
  const std::string& subscribe_endpoint() const { return options_.events_endpoint; }
  const hub::Credential& admin() const { return admin_; }
  const hub::Credential& module() const { return module_; }  // publishes bench/...
  const hub::Broker& broker() const { return *broker_; }

 private:
  hub::Credential admin_, module_;
  hub::CredentialStore credentials_;
  hub::SubscribeRules subscribe_rules_;
  hub::BrokerOptions options_;
  std::unique_ptr<hub::Journal> journal_;  // outlives the broker
  zmq::context_t ctx_ = make_context(Side::kServer);
  std::unique_ptr<hub::Broker> broker_;
  std::thread thread_;
};

// ---- publishers ----------------------------------------------------------------------

class RawPublisher {
 public:
  RawPublisher(zmq::context_t& ctx, const RawProxy& proxy) : socket_(ctx, zmq::socket_type::pub) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(proxy.publish_endpoint());
  }
  void send(std::string_view topic, std::string_view payload) {
    socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(payload), zmq::send_flags::none);
  }
  // The raw proxy has no confirmation: a marker is an ordinary message.
  void mark(std::string_view topic, std::string_view payload) { send(topic, payload); }

 private:
  zmq::socket_t socket_;
};

class OurPublisher {
 public:
  OurPublisher(zmq::context_t& ctx, const OurBroker& broker) : publisher_(connect(ctx, broker)) {}
  void send(std::string_view topic, std::string_view payload) {
    if (hub::Status s = publisher_.publish(topic, payload); !s) {
      throw std::runtime_error("publish: " + s.message());
    }
  }
  void mark(std::string_view topic, std::string_view payload) {
    auto seq = publisher_.publish_confirmed(
        topic, payload, std::chrono::duration_cast<std::chrono::milliseconds>(kConfirmTimeout));
    if (!seq) throw std::runtime_error("publish_confirmed: " + seq.error());
  }
  ~OurPublisher() { publisher_.close(); }
  OurPublisher(const OurPublisher&) = delete;
  OurPublisher& operator=(const OurPublisher&) = delete;

 private:
  static hub::Publisher connect(zmq::context_t& ctx, const OurBroker& broker) {
    hub::PublisherOptions options;  // the defaults, except: do not wait at close
    options.linger = 0ms;
    auto p = hub::Publisher::connect(ctx, broker.publish_endpoint(), broker.module(), options);
    if (!p) throw std::runtime_error(p.error());
    return std::move(*p);
  }
  hub::Publisher publisher_;
};

// ---- subscribers ---------------------------------------------------------------------

zmq::socket_t make_sub(zmq::context_t& ctx, const std::string& endpoint,
                       const hub::Credential* credential, int receive_timeout_ms) {
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::rcvtimeo, receive_timeout_ms);
  if (credential != nullptr) {
    // As hub::Subscriber would: its receive HWM, PLAIN credentials.
    sub.set(zmq::sockopt::rcvhwm, hub::SubscriberOptions{}.receive_hwm);
    hub::set_plain_credential(sub, *credential);
  }
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(endpoint);
  return sub;
}

// One received message, decoded. `value` is the broker's sequence number (ours) or the
// payload's index (raw).
struct Received {
  Kind kind = Kind::kOther;
  uint64_t value = 0;
  uint64_t payload_index = 0;
  bool ok = false;
};

class Receiver {
 public:
  explicit Receiver(Impl impl) : impl_(impl) {}

  // Blocks up to the socket's receive timeout; nullopt on timeout.
  std::optional<Received> receive(zmq::socket_t& socket) {
    if (!socket.recv(frames_[0])) return std::nullopt;
    size_t parts = 1;
    for (bool more = frames_[0].more(); more; ++parts) {
      zmq::message_t& dst = parts < frames_.size() ? frames_[parts] : extra_;
      (void)socket.recv(dst);  // the rest of a multipart message is already here
      more = dst.more();
    }
    Received r;
    r.kind = kind_of(frames_[0].to_string_view());
    if (r.kind == Kind::kProbe) {
      r.ok = true;
      return r;
    }
    const size_t want = impl_ == Impl::kRaw ? 2 : 3;
    const zmq::message_t& payload = frames_[want - 1];
    if (parts != want || payload.size() < 8) return r;
    r.payload_index = hub::wire::get_u64(static_cast<const char*>(payload.data()));
    if (impl_ == Impl::kRaw) {
      r.value = r.payload_index;
    } else {
      const auto header = hub::wire::decode_event_header(frames_[1].to_string_view());
      if (!header) return r;
      r.value = header->seq;
    }
    r.ok = true;
    return r;
  }

 private:
  Impl impl_;
  std::array<zmq::message_t, 3> frames_;
  zmq::message_t extra_;
};

struct SubSlot {
  std::atomic<bool> ready{false};  // has seen a probe: the subscription is active
  std::atomic<bool> done{false};
  uint64_t delivered = 0;
  uint64_t gaps = 0;       // places where the index/seq did not follow the previous one
  uint64_t malformed = 0;  // should stay 0
  bool saw_end = false;
  Clock::time_point last_data{};
};

struct BurstFlags {
  std::atomic<bool> sent{false};   // the whole burst and the first end marker are out
  std::atomic<bool> abort{false};  // stop now
};

void subscriber_loop(zmq::context_t& ctx, Impl impl, const std::string& endpoint,
                     const hub::Credential* credential, uint64_t n, const BurstFlags& flags,
                     SubSlot& slot) {
  zmq::socket_t socket = make_sub(ctx, endpoint, credential, 100);
  Receiver receiver(impl);
  // Raw: indexes run from 1. Ours: seqs follow the start marker's seq.
  bool started = impl == Impl::kRaw;
  uint64_t base = 0;
  uint64_t expected = 1;
  auto last_activity = Clock::now();
  for (;;) {
    const auto r = receiver.receive(socket);
    if (!r) {
      if (flags.abort.load()) break;
      if (flags.sent.load() && Clock::now() - last_activity >= kIdleEnd) break;
      continue;
    }
    const auto now = Clock::now();
    last_activity = now;
    if (!r->ok) {
      ++slot.malformed;
      continue;
    }
    if (r->kind == Kind::kProbe) {
      slot.ready.store(true);
      continue;
    }
    if (r->kind == Kind::kStart) {
      base = r->value;
      started = true;
      continue;
    }
    if (r->kind == Kind::kOther || !started) {
      ++slot.malformed;
      continue;
    }
    if (r->kind == Kind::kEnd) {
      slot.saw_end = true;
      break;
    }
    const uint64_t index = r->value - base;
    if (index != expected) ++slot.gaps;  // a hole (or, never expected, a step back)
    expected = index + 1;
    ++slot.delivered;
    slot.last_data = now;
  }
  if (expected != n + 1) ++slot.gaps;  // the tail of the burst is missing
  slot.done.store(true);
}

// Subscriber threads; the destructor stops and joins them whatever happened.
class SubscriberGroup {
 public:
  SubscriberGroup(zmq::context_t& ctx, Impl impl, const std::string& endpoint,
                  const hub::Credential* credential, int count, uint64_t n) {
    for (int i = 0; i < count; ++i) slots_.push_back(std::make_unique<SubSlot>());
    for (int i = 0; i < count; ++i) {
      SubSlot& slot = *slots_[static_cast<size_t>(i)];
      threads_.emplace_back([&ctx, impl, endpoint, credential, n, this, &slot] {
        name_thread(impl == Impl::kRaw ? "raw-sub" : "ours-sub");
        try {
          subscriber_loop(ctx, impl, endpoint, credential, n, flags_, slot);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "subscriber: %s\n", e.what());
          slot.done.store(true);
        }
      });
    }
  }
  ~SubscriberGroup() { join(); }
  SubscriberGroup(const SubscriberGroup&) = delete;
  SubscriberGroup& operator=(const SubscriberGroup&) = delete;

  bool all(std::atomic<bool> SubSlot::*flag) const {
    return std::all_of(slots_.begin(), slots_.end(),
                       [flag](const auto& s) { return ((*s).*flag).load(); });
  }
  void join() {
    flags_.abort.store(true);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  BurstFlags& flags() { return flags_; }
  const std::vector<std::unique_ptr<SubSlot>>& slots() const { return slots_; }

 private:
  BurstFlags flags_;
  std::vector<std::unique_ptr<SubSlot>> slots_;
  std::vector<std::thread> threads_;
};

// ---- throughput ----------------------------------------------------------------------

struct BurstResult {
  uint64_t sent = 0;
  uint64_t min_delivered = 0;
  uint64_t total_gaps = 0;
  uint64_t malformed = 0;
  int subscribers_without_end = 0;
  double send_s = 0;     // first send to last send returned
  double elapsed_s = 0;  // first send to the last subscriber's last receive
  double events_per_s = 0;
  uint64_t broker_events = 0;  // ours only: events the broker stamped
};

template <typename Pub>
BurstResult burst(Pub& pub, SubscriberGroup& subs, size_t payload_size, uint64_t n) {
  std::string payload = make_payload(payload_size);
  set_index(payload, 0);

  // Subscriptions must be active before the burst: probe until every subscriber saw one.
  const auto ready_deadline = Clock::now() + kReadyTimeout;
  while (!subs.all(&SubSlot::ready)) {
    if (Clock::now() > ready_deadline) throw std::runtime_error("subscriptions not active");
    pub.send(kProbeTopic, payload);
    std::this_thread::sleep_for(5ms);
  }
  pub.mark(kStartTopic, payload);

  const auto t0 = Clock::now();
  for (uint64_t i = 1; i <= n; ++i) {
    set_index(payload, i);
    pub.send(kDataTopic, payload);
  }
  const auto t_sent = Clock::now();

  set_index(payload, n + 1);
  pub.mark(kEndTopic, payload);
  subs.flags().sent.store(true);
  // The end marker can be dropped like any event: repeat it until every subscriber is done.
  const auto end_deadline = Clock::now() + kEndTimeout;
  while (!subs.all(&SubSlot::done)) {
    if (Clock::now() > end_deadline) {
      std::fprintf(stderr, "warning: subscribers did not finish in time\n");
      break;
    }
    std::this_thread::sleep_for(10ms);
    pub.send(kEndTopic, payload);
  }
  subs.join();

  BurstResult r;
  r.sent = n;
  r.send_s = std::chrono::duration<double>(t_sent - t0).count();
  r.min_delivered = n;
  Clock::time_point last = t0;
  for (const auto& slot : subs.slots()) {
    r.min_delivered = std::min(r.min_delivered, slot->delivered);
    r.total_gaps += slot->gaps;
    r.malformed += slot->malformed;
    if (!slot->saw_end) ++r.subscribers_without_end;
    if (slot->delivered > 0) last = std::max(last, slot->last_data);
  }
  r.elapsed_s = std::chrono::duration<double>(last - t0).count();
  r.events_per_s = r.elapsed_s > 0 ? static_cast<double>(r.min_delivered) / r.elapsed_s : 0;
  return r;
}

BurstResult burst_raw(TempDir& dir, size_t payload_size, int subscribers, uint64_t n) {
  RawProxy proxy(dir);
  zmq::context_t client_ctx = make_context(Side::kClients);
  SubscriberGroup subs(client_ctx, Impl::kRaw, proxy.subscribe_endpoint(), nullptr, subscribers, n);
  RawPublisher pub(client_ctx, proxy);
  return burst(pub, subs, payload_size, n);
}

BurstResult burst_ours(TempDir& dir, size_t payload_size, int subscribers, uint64_t n) {
  OurBroker broker(dir);
  zmq::context_t client_ctx = make_context(Side::kClients);
  SubscriberGroup subs(client_ctx, Impl::kOurs, broker.subscribe_endpoint(), &broker.admin(),
                       subscribers, n);
  OurPublisher pub(client_ctx, broker);
  BurstResult r = burst(pub, subs, payload_size, n);
  r.broker_events = broker.broker().counters().events.load();
  return r;
}

// ---- latency -------------------------------------------------------------------------

// A server and one publisher and one subscriber on one thread: publish, then a blocking
// receive. Raw and ours run side by side in alternating blocks, so load that comes and
// goes on the machine hits both alike.
const hub::Credential* credential_of(const RawProxy&) { return nullptr; }
const hub::Credential* credential_of(const OurBroker& broker) { return &broker.admin(); }

template <typename Server, typename Pub>
class LatencyRig {
 public:
  LatencyRig(TempDir& dir, Impl impl)
      : server_(dir),
        sub_(make_sub(ctx_, server_.subscribe_endpoint(), credential_of(server_), 1000)),
        pub_(ctx_, server_),
        receiver_(impl),
        payload_(make_payload(100)) {
    // Probe until the subscription is active, then drain any late probes.
    set_index(payload_, 0);
    const auto deadline = Clock::now() + kReadyTimeout;
    for (bool ready = false; !ready;) {
      if (Clock::now() > deadline) throw std::runtime_error("latency: subscription not active");
      pub_.send(kProbeTopic, payload_);
      sub_.set(zmq::sockopt::rcvtimeo, 20);
      for (std::optional<Received> r; (r = receiver_.receive(sub_));) {
        ready = ready || r->kind == Kind::kProbe;
      }
      sub_.set(zmq::sockopt::rcvtimeo, 1000);
    }
  }
  ~LatencyRig() { sub_.close(); }
  LatencyRig(const LatencyRig&) = delete;
  LatencyRig& operator=(const LatencyRig&) = delete;

  // `count` round trips; their durations go to `out` when given.
  void run(int count, std::vector<int64_t>* out) {
    for (int i = 0; i < count; ++i) {
      set_index(payload_, ++index_);
      const auto t0 = Clock::now();
      pub_.send(kDataTopic, payload_);
      for (;;) {
        const auto r = receiver_.receive(sub_);
        if (!r) throw std::runtime_error("latency: an event was lost");
        if (r->ok && r->kind == Kind::kData && r->payload_index == index_) break;
        ++skipped_;
      }
      const auto t1 = Clock::now();
      if (out)
        out->push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
  }
  uint64_t skipped() const { return skipped_; }

 private:
  Server server_;
  zmq::context_t ctx_ = make_context(Side::kClients);
  zmq::socket_t sub_;
  Pub pub_;
  Receiver receiver_;
  std::string payload_;
  uint64_t index_ = 0;
  uint64_t skipped_ = 0;  // messages other than the awaited one (should stay 0)
};

struct LatencyResult {
  double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
  uint64_t skipped = 0;
};

LatencyResult percentiles(std::vector<int64_t> ns, uint64_t skipped) {
  std::sort(ns.begin(), ns.end());
  const auto at = [&ns](double q) {
    const size_t k =
        std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())));
    return static_cast<double>(ns[k]) / 1000.0;
  };
  LatencyResult r;
  r.p50_us = at(0.50);
  r.p90_us = at(0.90);
  r.p99_us = at(0.99);
  r.max_us = static_cast<double>(ns.back()) / 1000.0;
  r.skipped = skipped;
  return r;
}

std::pair<LatencyResult, LatencyResult> latency(TempDir& dir) {
  LatencyRig<RawProxy, RawPublisher> raw(dir, Impl::kRaw);
  LatencyRig<OurBroker, OurPublisher> ours(dir, Impl::kOurs);
  raw.run(kLatencyWarmup, nullptr);
  ours.run(kLatencyWarmup, nullptr);
  std::vector<int64_t> raw_ns, ours_ns;
  raw_ns.reserve(kLatencySamples);
  ours_ns.reserve(kLatencySamples);
  constexpr int kBlock = 1000;
  for (int done = 0, block = 0; done < kLatencySamples; done += kBlock, ++block) {
    const int count = std::min(kBlock, kLatencySamples - done);
    if (block % 2 == 0) {
      raw.run(count, &raw_ns);
      ours.run(count, &ours_ns);
    } else {
      ours.run(count, &ours_ns);
      raw.run(count, &raw_ns);
    }
  }
  return {percentiles(std::move(raw_ns), raw.skipped()),
          percentiles(std::move(ours_ns), ours.skipped())};
}

// ---- main ----------------------------------------------------------------------------

struct Args {
  uint64_t events = 1'000'000;
  int repeat = 1;
};

[[noreturn]] void usage(int code) {
  std::fprintf(
      code == 0 ? stdout : stderr,
      "usage: bus_bench [--quick] [--events N] [--repeat R] [--journal D] [--no-ownership]\n"
      "                 [--no-subscribe-rules]\n"
      "  --quick     100,000 events per burst (default 1,000,000)\n"
      "  --events N  N events per burst\n"
      "  --journal D our broker journals every event (D: none, batch, every-event)\n"
      "  --no-ownership  our broker does not check who owns a topic (its cost)\n"
      "  --no-subscribe-rules  our broker checks no subscribe permissions (their cost)\n"
      "  --repeat R  run every burst R times, raw and ours alternating, and report\n"
      "              the run with the median events/s of each (default 1)\n");
  std::exit(code);
}

Args parse_args(int argc, char** argv) {
  Args args;
  bool events_given = false;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--events" && i + 1 < argc) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || v == 0) usage(2);
      args.events = v;
      events_given = true;
    } else if (a == "--repeat" && i + 1 < argc) {
      char* end = nullptr;
      const long v = std::strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || v < 1 || v > 100) usage(2);
      args.repeat = static_cast<int>(v);
    } else if (a == "--journal" && i + 1 < argc) {
      const std::string_view d = argv[++i];
      if (d == "none") {
        g_journal = hub::Durability::kNone;
      } else if (d == "batch") {
        g_journal = hub::Durability::kBatch;
      } else if (d == "every-event") {
        g_journal = hub::Durability::kEveryEvent;
      } else {
        usage(2);
      }
    } else if (a == "--no-ownership") {
      g_check_ownership = false;
    } else if (a == "--no-subscribe-rules") {
      g_subscribe_rules = false;
    } else if (a == "--help" || a == "-h") {
      usage(0);
    } else {
      usage(2);
    }
  }
  if (quick && !events_given) args.events = 100'000;
  return args;
}

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string order_text(const BurstResult& r) {
  std::string s = r.total_gaps == 0 && r.min_delivered == r.sent
                      ? "in order, no gaps"
                      : with_commas(r.total_gaps) + " gaps";
  if (r.subscribers_without_end > 0) {
    s += " (" + std::to_string(r.subscribers_without_end) + " ended by idle timeout)";
  }
  if (r.malformed > 0) s += ", " + with_commas(r.malformed) + " malformed";
  return s;
}

// The run with the median events/s (the lower middle one for an even count).
BurstResult median_run(std::vector<BurstResult> runs) {
  std::sort(runs.begin(), runs.end(), [](const BurstResult& a, const BurstResult& b) {
    return a.events_per_s < b.events_per_s;
  });
  return runs[(runs.size() - 1) / 2];
}

struct Case {
  size_t payload;
  int subscribers;
};

std::string case_name(const Case& c) {
  return (c.payload >= 1024 ? std::to_string(c.payload / 1024) + " KiB"
                            : std::to_string(c.payload) + " B") +
         ", 1->" + std::to_string(c.subscribers);
}

void print_row(const std::string& name, Impl impl, const BurstResult& r, const char* ratio) {
  std::printf("%-13s %-5s %11s %14s %9.2f%% %9.0f %9.0f %12s %7s  %s\n", name.c_str(),
              impl_name(impl), with_commas(r.sent).c_str(), with_commas(r.min_delivered).c_str(),
              100.0 * static_cast<double>(r.min_delivered) / static_cast<double>(r.sent),
              r.send_s * 1000.0, r.elapsed_s * 1000.0,
              with_commas(static_cast<uint64_t>(r.events_per_s)).c_str(), ratio,
              order_text(r).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  spdlog::set_level(spdlog::level::warn);

  int zmq_major = 0, zmq_minor = 0, zmq_patch = 0;
  zmq_version(&zmq_major, &zmq_minor, &zmq_patch);
  struct utsname un {};
  ::uname(&un);
  std::printf("bus_bench: hub::Broker vs the raw libzmq XSUB/XPUB proxy (zmq::proxy)\n");
  std::string this_run = "build/tests/bench/bus_bench";
  for (int i = 1; i < argc; ++i) this_run += std::string(" ") + argv[i];
  std::printf(
      "reproduce: build/tests/bench/bus_bench [--quick] [--events N] [--repeat R] [--journal D]   "
      "(this run: "
      "%s)\n",
      this_run.c_str());
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    char load[128] = {};
    if (std::fgets(load, sizeof load, f) != nullptr) {
      load[std::strcspn(load, "\n")] = '\0';
      std::printf("loadavg:   %s (before the run; other load on the machine skews the numbers)\n",
                  load);
    }
    std::fclose(f);
  }
  std::printf("machine:   %s %s, %u hardware threads; libzmq %d.%d.%d, cppzmq %d.%d.%d; build %s\n",
              un.sysname, un.machine, std::thread::hardware_concurrency(), zmq_major, zmq_minor,
              zmq_patch, CPPZMQ_VERSION_MAJOR, CPPZMQ_VERSION_MINOR, CPPZMQ_VERSION_PATCH,
              HUB_BENCH_BUILD_TYPE);
  std::printf("transport: ipc; server and clients in separate zmq contexts (1 I/O thread each)\n");
  std::printf(
      "raw:  PUB -> XSUB|proxy|XPUB -> SUB, libzmq default HWMs (1000), frames [topic][payload]\n");
  std::printf(
      "ours: Publisher::publish (DEALER, HWM %d) -> Broker (XPUB HWM %d) -> SUB with PLAIN (HWM "
      "%d),\n"
      "      frames [topic][event header][payload], every header decoded and seq checked\n"
      "      journal: %s\n",
      hub::PublisherOptions{}.send_hwm, hub::BrokerOptions{}.subscriber_hwm,
      hub::SubscriberOptions{}.receive_hwm,
      !g_journal                              ? "off"
      : *g_journal == hub::Durability::kNone  ? "on, durability none"
      : *g_journal == hub::Durability::kBatch ? "on, durability batch (sync every 100 ms)"
                                              : "on, durability every-event");
  std::printf(
      "burst:     %s events per case%s; events/s = min delivered per subscriber / "
      "(first send -> last subscriber's last receive)\n\n",
      with_commas(args.events).c_str(),
      args.repeat > 1 ? (", median of " + std::to_string(args.repeat) + " runs").c_str() : "");

  TempDir dir;
  const std::array<Case, 4> cases = {{{100, 1}, {100, 4}, {1024, 1}, {1024, 4}}};
  struct Ratio {
    std::string name;
    double ratio;
  };
  std::vector<Ratio> ratios;
  try {
    std::printf("%-13s %-5s %11s %14s %10s %9s %9s %12s %7s  %s\n", "case", "impl", "sent",
                "delivered/sub", "deliv/sent", "send ms", "elapsed ms", "events/s", "ours/raw",
                "order");
    for (const Case& c : cases) {
      const std::string name = case_name(c);
      std::vector<BurstResult> raws, ourses;
      for (int r = 0; r < args.repeat; ++r) {
        if (r % 2 == 0) {
          raws.push_back(burst_raw(dir, c.payload, c.subscribers, args.events));
          ourses.push_back(burst_ours(dir, c.payload, c.subscribers, args.events));
        } else {
          ourses.push_back(burst_ours(dir, c.payload, c.subscribers, args.events));
          raws.push_back(burst_raw(dir, c.payload, c.subscribers, args.events));
        }
      }
      const BurstResult raw = median_run(raws);
      const BurstResult ours = median_run(ourses);
      print_row(name, Impl::kRaw, raw, "");
      const double ratio = raw.events_per_s > 0 ? ours.events_per_s / raw.events_per_s : 0;
      char ratio_text[32];
      std::snprintf(ratio_text, sizeof ratio_text, "%.2fx", ratio);
      print_row(name, Impl::kOurs, ours, ratio_text);
      if (ours.broker_events < ours.sent + 2) {  // probes + start + burst + end(s)
        std::printf("  note: the broker stamped %s events (expected at least %s)\n",
                    with_commas(ours.broker_events).c_str(), with_commas(ours.sent + 2).c_str());
      }
      ratios.push_back({name, ratio});
    }

    std::printf(
        "\nlatency: 1 -> 1, 100 B, publish then blocking receive on the same thread, "
        "%d samples each after %d warm-up,\n         raw and ours in alternating blocks "
        "of 1000\n",
        kLatencySamples, kLatencyWarmup);
    const auto [lraw, lours] = latency(dir);
    std::printf("%-5s %9s %9s %9s %9s\n", "impl", "p50 us", "p90 us", "p99 us", "max us");
    for (const auto& [impl, l] : {std::pair{Impl::kRaw, lraw}, std::pair{Impl::kOurs, lours}}) {
      std::printf("%-5s %9.1f %9.1f %9.1f %9.1f%s\n", impl_name(impl), l.p50_us, l.p90_us, l.p99_us,
                  l.max_us,
                  l.skipped > 0
                      ? ("  (" + std::to_string(l.skipped) + " unexpected messages)").c_str()
                      : "");
    }

    std::printf(
        "\nsummary (targets: throughput at 100 B >= 0.80x raw, p50 latency <= 1.30x raw)\n");
    for (const Ratio& r : ratios) {
      const bool targeted = r.name.rfind("100 B", 0) == 0;
      std::printf("  throughput %-11s ours/raw events/s = %.2fx%s\n", r.name.c_str(), r.ratio,
                  targeted ? (r.ratio >= 0.8 ? "  (meets target)" : "  (BELOW target)") : "");
    }
    const double lratio = lraw.p50_us > 0 ? lours.p50_us / lraw.p50_us : 0;
    std::printf("  latency p50             ours/raw            = %.2fx%s\n", lratio,
                lratio <= 1.3 ? "  (meets target)" : "  (ABOVE target)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bus_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
