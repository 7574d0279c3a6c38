// bridge_bench: forwarding events to a fleet's MQTT broker ("broker B", a real mosquitto),
// one column per Source (what events enter and what forwards them to B):
//   - mosquitto bridge: events published into mosquitto A, whose bridge (`connection`,
//     `topic bench/# out QOS`, every other setting at mosquitto's defaults) forwards them.
//   - hub Bridge: events published into a real hubd (HUBD_PATH) on a temporary root, its
//     journal at the default durability (config/hub.yml), through hub::Publisher as the
//     administrator; the bundled Bridge module (BRIDGE_PATH) forwards `Bench/#` to B as
//     bench/{event} at QOS, every other setting at the bridge's defaults (window 256,
//     backoff 500 ms .. 30 s); --hub-window W,W... gives a column per window instead.
// Measures, per source:
//   (a) forwarding: N events of 100 B published as fast as the source takes them (QoS 1
//       into the source, a bounded window), counted at a subscriber on B, with the bridge
//       forwarding at QoS 1 and at QoS 0: events/s and delivered %;
//   (b) outage: a steady 1,000 events/s for the run, B stopped for --outage-s then
//       restarted, the rate kept for --after-s more: delivered after recovery %, and how
//       long after the restart the first event published after it arrives (everything
//       queued ahead of it drained).
// Payloads start with the event's sequence number, so duplicates and reordering count.
//   build/tests/bench/bridge_bench [--events N] [--outage-s S] [--after-s S] [--window W]
//   [--repeat R] [--hub-window W[,W...]] [--hub-only] [--skip-outage]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <mosquitto.h>

#include "bench/bench_hub.h"
#include "support/mqtt_broker.h"
#include "support/mqtt_observer.h"
#include "support/running_hub.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using hub::test::MosquittoBroker;
using hub::test::MosquittoOptions;
using hub::test::MqttMessage;
using hub::test::MqttObserver;
using hub::test::MqttObserverOptions;
using hub::test::RunningHub;
using hub::test::TempDir;

constexpr size_t kPayloadBytes = 100;

struct Options {
  uint64_t events = 100'000;
  int outage_s = 30;
  int before_outage_s = 5;
  int after_outage_s = 30;  // mosquitto's bridge retries with a backoff up to 30 s
  int rate = 1000;          // events/s in the outage run
  int window = 100;         // publishes in flight into a source
  // The hub bridge's `window:`, one column each; 0: its default.
  std::vector<int> hub_windows{0};
  int repeat = 3;         // forwarding runs per source and QoS (the median rate is shown)
  bool mosquitto = true;  // the mosquitto bridge's column
  bool outage = true;
};

// Event `seq` as a 100 B payload: the decimal number, a space, padding.
std::string payload_of(uint64_t seq) {
  std::string payload = std::to_string(seq) + " ";
  payload.resize(kPayloadBytes, 'x');
  return payload;
}

// Where events enter, and what forwards them to broker B. One per column of the table; a
// source is started for each measurement against a fresh broker B.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::string name() const = 0;
  // Brings the forwarder up towards 127.0.0.1:remote_port, forwarding at `qos`.
  virtual void start(int remote_port, int qos, const Options& options) = 0;
  virtual void stop() = 0;
  // The filter that receives the forwarded events on broker B.
  virtual std::string remote_filter() const = 0;
  // Publishes event `seq` (payload_of(seq)); blocks while the source's window is full.
  // seq 0 is a probe (the bench waits for one to arrive before measuring).
  virtual void publish(uint64_t seq) = 0;
  // Waits until the source accepted every publish() (acknowledged).
  virtual void flush() = 0;
};

// A libmosquitto client publishing at QoS 1 with at most `window` messages unacknowledged.
class WindowedPublisher {
 public:
  WindowedPublisher(int port, int window) : window_(window) {
    static std::once_flag initialized;
    std::call_once(initialized, [] { mosquitto_lib_init(); });
    client_ = mosquitto_new(nullptr, true, this);
    mosquitto_max_inflight_messages_set(client_, 0);  // the window below bounds it
    mosquitto_publish_callback_set(client_, [](mosquitto*, void* self, int) {
      auto* me = static_cast<WindowedPublisher*>(self);
      std::lock_guard lock(me->mu_);
      --me->outstanding_;
      me->changed_.notify_all();
    });
    if (mosquitto_connect(client_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(client_) != MOSQ_ERR_SUCCESS) {
      throw std::runtime_error("publisher: no connection to port " + std::to_string(port));
    }
  }
  ~WindowedPublisher() {
    mosquitto_disconnect(client_);
    mosquitto_loop_stop(client_, false);
    mosquitto_destroy(client_);
  }
  void publish(const std::string& topic, const std::string& payload) {
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return outstanding_ < window_; });
      ++outstanding_;
    }
    const int rc = mosquitto_publish(client_, nullptr, topic.c_str(),
                                     static_cast<int>(payload.size()), payload.data(), 1, false);
    if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error(mosquitto_strerror(rc));
  }
  void flush() {
    std::unique_lock lock(mu_);
    if (!changed_.wait_for(lock, 60s, [&] { return outstanding_ == 0; })) {
      throw std::runtime_error("publisher: no acknowledgement for 60 s");
    }
  }

 private:
  const int window_;
  mosquitto* client_ = nullptr;
  std::mutex mu_;
  std::condition_variable changed_;
  int outstanding_ = 0;
};

// mosquitto A with a bridge to B: `topic bench/# out QOS`, mosquitto's defaults otherwise
// (1000 messages queued per client, 20 in flight, reconnect backoff).
class MosquittoBridgeSource : public Source {
 public:
  std::string name() const override { return "mosquitto bridge"; }
  void start(int remote_port, int qos, const Options& options) override {
    MosquittoOptions a;
    a.unlimited_queues = false;
    a.extra_config = "connection bench-bridge\naddress 127.0.0.1:" + std::to_string(remote_port) +
                     "\ntopic bench/# out " + std::to_string(qos) + "\n";
    broker_ = std::make_unique<MosquittoBroker>(a);
    publisher_ = std::make_unique<WindowedPublisher>(broker_->port(), options.window);
  }
  void stop() override {
    publisher_.reset();
    broker_.reset();
  }
  std::string remote_filter() const override { return "bench/#"; }
  void publish(uint64_t seq) override { publisher_->publish("bench/events", payload_of(seq)); }
  void flush() override { publisher_->flush(); }

 private:
  std::unique_ptr<MosquittoBroker> broker_;
  std::unique_ptr<WindowedPublisher> publisher_;
};

// hubd with the bundled Bridge module: `Bench/#` -> bench/{event} at QOS. Events enter
// through hub::Publisher, whose queue blocks the caller at its high-water mark (the bus's
// flow control; nothing is dropped); flush() is a publish confirmed once journaled, after
// which every earlier event is in the journal too (one connection, in order).
class HubBridgeSource : public Source {
 public:
  explicit HubBridgeSource(int window) : window_(window) {}
  std::string name() const override {
    return window_ > 0 ? "hub, window " + std::to_string(window_) : "hub Bridge";
  }
  void start(int remote_port, int qos, const Options&) override {
    root_ = std::make_unique<TempDir>();
    std::string yml = "broker: {host: 127.0.0.1, port: " + std::to_string(remote_port) +
                      "}\n"
                      "device: bench\n"
                      "outbound:\n"
                      "  - {from: \"Bench/#\", to: \"bench/{event}\", qos: " +
                      std::to_string(qos) + "}\n";
    if (window_ > 0) yml += "window: " + std::to_string(window_) + "\n";
    hub::bench::add_bridge_module(*root_, yml);
    hub_ = std::make_unique<RunningHub>(*root_);
    publisher_.emplace(hub::bench::admin_publisher(ctx_, *root_));
  }
  void stop() override {
    publisher_.reset();
    hub_.reset();
    root_.reset();
  }
  std::string remote_filter() const override { return "bench/#"; }
  void publish(uint64_t seq) override {
    if (auto s = publisher_->publish("Bench/events", payload_of(seq)); !s)
      throw std::runtime_error("hub: " + s.message());
  }
  void flush() override {
    if (auto seq = publisher_->publish_confirmed("BenchDone/flush", "", 60s); !seq)
      throw std::runtime_error("hub: " + seq.error());
  }

 private:
  const int window_;
  zmq::context_t ctx_{1};
  std::unique_ptr<TempDir> root_;
  std::unique_ptr<RunningHub> hub_;
  std::optional<hub::Publisher> publisher_;
};

// The subscriber on broker B (a persistent session: it keeps its queue across B's
// restarts): counts events by sequence number as they arrive.
class Sink {
 public:
  Sink(const MosquittoBroker& b, const std::string& filter, uint64_t expected)
      : seen_(expected + 1, 0) {
    MqttObserverOptions options;
    options.port = b.port();
    options.filters = {filter};
    options.persistent = true;
    options.keep_messages = false;
    options.on_message = [this](const MqttMessage& m) { arrived(m); };
    observer_ = std::make_unique<MqttObserver>(options);
    if (!observer_->connect()) throw std::runtime_error("sink: " + observer_->error());
  }

  // From now on, the arrival of the first event numbered `seq` or above is timed.
  void mark(uint64_t seq) {
    std::lock_guard lock(mu_);
    mark_seq_ = seq;
    mark_at_ = Clock::now();
    first_after_mark_ = mark_reached_ = Clock::time_point{};
  }

  uint64_t probes() const {
    std::lock_guard lock(mu_);
    return probes_;
  }
  uint64_t delivered() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }

  // Waits until `count` events arrived, or none arrived for `idle`.
  void wait(uint64_t count, std::chrono::seconds idle) {
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (delivered_ >= count || Clock::now() - last_new_at_ > idle) return;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  struct Counts {
    uint64_t delivered, duplicates, out_of_order;
    Clock::time_point last_new_at;
    double first_after_mark_s, mark_reached_s;  // -1: never
  };
  Counts counts() const {
    std::lock_guard lock(mu_);
    const auto since_mark = [&](Clock::time_point t) {
      return t == Clock::time_point{} ? -1.0 : std::chrono::duration<double>(t - mark_at_).count();
    };
    return {delivered_,
            duplicates_,
            out_of_order_,
            last_new_at_,
            since_mark(first_after_mark_),
            since_mark(mark_reached_)};
  }

 private:
  void arrived(const MqttMessage& m) {
    const uint64_t seq = std::strtoull(m.payload.c_str(), nullptr, 10);
    const auto now = Clock::now();
    std::lock_guard lock(mu_);
    if (seq == 0) {
      ++probes_;
      return;
    }
    if (seq >= seen_.size()) seen_.resize(seq + 1, 0);
    if (seen_[seq] != 0) {
      ++duplicates_;
      return;
    }
    seen_[seq] = 1;
    ++delivered_;
    if (seq < highest_) ++out_of_order_;
    highest_ = std::max(highest_, seq);
    last_new_at_ = now;
    if (mark_seq_ != 0 && first_after_mark_ == Clock::time_point{}) first_after_mark_ = now;
    if (mark_seq_ != 0 && seq >= mark_seq_ && mark_reached_ == Clock::time_point{}) {
      mark_reached_ = now;
    }
  }

  mutable std::mutex mu_;
  std::vector<uint8_t> seen_;
  uint64_t probes_ = 0, delivered_ = 0, duplicates_ = 0, out_of_order_ = 0, highest_ = 0;
  Clock::time_point last_new_at_ = Clock::now();
  uint64_t mark_seq_ = 0;
  Clock::time_point mark_at_, first_after_mark_, mark_reached_;
  std::unique_ptr<MqttObserver> observer_;  // last: stopped before the counters go
};

// Probes until one crosses the source's forwarder to B (bounded).
void wait_until_forwarding(Source& source, Sink& sink) {
  const auto deadline = Clock::now() + 60s;
  while (sink.probes() == 0) {
    if (Clock::now() > deadline) throw std::runtime_error(source.name() + ": nothing reaches B");
    source.publish(0);
    std::this_thread::sleep_for(100ms);
  }
}

struct Forwarding {
  uint64_t sent = 0, delivered = 0, duplicates = 0, out_of_order = 0;
  double events_per_s = 0;
};

// Several runs of one source: the median rate; the counts summed.
Forwarding combined(std::vector<Forwarding> runs) {
  std::sort(runs.begin(), runs.end(), [](const Forwarding& a, const Forwarding& b) {
    return a.events_per_s < b.events_per_s;
  });
  Forwarding all;
  all.events_per_s = runs[runs.size() / 2].events_per_s;
  for (const auto& f : runs) {
    all.sent += f.sent;
    all.delivered += f.delivered;
    all.duplicates += f.duplicates;
    all.out_of_order += f.out_of_order;
  }
  return all;
}

// (a) N events as fast as the source takes them, counted at B.
Forwarding measure_forwarding(Source& source, int qos, const Options& options) {
  MosquittoBroker b;
  Sink sink(b, source.remote_filter(), options.events);
  source.start(b.port(), qos, options);
  wait_until_forwarding(source, sink);
  const auto began = Clock::now();
  for (uint64_t seq = 1; seq <= options.events; ++seq) source.publish(seq);
  source.flush();
  sink.wait(options.events, 10s);
  const auto c = sink.counts();
  source.stop();
  Forwarding f;
  f.sent = options.events;
  f.delivered = c.delivered;
  f.duplicates = c.duplicates;
  f.out_of_order = c.out_of_order;
  const double seconds = std::chrono::duration<double>(c.last_new_at - began).count();
  f.events_per_s = seconds > 0 ? static_cast<double>(c.delivered) / seconds : 0;
  return f;
}

struct Outage {
  uint64_t sent = 0, delivered = 0, duplicates = 0, out_of_order = 0;
  double first_after_restart_s = -1, caught_up_s = -1;
};

// (b) a steady rate for the run; B stopped for options.outage_s, then started again.
Outage measure_outage(Source& source, const Options& options) {
  const uint64_t total =
      static_cast<uint64_t>(options.rate) *
      static_cast<uint64_t>(options.before_outage_s + options.outage_s + options.after_outage_s);
  MosquittoBroker b;
  Sink sink(b, source.remote_filter(), total);
  source.start(b.port(), 1, options);
  wait_until_forwarding(source, sink);

  std::atomic<uint64_t> next_seq{1};
  std::thread publisher([&] {
    const auto period = std::chrono::nanoseconds(1'000'000'000 / options.rate);
    auto at = Clock::now();
    for (uint64_t seq = 1; seq <= total; ++seq) {
      std::this_thread::sleep_until(at);
      source.publish(seq);
      next_seq = seq + 1;
      at += period;
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(options.before_outage_s));
  b.stop();
  std::this_thread::sleep_for(std::chrono::seconds(options.outage_s));
  sink.mark(next_seq);  // the first event published after the restart
  b.start();
  publisher.join();
  source.flush();
  sink.wait(total, 15s);
  const auto c = sink.counts();
  source.stop();
  return {total, c.delivered, c.duplicates, c.out_of_order, c.first_after_mark_s, c.mark_reached_s};
}

std::string percent(uint64_t part, uint64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f %%",
                whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return text;
}

std::string seconds(double s) {
  if (s < 0) return "never";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", s);
  return text;
}

std::string ratio(double part, double whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2fx", whole > 0 ? part / whole : 0.0);
  return text;
}

std::string number(double n) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", n);
  return text;
}

// One row: a label and a cell per source.
void row(const std::string& label, const std::vector<std::string>& cells) {
  std::printf("  %-38s", label.c_str());
  for (const auto& cell : cells) std::printf(" %20s", cell.c_str());
  std::printf("\n");
}

template <typename Result, typename Cell>
std::vector<std::string> cells(const std::vector<Result>& results, Cell cell) {
  std::vector<std::string> all;
  for (const auto& result : results) all.push_back(cell(result));
  return all;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (arg == "--events") {
      o.events = value();
    } else if (arg == "--outage-s") {
      o.outage_s = static_cast<int>(value());
    } else if (arg == "--after-s") {
      o.after_outage_s = static_cast<int>(value());
    } else if (arg == "--window") {
      o.window = static_cast<int>(value());
    } else if (arg == "--hub-window") {
      // W[,W...]: a hub column per window
      o.hub_windows.clear();
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      for (const char* p = argv[++i]; *p;) {
        char* end = nullptr;
        o.hub_windows.push_back(static_cast<int>(std::strtol(p, &end, 10)));
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) throw std::runtime_error("--hub-window: W[,W...]");
      }
    } else if (arg == "--repeat") {
      o.repeat = std::max(1, static_cast<int>(value()));
    } else if (arg == "--hub-only") {
      o.mosquitto = false;
    } else if (arg == "--skip-outage") {
      o.outage = false;
    } else {
      throw std::runtime_error(
          "usage: bridge_bench [--events N] [--outage-s S] [--after-s S] [--window W] "
          "[--repeat R] [--hub-window W[,W...]] [--hub-only] [--skip-outage]");
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options options = parse(argc, argv);
  // One column per source; the first is the one the others are compared with.
  std::vector<std::unique_ptr<Source>> sources;
  if (options.mosquitto) sources.push_back(std::make_unique<MosquittoBridgeSource>());
  for (int window : options.hub_windows)
    sources.push_back(std::make_unique<HubBridgeSource>(window));

  std::printf(
      "bridge_bench: events of %zu B to a mosquitto broker B on 127.0.0.1 "
      "(libmosquitto %d.%d.%d)\n",
      kPayloadBytes, LIBMOSQUITTO_MAJOR, LIBMOSQUITTO_MINOR, LIBMOSQUITTO_REVISION);
  std::printf(
      "reproduce: build/tests/bench/bridge_bench [--events N] [--outage-s S] [--after-s S] "
      "[--window W] [--repeat R] [--hub-window W[,W...]] [--hub-only] [--skip-outage]\n");
  std::printf("hub: %s build; \"hub Bridge\": the bridge's defaults (window 256)\n\n",
              HUB_BENCH_BUILD_TYPE);
  std::vector<std::string> names;
  for (const auto& source : sources) names.push_back(source->name());

  std::printf(
      "forwarding: %llu events as fast as the source takes them (into mosquitto A at QoS 1, "
      "%d in flight; into hubd through hub::Publisher); median rate of %d runs each\n",
      static_cast<unsigned long long>(options.events), options.window, options.repeat);
  row("", names);
  for (const int qos : {1, 0}) {
    // Runs alternate between the sources, so a busy moment of the machine hits them alike.
    std::vector<std::vector<Forwarding>> runs(sources.size());
    for (int r = 0; r < options.repeat; ++r) {
      for (size_t i = 0; i < sources.size(); ++i)
        runs[i].push_back(measure_forwarding(*sources[i], qos, options));
    }
    std::vector<Forwarding> results;
    for (const auto& source_runs : runs) results.push_back(combined(source_runs));
    const std::string q = "QoS " + std::to_string(qos) + ": ";
    row(q + "events/s at B",
        cells(results, [](const Forwarding& f) { return number(f.events_per_s); }));
    const double first = results.front().events_per_s;
    row(q + "rate / " + names.front(),
        cells(results, [&](const Forwarding& f) { return ratio(f.events_per_s, first); }));
    row(q + "delivered",
        cells(results, [](const Forwarding& f) { return percent(f.delivered, f.sent); }));
    row(q + "duplicates / out of order", cells(results, [](const Forwarding& f) {
          return std::to_string(f.duplicates) + " / " + std::to_string(f.out_of_order);
        }));
    std::fflush(stdout);
  }

  if (options.outage) {
    std::printf("\noutage: %d events/s for %d s; B stopped after %d s for %d s, then started\n",
                options.rate, options.before_outage_s + options.outage_s + options.after_outage_s,
                options.before_outage_s, options.outage_s);
    std::vector<Outage> results;
    for (auto& source : sources) results.push_back(measure_outage(*source, options));
    row("", names);
    row("sent", cells(results, [](const Outage& o) { return std::to_string(o.sent); }));
    row("delivered after recovery",
        cells(results, [](const Outage& o) { return percent(o.delivered, o.sent); }));
    row("lost",
        cells(results, [](const Outage& o) { return std::to_string(o.sent - o.delivered); }));
    row("duplicates / out of order", cells(results, [](const Outage& o) {
          return std::to_string(o.duplicates) + " / " + std::to_string(o.out_of_order);
        }));
    row("first event after restart",
        cells(results, [](const Outage& o) { return seconds(o.first_after_restart_s); }));
    row("backlog drained (live event arrives)",
        cells(results, [](const Outage& o) { return seconds(o.caught_up_s); }));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bridge_bench: %s\n", e.what());
  return 1;
}
