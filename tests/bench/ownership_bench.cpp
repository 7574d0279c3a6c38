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
#include "bus/zap_handler.h"

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

// The revocation check's cost per publish once any credential was ever revoked, as
// Broker::Impl::revoked pays it for a message from a real PLAIN connection: a steady
// publisher (an atomic load and a compare of its routing id), and a connection not seen
// last (the grant property, and a look in the credential store).
std::pair<double, double> ns_per_grant_check(const fs::path& dir) {
  hub::CredentialStore credentials;
  const hub::Credential module{"bench", hub::random_secret()};
  credentials.add(module);
  credentials.add({"gone", hub::random_secret()});
  credentials.remove("gone");
  zmq::context_t ctx(1);
  hub::ZapHandler zap(ctx, credentials);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::plain_server, 1);
  router.set(zmq::sockopt::zap_domain, hub::kZapDomain);
  const std::string endpoint = "ipc://" + (dir / "grant").string();
  router.bind(endpoint);
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  hub::set_plain_credential(dealer, module);
  dealer.connect(endpoint);
  (void)dealer.send(zmq::str_buffer("x"), zmq::send_flags::none);
  for (;;) {  // the handshake asks the ZAP handler, then the message arrives
    zmq::pollitem_t items[] = {{zap.socket().handle(), 0, ZMQ_POLLIN, 0},
                               {router.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, 2, std::chrono::milliseconds(5000)) == 0) std::abort();
    if (items[0].revents) zap.serve_pending();
    if (items[1].revents) break;
  }
  zmq::message_t id, msg;
  (void)router.recv(id);
  (void)router.recv(msg);
  constexpr int kCalls = 10'000'000;
  std::string live_id;
  uint64_t live_at = 0;
  size_t refused = 0;
  const auto check = [&](bool steady) {
    const uint64_t revocations = credentials.revocations();
    if (steady && revocations == live_at && id.to_string_view() == live_id) return;
    if (credentials.is_revoked(zmq_msg_gets(msg.handle(), hub::kGrantProperty))) {
      ++refused;
    } else {
      live_id.assign(id.to_string_view());
      live_at = revocations;
    }
  };
  std::pair<double, double> ns;
  for (bool steady : {true, false}) {
    const auto began = Clock::now();
    for (int i = 0; i < kCalls; ++i) check(steady);
    const double t = std::chrono::duration<double, std::nano>(Clock::now() - began).count();
    (steady ? ns.first : ns.second) = t / kCalls;
  }
  if (refused != 0) std::abort();
  return ns;
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
  const auto [steady, other] = ns_per_grant_check(dir);
  std::printf(
      "the revocation check, once a credential was revoked: the connection seen last %.1f ns, "
      "another %.1f ns\n",
      steady, other);
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
