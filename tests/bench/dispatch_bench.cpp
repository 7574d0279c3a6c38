// dispatch_bench: the event-script dispatcher side by side with its physical limits, in
// one run on one machine.
//
//   build/tests/bench/dispatch_bench [--runs R] [--events N]
//
// (1) Fan-out: one event, 100 trivial scripts (#!/bin/sh, exit 0) in one directory:
//     publish -> Hub/scripts-done through a real broker and ScriptDispatcher, against a
//     bare posix_spawn + waitpid loop over the same 100 files. Median of R runs (default 5).
// (2) Latency: event published -> first script exec (a compiled script that stamps the
//     wall clock in its first instructions, before any libc start-up), 200 samples.
// (3) Events with no script: N events (default 1,000,000) published as fast as the
//     publisher can; how fast the dispatcher takes them, against a plain subscriber to
//     the same bus in the same run.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "bus/broker.h"
#include "bus/publisher.h"
#include "bus/subscriber.h"
#include "core/scripts/script_dispatcher.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

extern char** environ;

namespace {

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void write_script(const fs::path& file, const std::string& body) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << body;
  fs::permissions(file, fs::perms(0755));
}

// The limit: spawn each script and wait for it, nothing else.
double bare_spawn_loop(const std::vector<fs::path>& scripts) {
  const auto start = Clock::now();
  for (const auto& script : scripts) {
    pid_t pid = 0;
    char* argv[] = {const_cast<char*>(script.c_str()), nullptr};
    if (posix_spawn(&pid, script.c_str(), nullptr, nullptr, argv, environ) != 0) std::abort();
    int status = 0;
    waitpid(pid, &status, 0);
  }
  return ms_since(start);
}

// A broker, a dispatcher over `root`, and a client (publisher + outcome watcher).
class Bench {
 public:
  explicit Bench(const fs::path& root) : root_(root) {
    credentials_.add(admin_);
    hub::BrokerOptions o;
    o.ingest_endpoint = "ipc://" + (root / "ingest.sock").string();
    o.events_endpoint = "ipc://" + (root / "events.sock").string();
    o.replay_endpoint = "ipc://" + (root / "replay.sock").string();
    options_ = o;
    auto broker = hub::Broker::bind(broker_ctx_, o, credentials_);
    if (!broker) throw std::runtime_error(broker.error());
    broker_ = std::move(*broker);
    thread_ = std::thread([this] { broker_->run(); });
    auto internal = hub::Publisher::connect(broker_ctx_, o.internal_endpoint, std::nullopt);
    hub_publisher_.emplace(std::move(*internal));

    hub::SubscriberOptions bus;
    bus.events_endpoint = o.events_endpoint;
    bus.replay_endpoint = o.replay_endpoint;
    hub::DispatcherOptions d;
    d.layout = root;
    auto dispatcher = hub::ScriptDispatcher::start(
        broker_ctx_, admin_, bus, d, {},
        [this](const std::string& topic, const std::string& json, bool retain) {
          std::lock_guard lock(publish_mu_);
          hub::PublishOptions po;
          po.retain = retain;
          (void)hub_publisher_->publish_confirmed(topic, json, 5s, po);
        });
    if (!dispatcher) throw std::runtime_error(dispatcher.error());
    dispatcher_ = std::move(*dispatcher);

    auto publisher = hub::Publisher::connect(client_ctx_, o.ingest_endpoint, admin_);
    publisher_.emplace(std::move(*publisher));
    bus.patterns = {"Hub/scripts-done"};
    bus.retained = false;
    auto watch = hub::Subscriber::open(client_ctx_, admin_, bus);
    if (!watch) throw std::runtime_error(watch.error());
    watch_.emplace(std::move(*watch));
  }

  ~Bench() {
    dispatcher_.reset();
    watch_.reset();
    publisher_->close();
    {
      std::lock_guard lock(publish_mu_);
      hub_publisher_->close();
    }
    broker_->stop();
    thread_.join();
  }

  uint64_t publish(const std::string& topic) {
    return *publisher_->publish_confirmed(topic, "{}", 5s);
  }
  hub::Publisher& publisher() { return *publisher_; }
  hub::ScriptDispatcher& dispatcher() { return *dispatcher_; }
  const hub::BrokerOptions& options() const { return options_; }
  zmq::context_t& client_ctx() { return client_ctx_; }
  const hub::Credential& admin() const { return admin_; }

  void wait_done(uint64_t seq) {
    for (;;) {
      auto event = watch_->next(30s);
      if (!event) throw std::runtime_error("no Hub/scripts-done");
      if (event->payload().find("\"seq\":" + std::to_string(seq) + ",") != std::string_view::npos)
        return;
    }
  }

 private:
  fs::path root_;
  hub::Credential admin_{"admin", "bench"};
  hub::CredentialStore credentials_;
  hub::BrokerOptions options_;
  zmq::context_t broker_ctx_{1};
  std::unique_ptr<hub::Broker> broker_;
  std::thread thread_;
  std::mutex publish_mu_;
  std::optional<hub::Publisher> hub_publisher_;
  std::unique_ptr<hub::ScriptDispatcher> dispatcher_;
  zmq::context_t client_ctx_{1};
  std::optional<hub::Publisher> publisher_;
  std::optional<hub::Subscriber> watch_;
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  long events = 1'000'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--runs") runs = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--events") events = std::atol(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::warn);
  char pattern[] = "/tmp/hubdisp.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const fs::path root = pattern;

  std::vector<fs::path> scripts;
  for (int i = 0; i < 100; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%03d", i);
    scripts.push_back(root / "events/Bench/fan" / name);
    write_script(scripts.back(), "#!/bin/sh\nexit 0\n");
  }
  fs::create_directories(root / "events/Bench/latency");
  fs::copy_file(fs::path(argv[0]).parent_path() / "exec_stamp",
                root / "events/Bench/latency/10-stamp");

  std::printf("dispatch_bench: the event-script dispatcher against its physical limits, one run\n");
  std::printf("reproduce: build/tests/bench/dispatch_bench [--runs R] [--events N]\n\n");
  {
    Bench bench(root);
    // (1) fan-out, alternating so load that comes and goes hits both alike
    std::vector<double> bare, ours;
    bare_spawn_loop(scripts);  // warm the page cache
    for (int r = 0; r < runs; ++r) {
      bare.push_back(bare_spawn_loop(scripts));
      const auto start = Clock::now();
      bench.wait_done(bench.publish("Bench/fan"));
      ours.push_back(ms_since(start));
    }
    std::printf("(1) one event, 100 trivial scripts, median of %d runs\n", runs);
    std::printf("    bare posix_spawn+waitpid loop  %8.1f ms\n", median(bare));
    std::printf("    publish -> Hub/scripts-done    %8.1f ms   ratio %.2fx (target <= 1.30x)\n\n",
                median(ours), median(ours) / median(bare));

    // (2) latency to the first exec
    std::vector<double> lat;
    for (int i = 0; i < 200; ++i) {
      const auto wall = std::chrono::system_clock::now();
      const uint64_t seq = bench.publish("Bench/latency");
      bench.wait_done(seq);
      long long stamp = 0;  // 8 bytes, written by exec_stamp's first instructions
      std::ifstream(root / "stamp", std::ios::binary)
          .read(reinterpret_cast<char*>(&stamp), sizeof stamp);
      const long long sent =
          std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count();
      lat.push_back(static_cast<double>(stamp - sent) / 1e6);
    }
    std::sort(lat.begin(), lat.end());
    std::printf("(2) event published -> first script exec, 200 samples\n");
    std::printf("    p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 <= 5 ms)\n\n",
                lat[lat.size() / 2], lat[lat.size() * 99 / 100], lat.back());

    // (3) events without scripts: the dispatcher beside a plain subscriber
    hub::SubscriberOptions plain;
    plain.events_endpoint = bench.options().events_endpoint;
    plain.replay_endpoint = bench.options().replay_endpoint;
    plain.retained = false;
    auto subscriber = hub::Subscriber::open(bench.client_ctx(), bench.admin(), plain);
    if (!subscriber) return 1;
    const uint64_t first = bench.publish("Bench/none-start");
    // The plain subscriber can fall behind too (it shares two cores with everything else):
    // it counts what it got and stops at the end marker or after 1 s of silence.
    double plain_ms = 0;
    uint64_t plain_count = 0;
    std::thread reader([&] {
      const auto start = Clock::now();
      auto last_seen = start;
      for (;;) {
        auto e = subscriber->next(1s);
        if (!e) break;
        ++plain_count;
        last_seen = Clock::now();
        if (e->topic() == "Bench/none-end") break;
      }
      plain_ms = std::chrono::duration<double, std::milli>(last_seen - start).count();
    });
    const auto start = Clock::now();
    for (long i = 0; i < events; ++i) (void)bench.publisher().publish("Bench/none", "{}");
    const uint64_t last = bench.publish("Bench/none-end");
    const double publish_ms = ms_since(start);
    const bool kept_up = bench.dispatcher().wait_done(last, 60s);
    const double dispatcher_ms = ms_since(start);
    reader.join();
    const double n = static_cast<double>(last - first);
    std::printf("(3) %ld events with no script, published as fast as possible\n", events);
    std::printf("    bus rate (publisher)            %10.0f events/s\n", n / publish_ms * 1000);
    std::printf("    plain subscriber took them at   %10.0f events/s (got %llu of %.0f)\n",
                static_cast<double>(plain_count) / plain_ms * 1000,
                static_cast<unsigned long long>(plain_count), n);
    std::printf(
        "    dispatcher took them at         %10.0f events/s (%s; missed events would be logged "
        "above)\n",
        n / dispatcher_ms * 1000, kept_up ? "all dispatched" : "did NOT finish");
  }
  fs::remove_all(root);
  return 0;
}
