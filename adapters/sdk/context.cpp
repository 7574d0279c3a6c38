#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "bus/api_protocol.h"
#include "bus/credentials.h"
#include "bus/publisher.h"
#include "bus/small_file.h"
#include "bus/subscriber.h"
#include "bus/text.h"
#include "bus/yaml_document.h"
#include "durable_subscription.h"
#include "hub/api_client.h"
#include "hub/sdk.h"

namespace hub::sdk {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// {"method":M,...} with string fields.
std::string request(std::string_view method,
                    const std::vector<std::pair<std::string, std::string>>& fields = {}) {
  JsonObject json;
  json.add(api::kMethodField, method);
  for (const auto& [key, value] : fields) json.add(key, value);
  return json.str();
}

}  // namespace

struct Context::Impl {
  ServiceConfig config;
  Credential credential;
  zmq::context_t zmq{1};
  std::shared_ptr<spdlog::logger> logger;
  int signal_fd = -1;  // stop signals, blocked in every thread (run() blocks them first)
  int wake_fd = -1;    // tells subscription threads to end
  std::atomic<bool> closing{false};  // set with wake_fd; checked between events too

  std::mutex publish_mu;
  std::optional<Publisher> publisher;  // guarded by publish_mu
  std::timed_mutex api_mu;             // one call at a time on the client; waiting counts
  std::optional<ApiClient> api;        // toward the caller's timeout; guarded by api_mu
  std::atomic<bool> ready_said{false};
  std::vector<std::thread> subscriptions;
  // By name; null while one is being set up. Guarded by subscriptions_mu.
  std::map<std::string, std::shared_ptr<DurableSubscription>> durables;
  std::mutex subscriptions_mu;

  std::string topic_of(std::string_view event) const {
    return event.find('/') == std::string_view::npos ? config.module + "/" + std::string(event)
                                                     : std::string(event);
  }

  Result<std::string> call(const std::string& req, std::chrono::milliseconds timeout) {
    const auto began = std::chrono::steady_clock::now();
    std::unique_lock lock(api_mu, std::defer_lock);
    if (!lock.try_lock_for(timeout)) {
      return Status::timeout("timeout: another API call of this service took the whole " +
                             std::to_string(timeout.count()) + " ms");
    }
    timeout -= std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    if (!api) api.emplace(zmq, config.api_endpoint, credential);
    auto result = api->call(req, timeout);
    if (result) return result;
    // The code stays in the message too, as "code: message", for whoever only prints it.
    return Status::error(result.code(),
                         std::string(api::code_name(result.code())) + ": " + result.error());
  }

  // A subscription that recovers what it falls behind on from the journal, whatever its
  // patterns: live from now on, after the journal's events from `resume_from` (if not 0).
  // Events the journal no longer holds are logged, then told to `on_lost` (if any), from
  // within Subscriber::next().
  Result<Subscriber> open_subscriber(std::vector<std::string> patterns, uint64_t resume_from = 0,
                                     std::function<void(uint64_t, uint64_t)> on_lost = {}) {
    SubscriberOptions options;
    options.events_endpoint = config.bus_events;
    options.replay_endpoint = config.bus_replay;
    options.patterns = std::move(patterns);
    options.retained = false;
    options.sync = true;
    options.recover = true;
    options.resume_from = resume_from;
    options.on_gap = [log = logger, on_lost = std::move(on_lost)](uint64_t first, uint64_t last) {
      log->error("events {}..{} are lost: no longer in the hub's journal", first, last);
      if (on_lost) on_lost(first, last);
    };
    options.wake_fd = wake_fd;
    return Subscriber::open(zmq, credential, std::move(options));
  }

  // Hands `e` to `handler`. Whatever it throws is logged (naming `subscription`, when a
  // durable one) and reported as MODULE/handler-failed; the caller goes on with the next.
  // False when it threw.
  bool call(const Handler& handler, const hub::Event& e, const std::string& subscription = {}) {
    const Event view(e.topic(), e.payload(), e.seq, e.time_ns, e.retained(), e.source,
                     e.content_type);
    try {
      handler(view);
      return true;
    } catch (const std::exception& ex) {
      handler_failed(e, subscription, ex.what());
    } catch (...) {
      handler_failed(e, subscription, "an exception not derived from std::exception");
    }
    return false;
  }

  void handler_failed(const hub::Event& e, const std::string& subscription,
                      const std::string& what) {
    if (subscription.empty()) {
      logger->error("handler for {} (seq {}) threw: {}", e.topic(), e.seq, what);
    } else {
      logger->error("handler of {} for {} (seq {}) threw: {}", subscription, e.topic(), e.seq,
                    what);
    }
    // A failure to handle a failure report is logged only: reporting it would feed a
    // subscription to its own reports, one event after another.
    if (e.topic() == topic_of("handler-failed")) return;
    JsonObject report;
    report.add("instance", config.instance)
        .add("topic", e.topic())
        .add("seq", static_cast<int64_t>(e.seq))
        .add("what", what);
    if (!subscription.empty()) report.add("subscription", subscription);
    std::lock_guard lock(publish_mu);
    try {
      (void)publisher_locked().publish(topic_of("handler-failed"), report.str(), {});
    } catch (const std::exception&) {
      // No publisher (its error is the caller's to see on its own publishes).
    }
  }

  // Tells a durable subscription's on_lost; what it throws is logged.
  void call_on_lost(const std::function<void(uint64_t, uint64_t)>& on_lost,
                    const std::string& subscription, uint64_t first, uint64_t last) {
    try {
      on_lost(first, last);
    } catch (const std::exception& ex) {
      logger->error("on_lost of {} for events {}..{} threw: {}", subscription, first, last,
                    ex.what());
    } catch (...) {
      logger->error(
          "on_lost of {} for events {}..{} threw an exception not derived from "
          "std::exception",
          subscription, first, last);
    }
  }

  Publisher& publisher_locked() {
    if (!publisher) {
      auto p = Publisher::connect(zmq, config.bus_ingest, credential);
      if (!p) throw std::runtime_error(p.error());
      publisher.emplace(std::move(*p));
    }
    return *publisher;
  }
};

Context::Context(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Context::~Context() {
  std::vector<std::thread> subscriptions;
  {
    std::lock_guard lock(impl_->subscriptions_mu);
    impl_->closing = true;  // a busy subscription ends after the event in hand; no new one
    subscriptions.swap(impl_->subscriptions);
  }
  const uint64_t one = 1;
  if (::write(impl_->wake_fd, &one, sizeof one) < 0) {
    // an eventfd write cannot fail here
  }
  for (auto& t : subscriptions) t.join();
  {
    std::lock_guard lock(impl_->publish_mu);
    if (impl_->publisher) impl_->publisher->close();  // hands over what is queued
  }
  ::close(impl_->wake_fd);
  if (impl_->signal_fd >= 0) ::close(impl_->signal_fd);
}

Result<std::unique_ptr<Context>> Context::from_environment() {
  auto impl = std::make_unique<Impl>();
  // libzmq's ZMQ_ZERO_COPY_RECV (a draft option, 10) off: a received message then owns its
  // bytes instead of pinning the 8 KiB read buffer it arrived in, so a subscription that
  // queues thousands of small events (a bridge whose broker is away) holds ~100 B for
  // each, not 8 KiB. A libzmq without the option refuses it, and nothing changes.
  constexpr int kZeroCopyRecv = 10;
  (void)zmq_ctx_set(impl->zmq.handle(), kZeroCopyRecv, 0);
  ServiceConfig& c = impl->config;
  c.root = env("HUB_ROOT");
  c.module = env("HUB_MODULE");
  c.service = env("HUB_SERVICE");
  c.instance = env("HUB_INSTANCE");
  c.mode = env("HUB_MODE");
  c.workspace = env("HUB_WORKSPACE");
  c.config_file = env("HUB_CONFIG_FILE");
  c.credential_file = env("HUB_CREDENTIAL_FILE");
  c.data_dir = env("HUB_DATA_DIR");
  c.bus_ingest = env("HUB_BUS_INGEST");
  c.bus_events = env("HUB_BUS_EVENTS");
  c.bus_replay = env("HUB_BUS_REPLAY");
  c.api_endpoint = env("HUB_API_ENDPOINT");
  c.notify_fd = env("HUB_NOTIFY_FD").empty() ? -1 : std::atoi(env("HUB_NOTIFY_FD").c_str());
  if (c.mode.empty() || c.module.empty() || c.credential_file.empty()) {
    return Status::error(
        "not started by hubd: HUB_MODE, HUB_MODULE and HUB_CREDENTIAL_FILE must be set "
        "(docs/SERVICES.md, Environment)");
  }
  auto credential = read_credential_file(c.credential_file);
  if (!credential) return credential.status();
  impl->credential = *credential;
  impl->logger = std::make_shared<spdlog::logger>(
      c.instance, std::make_shared<spdlog::sinks::stdout_sink_mt>());
  impl->logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  impl->logger->flush_on(spdlog::level::trace);  // every line reaches the log at once
  const sigset_t stop = stop_signals();
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  impl->signal_fd = ::signalfd(-1, &stop, SFD_CLOEXEC);
  impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->signal_fd < 0 || impl->wake_fd < 0) return Status::error("signalfd/eventfd failed");
  return std::unique_ptr<Context>(new Context(std::move(impl)));
}

const ServiceConfig& Context::config() const { return impl_->config; }
spdlog::logger& Context::log() { return *impl_->logger; }

Result<YAML::Node> Context::load_config() const {
  // Bounded, and a key given twice is an error naming both lines (yaml_document.h).
  const std::string& file = impl_->config.config_file;
  auto text = read_small_file(file, YamlLimits{}.max_bytes);
  if (!text) return text.status();
  return parse_yaml(*text, file);
}

Status Context::publish(std::string_view event, std::string_view payload, bool retain) {
  std::lock_guard lock(impl_->publish_mu);
  try {
    PublishOptions options;
    options.retain = retain;
    return impl_->publisher_locked().publish(impl_->topic_of(event), payload, options);
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

Result<uint64_t> Context::publish_confirmed(std::string_view event, std::string_view payload,
                                            bool retain) {
  std::lock_guard lock(impl_->publish_mu);
  try {
    PublishOptions options;
    options.retain = retain;
    return impl_->publisher_locked().publish_confirmed(impl_->topic_of(event), payload,
                                                       std::chrono::seconds(10), options);
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

Status Context::subscribe(std::vector<std::string> patterns, Handler handler) {
  auto sub = impl_->open_subscriber(std::move(patterns));
  if (!sub) return sub.status();
  std::lock_guard lock(impl_->subscriptions_mu);
  if (impl_->closing) return Status::error("the Context is closing");
  impl_->subscriptions.emplace_back(
      [this, sub = std::make_shared<Subscriber>(std::move(*sub)), handler = std::move(handler)] {
        while (!impl_->closing) {
          auto event = sub->next(std::chrono::milliseconds(-1));
          if (!event) continue;  // woken (the loop ends if the Context is going) or interrupted
          impl_->call(handler, *event);
        }
      });
  return Status::ok();
}

namespace {

bool is_consumer_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// The rest of subscribe_durable, once `name` is taken.
Status start_durable(Context::Impl* impl, const std::string& name,
                     std::vector<std::string> patterns, Handler handler, DurableOptions options) {
  auto durable = std::make_shared<DurableSubscription>(
      std::filesystem::path(impl->config.data_dir) / ".hub/consumers" / name, options);
  // Lost events, as the subscriber reports them from within next(): handled on the
  // subscription's thread once next() returns, before the event it returns.
  auto lost = std::make_shared<std::vector<std::pair<uint64_t, uint64_t>>>();
  const auto note_lost = [lost](uint64_t first, uint64_t last) { lost->emplace_back(first, last); };
  // The journal's events past the mark first, then live; none twice. The first time, from
  // now on: that starting point is saved at once, so a crash right after loses nothing.
  auto sub = impl->open_subscriber(patterns, durable->found() ? durable->mark() + 1 : 0, note_lost);
  if (!sub) return sub.status();
  bool anew = !durable->found();
  if (durable->found() && durable->mark() > sub->joined_at()) {  // a journal replaced, or wiped
    impl->logger->warn(
        "durable subscription {}: its mark {} is past the bus's last event {}; "
        "starting from now",
        name, durable->mark(), sub->joined_at());
    lost->clear();
    sub = impl->open_subscriber(patterns, 0, note_lost);
    if (!sub) return sub.status();
    anew = true;
  }
  if (anew) {
    if (Status s = durable->start_after(sub->joined_at()); !s)
      return Status::error("durable subscription " + name + ": " + s.message());
  }
  std::lock_guard lock(impl->subscriptions_mu);
  if (impl->closing) return Status::error("the Context is closing");
  impl->durables[name] = durable;
  impl->subscriptions.emplace_back([impl, durable, lost, name,
                                    sub = std::make_shared<Subscriber>(std::move(*sub)),
                                    handler = std::move(handler),
                                    on_lost = std::move(options.on_lost)] {
    const auto saved = [&](bool ok) {
      if (!ok) impl->logger->error("durable subscription {}: cannot save its mark", name);
    };
    while (!impl->closing) {
      auto event = sub->next(std::chrono::milliseconds(200));
      for (const auto& [first, last] : *lost) {
        if (on_lost) impl->call_on_lost(on_lost, name, first, last);
        saved(durable->lost(first, last));
      }
      lost->clear();
      if (!event) {  // idle: all it was given is handled (or acknowledged); kept before any crash
        saved(durable->idle(sub->delivered_through()));
        continue;
      }
      if (!durable->is_new(event->seq)) continue;
      durable->handing(event->seq);
      const bool returned = impl->call(handler, *event, name);
      saved(durable->handled(event->seq, !returned));
    }
    saved(durable->finish());
  });
  return Status::ok();
}

}  // namespace

Status Context::subscribe_durable(const std::string& name, std::vector<std::string> patterns,
                                  Handler handler) {
  return subscribe_durable(name, std::move(patterns), std::move(handler), DurableOptions());
}

Status Context::subscribe_durable(const std::string& name, std::vector<std::string> patterns,
                                  Handler handler, DurableOptions options) {
  if (!is_consumer_name(name)) {
    return Status::error("a durable subscription's name is 1 to 64 of [A-Za-z0-9_-], not '" + name +
                         "'");
  }
  if (impl_->config.data_dir.empty()) return Status::error("HUB_DATA_DIR is not set");
  {
    std::lock_guard lock(impl_->subscriptions_mu);
    if (!impl_->durables.emplace(name, nullptr).second)
      return Status::error("durable subscription " + name + " exists already");
  }
  Status started =
      start_durable(impl_.get(), name, std::move(patterns), std::move(handler), std::move(options));
  if (!started) {
    std::lock_guard lock(impl_->subscriptions_mu);
    impl_->durables.erase(name);
  }
  return started;
}

Result<uint64_t> Context::acknowledge(const std::string& name, uint64_t seq) {
  std::shared_ptr<DurableSubscription> durable;
  {
    std::lock_guard lock(impl_->subscriptions_mu);
    const auto it = impl_->durables.find(name);
    if (it != impl_->durables.end()) durable = it->second;
  }
  if (!durable) return Status::not_found("no durable subscription " + name);
  if (!durable->explicit_ack())
    return Status::bad_request("durable subscription " + name + " is not acknowledged explicitly");
  auto mark = durable->acknowledge(seq);
  if (!mark) return Status::error("durable subscription " + name + ": " + mark.error());
  return mark;
}

void Context::notify_ready() {
  if (impl_->config.notify_fd < 0 || impl_->ready_said.exchange(true)) return;
  if (::write(impl_->config.notify_fd, "ready\n", 6) != 6) {
    impl_->logger->warn("could not say ready on fd {}", impl_->config.notify_fd);
  }
}

int Context::wait_fd() const { return impl_->signal_fd; }

bool Context::wait_for(std::chrono::milliseconds timeout) {
  pollfd item{impl_->signal_fd, POLLIN, 0};
  return ::poll(&item, 1, static_cast<int>(timeout.count())) == 1;
}

void Context::wait() {
  while (!wait_for(std::chrono::milliseconds(-1))) {
  }
}

Result<std::string> Context::inspect_system(std::chrono::milliseconds timeout) {
  return impl_->call(request(api::kInspect), timeout);
}

Result<std::string> Context::update_system(std::chrono::milliseconds timeout) {
  return impl_->call(request(api::kReload), timeout);
}

Result<int> Context::available_port(std::chrono::milliseconds timeout) {
  auto result = impl_->call(request(api::kPort), timeout);
  if (!result) return result.status();
  const size_t colon = result->find(':');
  if (colon == std::string::npos)
    return Status::error(Status::Code::kProtocol, "protocol: " + *result);
  return std::atoi(result->c_str() + colon + 1);
}

Status Context::report_instance(const std::string& stats_json, std::chrono::milliseconds timeout) {
  if (!is_valid_json(stats_json) || stats_json.empty() || stats_json[0] != '{')
    return Status::bad_request("bad_request: stats must be a JSON object");
  auto result = impl_->call(
      JsonObject().add(api::kMethodField, api::kReport).add_raw("stats", stats_json).str(),
      timeout);
  return result ? Status::ok() : result.status();
}

Status Context::start_instance(const std::string& service, const std::string& instance,
                               const std::vector<std::pair<std::string, std::string>>& config,
                               std::chrono::milliseconds timeout) {
  JsonObject dynamic;
  for (const auto& [key, value] : config) dynamic.add(key, value);
  auto result = impl_->call(JsonObject()
                                .add(api::kMethodField, api::kStart)
                                .add("name", service)
                                .add("instance", instance)
                                .add_raw("config", dynamic.str())
                                .str(),
                            timeout);
  return result ? Status::ok() : result.status();
}

Status Context::stop_instance(const std::string& service, const std::string& instance,
                              std::chrono::milliseconds timeout) {
  auto result =
      impl_->call(request(api::kStop, {{"name", service}, {"instance", instance}}), timeout);
  return result ? Status::ok() : result.status();
}

int run(const std::function<Status(Context&)>& fn) {
  auto ctx = Context::from_environment();
  if (!ctx) {
    std::fprintf(stderr, "%s\n", ctx.error().c_str());
    return 1;
  }
  try {
    const Status s = fn(**ctx);
    if (!s) {
      (*ctx)->log().error("{}", s.message());
      return 1;
    }
  } catch (const std::exception& e) {
    (*ctx)->log().error("stopped by an exception: {}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace hub::sdk
