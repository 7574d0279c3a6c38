// ownership_bench: what the broker's topic-ownership check costs (with the check that the
// publisher's credential was not revoked since it connected). (1) The ownership check itself,
// in ns per publish, for an accepted module publish, the administrator and a refusal.
// (2) Broker throughput with the check on and off, alternating in one run: a module
// identity publishes 1,000,000 events of 100 B flat out to a broker with one subscriber
// to everything; events/s is the broker's pace (the publisher blocks at its queue).
//   build/tests/bench/ownership_bench [--events N] [--rounds R]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bus/broker.h"
#include "bus/publisher.h"
#include "bus/subscriber.h"
#include "bus/topic_owner.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double ns_per_check(const char* identity, const char* topic) {
  constexpr int kCalls = 10'000'000;
  size_t refused = 0;
  const auto began = Clock::now();
  for (int i = 0; i < kCalls; ++i) refused += hub::publish_refusal(identity, topic).has_value();
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - began).count();
  if (refused != 0 && refused != static_cast<size_t>(kCalls)) std::abort();
  return ns / kCalls;
}

// Events/s through a broker with the check on or off.
double burst(const fs::path& dir, bool check, uint64_t n) {
  hub::CredentialStore credentials;
  const hub::Credential module{"bench", hub::random_secret()};
  credentials.add(module);
  // One credential revoked, as on any hub where an instance has stopped: every publish
  // then also checks its connection's grant (the revocation check).
  credentials.add({"gone", hub::random_secret()});
  credentials.remove("gone");
  zmq::context_t server(1), client(1);
  hub::BrokerOptions b;
  b.ingest_endpoint = "ipc://" + (dir / "in").string();
  b.events_endpoint = "ipc://" + (dir / "ev").string();
  b.replay_endpoint = "ipc://" + (dir / "re").string();
  b.check_ownership = check;
  auto broker = hub::Broker::bind(server, b, credentials);
  if (!broker) std::abort();
  std::thread thread([&] { (*broker)->run(); });
  hub::SubscriberOptions s;
  s.events_endpoint = b.events_endpoint;
  s.replay_endpoint = b.replay_endpoint;
  s.retained = false;
  auto sub = hub::Subscriber::open(client, module, s);
  auto pub = hub::Publisher::connect(client, b.ingest_endpoint, module);
  if (!sub || !pub) std::abort();
  const std::string payload(100, 'x');
  const auto began = Clock::now();
  std::thread reader([&] {
    while (auto e = sub->next(std::chrono::seconds(10))) {
      if (e->topic() == "bench/end") break;
    }
  });
  for (uint64_t i = 0; i < n; ++i) (void)pub->publish("bench/data", payload);
  (void)pub->publish_confirmed("bench/end", "{}", std::chrono::seconds(30));
  const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  reader.join();
  (*broker)->stop();
  thread.join();
  return static_cast<double>(n) / seconds;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 1'000'000;
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--events") events = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::string(argv[i]) == "--rounds") rounds = std::atoi(argv[i + 1]);
  }
  std::printf("ownership_bench  (reproduce: build/tests/bench/ownership_bench)\n\n");
  std::printf("the check: module publishing its own %.1f ns, admin %.1f ns, a refusal %.1f ns\n",
              ns_per_check("Timer", "Timer/tick"), ns_per_check("admin", "Hub/shutdown"),
              ns_per_check("Timer", "Other/alarm"));
  char pattern[] = "/tmp/hubown.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const fs::path dir = pattern;
  std::vector<double> on, off;
  for (int r = 0; r < rounds; ++r) {  // alternating, so drift in the machine hits both
    on.push_back(burst(dir, true, events));
    off.push_back(burst(dir, false, events));
  }
  fs::remove_all(dir);
  const double with = median(on), without = median(off);
  std::printf("broker, %llu events of 100 B, median of %d alternating rounds:\n",
              static_cast<unsigned long long>(events), rounds);
  std::printf("  check on  %10.0f events/s\n  check off %10.0f events/s\n", with, without);
  std::printf("  on/off = %.3fx (target: the check costs at most 5%%, >= 0.95x)\n", with / without);
  return 0;
}
