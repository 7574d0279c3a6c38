// Event scripts as users rely on them: a real hubd, scripts in real directories, events
// published on the real bus, and completion observed through Hub/scripts-done and
// Hub/script-failed (never by sleeping).
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>

#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/publisher.h"
#include "bus/subscriber.h"
#include "bus/text.h"
#include "core/scripts/script_dispatcher.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::ChildProcess;
using hub::test::TempDir;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void add_script(const TempDir& root, const std::string& relative, const std::string& body) {
  const fs::path file = root.write(relative, "#!/bin/sh\n" + body);
  fs::permissions(file, fs::perms(0755));
}

void add_module(const TempDir& root, const std::string& name, const std::string& config = "") {
  root.write("modules/site/" + name + "/info/version.txt", "1.0.0\n");
  root.write("modules/site/" + name + "/info/depends.txt", "");
  if (!config.empty()) root.write("config/site/modules/" + name + "/hub.yml", config);
}

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// A hubd on `root`, and a client of its bus that watches the dispatcher's outcomes.
class RunningHub {
 public:
  explicit RunningHub(const TempDir& root)
      : root_(root), hubd_(HUBD_PATH, {"--root", root.path()}) {
    REQUIRE(hubd_.wait_stderr("hub is up"));
    const BusPaths paths = BusPaths::for_root(root.path());
    auto admin = read_credential_file(paths.admin_credential);
    REQUIRE(admin);
    SubscriberOptions o;
    o.events_endpoint = ipc_endpoint(paths.events_socket);
    o.replay_endpoint = ipc_endpoint(paths.replay_socket);
    o.patterns = {"Hub/scripts-done", "Hub/script-failed", "Hub/scripts-skipped"};
    o.retained = false;
    auto watch = Subscriber::open(ctx_, *admin, o);
    REQUIRE(watch);
    watch_.emplace(std::move(*watch));
    auto publisher = Publisher::connect(ctx_, ipc_endpoint(paths.ingest_socket), *admin);
    REQUIRE(publisher);
    publisher_.emplace(std::move(*publisher));
  }

  uint64_t publish(const std::string& topic, const std::string& payload,
                   std::string_view content_type = wire::kDefaultContentType) {
    PublishOptions o;
    o.content_type = content_type;
    auto seq = publisher_->publish_confirmed(topic, payload, 5s, o);
    REQUIRE(seq);
    return *seq;
  }

  // The next outcome event on `topic` ("Hub/scripts-done" or "Hub/script-failed") whose
  // payload mentions `seq`; the others are kept for later calls.
  std::string wait_for(const std::string& topic, uint64_t seq, std::chrono::seconds timeout = 30s) {
    const std::string needle = "\"seq\":" + std::to_string(seq) + ",";
    const std::string needle_end = "\"seq\":" + std::to_string(seq) + "}";
    return wait_until(topic, timeout, [&](const std::string& payload) {
      return payload.find(needle) != std::string::npos ||
             payload.find(needle_end) != std::string::npos;
    });
  }

  // The next event on `topic` whose payload contains `text`; the others are kept.
  std::string wait_containing(const std::string& topic, const std::string& text,
                              std::chrono::seconds timeout = 30s) {
    return wait_until(topic, timeout, [&](const std::string& payload) {
      return payload.find(text) != std::string::npos;
    });
  }

  ChildProcess& hubd() { return hubd_; }
  const fs::path& root() const { return root_.path(); }

 private:
  std::string wait_until(const std::string& topic, std::chrono::seconds timeout,
                         const std::function<bool(const std::string&)>& wanted) {
    const auto matches = [&](const std::pair<std::string, std::string>& e) {
      return e.first == topic && wanted(e.second);
    };
    for (auto it = seen_.begin(); it != seen_.end(); ++it) {
      if (matches(*it)) {
        std::string payload = it->second;
        seen_.erase(it);
        return payload;
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto event = watch_->next(1s);
      if (!event) continue;
      std::pair<std::string, std::string> e{std::string(event->topic()),
                                            std::string(event->payload())};
      if (matches(e)) return e.second;
      seen_.push_back(std::move(e));
    }
    FAIL("no " << topic << " as awaited within " << timeout.count() << " s");
    return {};
  }

  const TempDir& root_;
  ChildProcess hubd_;
  zmq::context_t ctx_{1};
  std::optional<Subscriber> watch_;
  std::optional<Publisher> publisher_;
  std::vector<std::pair<std::string, std::string>> seen_;
};

}  // namespace

TEST_CASE("scripts in one directory run one at a time in C-locale order", "[dispatcher]") {
  TempDir root;
  for (const char* name : {"b", "a", "10-first", "B"}) {
    add_script(root, std::string("events/Test/ping/") + name,
               std::string("echo ") + name + " >> \"$HUB_ROOT/order\"\n");
  }
  add_script(root, "events/Test/ping/.hidden", "echo hidden >> \"$HUB_ROOT/order\"\n");
  add_script(root, "events/Test/ping/z.dpkg-old", "echo leftover >> \"$HUB_ROOT/order\"\n");
  root.write("events/Test/ping/notes", "not executable\n");
  RunningHub hub(root);
  const uint64_t seq = hub.publish("Test/ping", "{}");
  CHECK_THAT(hub.wait_for("Hub/scripts-done", seq), Catch::Contains("\"runs\":4,\"failures\":0"));
  CHECK(read(root.path() / "order") == "10-first\nB\na\nb\n");
  CHECK(hub.hubd().wait_stderr("events/Test/ping/notes: skipped, not executable"));
}

TEST_CASE("one owner's scripts see a burst of events in bus order", "[dispatcher]") {
  TempDir root;
  add_script(root, "events/Test/burst/10-record", "echo \"$HUB_EVENT_N\" >> \"$HUB_ROOT/seen\"\n");
  RunningHub hub(root);
  std::string expected;
  uint64_t last = 0;
  for (int i = 0; i < 100; ++i) {
    last = hub.publish("Test/burst", "{\"n\":" + std::to_string(i) + "}");
    expected += std::to_string(i) + "\n";
  }
  hub.wait_for("Hub/scripts-done", last);
  CHECK(read(root.path() / "seen") == expected);
}

TEST_CASE("a hung owner does not hold up another owner", "[dispatcher]") {
  TempDir root;
  add_module(root, "Slow", "hub:\n  scripts:\n    timeout: 1h\n");
  add_script(root, "modules/site/Slow/events/Test/go/10-hang", "sleep 3600\n");
  add_script(root, "events/Test/go/10-site",
             "echo \"$HUB_EVENT_N\" >> \"$HUB_ROOT/site\"; exit 3\n");
  RunningHub hub(root);
  const uint64_t first = hub.publish("Test/go", "{\"n\":1}");
  const uint64_t second = hub.publish("Test/go", "{\"n\":2}");
  // The site's runs fail on purpose: each failure is an event, while Slow still hangs.
  CHECK_THAT(hub.wait_for("Hub/script-failed", first), Catch::Contains("\"owner\":\"site\""));
  CHECK_THAT(hub.wait_for("Hub/script-failed", second),
             Catch::Contains("\"reason\":\"exited with 3\""));
  CHECK(read(root.path() / "site") == "1\n2\n");
}

TEST_CASE("a script past its timeout is killed with the children that ignore SIGTERM",
          "[dispatcher]") {
  TempDir root;
  add_module(root, "Stubborn", "hub:\n  scripts:\n    timeout: 1s\n");
  add_script(
      root, "modules/site/Stubborn/events/Test/stall/10-stall",
      "sh -c 'trap \"\" TERM; exec sleep 3600' &\necho $! > \"$HUB_DATA_DIR/child\"\nsleep 3600\n");
  RunningHub hub(root);
  const uint64_t seq = hub.publish("Test/stall", "{}");
  const std::string failed = hub.wait_for("Hub/script-failed", seq);
  CHECK_THAT(failed, Catch::Contains("\"owner\":\"Stubborn\""));
  CHECK_THAT(failed, Catch::Contains("\"timed_out\":true"));
  int child = 0;
  std::ifstream(root.path() / "data/Stubborn/child") >> child;
  REQUIRE(child > 0);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  if (pidfd >= 0) {  // else it is already gone
    pollfd item{pidfd, POLLIN, 0};
    CHECK(::poll(&item, 1, 5000) == 1);
    ::close(pidfd);
  }
}

TEST_CASE("a script dropped in while the hub runs is picked up by the next event", "[dispatcher]") {
  TempDir root;
  RunningHub hub(root);
  const uint64_t before = hub.publish("Test/late", "{}");
  add_script(root, "events/Test/late/10-new", "echo ran > \"$HUB_ROOT/late\"\n");
  const uint64_t after = hub.publish("Test/late", "{}");
  const std::string done = hub.wait_for("Hub/scripts-done", after);
  CHECK_THAT(done, Catch::Contains("\"runs\":1"));
  CHECK(read(root.path() / "late") == "ran\n");
  CHECK(before < after);
}

TEST_CASE("a script gets the event in its arguments, environment and stdin, byte for byte",
          "[dispatcher]") {
  TempDir root;
  add_module(root, "Watcher");
  add_script(
      root, "modules/site/Watcher/events/Test/data/10-capture",
      "cat > \"$HUB_DATA_DIR/stdin\"\n"
      "printf '%s|%s|%s|%s|%s|%s|%s|%s' \"$1\" \"$2\" \"$HUB_EVENT_TOPIC\" \"$HUB_EVENT_SEQ\" "
      "\"$HUB_EVENT_SOURCE\" \"$HUB_MODULE\" \"$(pwd)\" \"$HUB_EVENT_TEXT\" > "
      "\"$HUB_DATA_DIR/env\"\n");
  RunningHub hub(root);

  SECTION("a JSON payload, its fields in the environment") {
    const std::string payload = "{\"text\":\"two\\nlines \\u00e9\",\"nested\":{\"x\":1}}";
    const uint64_t seq = hub.publish("Test/data", payload);
    hub.wait_for("Hub/scripts-done", seq);
    CHECK(read(root.path() / "data/Watcher/stdin") == payload);
    CHECK(read(root.path() / "data/Watcher/env") ==
          "Test|data|Test/data|" + std::to_string(seq) + "|admin|Watcher|" +
              (root.path() / "modules/site/Watcher").string() + "|two\nlines \xc3\xa9");
  }
  SECTION("1 MiB of binary with NUL bytes and newlines, on stdin unchanged") {
    std::string payload(1024 * 1024, '\0');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 7) % 256);
    const uint64_t seq = hub.publish("Test/data", payload, "application/octet-stream");
    hub.wait_for("Hub/scripts-done", seq);
    CHECK(read(root.path() / "data/Watcher/stdin") == payload);
  }
}

TEST_CASE("Hub/shutdown scripts complete before modules stop and the hub exits", "[dispatcher]") {
  TempDir root;
  add_module(root, "Mod");
  add_script(root, "modules/site/Mod/control/shutdown/10-stop",
             "echo module-stopped >> \"$HUB_ROOT/shutdown\"\n");
  add_script(root, "events/Hub/shutdown/10-slow",
             "sleep 1; echo site-script >> \"$HUB_ROOT/shutdown\"\n");
  RunningHub hub(root);
  hub.hubd().signal(SIGTERM);
  REQUIRE(hub.hubd().wait_exit() == 0);
  CHECK(read(root.path() / "shutdown") == "site-script\nmodule-stopped\n");
}

TEST_CASE("payload fields become HUB_EVENT_ variables with safe names", "[dispatcher]") {
  const auto env = event_field_environment(
      "{\"pid\":7,\"exit-code\":1,\"has "
      "space\":\"v\",\"nul\":\"a\\u0000b\",\"obj\":{},\"ok\":true}");
  const std::vector<std::pair<std::string, std::string>> expected = {{"HUB_EVENT_PID", "7"},
                                                                     {"HUB_EVENT_EXIT_CODE", "1"},
                                                                     {"HUB_EVENT_HAS_SPACE", "v"},
                                                                     {"HUB_EVENT_OK", "true"}};
  CHECK(env == expected);
  CHECK(event_field_environment("not json").empty());
}

namespace {

// Polls, with a deadline, until `file` holds at least `lines` lines; then its text.
std::string wait_for_lines(const fs::path& file, size_t lines, std::chrono::seconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string text;
  while (std::chrono::steady_clock::now() < deadline) {
    text = read(file);
    if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) return text;
    ::poll(nullptr, 0, 10);
  }
  FAIL("fewer than " << lines << " lines in " << file << " within " << timeout.count() << " s");
  return text;
}

// Stops the hub with SIGTERM and waits for its exit code.
void stop_hub(RunningHub& hub) {
  hub.hubd().signal(SIGTERM);
  CHECK(hub.hubd().wait_exit(30s) == 0);
}

}  // namespace

TEST_CASE("payload fields never set the dispatcher's own variables, set or not", "[dispatcher]") {
  const auto env = event_field_environment(
      "{\"replayed\":\"1\",\"topic\":\"x\",\"seq\":\"9\",\"source\":\"me\",\"time\":\"0\","
      "\"content_type\":\"a\",\"fields_truncated\":\"0\",\"Content-Type\":\"b\",\"n\":1,\"N\":2}");
  const std::vector<std::pair<std::string, std::string>> expected = {{"HUB_EVENT_N", "1"}};
  CHECK(env == expected);  // and of two fields with one name, the first
}

TEST_CASE("a payload with more fields than an environment holds gives the first ones and says so",
          "[dispatcher]") {
  std::string payload = "{";
  for (int i = 0; i < 90000; ++i) payload += "\"f" + std::to_string(i) + "\":1,";
  payload.back() = '}';
  const auto env = event_field_environment(payload);
  REQUIRE(env.size() > 100);
  CHECK(env.size() <= 1001);
  CHECK(env.front() == std::pair<std::string, std::string>{"HUB_EVENT_F0", "1"});
  CHECK(env.back() == std::pair<std::string, std::string>{"HUB_EVENT_FIELDS_TRUNCATED", "1"});
  size_t bytes = 0;
  for (const auto& [name, value] : env) bytes += name.size() + value.size() + 2;
  CHECK(bytes <= 256 * 1024 + 64);

  TempDir root;
  add_module(root, "Wide");
  add_script(root, "modules/site/Wide/events/Test/wide/10-count",
             "printf '%s %s %s' \"$HUB_EVENT_FIELDS_TRUNCATED\" \"$HUB_EVENT_F0\" \"$(wc -c)\" > "
             "\"$HUB_DATA_DIR/seen\"\n");
  RunningHub hub(root);
  const uint64_t seq = hub.publish("Test/wide", payload);
  CHECK_THAT(hub.wait_for("Hub/scripts-done", seq), Catch::Contains("\"failures\":0"));
  CHECK(read(root.path() / "data/Wide/seen") == "1 1 " + std::to_string(payload.size()));
}

TEST_CASE("hung owners hold only their own slot: other owners' scripts still run at once",
          "[dispatcher]") {
  TempDir root;
  root.write("config/hub.yml", "scripts:\n  parallel: 2\nshutdown:\n  scripts_timeout: 1s\n");
  for (const std::string name : {"HangA", "HangB"}) {
    add_module(root, name, "hub:\n  scripts:\n    timeout: 1h\n");
    add_script(root, "modules/site/" + name + "/events/Test/go/10-hang",
               "echo $$ >> \"$HUB_ROOT/hung\"\nsleep 3600\n");
  }
  add_script(root, "events/Test/quick/10-site", "exit 0\n");
  RunningHub hub(root);
  hub.publish("Test/go", "{}");
  hub.publish("Test/go", "{}");  // a backlog behind the hung runs
  wait_for_lines(root.path() / "hung", 2);
  for (int i = 0; i < 3; ++i) {
    const uint64_t seq = hub.publish("Test/quick", "{}");
    CHECK_THAT(hub.wait_for("Hub/scripts-done", seq, 10s), Catch::Contains("\"failures\":0"));
  }
  stop_hub(hub);
}

TEST_CASE("slow runs together are bounded: at most 4 x scripts.parallel at once", "[dispatcher]") {
  TempDir root;
  root.write("config/hub.yml", "scripts:\n  parallel: 1\nshutdown:\n  scripts_timeout: 1s\n");
  const std::vector<std::string> owners = {"SlowA", "SlowB", "SlowC", "SlowD", "SlowE", "SlowF"};
  for (const auto& name : owners) {
    add_module(root, name, "hub:\n  scripts:\n    timeout: 1h\n");
    add_script(root, "modules/site/" + name + "/events/Test/slow/10-wait",
               "echo $$ >> \"$HUB_ROOT/started\"\n"
               "while [ ! -e \"$HUB_ROOT/release\" ]; do sleep 0.02; done\n");
  }
  RunningHub hub(root);
  const uint64_t seq = hub.publish("Test/slow", "{}");
  wait_for_lines(root.path() / "started", 4);
  // Each of the four has given its shared slot back after 250 ms; without the bound the
  // fifth would start then. The window is a negative check: what must not happen in it.
  ::poll(nullptr, 0, 1500);
  const std::string text = read(root.path() / "started");
  CHECK(std::count(text.begin(), text.end(), '\n') == 4);
  root.write("release", "");
  CHECK_THAT(hub.wait_for("Hub/scripts-done", seq), Catch::Contains("\"runs\":6,\"failures\":0"));
  stop_hub(hub);
}

TEST_CASE("stopping a module kills its running script and cancels its queued ones",
          "[dispatcher]") {
  TempDir root;
  add_module(root, "Busy", "hub:\n  scripts:\n    timeout: 1h\n");
  add_script(root, "modules/site/Busy/events/Test/busy/10-hang",
             "[ -e \"$HUB_DATA_DIR/free\" ] && exit 0\n"
             "sleep 3600 & echo $! >> \"$HUB_DATA_DIR/pids\"\nwait\n");
  add_script(root, "events/Test/busy/10-site", "exit 0\n");
  RunningHub hub(root);
  const uint64_t first = hub.publish("Test/busy", "{}");
  const uint64_t second = hub.publish("Test/busy", "{}");
  const uint64_t third = hub.publish("Test/busy", "{}");
  const int child = std::stoi(wait_for_lines(root.path() / "data/Busy/pids", 1));

  ChildProcess stop(HUBCTL_PATH, {"--root", root.path(), "stop", "Busy"});
  REQUIRE(stop.wait_exit() == 0);
  CHECK(hub::test::process_exits(child, 5s));  // stop returned: the run is over
  const std::string killed = hub.wait_for("Hub/script-failed", first);
  CHECK_THAT(killed, Catch::Contains("\"owner\":\"Busy\""));
  CHECK_THAT(killed, Catch::Contains("cancelled because module Busy was stopped"));
  const std::string skipped = hub.wait_containing("Hub/scripts-skipped", "\"owner\":\"Busy\"");
  CHECK_THAT(skipped, Catch::Contains("\"events\":2"));
  CHECK_THAT(skipped, Catch::Contains("\"first_seq\":" + std::to_string(second)));
  CHECK_THAT(skipped, Catch::Contains("\"last_seq\":" + std::to_string(third)));
  hub.wait_for("Hub/scripts-done", third);  // the site's ran; Busy's hold nothing up

  // Stopped, its scripts stay out of service; started again, they run again.
  const uint64_t while_stopped = hub.publish("Test/busy", "{}");
  CHECK_THAT(hub.wait_for("Hub/scripts-done", while_stopped), Catch::Contains("\"runs\":1"));
  root.write("data/Busy/free", "");
  ChildProcess start(HUBCTL_PATH, {"--root", root.path(), "start", "Busy"});
  REQUIRE(start.wait_exit() == 0);
  const uint64_t started = hub.publish("Test/busy", "{}");
  CHECK_THAT(hub.wait_for("Hub/scripts-done", started), Catch::Contains("\"runs\":2"));
}

TEST_CASE("a script that publishes its own trigger is braked and the brake is reported",
          "[dispatcher]") {
  TempDir root;
  root.write("config/hub.yml", "scripts:\n  feedback_limit: 5\n  feedback_window: 1h\n");
  add_module(root, "Loop");
  const std::string hubctl = std::string(HUBCTL_PATH) + " --root '" + root.path().string() + "'";
  add_script(root, "modules/site/Loop/events/Loop/tick/10-again",
             "echo run >> \"$HUB_DATA_DIR/runs\"\n" + hubctl + " publish Loop/tick '{}'\n");
  RunningHub hub(root);
  hub.publish("Loop/tick", "{}");  // as the administrator: not the script's own
  const std::string braked =
      hub.wait_containing("Hub/scripts-skipped", "\"reason\":\"feedback\"", 60s);
  CHECK_THAT(braked, Catch::Contains("\"owner\":\"Loop\""));
  CHECK_THAT(braked, Catch::Contains("\"topic\":\"Loop/tick\""));
  CHECK_THAT(braked, Catch::Contains("\"limit\":5"));
  // The administrator's event, then five of its own; the sixth of its own ran nothing.
  CHECK(read(root.path() / "data/Loop/runs") == "run\nrun\nrun\nrun\nrun\nrun\n");
  CHECK_THAT(hub.hubd().stderr_text(), Catch::Contains("a feedback loop"));
}

TEST_CASE("scripts a killed hubd left running are killed before the next hubd replays them",
          "[dispatcher]") {
  TempDir root;
  root.write("config/hub.yml", "shutdown:\n  scripts_timeout: 1s\n");
  add_module(root, "Hang", "hub:\n  scripts:\n    timeout: 1h\n");
  // A child that ignores TERM and HUP, in the script's group; the replayed run says
  // whether the first one's child is still there.
  add_script(root, "modules/site/Hang/events/Test/hang/10-hang",
             "if [ -n \"$HUB_EVENT_REPLAYED\" ]; then\n"
             "  for p in $(cat \"$HUB_DATA_DIR/children\"); do\n"
             "    [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status && echo \"alive $p\"\n"
             "  done >> \"$HUB_DATA_DIR/report\"\n"
             "  echo checked >> \"$HUB_DATA_DIR/report\"\n"
             "fi\n"
             "sh -c 'trap \"\" TERM HUP; exec sleep 3600' &\n"
             "echo $! >> \"$HUB_DATA_DIR/children\"\nwait\n");
  int first_child = 0;
  {
    RunningHub hub(root);
    hub.publish("Test/hang", "{}");
    first_child = std::stoi(wait_for_lines(root.path() / "data/Hang/children", 1));
    hub.hubd().signal(SIGKILL);
    REQUIRE(hub.hubd().wait_exit());
  }
  REQUIRE(hub::test::process_alive(first_child));  // the crashed hubd could not end it
  RunningHub again(root);
  CHECK(wait_for_lines(root.path() / "data/Hang/report", 1) == "checked\n");
  CHECK_FALSE(hub::test::process_alive(first_child));
  CHECK_THAT(again.hubd().stderr_text(), Catch::Contains("left running by an earlier hubd"));
  stop_hub(again);
  const std::string children = read(root.path() / "data/Hang/children");
  for (size_t at = 0; at < children.size();) {  // the replayed run's child too
    CHECK(hub::test::process_exits(std::stoi(children.substr(at)), 5s));
    at = children.find('\n', at) + 1;
  }
}

// Not a test: the numbers for "a hung owner occupies only its own slot". Four owners hang
// (scripts.parallel: 4, each with a backlog); the latency of another owner's trivial
// script, publish to Hub/scripts-done, over 10 events one after another.
TEST_CASE("measure: another owner's latency while four owners hang", "[.][measure]") {
  TempDir root;
  root.write("config/hub.yml", "scripts:\n  parallel: 4\nshutdown:\n  scripts_timeout: 1s\n");
  for (const std::string name : {"HangA", "HangB", "HangC", "HangD"}) {
    add_module(root, name, "hub:\n  scripts:\n    timeout: 3s\n");
    add_script(root, "modules/site/" + name + "/events/Test/go/10-hang",
               "echo $$ >> \"$HUB_ROOT/hung\"\nsleep 3600\n");
  }
  add_script(root, "events/Test/quick/10-site", "exit 0\n");
  RunningHub hub(root);
  for (int i = 0; i < 3; ++i) hub.publish("Test/go", "{}");
  wait_for_lines(root.path() / "hung", 4);
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    const auto began = std::chrono::steady_clock::now();
    const uint64_t seq = hub.publish("Test/quick", "{}");
    hub.wait_for("Hub/scripts-done", seq, 60s);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began)
                     .count());
  }
  std::string line;
  for (double m : ms) line += std::to_string(static_cast<int>(m)) + " ";
  WARN("latency ms, event by event: " << line);
  stop_hub(hub);
}

TEST_CASE("a script's name cannot forge a record in its owner's script log", "[dispatcher]") {
  TempDir root;
  add_script(root, "events/Test/named/10-a\n2026-01-01T00:00:00.000000Z FORGED exited with 0",
             "exit 0\n");
  RunningHub hub(root);
  const uint64_t seq = hub.publish("Test/named", "{}");
  CHECK_THAT(hub.wait_for("Hub/scripts-done", seq), Catch::Contains("\"runs\":1,"));
  const std::string log = read(root.path() / "var/log/hub/scripts/_site.log");
  INFO(log);
  CHECK_THAT(log, Catch::Contains("10-a\\n2026-01-01T00:00:00.000000Z FORGED"));
  CHECK_THAT(log, !Catch::Contains("\n2026-01-01T00:00:00.000000Z FORGED"));
}

TEST_CASE("Hub/script-failed carries stderr as written and the signal by name", "[dispatcher]") {
  TempDir root;
  add_script(root, "events/Test/noisy/10-noisy",
             "printf 'first line\\n\\tsecond \\\\ \\033[31m\\n' >&2\nkill -KILL $$\n");
  RunningHub hub(root);
  const uint64_t seq = hub.publish("Test/noisy", "{}");
  const std::string failed = hub.wait_for("Hub/script-failed", seq);
  // JSON escapes stderr once: decoded, it is the script's text (NAME/exited's "signal" is
  // a name too).
  std::map<std::string, std::string> fields;
  for (auto& [key, value] : json_top_level_scalars(failed)) fields[key] = value;
  CHECK(fields["stderr"] == "first line\n\tsecond \\ \033[31m\n");
  CHECK(fields["signal"] == "SIGKILL");
  CHECK_THAT(failed, Catch::Contains("\"signal\":\"SIGKILL\""));
  CHECK(fields["reason"] == "killed by SIGKILL");
}
