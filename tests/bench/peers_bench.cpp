// peers_bench: the hub's bus against the servers a user could run instead, each a real
// server process started by the bench and stopped after, in one run on one machine:
//   hub        hubd on a temporary root (default config), hub::Publisher (admin) and
//              hub::Subscriber (its defaults) on its ipc sockets
//   raw-zmq    a lossless zmq::proxy (XSUB/XPUB, HWM 0 on every socket, ours and the
//              clients'), in a child process (this program with --raw-proxy), on ipc
//   nats       nats-server (core, no JetStream) on a free loopback port; nats.c clients,
//              the subscriber's pending limits raised so the client does not drop
//   mosquitto  mosquitto (no queue limits) on a free loopback port; libmosquitto, QoS 0
// A peer whose server (or client library, at build time) is missing is skipped with a line
// saying how to install it (tests/bench/setup).
//
//   build/tests/bench/peers_bench [--quick] [--events N] [--latency-s S] [--only PEER,...]
//
// Throughput: 1 -> 1 and 1 -> 4 at 100 B and 1 KiB; a burst of N events as fast as the
// publisher sends them. Every payload starts with its index: each subscriber counts what
// it received, whether the indices only grew (in order) and how often they skipped (gaps).
// events/s = the fewest delivered to one subscriber / (first send -> last receive).
// Before a burst the publisher sends probes until every subscriber saw one (subscriptions
// are active). A subscriber ends at the last index, or 1 s after the publisher is done
// without receiving anything.
// Latency: one subscriber, 100 B events at a fixed rate (1k/s and 10k/s) for S seconds;
// each payload carries its send time (steady clock): p50/p99/p99.9 of receive - send.
// nats sends each publish at once for latency (SendAsap), buffered for throughput.
// Server CPU per event: user + system time of the server process (/proc/PID/stat) over a
// burst, divided by the events published.
// Ratios: hub / peer (events/s: above 1 means hub is faster; latency p99: below 1 means hub
// is faster).
#include <mosquitto.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "bench/bench_hub.h"
#include "bus/bus_paths.h"
#include "bus/subscriber.h"
#include "bus/wire.h"
#include "support/child_process.h"
#include "support/mqtt_broker.h"
#include "support/running_hub.h"
#include "support/temp_dir.h"

#ifdef HUB_BENCH_HAVE_NATS
#include <nats/nats.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kTopic = "bench/data";
constexpr uint64_t kProbe = UINT64_MAX;  // the index of a probe
constexpr auto kIdleEnd = 1s;
constexpr auto kReadyTimeout = 10s;

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

// Payload: [index u64][send time ns u64][filler].
std::string make_payload(size_t size) { return std::string(std::max<size_t>(size, 16), 'x'); }
void stamp(std::string& payload, uint64_t index, uint64_t sent_ns) {
  hub::wire::put_u64(payload.data(), index);
  hub::wire::put_u64(payload.data() + 8, sent_ns);
}
uint64_t index_of(std::string_view p) {
  return p.size() < 16 ? kProbe : hub::wire::get_u64(p.data());
}
uint64_t sent_of(std::string_view p) {
  return p.size() < 16 ? 0 : hub::wire::get_u64(p.data() + 8);
}

// User + system CPU seconds of a whole process (all its threads).
double process_cpu_s(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// ---- the clients a peer gives -------------------------------------------------------

class Sender {
 public:
  virtual ~Sender() = default;
  virtual void send(std::string_view payload) = 0;
};

class Receiver {
 public:
  virtual ~Receiver() = default;
  // The next payload into `out`; false when `timeout` passes first.
  virtual bool next(std::string& out, std::chrono::milliseconds timeout) = 0;
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual int server_pid() const = 0;
  // `latency`: send each event at once rather than batching (where the client batches).
  virtual std::unique_ptr<Sender> sender(bool latency) = 0;
  virtual std::unique_ptr<Receiver> receiver() = 0;
};

// ---- hub ----------------------------------------------------------------------------

class HubPeer : public Peer {
 public:
  HubPeer() : hub_(root_) {}
  int server_pid() const override { return hub_.process().pid(); }
  std::unique_ptr<Sender> sender(bool) override {
    struct S : Sender {
      explicit S(hub::Publisher p) : pub(std::move(p)) {}
      void send(std::string_view payload) override {
        if (auto s = pub.publish(kTopic, payload); !s) throw std::runtime_error(s.message());
      }
      hub::Publisher pub;
    };
    return std::make_unique<S>(hub::bench::admin_publisher(ctx_, root_));
  }
  std::unique_ptr<Receiver> receiver() override {
    struct R : Receiver {
      explicit R(hub::Subscriber s) : sub(std::move(s)) {}
      bool next(std::string& out, std::chrono::milliseconds timeout) override {
        auto event = sub.next(timeout);
        if (!event) return false;
        out.assign(event->payload());
        return true;
      }
      hub::Subscriber sub;
    };
    const hub::BusPaths paths = hub::BusPaths::for_root(root_.path());
    hub::SubscriberOptions options;
    options.events_endpoint = hub::ipc_endpoint(paths.events_socket);
    options.replay_endpoint = hub::ipc_endpoint(paths.replay_socket);
    options.patterns = {"bench/#"};
    options.retained = false;
    auto sub = hub::Subscriber::open(ctx_, hub::test::admin_credential(root_), options);
    if (!sub) throw std::runtime_error(sub.error());
    return std::make_unique<R>(std::move(*sub));
  }

 private:
  hub::test::TempDir root_;
  mutable hub::test::RunningHub hub_;
  zmq::context_t ctx_{1};
};

// ---- raw zmq proxy, lossless -----------------------------------------------------------

// The child: XSUB on `in`, XPUB on `out`, HWM 0 both ways; "ready" on stdout once bound.
int run_raw_proxy(const std::string& in, const std::string& out) {
  zmq::context_t ctx(1);
  zmq::socket_t xsub(ctx, zmq::socket_type::xsub), xpub(ctx, zmq::socket_type::xpub);
  for (zmq::socket_t* s : {&xsub, &xpub}) {
    s->set(zmq::sockopt::sndhwm, 0);
    s->set(zmq::sockopt::rcvhwm, 0);
    s->set(zmq::sockopt::linger, 0);
  }
  xsub.bind(in);
  xpub.bind(out);
  std::printf("ready\n");
  std::fflush(stdout);
  zmq::proxy(xsub, xpub);
  return 0;
}

class RawZmqPeer : public Peer {
 public:
  RawZmqPeer()
      : in_("ipc://" + dir_.path().string() + "/in.sock"),
        out_("ipc://" + dir_.path().string() + "/out.sock"),
        proxy_("/proc/self/exe", {"--raw-proxy", in_, out_}) {
    if (!proxy_.wait_stdout("ready", 10s))
      throw std::runtime_error("raw proxy did not start: " + proxy_.stderr_text());
  }
  int server_pid() const override { return proxy_.pid(); }
  std::unique_ptr<Sender> sender(bool) override {
    struct S : Sender {
      explicit S(zmq::socket_t s) : pub(std::move(s)) {}
      void send(std::string_view payload) override {
        pub.send(zmq::buffer(kTopic, std::strlen(kTopic)), zmq::send_flags::sndmore);
        pub.send(zmq::buffer(payload), zmq::send_flags::none);
      }
      zmq::socket_t pub;
    };
    zmq::socket_t pub(ctx_, zmq::socket_type::pub);
    pub.set(zmq::sockopt::sndhwm, 0);
    pub.set(zmq::sockopt::linger, 5000);
    pub.connect(in_);
    return std::make_unique<S>(std::move(pub));
  }
  std::unique_ptr<Receiver> receiver() override {
    struct R : Receiver {
      explicit R(zmq::socket_t s) : sub(std::move(s)) {}
      bool next(std::string& out, std::chrono::milliseconds timeout) override {
        zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, timeout) == 0) return false;
        zmq::message_t topic, payload;
        (void)sub.recv(topic);
        (void)sub.recv(payload);
        out.assign(payload.data<char>(), payload.size());
        return true;
      }
      zmq::socket_t sub;
    };
    zmq::socket_t sub(ctx_, zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvhwm, 0);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, "bench/");
    sub.connect(out_);
    return std::make_unique<R>(std::move(sub));
  }

 private:
  hub::test::TempDir dir_;
  std::string in_, out_;
  mutable hub::test::ChildProcess proxy_;
  zmq::context_t ctx_{1};
};

// ---- nats ---------------------------------------------------------------------------

#ifdef HUB_BENCH_HAVE_NATS
void nats_check(natsStatus s, const char* what) {
  if (s != NATS_OK) throw std::runtime_error(std::string(what) + ": " + natsStatus_GetText(s));
}

class NatsPeer : public Peer {
 public:
  explicit NatsPeer(const std::string& program)
      : port_(hub::test::pick_free_port()),
        server_(program, {"-a", "127.0.0.1", "-p", std::to_string(port_)}) {
    if (!hub::test::port_accepts(port_, 10s))
      throw std::runtime_error("nats-server did not start: " + server_.stderr_text());
  }
  int server_pid() const override { return server_.pid(); }
  std::unique_ptr<Sender> sender(bool latency) override {
    struct S : Sender {
      explicit S(natsConnection* c) : nc(c) {}
      ~S() override {
        natsConnection_Flush(nc);
        natsConnection_Destroy(nc);
      }
      void send(std::string_view payload) override {
        nats_check(
            natsConnection_Publish(nc, kTopic, payload.data(), static_cast<int>(payload.size())),
            "nats publish");
      }
      natsConnection* nc;
    };
    return std::make_unique<S>(connect(latency));
  }
  std::unique_ptr<Receiver> receiver() override {
    struct R : Receiver {
      R(natsConnection* c, natsSubscription* s) : nc(c), sub(s) {}
      ~R() override {
        natsSubscription_Destroy(sub);
        natsConnection_Destroy(nc);
      }
      bool next(std::string& out, std::chrono::milliseconds timeout) override {
        natsMsg* msg = nullptr;
        if (natsSubscription_NextMsg(&msg, sub, timeout.count()) != NATS_OK) return false;
        out.assign(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
        natsMsg_Destroy(msg);
        return true;
      }
      natsConnection* nc;
      natsSubscription* sub;
    };
    natsConnection* nc = connect(false);
    natsSubscription* sub = nullptr;
    nats_check(natsConnection_SubscribeSync(&sub, nc, kTopic), "nats subscribe");
    nats_check(natsSubscription_SetPendingLimits(sub, INT_MAX, INT_MAX), "nats pending limits");
    return std::make_unique<R>(nc, sub);
  }

 private:
  natsConnection* connect(bool send_asap) {
    natsOptions* opts = nullptr;
    nats_check(natsOptions_Create(&opts), "nats options");
    const std::string url = "nats://127.0.0.1:" + std::to_string(port_);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetSendAsap(opts, send_asap);
    natsConnection* nc = nullptr;
    const natsStatus s = natsConnection_Connect(&nc, opts);
    natsOptions_Destroy(opts);
    nats_check(s, "nats connect");
    return nc;
  }

  int port_;
  mutable hub::test::ChildProcess server_;
};
#endif

// ---- mosquitto ------------------------------------------------------------------------

void mosq_check(int rc, const char* what) {
  if (rc != MOSQ_ERR_SUCCESS)
    throw std::runtime_error(std::string(what) + ": " + mosquitto_strerror(rc));
}

class MosquittoPeer : public Peer {
 public:
  int server_pid() const override { return broker_.pid(); }
  std::unique_ptr<Sender> sender(bool) override {
    // Its network loop on a thread of its own: publish() queues, the loop writes.
    struct S : Sender {
      explicit S(mosquitto* m) : mosq(m) {}
      ~S() override {
        mosquitto_disconnect(mosq);
        mosquitto_loop_stop(mosq, false);
        mosquitto_destroy(mosq);
      }
      void send(std::string_view payload) override {
        mosq_check(mosquitto_publish(mosq, nullptr, kTopic, static_cast<int>(payload.size()),
                                     payload.data(), 0, false),
                   "mosquitto publish");
      }
      mosquitto* mosq;
    };
    mosquitto* m = connect(nullptr);
    mosq_check(mosquitto_loop_start(m), "mosquitto loop");
    return std::make_unique<S>(m);
  }
  std::unique_ptr<Receiver> receiver() override {
    // Runs the network loop in next(), on the receiving thread.
    struct R : Receiver {
      ~R() override { mosquitto_destroy(mosq); }
      bool next(std::string& out, std::chrono::milliseconds timeout) override {
        const auto deadline = Clock::now() + timeout;
        while (inbox.empty()) {
          const auto left =
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
          if (left.count() <= 0) return false;
          if (mosquitto_loop(mosq, static_cast<int>(left.count()), 1) != MOSQ_ERR_SUCCESS)
            return false;
        }
        out = std::move(inbox.front());
        inbox.pop_front();
        return true;
      }
      mosquitto* mosq = nullptr;
      std::deque<std::string> inbox;
    };
    auto r = std::make_unique<R>();
    r->mosq = connect(r.get());
    mosquitto_message_callback_set(r->mosq, [](mosquitto*, void* self, const mosquitto_message* m) {
      static_cast<R*>(self)->inbox.emplace_back(static_cast<const char*>(m->payload),
                                                static_cast<size_t>(m->payloadlen));
    });
    mosq_check(mosquitto_subscribe(r->mosq, nullptr, kTopic, 0), "mosquitto subscribe");
    return r;
  }

 private:
  mosquitto* connect(void* self) {
    mosquitto* m = mosquitto_new(nullptr, true, self);
    if (m == nullptr) throw std::runtime_error("mosquitto_new failed");
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);  // as nats.c and ZeroMQ do
    mosq_check(mosquitto_connect(m, "127.0.0.1", broker_.port(), 60), "mosquitto connect");
    return m;
  }

  hub::test::MosquittoBroker broker_;
};

// ---- measurements ---------------------------------------------------------------------

struct Throughput {
  double events_per_s = 0;
  uint64_t sent = 0;
  uint64_t delivered_min = 0;  // the fewest one subscriber received
  bool in_order = true;
  uint64_t gaps = 0;  // summed over subscribers
  double server_us_per_event = 0;
};

struct SubTally {
  uint64_t received = 0, gaps = 0, last_index = 0;
  bool in_order = true, ready = false, seen_data = false;
  Clock::time_point last_receive{};
};

// Probes go out until every subscriber saw one (bounded).
void wait_ready(Sender& sender, std::vector<std::atomic<bool>>& ready) {
  std::string probe(16, 'p');
  stamp(probe, kProbe, 0);
  const auto deadline = Clock::now() + kReadyTimeout;
  while (!std::all_of(ready.begin(), ready.end(), [](auto& r) { return r.load(); })) {
    if (Clock::now() > deadline) throw std::runtime_error("subscribers not ready in time");
    sender.send(probe);
    std::this_thread::sleep_for(10ms);  // pacing the probes, not waiting for a result
  }
}

Throughput throughput(Peer& peer, int subscribers, size_t size, uint64_t events) {
  std::vector<std::unique_ptr<Receiver>> receivers;
  for (int i = 0; i < subscribers; ++i) receivers.push_back(peer.receiver());
  auto sender = peer.sender(false);
  std::vector<SubTally> tallies(static_cast<size_t>(subscribers));
  std::vector<std::atomic<bool>> ready(static_cast<size_t>(subscribers));
  std::atomic<bool> published{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < receivers.size(); ++i) {
    threads.emplace_back([&, i] {
      SubTally& t = tallies[i];
      std::string payload;
      auto last_any = Clock::now();
      for (;;) {
        if (!receivers[i]->next(payload, 100ms)) {
          if (published && Clock::now() - last_any > kIdleEnd) break;
          continue;
        }
        last_any = Clock::now();
        const uint64_t index = index_of(payload);
        if (index == kProbe) {
          ready[i] = true;
          continue;
        }
        if (t.seen_data && index <= t.last_index) t.in_order = false;
        if (t.seen_data ? index > t.last_index + 1 : index != 0) ++t.gaps;
        t.seen_data = true;
        t.last_index = index;
        t.last_receive = last_any;
        ++t.received;
        if (index + 1 == events) break;
      }
    });
  }
  wait_ready(*sender, ready);
  std::string payload = make_payload(size);
  const double cpu0 = process_cpu_s(peer.server_pid());
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < events; ++i) {
    stamp(payload, i, 0);
    sender->send(payload);
  }
  published = true;
  for (auto& t : threads) t.join();
  const double cpu1 = process_cpu_s(peer.server_pid());
  Throughput r;
  r.sent = events;
  r.delivered_min = events;
  Clock::time_point end = t0;
  for (const SubTally& t : tallies) {
    r.delivered_min = std::min(r.delivered_min, t.received);
    r.in_order = r.in_order && t.in_order;
    r.gaps += t.gaps;
    end = std::max(end, t.last_receive);
  }
  const double seconds = std::chrono::duration<double>(end - t0).count();
  r.events_per_s = seconds > 0 ? static_cast<double>(r.delivered_min) / seconds : 0;
  r.server_us_per_event = (cpu1 - cpu0) * 1e6 / static_cast<double>(events);
  return r;
}

struct Latency {
  double p50_us = 0, p99_us = 0, p999_us = 0;
  uint64_t sent = 0, received = 0;
};

Latency latency(Peer& peer, int rate, double seconds) {
  auto receiver = peer.receiver();
  auto sender = peer.sender(true);
  std::vector<std::atomic<bool>> ready(1);
  std::vector<double> samples;
  std::atomic<bool> published{false};
  std::thread thread([&] {
    std::string payload;
    auto last_any = Clock::now();
    for (;;) {
      if (!receiver->next(payload, 100ms)) {
        if (published && Clock::now() - last_any > kIdleEnd) break;
        continue;
      }
      const uint64_t at = now_ns();
      last_any = Clock::now();
      if (index_of(payload) == kProbe) {
        ready[0] = true;
        continue;
      }
      samples.push_back(static_cast<double>(at - sent_of(payload)) / 1e3);
    }
  });
  wait_ready(*sender, ready);
  std::string payload = make_payload(100);
  const uint64_t count = static_cast<uint64_t>(rate * seconds);
  const auto start = Clock::now();
  const auto period = std::chrono::nanoseconds(1'000'000'000 / rate);
  for (uint64_t i = 0; i < count; ++i) {
    std::this_thread::sleep_until(start + period * i);  // the fixed rate
    stamp(payload, i, now_ns());
    sender->send(payload);
  }
  published = true;
  thread.join();
  Latency r;
  r.sent = count;
  r.received = samples.size();
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) {
      return samples[std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()))];
    };
    r.p50_us = at(0.5);
    r.p99_us = at(0.99);
    r.p999_us = at(0.999);
  }
  return r;
}

// ---- the run --------------------------------------------------------------------------

struct PeerSpec {
  std::string name;
  std::function<std::unique_ptr<Peer>()> start;
  std::string missing;  // why it cannot run here, with how to install it; empty when it can
};

std::vector<PeerSpec> peer_specs() {
  const std::string setup = " (tests/bench/setup installs it)";
  std::vector<PeerSpec> specs;
  specs.push_back({"hub", [] { return std::make_unique<HubPeer>(); }, ""});
  specs.push_back({"raw-zmq", [] { return std::make_unique<RawZmqPeer>(); }, ""});
#ifdef HUB_BENCH_HAVE_NATS
  const std::string nats = hub::test::find_program("nats-server");
  specs.push_back({"nats", [nats] { return std::make_unique<NatsPeer>(nats); },
                   ::access(nats.c_str(), X_OK) == 0
                       ? ""
                       : "nats-server not found: apt-get install nats-server" + setup});
#else
  specs.push_back(
      {"nats", nullptr,
       "built without nats.c: apt-get install libnats-dev" + setup + ", then configure again"});
#endif
  const std::string mosq = hub::test::find_program("mosquitto");
  specs.push_back({"mosquitto", [] { return std::make_unique<MosquittoPeer>(); },
                   ::access(mosq.c_str(), X_OK) == 0
                       ? ""
                       : "mosquitto not found: apt-get install mosquitto" + setup});
  return specs;
}

struct Options {
  uint64_t events = 200000;
  double latency_s = 3;
  std::vector<std::string> only;
};

struct Row {
  std::string test, peer;
  std::optional<Throughput> tp;
  std::optional<Latency> lat;
};

std::string fmt_rate(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", r);
  std::string s = buf, out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

// Rows grouped by test (in the order the tests first ran), then by peer.
void print(std::vector<Row> rows) {
  std::vector<std::string> order;
  for (const Row& r : rows)
    if (std::find(order.begin(), order.end(), r.test) == order.end()) order.push_back(r.test);
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    return std::find(order.begin(), order.end(), a.test) <
           std::find(order.begin(), order.end(), b.test);
  });
  std::printf("\n%-16s %-10s %12s %10s %6s %7s %9s %9s\n", "throughput", "peer", "events/s/sub",
              "delivered", "order", "gaps", "srv us/ev", "hub/peer");
  auto hub_rate = [&](const std::string& test) -> double {
    for (const Row& r : rows)
      if (r.test == test && r.peer == "hub" && r.tp) return r.tp->events_per_s;
    return 0;
  };
  for (const Row& r : rows) {
    if (!r.tp) continue;
    const Throughput& t = *r.tp;
    const double ratio = t.events_per_s > 0 ? hub_rate(r.test) / t.events_per_s : 0;
    std::printf("%-16s %-10s %12s %9.2f%% %6s %7llu %9.2f %8.2fx\n", r.test.c_str(), r.peer.c_str(),
                fmt_rate(t.events_per_s).c_str(),
                100.0 * static_cast<double>(t.delivered_min) / static_cast<double>(t.sent),
                t.in_order ? "yes" : "NO", static_cast<unsigned long long>(t.gaps),
                t.server_us_per_event, ratio);
  }
  std::printf("\n%-16s %-10s %9s %9s %9s %10s %9s\n", "latency 100 B", "peer", "p50 us", "p99 us",
              "p99.9 us", "delivered", "hub/peer");
  auto hub_p99 = [&](const std::string& test) -> double {
    for (const Row& r : rows)
      if (r.test == test && r.peer == "hub" && r.lat) return r.lat->p99_us;
    return 0;
  };
  for (const Row& r : rows) {
    if (!r.lat) continue;
    const Latency& l = *r.lat;
    std::printf("%-16s %-10s %9.0f %9.0f %9.0f %9.2f%% %8.2fx\n", r.test.c_str(), r.peer.c_str(),
                l.p50_us, l.p99_us, l.p999_us,
                100.0 * static_cast<double>(l.received) /
                    static_cast<double>(std::max<uint64_t>(l.sent, 1)),
                l.p99_us > 0 ? hub_p99(r.test) / l.p99_us : 0);
  }
  std::printf(
      "(hub/peer: events/s of hub over the peer's, above 1 = hub faster; latency: hub's "
      "p99 over the peer's, below 1 = hub faster)\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--raw-proxy") return run_raw_proxy(argv[2], argv[3]);
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") {
      o.events = 20000;
      o.latency_s = 1;
    } else if (arg == "--events" && has_value) {
      o.events = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--latency-s" && has_value) {
      o.latency_s = std::strtod(argv[++i], nullptr);
    } else if (arg == "--only" && has_value) {
      std::stringstream list(argv[++i]);
      for (std::string name; std::getline(list, name, ',');) o.only.push_back(name);
    } else {
      std::fprintf(stderr,
                   "usage: peers_bench [--quick] [--events N] [--latency-s S] [--only PEER,...]\n"
                   "peers: hub, raw-zmq, nats, mosquitto\n");
      return 2;
    }
  }
  mosquitto_lib_init();
  std::printf("peers_bench: %llu events per burst, latency %.1f s per rate, build %s\n",
              static_cast<unsigned long long>(o.events), o.latency_s, HUB_BENCH_BUILD_TYPE);
  std::vector<Row> rows;
  int failures = 0;
  for (const PeerSpec& spec : peer_specs()) {
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), spec.name) == o.only.end())
      continue;
    if (!spec.missing.empty()) {
      std::printf("%s: skipped, %s\n", spec.name.c_str(), spec.missing.c_str());
      continue;
    }
    // A fresh server per measurement, so none inherits another's backlog.
    auto measure = [&](const std::string& test, auto&& run) {
      std::printf("%-10s %s ...\n", spec.name.c_str(), test.c_str());
      std::fflush(stdout);
      try {
        auto peer = spec.start();
        Row row{test, spec.name, {}, {}};
        run(*peer, row);
        rows.push_back(std::move(row));
      } catch (const std::exception& e) {
        std::printf("%s %s: failed: %s\n", spec.name.c_str(), test.c_str(), e.what());
        ++failures;
      }
    };
    for (const size_t size : {size_t{100}, size_t{1024}}) {
      for (const int subs : {1, 4}) {
        const std::string test = "1->" + std::to_string(subs) + (size == 100 ? " 100 B" : " 1 KiB");
        measure(test, [&](Peer& p, Row& r) { r.tp = throughput(p, subs, size, o.events); });
      }
    }
    for (const int rate : {1000, 10000}) {
      const std::string test = std::to_string(rate / 1000) + "k/s";
      measure(test, [&](Peer& p, Row& r) { r.lat = latency(p, rate, o.latency_s); });
    }
  }
  print(rows);
  mosquitto_lib_cleanup();
  return failures == 0 ? 0 : 1;
}
