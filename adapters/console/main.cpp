// The web console's program (the service of modules/system/Console; README, "Console"):
// an ordinary SDK subscriber of the whole bus and API client, serving a page, its live
// view, and /metrics over HTTP. hubd runs it only when the module's configuration has
// `listen:` (service.yml `needs_config: listen`).
//   console                  the service: reads etc/hub/service.yml, as hubd starts it
//   console --check FILE...  checks the module's config files (lowest precedence first),
//                            printing every problem as FILE:LINE:COL: KEY: what was
//                            expected; exit status 1 when there is any (hubd runs it at load)
//   console --version
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <mutex>
#include <thread>

#include <hub/api_client.h>
#include <hub/sdk.h>

#include "bus/credentials.h"
#include "bus/replay_client.h"
#include "bus/root_layout.h"
#include "console/console_config.h"
#include "console/console_server.h"
#include "console/live_feed.h"

namespace {

using hub::Result;
using hub::Status;
using hub::console::EventView;

// Events of the journal counted into the chart and the timeline at start.
constexpr uint64_t kSeedEvents = 20000;
// How far back `last=N` looks for N matching events.
constexpr uint64_t kLastScan = 200000;

EventView view_of(const hub::Event& e) {
  return EventView{e.topic(), e.payload(), e.source,    e.content_type,
                   e.seq,     e.time_ns,   e.retained()};
}

// The hub's side of the server: the SDK's Context, the journal, the API.
class Backend {
 public:
  Backend(hub::sdk::Context& ctx, hub::console::ConsoleConfig config, hub::RootLayout layout)
      : ctx_(ctx), config_(std::move(config)), layout_(std::move(layout)) {
    if (config_.admin_credential.empty()) config_.admin_credential = layout_.bus().admin_credential;
  }

  Result<uint64_t> newest_seq() {
    auto credential = own_credential();
    if (!credential) return credential.status();
    hub::ReplayRequest probe;
    probe.endpoint = ctx_.config().bus_replay;
    probe.from = std::numeric_limits<uint64_t>::max() / 2;
    auto end = hub::replay(zmq_, *credential, probe, [](const hub::Event&) { return true; });
    if (!end) return end.status();
    return end->last_seq;
  }

  Result<uint64_t> history(uint64_t from, uint64_t last, const std::vector<std::string>& patterns,
                           const std::function<bool(const EventView&)>& on_event) {
    auto credential = own_credential();
    if (!credential) return credential.status();
    hub::ReplayRequest request;
    request.endpoint = ctx_.config().bus_replay;
    request.patterns = patterns;
    if (last > 0) {  // the last `last` matching events among the newest kLastScan
      auto newest = newest_seq();
      if (!newest) return newest.status();
      request.from = *newest > kLastScan ? *newest - kLastScan + 1 : 1;
      request.to = *newest;
      std::deque<hub::Event> kept;
      auto done = hub::replay(zmq_, *credential, request, [&](const hub::Event& e) {
        kept.push_back(hub::Event{zmq::message_t(e.topic_frame.data(), e.topic_frame.size()),
                                  zmq::message_t(e.payload_frame.data(), e.payload_frame.size()),
                                  e.seq, e.time_ns, e.flags, e.module_prev, e.source,
                                  e.content_type});
        if (kept.size() > last) kept.pop_front();
        return true;
      });
      if (!done) return done.status();
      for (const hub::Event& e : kept)
        if (!on_event(view_of(e))) break;
      return done->last_seq;
    }
    request.from = from;
    auto done = hub::replay(zmq_, *credential, request,
                            [&](const hub::Event& e) { return on_event(view_of(e)); });
    if (!done) return done.status();
    return done->last_seq;
  }

  Result<std::string> control(const std::string& request) {
    auto credential = hub::read_credential_file(config_.admin_credential);
    if (!credential) {
      return Status::error("the console holds no administrator credential (" + credential.error() +
                           "): it can show, not change (README, \"Console\")");
    }
    std::lock_guard lock(api_mu_);
    hub::ApiClient api(zmq_, ctx_.config().api_endpoint, *credential);
    return api.call(request, std::chrono::seconds(60));
  }

  std::vector<std::string> tokens() const {
    std::vector<std::string> out;
    if (!config_.token_file.empty()) {
      std::ifstream in(config_.token_file);
      std::string line;
      if (in && std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.size() >= 16) out.push_back(line);  // a short token is no protection
      }
    }
    if (auto admin = hub::read_credential_file(config_.admin_credential))
      out.push_back(admin->secret);
    return out;
  }

  hub::console::ConsoleBackend functions() {
    hub::console::ConsoleBackend b;
    b.inspect = [this] { return ctx_.inspect_system(std::chrono::seconds(5)); };
    b.control = [this](const std::string& r) { return control(r); };
    b.history = [this](uint64_t from, uint64_t last, const std::vector<std::string>& patterns,
                       const std::function<bool(const EventView&)>& on_event) {
      return history(from, last, patterns, on_event);
    };
    b.log_file = [this](const std::string& instance) { return layout_.instance_log(instance); };
    b.tokens = [this] { return tokens(); };
    return b;
  }

 private:
  Result<hub::Credential> own_credential() const {
    return hub::read_credential_file(ctx_.config().credential_file);
  }

  hub::sdk::Context& ctx_;
  hub::console::ConsoleConfig config_;
  hub::RootLayout layout_;
  zmq::context_t zmq_{1};
  std::mutex api_mu_;
};

Status serve(hub::sdk::Context& ctx) {
  auto node = ctx.load_config();
  if (!node) return node.status();
  auto layout = hub::find_hub_layout("");
  if (!layout) return layout.status();
  auto config = hub::console::parse_console_config(*node, layout->root());
  if (!config) return config.status();
  if (!hub::console::is_loopback(config->host)) {
    ctx.log().warn(
        "listening on {}: not a loopback address, so other hosts reach the page "
        "(reading needs no token)",
        config->host);
  }
  Backend backend(ctx, *config, *layout);
  // Shared with the subscription's handler, which the Context may still call after this
  // function returns (until run() destroys the Context).
  auto shared_feed = std::make_shared<hub::console::LiveFeed>();
  hub::console::LiveFeed& feed = *shared_feed;
  // The chart and the timeline start with the journal's recent past.
  if (auto newest = backend.newest_seq(); newest && *newest > 0) {
    const uint64_t from = *newest > kSeedEvents ? *newest - kSeedEvents + 1 : 1;
    auto seeded = backend.history(from, 0, {}, [&](const EventView& e) {
      feed.on_past_event(e);
      return e.seq < *newest;
    });
    if (!seeded) ctx.log().warn("the journal's recent events were not read: {}", seeded.error());
  }
  if (Status s = ctx.subscribe({"#"},
                               [shared_feed](const hub::sdk::Event& e) {
                                 shared_feed->on_event(EventView{e.topic(), e.payload(), e.source,
                                                                 e.content_type, e.seq, e.time_ns,
                                                                 e.retained()});
                               });
      !s) {
    return s;
  }
  hub::console::ConsoleServer server(*config, backend.functions(), feed);
  if (Status s = server.bind(); !s) return s;
  ctx.log().info("console on http://{}:{}/", config->host, config->port);
  std::thread http([&server] { server.serve(); });
  ctx.notify_ready();
  ctx.wait();
  server.stop();
  http.join();
  return Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("console (hub) %s\n", HUB_VERSION);
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "--check") == 0) {
    const std::string problems = hub::console::check_console_files(
        std::vector<std::string>(argv + 2, argv + argc), std::filesystem::current_path());
    if (!problems.empty()) {
      std::fputs(problems.c_str(), stdout);
      return 1;
    }
    std::printf("ok\n");
    return 0;
  }
  if (argc > 1) {
    std::fprintf(stderr,
                 "usage: console [--check FILE... | --version] (hubd starts it as a module's "
                 "service)\n");
    return 2;
  }
  return hub::sdk::run([](hub::sdk::Context& ctx) { return serve(ctx); });
}
