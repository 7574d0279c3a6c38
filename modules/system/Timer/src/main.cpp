// The bundled Timer service: publishes TIMER/tick ({"time": UNIX_SECONDS, "count": N})
// every `timer.interval` of its config, the C++ counterpart of the timer example in
// Baetyl's "Customize Module" guide. It reads what the supervisor hands every service:
// the config file, the bus endpoint and credential, and the readiness descriptor. It
// stops cleanly on SIGTERM or SIGINT. (The SDK will take over the plumbing below.)
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <yaml-cpp/yaml.h>

#include "bus/credentials.h"
#include "bus/publisher.h"
#include "bus/text.h"

namespace {

using std::chrono::milliseconds;

struct TimerConfig {
  milliseconds interval{60000};
  std::string event = "tick";
};

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// Reads `timer.interval` (milliseconds, or a number with ms/s/m) and `publish.event`.
hub::Result<TimerConfig> load_config(const std::string& file) {
  TimerConfig config;
  try {
    const YAML::Node root = YAML::LoadFile(file);
    if (const YAML::Node interval = root["timer"]["interval"]) {
      const std::string text = interval.Scalar();
      size_t end = 0;
      const long long n = std::stoll(text, &end);
      const std::string unit = text.substr(end);
      const long long scale = unit == "ms"                  ? 1
                              : unit == "s" || unit.empty() ? 1000
                              : unit == "m"                 ? 60000
                                                            : 0;
      if (n <= 0 || scale == 0) throw std::invalid_argument(text);
      config.interval = milliseconds(n * scale);
    }
    if (const YAML::Node event = root["publish"]["event"]) config.event = event.Scalar();
  } catch (const std::exception& e) {
    return hub::Status::error(file +
                              ": timer.interval must be a duration such as 500ms, 5s or 1m, "
                              "publish.event a name (" +
                              e.what() + ")");
  }
  return config;
}

int run() {
  auto config = load_config(env("HUB_CONFIG_FILE"));
  if (!config) {
    std::cerr << "timer: " << config.error() << "\n";
    return 2;
  }
  auto credential = hub::read_credential_file(env("HUB_CREDENTIAL_FILE"));
  if (!credential) {
    std::cerr << "timer: " << credential.error() << "\n";
    return 2;
  }
  zmq::context_t ctx(1);
  auto publisher = hub::Publisher::connect(ctx, env("HUB_BUS_INGEST"), *credential);
  if (!publisher) {
    std::cerr << "timer: " << publisher.error() << "\n";
    return 1;
  }
  const std::string topic = env("HUB_MODULE") + "/" + config->event;
  std::cout << "timer: publishing " << topic << " every " << config->interval.count() << " ms"
            << std::endl;

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  if (env("HUB_NOTIFY_FD") == "3" && ::write(3, "ready\n", 6) == 6) ::close(3);

  int64_t count = 0;
  auto next = std::chrono::steady_clock::now() + config->interval;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        next - std::chrono::steady_clock::now());
    const timespec wait{static_cast<time_t>(std::max<int64_t>(0, left.count()) / 1'000'000'000),
                        static_cast<long>(std::max<int64_t>(0, left.count()) % 1'000'000'000)};
    const int sig = ::sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (std::chrono::steady_clock::now() < next) continue;  // EINTR: wait for the rest
    next += config->interval;
    const std::string payload = hub::JsonObject()
                                    .add("time", static_cast<int64_t>(::time(nullptr)))
                                    .add("count", ++count)
                                    .str();
    if (auto s = publisher->publish(topic, payload); !s) {
      std::cerr << "timer: cannot publish " << topic << ": " << s.message() << std::endl;
    }
  }
  std::cout << "timer: stopping after " << count << " ticks" << std::endl;
  return 0;
}

}  // namespace

int main() { return run(); }
