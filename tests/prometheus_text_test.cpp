// /metrics: the Prometheus text that prometheus_text() renders from inspect, checked by a
// strict reader of the format (support/prometheus_check.h), which is tested too, and by
// `promtool check metrics` from Debian's prometheus package (.ci/setup extracts it).
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "bus/publisher.h"
#include "bus/replay_client.h"
#include "console/prometheus_format.h"
#include "console/prometheus_text.h"
#include "support/prometheus_check.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

std::string problems_of(const PrometheusExposition& e) {
  std::string out;
  for (const auto& p : e.problems) out += p + "\n";
  return out;
}

// promtool, when CMake found one (.ci/setup puts it in BUILD/tools/usr/bin); else "".
std::string promtool() { return PROMTOOL_PATH; }

// What `promtool check metrics` says of `text` (its lint and parse errors); "" when it
// accepts it. Fails the test when CMake found no promtool.
std::string promtool_says(const std::string& text) {
  REQUIRE_FALSE(promtool().empty());  // .ci/setup extracts it; tests/CMakeLists.txt finds it
  TempDir dir;
  const fs::path file = dir.path() / "metrics.prom";
  std::ofstream(file) << text;
  ChildProcess check("/bin/sh",
                     {"-c", "exec \"$0\" check metrics < \"$1\" 2>&1", promtool(), file.string()});
  const auto status = check.wait_exit();
  std::string said;
  for (const auto& line : check.stdout_lines()) said += line + "\n";
  if (status == 0) return "";
  return "promtool check metrics: exit " + (status ? std::to_string(*status) : "none") + ": " +
         said;
}

const char* const kInspect = R"({
  "hub": {"pid": 7, "version": "0.1.0", "root": "/srv/hub", "uptime_ms": 1500},
  "modules": [
    {"name": "Timer", "level": "system", "version": "1.2", "state": "up", "service": true},
    {"name": "Off", "level": "site", "version": "2", "state": "stopped", "service": true,
     "enabled": false, "reason": "disabled"}],
  "instances": [
    {"name": "Timer", "instance": "Timer", "state": "running", "restarts": 2,
     "uptime_ms": 250, "last_exit": "", "pid": 99},
    {"name": "Timer", "instance": "Timer.b", "state": "backoff", "restarts": 1,
     "uptime_ms": 0, "last_exit": "code 1"}],
  "bus": {"events": 10, "payload_bytes": 300, "last_seq": 12, "malformed": 5,
    "malformed_by": {"frame_count": 1, "header": 1, "topic": 1, "content_type": 1},
    "too_large": 2, "auth_failures": 3, "snapshots": 4, "retained_refused": 1,
    "retained_refused_by": {"Timer": 1}, "retained_topics": 6, "retained_bytes": 70,
    "acks_undeliverable": 0, "journal_failures": 0, "journal_lost_events": 0,
    "forbidden": 2, "revoked": 1, "subscriptions_refused": 0,
    "forbidden_by": {"we\"ird\\name\nx": 2}, "subscribe_forbidden": 1,
    "subscribe_forbidden_by": {"Timer": 1}, "replays": 3, "replay_sessions": 1,
    "replayed_events": 40, "journal": {"bytes": 4096, "segments": 2, "first_seq": 1}},
  "scripts": {"owners": [
      {"owner": "site", "runs": 3, "failures": 1, "timeouts": 0, "queued": 0, "refused": 0,
       "running": false, "stopped": false}],
    "latency": {"bounds_us": [1000, 2500, 5000], "cumulative": [1, 2, 2], "count": 3,
      "sum_ns": 1500000000},
    "durations": {"bounds_us": [1000], "cumulative": [0], "count": 0, "sum_ns": 0}}
})";

}  // namespace

TEST_CASE("prometheus_text: every part of inspect, in valid exposition format", "[metrics]") {
  const std::string text = prometheus_text(YAML::Load(kInspect));
  const PrometheusExposition e = check_prometheus_text(text);
  INFO(text);
  CHECK(problems_of(e).empty());
  CHECK(e.types.at("hub_bus_events_total") == "counter");
  CHECK(e.value("hub_bus_events_total") == 10);
  CHECK(e.value("hub_bus_payload_bytes_total") == 300);
  CHECK(e.value("hub_bus_auth_failures_total") == 3);
  CHECK(e.value("hub_bus_refused_publishes_total", {{"reason", "malformed_topic"}}) == 1);
  CHECK(e.value("hub_bus_refused_publishes_total", {{"reason", "unauthenticated"}}) == 1);
  CHECK(e.value("hub_bus_refused_publishes_total", {{"reason", "too_large"}}) == 2);
  CHECK(e.value("hub_bus_refused_publishes_total", {{"reason", "forbidden"}}) == 2);
  CHECK(e.value("hub_bus_refused_reads_total", {{"reason", "subscribe_rules"}}) == 1);
  CHECK(e.value("hub_journal_bytes") == 4096);
  CHECK(e.value("hub_journal_segments") == 2);
  CHECK(e.value("hub_journal_oldest_seq") == 1);
  CHECK(e.value("hub_replays_total") == 3);
  CHECK(e.value("hub_replay_sessions") == 1);
  CHECK(e.value("hub_uptime_seconds") == 1.5);
  CHECK(e.value("hub_module_state", {{"module", "Timer"}, {"state", "up"}}) == 1);
  CHECK(e.value("hub_module_state", {{"module", "Timer"}, {"state", "failed"}}) == 0);
  CHECK(e.value("hub_module_state", {{"module", "Off"}, {"state", "stopped"}}) == 1);
  CHECK(e.value("hub_module_enabled", {{"module", "Off"}}) == 0);
  CHECK(e.value("hub_module_restarts_total", {{"module", "Timer"}}) == 3);
  CHECK(e.value("hub_module_restarts_total", {{"module", "Off"}}) == 0);
  CHECK(e.value("hub_instance_restarts_total", {{"module", "Timer"}, {"instance", "Timer.b"}}) ==
        1);
  CHECK(e.value("hub_instance_state",
                {{"module", "Timer"}, {"instance", "Timer.b"}, {"state", "backoff"}}) == 1);
  CHECK(e.value("hub_script_runs_total", {{"owner", "site"}}) == 3);
  CHECK(e.value("hub_script_failures_total", {{"owner", "site"}}) == 1);
  CHECK(e.value("hub_script_queued_events", {{"owner", "site"}}) == 0);
  // Label values escaped as the format wants; the reader gives them back whole.
  CHECK_THAT(text, Catch::Contains(R"(identity="we\"ird\\name\nx"} 2)"));
  CHECK(e.value("hub_bus_forbidden_publishes_by_identity_total",
                {{"identity", "we\"ird\\name\nx"}}) == 2);
  // A histogram: buckets in seconds, cumulative, +Inf, then _sum and _count.
  CHECK_THAT(text, Catch::Contains("# HELP hub_script_latency_seconds From an event's stamp"));
  CHECK_THAT(text, Catch::Contains("# TYPE hub_script_latency_seconds histogram\n"
                                   "hub_script_latency_seconds_bucket{le=\"0.001\"} 1\n"
                                   "hub_script_latency_seconds_bucket{le=\"0.0025\"} 2\n"
                                   "hub_script_latency_seconds_bucket{le=\"0.005\"} 2\n"
                                   "hub_script_latency_seconds_bucket{le=\"+Inf\"} 3\n"
                                   "hub_script_latency_seconds_sum 1.5\n"
                                   "hub_script_latency_seconds_count 3\n"));
  CHECK(e.value("hub_script_duration_seconds_count") == 0);
  CHECK(promtool_says(text).empty());
}

TEST_CASE("prometheus_text: what inspect lacks or gets wrong is left out, never guessed",
          "[metrics]") {
  CHECK(prometheus_text(YAML::Load("{}")).empty());
  CHECK(prometheus_text(YAML::Load("[1, 2]")).empty());
  const std::string text = prometheus_text(YAML::Load(R"({
    "hub": "up", "modules": 5, "instances": [3, {"name": "A"}],
    "bus": {"events": "lots", "payload_bytes": 7, "malformed": 2, "malformed_by": [1],
            "journal": 4, "forbidden_by": {"x": {"y": 1}}},
    "scripts": {"owners": {"site": 1}, "latency": {"bounds_us": [1, 2], "cumulative": [1],
                                                   "count": 1, "sum_ns": 1}}})"));
  const PrometheusExposition e = check_prometheus_text(text);
  INFO(text);
  CHECK(problems_of(e).empty());
  CHECK(e.types.count("hub_bus_events_total") == 0);  // not a number: left out
  CHECK(e.value("hub_bus_payload_bytes_total") == 7);
  // malformed_by is not there: what `malformed` holds beyond it is not known either.
  CHECK(std::isnan(e.value("hub_bus_refused_publishes_total", {{"reason", "unauthenticated"}})));
  CHECK(e.types.count("hub_script_latency_seconds") == 0);  // bounds and counts disagree
  CHECK(e.types.count("hub_journal_bytes") == 0);
}

TEST_CASE("prometheus numbers and escapes are spelled as the format wants", "[metrics]") {
  CHECK(prometheus::number(10) == "10");
  CHECK(prometheus::number(60) == "60");
  CHECK(prometheus::number(0.0025) == "0.0025");
  CHECK(prometheus::number(1.5) == "1.5");
  CHECK(prometheus::number(0.1 + 0.2) == "0.30000000000000004");  // reads back exactly
  CHECK(prometheus::number(1e20) == "1e+20");
  CHECK(prometheus::number(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(prometheus::number(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(prometheus::escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(prometheus::escape_help("a\\b\"c\nd") == "a\\\\b\"c\\nd");
}

TEST_CASE("the exposition reader finds what is wrong with a text", "[metrics]") {
  const auto problems = [](const std::string& text) {
    return problems_of(check_prometheus_text(text));
  };
  const std::string ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n";
  CHECK(problems(ok).empty());
  CHECK_THAT(problems("# HELP a A.\n# TYPE a counter\na 1\n"),
             Catch::Contains("does not end in _total"));
  CHECK_THAT(problems("a_total 1\n"), Catch::Contains("no TYPE or HELP"));
  CHECK_THAT(problems(ok + "a_total{x=\"1\"} 4\n"), Catch::Contains("twice"));
  CHECK_THAT(problems(ok + "# HELP b B.\n# TYPE b gauge\nb 1\na_total{x=\"2\"} 1\n"),
             Catch::Contains("not together"));
  CHECK_THAT(problems("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"\\t\"} 1\n"),
             Catch::Contains("escape"));
  CHECK_THAT(problems("# HELP a_total A.\n# TYPE a_total counter\na_total -1\n"),
             Catch::Contains("non-negative"));
  CHECK_THAT(problems("# HELP g G.\n# TYPE g gauge\ng one\n"), Catch::Contains("not a value"));
  CHECK_THAT(problems("# HELP g G.\n# TYPE g gauge\ng 1"), Catch::Contains("newline"));
  CHECK_THAT(problems("# TYPE g gauge\n# HELP g G.\ng 1\n"), Catch::Contains("HELP after"));
  const std::string head = "# HELP h H.\n# TYPE h histogram\n";
  CHECK(problems(head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n")
            .empty());
  CHECK_THAT(problems(head + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n"),
             Catch::Contains("not cumulative"));
  CHECK_THAT(problems(head + "h_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n"),
             Catch::Contains("+Inf"));
  CHECK_THAT(problems(head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 3\n"),
             Catch::Contains("differs from _count"));
  CHECK_THAT(problems(head + "h 1\n"), Catch::Contains("has the sample"));
}

TEST_CASE("/metrics of a real hubd: bus, journal, replays, modules, scripts; promtool agrees",
          "[metrics][hubd]") {
  TempDir root;
  add_module(root, "Flaky",
             "command: os/linux/programs/run\n"
             "restart: {policy: on-failure, retries: 1, backoff: {min: 10ms, max: 10ms}}\n");
  add_script(root, "modules/system/Flaky/os/linux/programs/run", "exit 3\n");
  add_script(root, "events/Probe/poke/10-ok", "exit 0\n");
  add_script(root, "events/Probe/poke/20-fail", "exit 4\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Flaky/failed", "Hub/scripts-done"}, /*retained=*/true);
  REQUIRE(next_on(sub, "Flaky/failed"));
  zmq::context_t ctx(1);
  const BusPaths paths = BusPaths::for_root(root.path());
  {
    auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), admin_credential(root));
    REQUIRE(pub);
    for (int i = 0; i < 3; ++i) {
      REQUIRE(pub->publish_confirmed("Probe/poke", "{\"n\":" + std::to_string(i) + "}",
                                     std::chrono::seconds(5)));
    }
    pub->close();
  }
  for (int i = 0; i < 3; ++i) REQUIRE(next_on(sub, "Hub/scripts-done"));
  {
    ReplayRequest request;
    request.endpoint = ipc_endpoint(paths.replay_socket);
    request.patterns = {"Probe/#"};
    ReplayCursor replay(ctx, admin_credential(root), request);
    int replayed = 0;
    for (;;) {
      auto next = replay.next();
      REQUIRE(next);
      if (!*next) break;
      ++replayed;
    }
    CHECK(replayed == 3);
  }

  const YAML::Node reply = YAML::Load(admin_api_call(root, R"({"method":"inspect"})"));
  REQUIRE(reply["ok"].as<bool>());
  const std::string text = prometheus_text(reply["result"]);
  const PrometheusExposition e = check_prometheus_text(text);
  INFO(text);
  CHECK(problems_of(e).empty());
  CHECK(e.value("hub_bus_events_total") >= 3);
  CHECK(e.value("hub_bus_payload_bytes_total") > 0);
  CHECK(e.value("hub_journal_segments") >= 1);
  CHECK(e.value("hub_journal_bytes") > 0);
  CHECK(e.value("hub_journal_oldest_seq") == 1);
  CHECK(e.value("hub_replays_total") >= 1);
  CHECK(e.value("hub_replayed_events_total") >= 3);
  CHECK(e.value("hub_module_state", {{"module", "Flaky"}, {"state", "failed"}}) == 1);
  CHECK(e.value("hub_module_restarts_total", {{"module", "Flaky"}}) >= 1);
  CHECK(e.value("hub_script_runs_total", {{"owner", "site"}}) == 6);
  CHECK(e.value("hub_script_failures_total", {{"owner", "site"}}) == 3);
  CHECK(e.value("hub_script_queued_events", {{"owner", "site"}}) == 0);
  CHECK(e.value("hub_script_latency_seconds_count") == 6);
  CHECK(e.value("hub_script_duration_seconds_count") == 6);
  CHECK(e.value("hub_info", {{"version", HUB_VERSION}, {"root", root.path().string()}}) == 1);

  const fs::path file = root.path() / "metrics.prom";
  std::ofstream(file) << text;
  // Kept in the build tree for a look (written aside and renamed: tests may run at once).
  const fs::path artifact = fs::path(HUB_TESTS_BINARY_DIR) / "metrics_test.prom";
  const fs::path aside = artifact.string() + "." + std::to_string(::getpid());
  fs::copy_file(file, aside, fs::copy_options::overwrite_existing);
  fs::rename(aside, artifact);
  CHECK(promtool_says(text).empty());
}
