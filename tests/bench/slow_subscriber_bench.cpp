// slow_subscriber_bench: a subscriber ten times slower than the publisher, through the raw
// libzmq proxy and through our broker with its journal and a recovering subscriber, in
// one run. Prints delivered/sent for both: the raw proxy drops what the slow subscriber
// cannot take; ours delivers every event, in order, fetching what fell out of its queue
// from the journal.
//   build/tests/bench/slow_subscriber_bench [--events N]
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bus/broker.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "bus/subscriber.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

void spin(std::chrono::nanoseconds how_long) {  // the subscriber's "work" per event
  const auto until = Clock::now() + how_long;
  while (Clock::now() < until) {
  }
}

struct Outcome {
  uint64_t delivered = 0;
  uint64_t out_of_order = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // the subscribing thread's
};

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// What our subscriber asks for: everything, or Bench/n amid `noise` Noise/n events per
// Bench/n (a pattern subscriber to one module of a busier bus), optionally lossless.
struct Ask {
  std::vector<std::string> patterns;
  bool lossless = false;
  int noise = 0;
};

Outcome run_raw(const fs::path& dir, uint64_t n, std::chrono::nanoseconds work) {
  zmq::context_t server(1), client(1);
  zmq::socket_t xsub(server, zmq::socket_type::xsub), xpub(server, zmq::socket_type::xpub);
  xsub.bind("ipc://" + (dir / "raw-in").string());
  xpub.bind("ipc://" + (dir / "raw-out").string());
  std::thread proxy([&] {
    try {
      zmq::proxy(xsub, xpub);
    } catch (const zmq::error_t&) {
    }
  });
  zmq::socket_t sub(client, zmq::socket_type::sub), pub(client, zmq::socket_type::pub);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect("ipc://" + (dir / "raw-out").string());
  pub.connect("ipc://" + (dir / "raw-in").string());
  // Wait until the subscription reaches the proxy: a probe is sent, and waited for on the
  // subscriber (PUB drops what no subscription wants yet, so it is sent again if not).
  zmq::pollitem_t probe_item{sub.handle(), 0, ZMQ_POLLIN, 0};
  for (bool joined = false; !joined;) {
    pub.send(zmq::str_buffer("probe"), zmq::send_flags::none);
    if (zmq::poll(&probe_item, 1, std::chrono::milliseconds(10)) == 1) {
      zmq::message_t m;
      joined = sub.recv(m, zmq::recv_flags::dontwait).has_value();
    }
  }
  std::atomic<bool> sent{false};
  const auto began = Clock::now();
  std::thread publisher([&] {
    const std::string payload(100, 'x');
    for (uint64_t i = 0; i < n; ++i) pub.send(zmq::buffer(payload), zmq::send_flags::none);
    sent = true;
  });
  Outcome o;
  zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
  for (;;) {
    zmq::message_t m;
    if (!sub.recv(m, zmq::recv_flags::dontwait)) {
      // Nothing queued: done once the publisher is, and nothing came for a second.
      if (sent && zmq::poll(&item, 1, std::chrono::milliseconds(1000)) == 0) break;
      continue;
    }
    if (m.size() == 100) ++o.delivered;
    spin(work);
  }
  o.seconds = std::chrono::duration<double>(Clock::now() - began).count() - 1.0;
  publisher.join();
  server.shutdown();
  proxy.join();
  return o;
}

Outcome run_ours(const fs::path& dir, uint64_t n, std::chrono::nanoseconds work,
                 const Ask& ask = {}) {
  hub::JournalOptions j;
  j.dir = dir / "journal";
  hub::JournalRecovery recovery;
  auto journal = hub::Journal::open(j, recovery);
  if (!journal) throw std::runtime_error(journal.error());
  hub::CredentialStore credentials;
  const hub::Credential admin{"admin", "bench-secret"};
  credentials.add(admin);
  zmq::context_t server(1), client(1);
  hub::BrokerOptions b;
  b.ingest_endpoint = "ipc://" + (dir / "in").string();
  b.events_endpoint = "ipc://" + (dir / "ev").string();
  b.replay_endpoint = "ipc://" + (dir / "re").string();
  b.journal = journal->get();
  auto broker = hub::Broker::bind(server, b, credentials);
  if (!broker) throw std::runtime_error(broker.error());
  std::thread thread([&] { (*broker)->run(); });
  hub::SubscriberOptions s;
  s.events_endpoint = b.events_endpoint;
  s.replay_endpoint = b.replay_endpoint;
  s.retained = false;
  s.recover = true;
  s.patterns = ask.patterns;
  if (!s.patterns.empty()) s.patterns.push_back("Bench/end");
  s.lossless = ask.lossless;
  uint64_t lost = 0;
  s.on_gap = [&](uint64_t first, uint64_t last) { lost += last - first + 1; };
  auto sub = hub::Subscriber::open(client, admin, s);
  if (!sub) throw std::runtime_error(sub.error());
  auto pub = hub::Publisher::connect(client, b.ingest_endpoint, admin);
  if (!pub) throw std::runtime_error(pub.error());
  const auto began = Clock::now();
  std::thread publisher([&] {
    const std::string payload(100, 'x');
    for (uint64_t i = 0; i < n; ++i) {
      (void)pub->publish("Bench/n", payload);
      for (int k = 0; k < ask.noise; ++k) (void)pub->publish("Noise/n", payload);
    }
    (void)pub->publish("Bench/end", "{}");
  });
  Outcome o;
  uint64_t last = 0;
  const double cpu_began = thread_cpu_seconds();
  for (;;) {
    auto e = sub->next(std::chrono::seconds(30));
    if (!e) break;
    if (last != 0 && (ask.patterns.empty() ? e->seq != last + 1 : e->seq <= last)) ++o.out_of_order;
    last = e->seq;
    if (e->topic() == "Bench/end") break;
    ++o.delivered;
    spin(work);
  }
  o.seconds = std::chrono::duration<double>(Clock::now() - began).count();
  o.cpu_seconds = thread_cpu_seconds() - cpu_began;
  publisher.join();
  (*broker)->stop();
  thread.join();
  if (lost > 0)
    std::printf("  (ours: %llu reported lost)\n", static_cast<unsigned long long>(lost));
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = 1'000'000;
  if (argc == 3 && std::string(argv[1]) == "--events") n = std::strtoull(argv[2], nullptr, 10);
  char pattern[] = "/tmp/hubslow.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const fs::path dir = pattern;
  // The publisher's own pace, measured: our publisher into a broker with no subscriber.
  std::chrono::nanoseconds per_event{0};
  {
    fs::create_directories(dir / "pace");
    const auto began = Clock::now();
    run_ours(dir / "pace", 100'000, std::chrono::nanoseconds(0));
    per_event =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - began) / 100'000;
  }
  const auto work = per_event * 10;
  std::printf(
      "slow_subscriber_bench: %llu events of 100 B; the subscriber spends %lld ns per "
      "event, 10x the publisher's %lld ns\n",
      static_cast<unsigned long long>(n), static_cast<long long>(work.count()),
      static_cast<long long>(per_event.count()));
  std::printf("reproduce: build/tests/bench/slow_subscriber_bench [--events N]\n\n");
  fs::create_directories(dir / "raw");
  fs::create_directories(dir / "ours");
  const Outcome raw = run_raw(dir / "raw", n, work);
  const Outcome ours = run_ours(dir / "ours", n, work);
  std::printf("raw proxy:             delivered/sent %9llu / %llu = %6.2f%%  (%.1f s)\n",
              static_cast<unsigned long long>(raw.delivered), static_cast<unsigned long long>(n),
              100.0 * static_cast<double>(raw.delivered) / static_cast<double>(n), raw.seconds);
  std::printf(
      "ours (journal, recover): delivered/sent %9llu / %llu = %6.2f%%  (%.1f s), %llu out of "
      "order\n",
      static_cast<unsigned long long>(ours.delivered), static_cast<unsigned long long>(n),
      100.0 * static_cast<double>(ours.delivered) / static_cast<double>(n), ours.seconds,
      static_cast<unsigned long long>(ours.out_of_order));
  // A pattern subscriber to one module of a bus five times busier, just as slow per event
  // it wants: with the module chain it receives only its module's events; lossless, all.
  const uint64_t wanted = n / 5;
  const auto pattern_line = [&](const char* how, const Outcome& o) {
    const double work_s =
        static_cast<double>(o.delivered) * std::chrono::duration<double>(work).count();
    std::printf(
        "ours, Bench/n amid 4x noise, %-9s delivered/sent %9llu / %llu = %6.2f%%  (%.1f s), "
        "%llu out of order, %.0f ns of subscriber CPU per event beyond its work\n",
        how, static_cast<unsigned long long>(o.delivered), static_cast<unsigned long long>(wanted),
        100.0 * static_cast<double>(o.delivered) / static_cast<double>(wanted), o.seconds,
        static_cast<unsigned long long>(o.out_of_order),
        (o.cpu_seconds - work_s) * 1e9 / static_cast<double>(std::max<uint64_t>(o.delivered, 1)));
  };
  fs::create_directories(dir / "chain");
  fs::create_directories(dir / "lossless");
  const Outcome chain = run_ours(dir / "chain", wanted, work, Ask{{"Bench/n"}, false, 4});
  pattern_line("chained:", chain);
  const Outcome all = run_ours(dir / "lossless", wanted, work, Ask{{"Bench/n"}, true, 4});
  pattern_line("lossless:", all);
  fs::remove_all(dir);
  const bool whole = ours.delivered == n && ours.out_of_order == 0 && chain.delivered == wanted &&
                     chain.out_of_order == 0 && all.delivered == wanted && all.out_of_order == 0;
  return whole ? 0 : 1;
}
