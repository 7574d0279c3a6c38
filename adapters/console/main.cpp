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
#include <filesystem>
#include <memory>
#include <thread>

#include <hub/sdk.h>

#include "bus/root_layout.h"
#include "console/console_config.h"
#include "console/console_server.h"
#include "console/hub_backend.h"
#include "console/live_feed.h"

namespace {

using hub::Result;
using hub::Status;
using hub::console::EventView;

// Events of the journal counted into the chart and the timeline at start.
constexpr uint64_t kSeedEvents = 20000;

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
  if (!config->token_file.empty()) {
    if (auto token = hub::console::read_token_file(config->token_file); !token) {
      ctx.log().warn(
          "token_file {} (read at each request; only the administrator's secret "
          "changes state meanwhile)",
          token.error());
    }
  }
  hub::console::HubBackend backend(ctx, *config, *layout);
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
