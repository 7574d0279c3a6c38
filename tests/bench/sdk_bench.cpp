// sdk_bench: the C++ SDK against the bus library it is built on, and the Hub API's round
// trip, each on a real hubd (HUBD_PATH) on a temporary root under /tmp, in one run.
//   build/tests/bench/sdk_bench [--events N]
// 1. hubd on an empty root; a hub::Publisher (admin) bursts N events of 100 B on bench/data,
//    then an end marker (confirmed, re-sent every 10 ms until seen). One subscriber to
//    bench/#: raw, a hub::Subscriber calling next() on its own thread; or sdk, a
//    hub::sdk::Context::subscribe handler (the Context built from HUB_* variables the bench
//    sets as hubd would for a service, with the admin credential). Both check the payload's
//    index for gaps. events/s = delivered / (first send -> last delivered); cpu ns/ev is the
//    receiving thread's CPU time per event. 3 runs each, alternating; medians shown.
// 2. hubd with 50 modules running `/bin/sleep 1000`; 2,000 `inspect` calls in a row through
//    hub::ApiClient (admin credential): latency percentiles and the reply's size.
// hubd is up when its stderr says "hub is up"; it is stopped with SIGTERM at the end.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "bus/publisher.h"
#include "bus/subscriber.h"
#include "bus/wire.h"
#include "hub/api_client.h"
#include "hub/sdk.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kRuns = 3;
constexpr int kModules = 50;
constexpr int kApiCalls = 2000;
constexpr size_t kPayloadSize = 100;
constexpr std::string_view kDataTopic = "bench/data";
constexpr std::string_view kEndTopic = "bench/end";

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// hubd on a fresh root under /tmp (short, for ipc paths) with `modules` sleeping services.
// Its stderr is read until "hub is up", then drained on a thread.
class Hubd {
 public:
  explicit Hubd(int modules) {
    char pattern[] = "/tmp/sdkb.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    try {
      for (int i = 1; i <= modules; ++i) {
        const fs::path dir =
            root_ / "modules/system" / ((i < 10 ? "Svc0" : "Svc") + std::to_string(i));
        fs::create_directories(dir / "info");
        std::ofstream(dir / "info/version.txt") << "1.0.0\n";
        std::ofstream(dir / "info/depends.txt") << "";
        std::ofstream(dir / "service.yml") << "command: /bin/sleep\nargs: [\"1000\"]\n";
      }
      start();
      auto admin = hub::read_credential_file(paths().admin_credential);
      if (!admin) throw std::runtime_error(admin.error());
      admin_ = *admin;
    } catch (...) {
      stop();
      throw;
    }
  }
  ~Hubd() { stop(); }
  Hubd(const Hubd&) = delete;
  Hubd& operator=(const Hubd&) = delete;

  const fs::path& root() const { return root_; }
  hub::BusPaths paths() const { return hub::BusPaths::for_root(root_); }
  const hub::Credential& admin() const { return admin_; }

  // SIGTERM, then the exit status; the root is removed. Says how hubd ended.
  std::string stop() {
    std::string how;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                              : "killed by signal " + std::to_string(WTERMSIG(status));
      pid_ = -1;
    }
    if (drain_.joinable()) drain_.join();
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
    root_.clear();
    return how;
  }

 private:
  void start() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&files, fds[1], 2);
    std::string program = HUBD_PATH, flag = "--root", root = root_.string();
    char* argv[] = {program.data(), flag.data(), root.data(), nullptr};
    const int err = ::posix_spawn(&pid_, program.c_str(), &files, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&files);
    ::close(fds[1]);
    if (err != 0) {
      pid_ = -1;
      ::close(fds[0]);
      throw std::runtime_error(program + ": " + std::strerror(err));
    }
    // Read until the line comes (bounded), then keep the pipe drained until hubd exits.
    std::string text;
    const auto deadline = Clock::now() + 30s;
    for (char buf[4096]; text.find("hub is up") == std::string::npos;) {
      pollfd item{fds[0], POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      const int ready = left.count() > 0 ? ::poll(&item, 1, static_cast<int>(left.count())) : 0;
      const ssize_t n = ready == 1 ? ::read(fds[0], buf, sizeof buf) : ready;
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[0]);
        throw std::runtime_error("hubd did not come up:\n" + text);
      }
      text.append(buf, static_cast<size_t>(n));
    }
    drain_ = std::thread([fd = fds[0]] {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno != EINTR) break;
      }
      ::close(fd);
    });
  }

  fs::path root_;
  pid_t pid_ = -1;
  std::thread drain_;
  hub::Credential admin_;
};

// What hubd would give a service "Bench", with the admin credential.
void set_service_environment(const Hubd& hubd) {
  const hub::BusPaths p = hubd.paths();
  const std::string root = hubd.root().string();
  const std::pair<const char*, std::string> vars[] = {
      {"HUB_ROOT", root},
      {"HUB_MODE", "native"},
      {"HUB_MODULE", "Bench"},
      {"HUB_SERVICE", "Bench"},
      {"HUB_INSTANCE", "Bench"},
      {"HUB_WORKSPACE", root},
      {"HUB_CONFIG_FILE", root + "/service.yml"},
      {"HUB_CREDENTIAL_FILE", p.admin_credential.string()},
      {"HUB_BUS_INGEST", hub::ipc_endpoint(p.ingest_socket)},
      {"HUB_BUS_EVENTS", hub::ipc_endpoint(p.events_socket)},
      {"HUB_BUS_REPLAY", hub::ipc_endpoint(p.replay_socket)},
      {"HUB_API_ENDPOINT", hub::ipc_endpoint(p.api_socket)}};
  for (const auto& [name, value] : vars) ::setenv(name, value.c_str(), 1);
}

// ---- 1. subscriber throughput --------------------------------------------------------

double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Kept by the receiving thread; read by the bench once `done` is set.
struct Tally {
  Tally(uint64_t events, uint64_t run) : n(events), run_id(run) {}
  // A hub::Event (a bare Subscriber) or a hub::sdk::Event (a handler).
  template <typename AnyEvent>
  void take(const AnyEvent& e) {
    if (done.load() || e.payload().size() < 8) return;
    const uint64_t index = hub::wire::get_u64(e.payload().data());
    if (e.topic() == kEndTopic) {
      if (index != run_id) return;    // a late marker of an earlier run
      if (expected != n + 1) ++gaps;  // the tail is missing
      cpu_s = thread_cpu_s() - cpu_s;
      {
        std::lock_guard lock(done_mu);
        done.store(true);
      }
      done_cv.notify_all();
    } else if (e.topic() == kDataTopic) {
      if (delivered == 0) cpu_s = thread_cpu_s();
      if (index != expected) ++gaps;
      expected = index + 1;
      ++delivered;
      last = Clock::now();
    }
  }
  const uint64_t n, run_id;
  uint64_t delivered = 0, gaps = 0, expected = 1;
  double cpu_s = 0;  // the receiving thread's CPU time, first event to end marker
  Clock::time_point last{};
  std::atomic<bool> done{false};
  std::mutex done_mu;  // with done_cv: the publisher waits for the end marker to arrive
  std::condition_variable done_cv;
};

struct RunResult {
  uint64_t delivered = 0, gaps = 0;
  double send_s = 0, elapsed_s = 0, events_per_s = 0, cpu_ns_per_event = 0;
};

RunResult burst(hub::Publisher& pub, Tally& tally) {
  std::string payload(kPayloadSize, 'x');
  const auto t0 = Clock::now();
  for (uint64_t i = 1; i <= tally.n; ++i) {
    hub::wire::put_u64(payload.data(), i);
    if (hub::Status s = pub.publish(kDataTopic, payload); !s)
      throw std::runtime_error("publish: " + s.message());
  }
  const auto sent = Clock::now();
  hub::wire::put_u64(payload.data(), tally.run_id);
  if (auto seq = pub.publish_confirmed(kEndTopic, payload, 30s); !seq)
    throw std::runtime_error("publish_confirmed: " + seq.error());
  const auto deadline = Clock::now() + 30s;
  // The marker can be dropped like any event: repeat it whenever 10 ms pass without it.
  for (std::unique_lock lock(tally.done_mu);
       !tally.done_cv.wait_for(lock, 10ms, [&] { return tally.done.load(); });) {
    if (Clock::now() > deadline) throw std::runtime_error("the subscriber never saw the end");
    (void)pub.publish(kEndTopic, payload);
  }
  RunResult r;
  r.delivered = tally.delivered;
  r.gaps = tally.gaps;
  r.send_s = std::chrono::duration<double>(sent - t0).count();
  r.elapsed_s = std::chrono::duration<double>(tally.last - t0).count();
  r.events_per_s = r.elapsed_s > 0 ? static_cast<double>(r.delivered) / r.elapsed_s : 0;
  r.cpu_ns_per_event = tally.cpu_s * 1e9 / static_cast<double>(std::max<uint64_t>(1, r.delivered));
  return r;
}

RunResult run_raw(const Hubd& hubd, hub::Publisher& pub, uint64_t n, uint64_t run) {
  zmq::context_t ctx(1);  // as the SDK's Context has its own
  hub::SubscriberOptions options;
  options.events_endpoint = hub::ipc_endpoint(hubd.paths().events_socket);
  options.replay_endpoint = hub::ipc_endpoint(hubd.paths().replay_socket);
  options.patterns = {"bench/#"};
  options.retained = false;
  options.sync = true;  // as the SDK's subscribe
  auto sub = hub::Subscriber::open(ctx, hubd.admin(), std::move(options));
  if (!sub) throw std::runtime_error(sub.error());
  Tally tally(n, run);
  std::atomic<bool> stop{false};
  std::thread receiver([&] {
    while (!tally.done.load() && !stop.load()) {
      if (auto event = sub->next(100ms)) tally.take(*event);
    }
  });
  try {
    RunResult r = burst(pub, tally);
    receiver.join();
    return r;
  } catch (...) {
    stop.store(true);
    receiver.join();
    throw;
  }
}

RunResult run_sdk(hub::Publisher& pub, uint64_t n, uint64_t run) {
  Tally tally(n, run);  // outlives the Context, which joins the handler's thread
  auto ctx = hub::sdk::Context::from_environment();
  if (!ctx) throw std::runtime_error(ctx.error());
  const auto handler = [&tally](const hub::sdk::Event& e) { tally.take(e); };
  if (hub::Status s = (*ctx)->subscribe({"bench/#"}, handler); !s)
    throw std::runtime_error("subscribe: " + s.message());
  return burst(pub, tally);
}

void throughput(uint64_t n) {
  Hubd hubd(0);
  set_service_environment(hubd);
  zmq::context_t ctx(1);
  hub::PublisherOptions options;
  options.linger = 0ms;
  auto pub = hub::Publisher::connect(ctx, hub::ipc_endpoint(hubd.paths().ingest_socket),
                                     hubd.admin(), options);
  if (!pub) throw std::runtime_error(pub.error());
  if (auto seq = pub->publish_confirmed("bench/warmup", "{}", 10s); !seq)  // connected
    throw std::runtime_error(seq.error());

  std::vector<RunResult> raws, sdks;
  uint64_t run = 0;
  for (int i = 0; i < kRuns; ++i) {  // alternating, so load that comes and goes hits both
    if (i % 2 == 0) raws.push_back(run_raw(hubd, *pub, n, ++run));
    sdks.push_back(run_sdk(*pub, n, ++run));
    if (i % 2 != 0) raws.push_back(run_raw(hubd, *pub, n, ++run));
  }
  pub->close();

  std::printf(
      "1. subscriber throughput: %llu events of %zu B to one subscriber, median of %d runs\n",
      static_cast<unsigned long long>(n), kPayloadSize, kRuns);
  std::printf("   %-4s %10s %6s %8s %11s %10s %10s %8s   %s\n", "impl", "deliv/sent", "gaps",
              "send ms", "publisher/s", "elapsed ms", "events/s", "cpu ns/ev",
              "events/s of each run");
  const auto row = [n](const char* name, std::vector<RunResult> all) {
    std::string each;
    for (const RunResult& r : all) each += std::to_string(std::lround(r.events_per_s)) + " ";
    std::sort(all.begin(), all.end(), [](const RunResult& a, const RunResult& b) {
      return a.events_per_s < b.events_per_s;
    });
    const RunResult& m = all[(all.size() - 1) / 2];
    std::printf("   %-4s %9.2f%% %6llu %8.1f %11.0f %10.1f %10.0f %8.0f    %s\n", name,
                100.0 * static_cast<double>(m.delivered) / static_cast<double>(n),
                static_cast<unsigned long long>(m.gaps), m.send_s * 1e3,
                static_cast<double>(n) / m.send_s, m.elapsed_s * 1e3, m.events_per_s,
                m.cpu_ns_per_event, each.c_str());
    return m.events_per_s;
  };
  const double raw = row("raw", raws), sdk = row("sdk", sdks);
  const double ratio = raw > 0 ? sdk / raw : 0;
  std::printf("   sdk/raw events/s = %.2fx (target >= 0.80x: %s)\n", ratio,
              ratio >= 0.8 ? "met" : "NOT met");
  std::printf("   hubd: %s after SIGTERM\n\n", hubd.stop().c_str());
}

// ---- 2. API round trip ---------------------------------------------------------------

size_t count(const std::string& text, const std::string& what) {
  size_t k = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++k;
  return k;
}

void api_round_trip() {
  const auto launched = Clock::now();
  Hubd hubd(kModules);
  const double up_ms = ms_since(launched);
  zmq::context_t ctx(1);
  hub::ApiClient client(ctx, hub::ipc_endpoint(hubd.paths().api_socket), hubd.admin());
  const std::string request = R"({"method":"inspect"})";
  const auto t_first = Clock::now();
  const auto first = client.call(request);
  const double first_ms = ms_since(t_first);
  if (!first) throw std::runtime_error("inspect: " + first.error());

  std::vector<double> ms;
  size_t smallest = first->size(), largest = first->size();
  for (int i = 0; i < kApiCalls; ++i) {
    const auto t0 = Clock::now();
    const auto reply = client.call(request);
    ms.push_back(ms_since(t0));
    if (!reply) throw std::runtime_error("inspect: " + reply.error());
    smallest = std::min(smallest, reply->size());
    largest = std::max(largest, reply->size());
  }
  std::sort(ms.begin(), ms.end());
  const auto at = [&ms](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  };
  std::printf("2. API round trip: %d x inspect through hub::ApiClient, one at a time\n", kApiCalls);
  std::printf("   hubd with %d services up in %.0f ms; inspect lists %zu instances, %zu running\n",
              kModules, up_ms, count(*first, "\"instance\":"),
              count(*first, "\"state\":\"running\""));
  std::printf("   first call (connect + PLAIN handshake): %.2f ms\n", first_ms);
  std::printf(
      "   p50 %.3f ms   p90 %.3f ms   p99 %.3f ms   max %.3f ms   (target p99 <= 5 ms: %s)\n",
      at(0.50), at(0.90), at(0.99), ms.back(), at(0.99) <= 5.0 ? "met" : "NOT met");
  std::printf("   reply: result %zu..%zu bytes (+21 of {\"ok\":true,\"result\":} on the wire)\n",
              smallest, largest);
  std::printf("   hubd: %s after SIGTERM\n", hubd.stop().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    char* end = nullptr;
    if (a == "--events" && i + 1 < argc && (events = std::strtoull(argv[++i], &end, 10)) > 0 &&
        *end == '\0')
      continue;
    std::fprintf(a == "--help" ? stdout : stderr, "usage: sdk_bench [--events N]\n");
    return a == "--help" ? 0 : 2;
  }
  std::printf("sdk_bench: hub::sdk::Context vs hub::Subscriber, and the Hub API, on a real hubd\n");
  std::printf("reproduce: build/tests/bench/sdk_bench [--events N]   (build %s, hubd %s)\n",
              HUB_BENCH_BUILD_TYPE, HUBD_PATH);
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    char load[128] = {};
    if (std::fgets(load, sizeof load, f) != nullptr)
      std::printf("loadavg before the run: %s", load);
    std::fclose(f);
  }
  std::printf("%u hardware threads\n\n", std::thread::hardware_concurrency());
  std::fflush(stdout);
  try {
    throughput(events);
    std::fflush(stdout);
    api_round_trip();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sdk_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
