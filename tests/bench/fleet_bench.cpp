// fleet_bench: a fleet on one machine. --hubs hubds (50), each on a temporary root with the
// bundled Bridge (device dev01..dev50, Timer/tick -> fleet/{device}/Timer/tick at QoS 1,
// `payload: wrapped` so each message carries its hub's sequence number) and the bundled
// Timer ticking every --interval-ms (20); their journals at the default durability. One
// mosquitto (unlimited queues) with a persistent-session subscriber to fleet/+/Timer/tick.
// After a warm-up the broker is stopped for --outage-s (20), then started again; the fleet
// runs --after-s more, then every hub's journal is read for its Timer/tick events, and the
// bench waits until each of them has arrived. Prints the events, the per-device order
// check, how long after the restart the backlog was drained, and the memory (VmRSS) of the
// hubds and of their bridge and timer processes.
//   build/tests/bench/fleet_bench [--hubs N] [--interval-ms MS] [--warmup-s S]
//                                 [--outage-s S] [--after-s S] [--backoff-max-ms MS]
// Every process it started is stopped when it ends, also on an error or SIGINT.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <mosquitto.h>

#include "bench/bench_hub.h"
#include "bus/bus_paths.h"
#include "bus/replay_client.h"
#include "support/mqtt_broker.h"
#include "support/mqtt_observer.h"
#include "support/running_hub.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using hub::test::MosquittoBroker;
using hub::test::MqttMessage;
using hub::test::MqttObserver;
using hub::test::MqttObserverOptions;
using hub::test::RunningHub;
using hub::test::TempDir;

struct Options {
  int hubs = 50;
  int interval_ms = 20;
  int warmup_s = 5;
  int outage_s = 20;
  int after_s = 10;
  int backoff_max_ms = 0;  // the bridge's broker.backoff.max; 0: its default (10 s)
  int drain_timeout_s = 180;
};

std::atomic<bool> interrupted{false};

// Sleeps `d`, and throws once SIGINT or SIGTERM came (the fleet is then stopped).
void pause_for(Clock::duration d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (interrupted) throw std::runtime_error("interrupted");
    std::this_thread::sleep_for(std::min<Clock::duration>(100ms, until - Clock::now()));
  }
  if (interrupted) throw std::runtime_error("interrupted");
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::string device_name(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "dev%02d", i + 1);
  return name;
}

// The fleet's subscriber on the broker: the first arrival of each hub sequence number, per
// device, with its time; duplicates and arrivals below a device's highest so far.
class FleetSink {
 public:
  struct Device {
    std::unordered_map<uint64_t, Clock::time_point> arrived;  // seq -> first arrival
    uint64_t highest = 0, duplicates = 0, out_of_order = 0;
  };

  explicit FleetSink(const MosquittoBroker& broker) {
    MqttObserverOptions o;
    o.port = broker.port();
    o.filters = {"fleet/+/Timer/tick"};
    o.client_id = "fleet-bench-sink";
    o.persistent = true;
    o.keep_messages = false;
    o.on_message = [this](const MqttMessage& m) { arrived(m); };
    observer_ = std::make_unique<MqttObserver>(o);
    if (!observer_->connect()) throw std::runtime_error("sink: " + observer_->error());
  }

  // Devices with at least one tick.
  size_t devices_heard() const {
    std::lock_guard lock(mu_);
    return devices_.size();
  }
  uint64_t unparsed() const {
    std::lock_guard lock(mu_);
    return unparsed_;
  }
  // Of `expected` (seqs per device), how many have not arrived yet.
  uint64_t missing(const std::map<std::string, std::vector<uint64_t>>& expected) const {
    std::lock_guard lock(mu_);
    uint64_t missing = 0;
    for (const auto& [device, seqs] : expected) {
      auto it = devices_.find(device);
      for (uint64_t seq : seqs) {
        if (it == devices_.end() || it->second.arrived.count(seq) == 0) ++missing;
      }
    }
    return missing;
  }
  std::map<std::string, Device> snapshot() const {
    std::lock_guard lock(mu_);
    return devices_;
  }

 private:
  void arrived(const MqttMessage& m) {
    const auto now = Clock::now();
    // fleet/DEVICE/Timer/tick, payload {"topic":"Timer/tick","seq":N,...}
    const size_t begin = m.topic.find('/') + 1, end = m.topic.find('/', begin);
    const size_t at = m.payload.find("\"seq\":");
    std::lock_guard lock(mu_);
    if (begin == 0 || end == std::string::npos || at == std::string::npos) {
      ++unparsed_;
      return;
    }
    const uint64_t seq = std::strtoull(m.payload.c_str() + at + 6, nullptr, 10);
    Device& d = devices_[m.topic.substr(begin, end - begin)];
    if (!d.arrived.emplace(seq, now).second) {
      ++d.duplicates;
      return;
    }
    if (seq < d.highest) ++d.out_of_order;
    d.highest = std::max(d.highest, seq);
  }

  mutable std::mutex mu_;
  std::map<std::string, Device> devices_;
  uint64_t unparsed_ = 0;
  std::unique_ptr<MqttObserver> observer_;  // last: stopped before the counters go
};

// The hubds, stopped together (SIGTERM to all, then each waited for) when it goes, whatever
// the reason.
class Fleet {
 public:
  Fleet(const Options& options, int broker_port) {
    std::string backoff;
    if (options.backoff_max_ms > 0)
      backoff = ", backoff: {max: " + std::to_string(options.backoff_max_ms) + "ms}";
    for (int i = 0; i < options.hubs; ++i) {
      auto root = std::make_unique<TempDir>();
      hub::bench::add_bridge_module(
          *root, "broker: {host: 127.0.0.1, port: " + std::to_string(broker_port) + backoff +
                     "}\n"
                     "device: " +
                     device_name(i) +
                     "\n"
                     "outbound:\n"
                     "  - {from: Timer/tick, to: \"fleet/{device}/{module}/{event}\", qos: 1, "
                     "payload: wrapped}\n");
      hub::bench::add_timer_module(*root, std::chrono::milliseconds(options.interval_ms));
      roots_.push_back(std::move(root));
    }
    for (int i = 0; i < options.hubs; ++i) {
      if (interrupted) throw std::runtime_error("interrupted");
      hubs_.push_back(std::make_unique<RunningHub>(*roots_[i]));
    }
  }
  ~Fleet() {
    for (auto& hub : hubs_) hub->process().signal(SIGTERM);
    hubs_.clear();  // each waits for its hubd's exit
  }
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  size_t size() const { return hubs_.size(); }
  const TempDir& root(size_t i) const { return *roots_[i]; }
  int pid(size_t i) const { return hubs_[i]->process().pid(); }

 private:
  std::vector<std::unique_ptr<TempDir>> roots_;
  std::vector<std::unique_ptr<RunningHub>> hubs_;
};

// Publishes Bench/mark into every hub at once, each confirmed once journaled: every tick
// each hub journaled before has a smaller seq. Returns the marks' seqs.
std::vector<uint64_t> mark_all(const Fleet& fleet) {
  std::vector<uint64_t> marks(fleet.size());
  std::vector<std::string> errors(fleet.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < fleet.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        zmq::context_t ctx(1);
        auto pub = hub::bench::admin_publisher(ctx, fleet.root(i));
        auto seq = pub.publish_confirmed("Bench/mark", "", 30s);
        if (seq) {
          marks[i] = *seq;
        } else {
          errors[i] = seq.error();
        }
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < fleet.size(); ++i) {
    if (!errors[i].empty()) throw std::runtime_error(device_name(int(i)) + ": " + errors[i]);
  }
  return marks;
}

// The seqs of the Timer/tick events hub `i` journaled up to `through`.
std::vector<uint64_t> journaled_ticks(const Fleet& fleet, size_t i, uint64_t through) {
  zmq::context_t ctx(1);
  hub::ReplayRequest request;
  request.endpoint = hub::ipc_endpoint(hub::BusPaths::for_root(fleet.root(i).path()).replay_socket);
  request.from = 1;
  request.to = through;
  request.patterns = {"Timer/tick"};
  std::vector<uint64_t> seqs;
  auto outcome = hub::replay(ctx, hub::test::admin_credential(fleet.root(i)), request,
                             [&](const hub::Event& e) {
                               seqs.push_back(e.seq);
                               return true;
                             });
  if (!outcome) throw std::runtime_error(device_name(int(i)) + ": replay: " + outcome.error());
  if (!outcome->lost.empty()) throw std::runtime_error(device_name(int(i)) + ": journal gaps");
  return seqs;
}

// KiB, one per hub: VmRSS, and the proportional set size (shared pages divided).
struct Kind {
  std::vector<long> rss, pss;
  void add(int pid) {
    rss.push_back(hub::bench::rss_kib(pid));
    pss.push_back(hub::bench::pss_kib(pid));
  }
};
struct Memory {
  Kind hubd, bridge, timer;
  long mosquitto = 0;
};

Memory memory_of(const Fleet& fleet, const MosquittoBroker& broker) {
  Memory m;
  for (size_t i = 0; i < fleet.size(); ++i) {
    m.hubd.add(fleet.pid(i));
    for (const auto& child : hub::bench::children_of(fleet.pid(i))) {
      if (child.name == "bridge") m.bridge.add(child.pid);
      if (child.name == "timer") m.timer.add(child.pid);
    }
  }
  m.mosquitto = broker.running() ? hub::bench::rss_kib(broker.pid()) : 0;
  return m;
}

long sum(const std::vector<long>& kib) {
  long all = 0;
  for (long k : kib) all += k;
  return all;
}

std::string mib(long kib) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(kib) / 1024.0);
  return text;
}

// "RSS sum (min A, median M, max B per process), PSS sum"
std::string spread(const Kind& kind) {
  if (kind.rss.empty()) return "-";
  std::vector<long> rss = kind.rss;
  std::sort(rss.begin(), rss.end());
  return mib(sum(rss)) + " in " + std::to_string(rss.size()) + " (min " + mib(rss.front()) +
         ", median " + mib(rss[rss.size() / 2]) + ", max " + mib(rss.back()) + "); PSS " +
         mib(sum(kind.pss));
}

void print_memory(const char* when, const Memory& m, size_t hubs) {
  std::printf("memory, %s: VmRSS summed (per process); PSS summed\n", when);
  std::printf("  %-10s %s\n", "hubd", spread(m.hubd).c_str());
  std::printf("  %-10s %s\n", "bridge", spread(m.bridge).c_str());
  std::printf("  %-10s %s\n", "timer", spread(m.timer).c_str());
  const long rss = sum(m.hubd.rss) + sum(m.bridge.rss) + sum(m.timer.rss);
  const long pss = sum(m.hubd.pss) + sum(m.bridge.pss) + sum(m.timer.pss);
  const double n = static_cast<double>(hubs);
  std::printf("  %-10s %s (%.1f MiB per hub); PSS %s (%.1f MiB per hub)\n", "together",
              mib(rss).c_str(), static_cast<double>(rss) / 1024.0 / n, mib(pss).c_str(),
              static_cast<double>(pss) / 1024.0 / n);
  std::printf("  %-10s %s\n", "mosquitto", mib(m.mosquitto).c_str());
}

// "median M, max B" of seconds; "never" when a value is negative.
std::string seconds_spread(std::vector<double> s) {
  if (s.empty()) return "-";
  std::sort(s.begin(), s.end());
  if (s.front() < 0) return "never (some device)";
  char text[64];
  std::snprintf(text, sizeof text, "median %.1f s, max %.1f s", s[s.size() / 2], s.back());
  return text;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return static_cast<int>(std::strtol(argv[++i], nullptr, 10));
    };
    if (arg == "--hubs") {
      o.hubs = std::clamp(value(), 1, 99);
    } else if (arg == "--interval-ms") {
      o.interval_ms = std::max(1, value());
    } else if (arg == "--warmup-s") {
      o.warmup_s = value();
    } else if (arg == "--outage-s") {
      o.outage_s = value();
    } else if (arg == "--after-s") {
      o.after_s = value();
    } else if (arg == "--backoff-max-ms") {
      o.backoff_max_ms = value();
    } else {
      throw std::runtime_error(
          "usage: fleet_bench [--hubs N] [--interval-ms MS] [--warmup-s S] [--outage-s S] "
          "[--after-s S] [--backoff-max-ms MS]");
    }
  }
  return o;
}

void on_signal(int) { interrupted = true; }

int run(const Options& options) {
  std::printf(
      "fleet_bench: %d hubds (%s build), each with the Bridge (QoS 1, payload wrapped, backoff "
      "500 ms .. %s) and the Timer every %d ms, one mosquitto (unlimited queues, "
      "libmosquitto %d.%d.%d)\n",
      options.hubs, HUB_BENCH_BUILD_TYPE,
      options.backoff_max_ms > 0 ? (std::to_string(options.backoff_max_ms) + " ms").c_str()
                                 : "10 s (its default)",
      options.interval_ms, LIBMOSQUITTO_MAJOR, LIBMOSQUITTO_MINOR, LIBMOSQUITTO_REVISION);
  std::printf(
      "reproduce: build/tests/bench/fleet_bench --hubs %d --interval-ms %d --warmup-s %d "
      "--outage-s %d --after-s %d%s\n\n",
      options.hubs, options.interval_ms, options.warmup_s, options.outage_s, options.after_s,
      options.backoff_max_ms > 0
          ? (" --backoff-max-ms " + std::to_string(options.backoff_max_ms)).c_str()
          : "");
  std::fflush(stdout);

  MosquittoBroker broker;
  FleetSink sink(broker);
  const auto starting = Clock::now();
  Fleet fleet(options, broker.port());
  const double started_s = seconds_between(starting, Clock::now());

  // Warm-up: every device heard from, then steady for warmup_s.
  const auto deadline = Clock::now() + 60s;
  while (sink.devices_heard() < fleet.size()) {
    if (Clock::now() > deadline)
      throw std::runtime_error("only " + std::to_string(sink.devices_heard()) + " of " +
                               std::to_string(fleet.size()) + " devices reached the broker");
    pause_for(100ms);
  }
  pause_for(std::chrono::seconds(options.warmup_s));
  const Memory steady = memory_of(fleet, broker);

  broker.stop();
  const auto stopped_at = Clock::now();
  const std::vector<uint64_t> at_stop = mark_all(fleet);
  pause_for(std::chrono::seconds(options.outage_s) - (Clock::now() - stopped_at));
  const std::vector<uint64_t> before_restart = mark_all(fleet);
  broker.start();
  const auto restarted_at = Clock::now();
  const double outage_real_s = seconds_between(stopped_at, restarted_at);

  pause_for(std::chrono::seconds(options.after_s));
  const std::vector<uint64_t> end = mark_all(fleet);
  std::map<std::string, std::vector<uint64_t>> expected;
  for (size_t i = 0; i < fleet.size(); ++i)
    expected[device_name(int(i))] = journaled_ticks(fleet, i, end[i]);

  // Every tick journaled up to `end` arrives (bounded).
  const auto drain_deadline = Clock::now() + std::chrono::seconds(options.drain_timeout_s);
  uint64_t missing = sink.missing(expected);
  while (missing > 0 && Clock::now() < drain_deadline) {
    pause_for(200ms);
    missing = sink.missing(expected);
  }
  const Memory after = memory_of(fleet, broker);

  // Per device: the order of first arrivals, duplicates, how long after the restart the
  // first tick journaled during the outage arrived (the bridge reconnected) and the last
  // tick journaled before the restart did (backlog drained), and how many ticks were
  // waiting when the broker came back (some from before it stopped: the fleet's lag).
  const auto devices = sink.snapshot();
  uint64_t total = 0, duplicates = 0, backlog = 0, behind_at_stop = 0, ticks_during_outage = 0;
  int in_order = 0;
  std::vector<double> reconnected, drained;
  for (size_t i = 0; i < fleet.size(); ++i) {
    const std::string name = device_name(int(i));
    const auto& seqs = expected[name];
    total += seqs.size();
    auto it = devices.find(name);
    if (it == devices.end()) {
      reconnected.push_back(-1);
      drained.push_back(-1);
      continue;
    }
    const FleetSink::Device& d = it->second;
    duplicates += d.duplicates;
    // In order: the expected seqs' first arrivals are in seq order (ties: same instant).
    bool ordered = d.out_of_order == 0;
    Clock::time_point previous{};
    double first_after = -1, last_backlog = 0;
    for (uint64_t seq : seqs) {
      auto at = d.arrived.find(seq);
      if (at == d.arrived.end()) {
        ordered = false;
        continue;
      }
      if (at->second < previous) ordered = false;
      previous = at->second;
      if (at->second >= restarted_at) {
        const double s = seconds_between(restarted_at, at->second);
        // Journaled after the broker stopped: it came through the bridge's new connection
        // (an older one may come from the broker's own queue for the subscriber).
        if (seq > at_stop[i] && (first_after < 0 || s < first_after)) first_after = s;
        if (seq < before_restart[i]) {
          ++backlog;
          if (seq < at_stop[i]) ++behind_at_stop;
          last_backlog = std::max(last_backlog, s);
        }
      }
    }
    ticks_during_outage +=
        static_cast<uint64_t>(std::count_if(seqs.begin(), seqs.end(), [&](uint64_t seq) {
          return seq > at_stop[i] && seq < before_restart[i];
        }));
    if (ordered) ++in_order;
    reconnected.push_back(first_after);
    drained.push_back(last_backlog);
  }

  std::printf(
      "%zu hubds up in %.1f s; broker stopped for %.1f s after a %d s warm-up; %d s "
      "more after its restart\n\n",
      fleet.size(), started_s, outage_real_s, options.warmup_s, options.after_s);
  std::printf("  %-46s %llu\n", "Timer/tick events journaled (all hubs)",
              static_cast<unsigned long long>(total));
  std::printf(
      "  %-46s %llu (%.2f %%)\n", "arrived at the subscriber",
      static_cast<unsigned long long>(total - missing),
      total ? 100.0 * static_cast<double>(total - missing) / static_cast<double>(total) : 0.0);
  std::printf("  %-46s %llu\n", "missing", static_cast<unsigned long long>(missing));
  std::printf("  %-46s %llu\n", "duplicates", static_cast<unsigned long long>(duplicates));
  std::printf("  %-46s %d of %zu\n", "devices whose ticks arrived in order", in_order,
              fleet.size());
  std::printf("  %-46s %llu\n", "ticks journaled while the broker was down",
              static_cast<unsigned long long>(ticks_during_outage));
  std::printf("  %-46s %llu\n", "backlog sent after the restart",
              static_cast<unsigned long long>(backlog));
  std::printf("  %-46s %llu\n", "  of them journaled before the broker stopped",
              static_cast<unsigned long long>(behind_at_stop));
  std::printf("  %-46s %s\n", "first tick of the outage arrives (reconnected)",
              seconds_spread(reconnected).c_str());
  std::printf("  %-46s %s\n", "caught up (backlog drained) after the restart",
              seconds_spread(drained).c_str());
  if (sink.unparsed() > 0)
    std::printf("  %-46s %llu\n", "messages without a seq",
                static_cast<unsigned long long>(sink.unparsed()));
  std::printf("\n");
  print_memory("steady, before the outage", steady, fleet.size());
  print_memory("after catching up", after, fleet.size());
  std::fflush(stdout);
  return missing == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return run(options);
} catch (const std::exception& e) {
  std::fprintf(stderr, "fleet_bench: %s\n", e.what());
  return 1;
}
