// The web console's parts without a hub: its configuration, the live view's bounds
// (sampling beyond the rate, dropping beyond the queue, never waiting on a browser), the
// chart's rates, the timeline, the log tail, and the HTTP routes against a fake backend.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "console/console_config.h"
#include "console/console_server.h"
#include "console/event_rates.h"
#include "console/live_feed.h"
#include "console/log_tail.h"
#include "console/prometheus_text.h"
#include "console/service_timeline.h"
#include "support/temp_dir.h"

using namespace std::chrono_literals;
using hub::console::ConsoleConfig;
using hub::console::EventView;
using hub::console::LiveClient;
using hub::console::LiveEvent;

namespace {

hub::Result<ConsoleConfig> parse(const std::string& yaml) {
  return hub::console::parse_console_config(YAML::Load(yaml), "/srv/hub");
}

LiveEvent live_event(uint64_t seq) {
  return LiveEvent{seq, std::make_shared<const std::string>("{}")};
}

EventView view(std::string_view topic, uint64_t seq, std::string_view payload = "{}",
               std::string_view source = "admin") {
  return EventView{topic, payload, source, "application/json", seq, 1'800'000'000'000'000'000ULL,
                   false};
}

}  // namespace

TEST_CASE("console.yml: listen, paths under the root, bounds; strict", "[console]") {
  auto c = parse("listen: 127.0.0.1:8080\ntoken_file: etc/token\nlive_rate: 50\n");
  REQUIRE(c);
  CHECK(c->host == "127.0.0.1");
  CHECK(c->port == 8080);
  CHECK(c->token_file == "/srv/hub/etc/token");
  CHECK(c->admin_credential.empty());
  CHECK(c->live_rate == 50);
  auto port_only = parse("listen: 9000\nadmin_credential: /etc/hub/admin.cred\n");
  REQUIRE(port_only);
  CHECK(port_only->host == "127.0.0.1");
  CHECK(port_only->admin_credential == "/etc/hub/admin.cred");
  auto v6 = parse("listen: \"[::1]:81\"\n");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(hub::console::is_loopback("127.0.0.1"));
  CHECK(hub::console::is_loopback("::1"));
  CHECK_FALSE(hub::console::is_loopback("0.0.0.0"));

  const auto error = [](const std::string& yaml) {
    auto r = parse(yaml);
    REQUIRE_FALSE(r);
    return r.error();
  };
  CHECK_THAT(error("token_file: x\n"), Catch::Contains("console.yml: listen: expected HOST:PORT"));
  CHECK_THAT(
      error("listen: 127.0.0.1:99999\n"),
      Catch::Contains("listen: expected HOST:PORT or PORT (1 to 65535), not '127.0.0.1:99999'"));
  CHECK_THAT(error("listen: 80\nlisten_rate: 5\n"),
             Catch::Contains("listen_rate: expected one of listen, token_file"));
  CHECK_THAT(error("listen: 80\nlive_queue: 0\n"),
             Catch::Contains("live_queue: expected a whole number from 1 to 1000000, not '0'"));
  CHECK_THAT(error("listen: [80]\n"), Catch::Contains("listen: expected a single value"));
}

TEST_CASE("a live view samples beyond its rate and drops beyond its queue, counting both",
          "[console]") {
  LiveClient by_rate(*hub::TopicFilter::parse({}), /*rate=*/5, /*queue_limit=*/100);
  LiveClient by_queue(*hub::TopicFilter::parse({}), /*rate=*/1000, /*queue_limit=*/3);
  const auto now = std::chrono::steady_clock::now();  // after both began with a full bucket
  for (uint64_t seq = 1; seq <= 12; ++seq) by_rate.offer(live_event(seq), now);
  auto batch = by_rate.take(0ms);
  CHECK(batch.events.size() == 5);
  CHECK(batch.sampled == 7);
  CHECK(batch.dropped == 0);
  // A second later the rate allows five more.
  for (uint64_t seq = 13; seq <= 20; ++seq) by_rate.offer(live_event(seq), now + 1s);
  batch = by_rate.take(0ms);
  CHECK(batch.events.size() == 5);
  CHECK(batch.events.front().seq == 13);
  CHECK(batch.sampled == 3);

  for (uint64_t seq = 1; seq <= 10; ++seq) by_queue.offer(live_event(seq), now);
  batch = by_queue.take(0ms);
  CHECK(batch.events.size() == 3);
  CHECK(batch.dropped == 7);
  batch = by_queue.take(0ms);  // the counts are since the last batch
  CHECK(batch.events.empty());
  CHECK(batch.dropped == 0);

  by_queue.close();
  CHECK(by_queue.take(1s).closed);
}

TEST_CASE("the feed offers each view what it asked for, and never waits on a browser",
          "[console]") {
  hub::console::LiveFeed feed;
  auto timers = feed.join(*hub::TopicFilter::parse({"Timer/#"}), 1000000, 10);
  auto all = feed.join(*hub::TopicFilter::parse({}), 1000000, 1000000);
  REQUIRE(timers);
  REQUIRE(all);
  // A view that never reads: 200,000 events go through at once (bounded work each).
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t seq = 1; seq <= 200000; ++seq)
    feed.on_event(view(seq % 2 ? "Timer/tick" : "Other/x", seq));
  CHECK(std::chrono::steady_clock::now() - start < 20s);
  auto batch = timers->take(0ms);
  CHECK(batch.events.size() == 10);
  CHECK(batch.dropped == 100000 - 10);
  CHECK(all->take(0ms).events.size() == 200000);
  CHECK(feed.events_seen() == 200000);

  for (size_t i = 2; i < hub::console::LiveFeed::kMaxClients; ++i)
    CHECK(feed.join(*hub::TopicFilter::parse({}), 1, 1));
  CHECK_FALSE(feed.join(*hub::TopicFilter::parse({}), 1, 1));  // full: refused
  feed.leave(timers);
  CHECK(feed.join(*hub::TopicFilter::parse({}), 1, 1));
}

TEST_CASE("events per second per module over a ring of seconds", "[console]") {
  hub::console::EventRates rates;
  rates.count("Timer", 1000);
  rates.count("Timer", 1000);
  rates.count("Timer", 1002);
  rates.count("Heartbeat", 1002);
  rates.count("Timer", 1000 - hub::console::EventRates::kSeconds);  // older than the window
  CHECK(rates.json(1002, 3) ==
        R"({"now":1002,"seconds":3,"modules":{"Heartbeat":[0,0,1],"Timer":[2,0,1]}})");
  // A module with nothing in the window is left out.
  CHECK(rates.json(1100, 3) == R"({"now":1100,"seconds":3,"modules":{}})");
  // The slot of a second long gone counts afresh.
  rates.count("Timer", 1000 + hub::console::EventRates::kSeconds);
  CHECK(rates.json(1000 + hub::console::EventRates::kSeconds, 1) ==
        R"({"now":1600,"seconds":1,"modules":{"Timer":[1]}})");
}

TEST_CASE("the timeline keeps the Hub's lifecycle events per instance", "[console]") {
  using hub::console::ServiceTimeline;
  CHECK(ServiceTimeline::is_lifecycle("Timer/started", "Hub"));
  CHECK(ServiceTimeline::is_lifecycle("Timer/failed", "Hub"));
  CHECK_FALSE(ServiceTimeline::is_lifecycle("Timer/started", "Timer"));  // not the Hub's
  CHECK_FALSE(ServiceTimeline::is_lifecycle("Timer/tick", "Hub"));
  CHECK_FALSE(ServiceTimeline::is_lifecycle("Timer/loaded", "Hub"));
  ServiceTimeline t;
  t.record("Timer/started", R"({"name":"Timer","instance":"Timer.fast"})", 5'000'000);
  t.record("Timer/failed", R"({"name":"Timer","reason":"exit 1"})", 7'000'000);
  t.record("Timer/stopped", "not json", 9'000'000);
  CHECK(t.json() == R"({"services":{"Timer":[{"t":7,"event":"failed","reason":"exit 1"},)"
                    R"({"t":9,"event":"stopped"}],"Timer.fast":[{"t":5,"event":"started"}]}})");
}

TEST_CASE("the log tail: the last lines, within a bound of bytes", "[console]") {
  hub::test::TempDir dir;
  const auto file = dir.write("x.log", "one\ntwo\nthree\nfour\n");
  CHECK(*hub::console::tail_lines(file, 2) == "three\nfour\n");
  CHECK(*hub::console::tail_lines(file, 10) == "one\ntwo\nthree\nfour\n");
  // Reading 12 bytes ("two\nthree\nfour\n" less its start): the cut line is left out.
  CHECK(*hub::console::tail_lines(file, 10, 12) == "three\nfour\n");
  const auto no_newline = dir.write("y.log", "a\nb");
  CHECK(*hub::console::tail_lines(no_newline, 1) == "b");
  auto missing = hub::console::tail_lines(dir.path() / "nope.log", 5);
  REQUIRE_FALSE(missing);
  CHECK(missing.code() == hub::Status::Code::kNotFound);
  CHECK(hub::console::is_instance_name("Timer.fast"));
  CHECK_FALSE(hub::console::is_instance_name("../hubd"));
  CHECK_FALSE(hub::console::is_instance_name(".hidden"));
  CHECK_FALSE(hub::console::is_instance_name("a/b"));
}

TEST_CASE("tokens compare whole", "[console]") {
  CHECK(hub::console::token_matches("secret-token", {"other", "secret-token"}));
  CHECK_FALSE(hub::console::token_matches("secret-toke", {"secret-token"}));
  CHECK_FALSE(hub::console::token_matches("", {""}));
  CHECK_FALSE(hub::console::token_matches("x", {}));
}

TEST_CASE("the console's routes against a fake hub", "[console]") {
  ConsoleConfig config;
  config.port = 0;
  config.live_rate = 1000;
  config.live_queue = 1000;
  hub::test::TempDir dir;
  dir.write("Timer.log", "started\nticking\n");
  std::vector<std::string> requests;
  std::mutex mu;
  hub::console::ConsoleBackend backend;
  backend.inspect = [] {
    return hub::Result<std::string>(
        R"({"hub":{"pid":1,"version":"9.9","root":"/r","uptime_ms":5},"modules":[],"instances":[],)"
        R"("bus":{"events":7,"payload_bytes":70}})");
  };
  backend.control = [&](const std::string& r) {
    std::lock_guard lock(mu);
    requests.push_back(r);
    return hub::Result<std::string>("{}");
  };
  std::vector<std::pair<uint64_t, uint64_t>> histories;  // from, last of each request
  backend.history = [&](uint64_t from, uint64_t last, const std::vector<std::string>&,
                        const std::function<bool(const EventView&)>& on_event) {
    {
      std::lock_guard lock(mu);
      histories.emplace_back(from, last);
    }
    if (on_event(view("Timer/tick", 41))) on_event(view("Timer/tick", 42));
    return hub::Result<uint64_t>(42);
  };
  backend.log_file = [&](const std::string& name) { return dir.path() / (name + ".log"); };
  backend.tokens = [] { return std::vector<std::string>{"the-right-token-123"}; };
  hub::console::LiveFeed feed;
  hub::console::ConsoleServer live_server(config, backend, feed);
  REQUIRE(live_server.bind());
  std::thread serving([&] { live_server.serve(); });
  httplib::Client client("127.0.0.1", live_server.port());
  client.set_read_timeout(10, 0);

  // A name that is not this console's (a rebound DNS name) is refused.
  httplib::Client rebound("127.0.0.1", live_server.port());
  auto foreign = rebound.Get("/api/state", {{"Host", "evil.example:80"}});
  REQUIRE(foreign);
  CHECK(foreign->status == 421);

  auto page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK_THAT(page->body, Catch::Contains("<script src=\"/console.js\">"));
  CHECK(client.Get("/console.js")->status == 200);

  auto state = client.Get("/api/state");
  REQUIRE(state);
  CHECK_THAT(state->body, Catch::StartsWith(R"({"inspect":{"hub":{"pid":1)"));
  CHECK_THAT(state->body, Catch::Contains(R"("live_rate":1000)"));

  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type") == hub::kPrometheusContentType);
  CHECK_THAT(metrics->body, Catch::Contains("hub_bus_events_total 7"));

  auto no_token = client.Post("/api/modules/Timer/stop", "", "text/plain");
  REQUIRE(no_token);
  CHECK(no_token->status == 401);
  CHECK(no_token->get_header_value("WWW-Authenticate") == "Bearer realm=\"hub console\"");
  auto wrong =
      client.Post("/api/modules/Timer/stop", {{"Authorization", "Bearer nope"}}, "", "text/plain");
  REQUIRE(wrong);
  CHECK(wrong->status == 403);
  CHECK(requests.empty());
  auto right = client.Post("/api/modules/Timer/restart",
                           {{"Authorization", "Bearer the-right-token-123"}}, "", "text/plain");
  REQUIRE(right);
  CHECK(right->status == 200);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0] == R"({"method":"restart","name":"Timer"})");
  auto instance = client.Post("/api/instances/Timer.fast/stop",
                              {{"Authorization", "Bearer the-right-token-123"}}, "", "text/plain");
  REQUIRE(instance);
  CHECK(instance->status == 200);
  CHECK(requests.back() == R"({"method":"stop","instance":"Timer.fast"})");
  CHECK(client.Post("/api/instances/Timer.fast/stop", "", "text/plain")->status == 401);
  CHECK(client
            .Post("/api/instances/Timer/stop", {{"Authorization", "Bearer the-right-token-123"}},
                  "", "text/plain")
            ->status == 400);
  auto bad_name = client.Post("/api/modules/Timer.fast/stop",
                              {{"Authorization", "Bearer the-right-token-123"}}, "", "text/plain");
  CHECK(bad_name->status == 400);

  auto log = client.Get("/api/logs?name=Timer&lines=1");
  REQUIRE(log);
  CHECK(log->body == "ticking\n");
  CHECK(client.Get("/api/logs?name=..%2Fx")->status == 400);
  CHECK(client.Get("/api/logs?name=Nope")->status == 404);

  // The live view: hello, the history asked for, then live events newer than it.
  std::string stream;
  std::atomic<bool> got_live{false};
  std::thread publisher([&] {
    while (!got_live) {  // until the browser's view has it (it joins before its history)
      feed.on_event(view("Timer/tick", 42));  // shown from the journal already: skipped
      feed.on_event(view("Timer/tick", 43));
      std::this_thread::sleep_for(5ms);
    }
  });
  auto live =
      client.Get("/api/live?pattern=Timer/%23&last=2", [&](const char* data, size_t length) {
        stream.append(data, length);
        got_live = stream.find("\"seq\":43") != std::string::npos;
        return !got_live;
      });
  publisher.join();
  CHECK_THAT(stream, Catch::StartsWith("event: hello\ndata: {\"live_rate\":1000"));
  CHECK_THAT(stream, Catch::Contains(R"("seq":41,)"));
  CHECK_THAT(stream, Catch::Contains(R"("history":true)"));
  CHECK_THAT(stream, Catch::Contains("event: history\ndata: {\"events\":2,\"last_seq\":42}"));
  CHECK(stream.find(R"("seq":42,)") == stream.rfind(R"("seq":42,)"));  // once
  CHECK_THAT(stream, Catch::Contains("id: 43\nevent: event\n"));
  // A browser that reconnects goes on after the last event it got, from the journal.
  std::string resumed;
  auto again = client.Get("/api/live?pattern=Timer/%23&last=2", {{"Last-Event-ID", "40"}},
                          [&](const char* data, size_t length) {
                            resumed.append(data, length);
                            return resumed.find("event: history") == std::string::npos;
                          });
  {
    std::lock_guard lock(mu);
    REQUIRE(histories.size() == 2);
    CHECK(histories[0] == std::pair<uint64_t, uint64_t>(0, 2));
    CHECK(histories[1] == std::pair<uint64_t, uint64_t>(41, 0));
  }
  CHECK(client.Get("/api/live?pattern=Timer/%23/x")->status == 400);
  CHECK(client.Get("/api/live?from=1&last=2")->status == 400);

  live_server.stop();
  serving.join();
}

TEST_CASE("console --check: every problem of the config files as FILE:LINE:COL", "[console]") {
  hub::test::TempDir dir;
  const std::string low = dir.write("system.yml", "listen: 8080\nlive_rate: 10\n").string();
  const std::string high =
      dir.write("site.yml", "# the site's\nlive_rate: lots\ncolour: blue\n").string();
  CHECK(hub::console::check_console_files({low}, dir.path()).empty());
  CHECK(hub::console::check_console_files({low, high}, dir.path()) ==
        high +
            ":3:1: colour: expected one of listen, token_file, admin_credential, live_rate, "
            "live_queue, history_max\n");
  const std::string fixed = dir.write("site2.yml", "\nlive_rate: lots\n").string();
  CHECK(hub::console::check_console_files({low, fixed}, dir.path()) ==
        fixed + ":2:1: live_rate: expected a whole number from 1 to 1000000, not 'lots'\n");
  const std::string no_listen = dir.write("none.yml", "live_rate: 5\n").string();
  CHECK_THAT(hub::console::check_console_files({no_listen}, dir.path()),
             Catch::StartsWith(no_listen + ": listen: expected HOST:PORT"));
  const std::string broken = dir.write("broken.yml", "listen: [1,\n").string();
  CHECK_THAT(hub::console::check_console_files({broken}, dir.path()),
             Catch::StartsWith(broken + ":"));
}
