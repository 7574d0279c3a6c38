// The C++ SDK against a real hubd: every Context call made by a real service
// (sdk_probe.cpp), seen on the bus and through the API; and the API client's bounds.
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "hub/api_client.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// `config`: more of the probe's own configuration (its "acked" subscription).
void add_probe(const TempDir& root, const std::string& config = "") {
  add_module(root, "Probe",
             std::string("command: ") + SDK_PROBE_PATH +
                 "\nready: {notify: true, timeout: 20s}\nstop: {grace: 5s}\n"
                 // It answers every module's ping (+/ping) and reads Durable/#.
                 "subscribe: [\"#\"]\n");
  root.write("config/site/modules/Probe/probe.yml", "colour: teal\n" + config);
}

// Publishes as admin (hubctl publish) and returns the stamped sequence number.
uint64_t publish(const TempDir& root, const std::string& topic, const std::string& payload = "{}") {
  ChildProcess p(HUBCTL_PATH, {"--root", root.path(), "publish", topic, payload});
  REQUIRE(p.wait_exit() == 0);
  return std::stoull(p.stdout_lines().at(0));
}

// The next event on `topic`, checking it came from the probe's own identity.
Event from_probe(Subscriber& sub, const std::string& topic) {
  auto e = next_on(sub, topic);
  REQUIRE(e);
  CHECK(e->source == "Probe");
  return std::move(*e);
}

}  // namespace

TEST_CASE("every Context call works against a real hubd", "[sdk]") {
  TempDir root;
  add_probe(root);
  RunningHub hub(root);  // up once the probe subscribed and said it is ready
  auto sub = hub.subscribe({"Probe/#"});
  publish(root, "Probe/check");

  const Event facts = from_probe(sub, "Probe/facts");
  CHECK(json_field(facts.payload(), "instance") == "Probe");
  CHECK(json_field(facts.payload(), "service") == "Probe");
  CHECK(json_field(facts.payload(), "mode") == "native");
  CHECK(json_field(facts.payload(), "native") == "true");
  CHECK(json_field(facts.payload(), "colour") == "teal");  // load_config
  CHECK(json_field(facts.payload(), "workspace") ==
        (root.path() / "var/run/hub/services/Probe").string());
  // publish_confirmed returns exactly the sequence number the broker stamped.
  const Event confirmed = from_probe(sub, "Probe/confirmed");
  const Event confirmed_seq = from_probe(sub, "Probe/confirmed-seq");
  CHECK(json_int(confirmed_seq.payload(), "seq") == static_cast<int64_t>(confirmed.seq));
  const Event api = from_probe(sub, "Probe/api");
  CHECK(json_field(api.payload(), "inspect") == "ok");
  CHECK(json_int(api.payload(), "port") > 0);
  CHECK(json_field(api.payload(), "report") == "ok");
  // What it reported shows in inspect.
  ChildProcess inspect(HUBCTL_PATH, {"--root", root.path(), "inspect", "--json"});
  REQUIRE(inspect.wait_exit() == 0);
  CHECK_THAT(inspect.stdout_lines().at(0),
             Catch::Contains("\"stats\":{\"requests\":7,\"healthy\":true}"));
}

TEST_CASE("SDK subscriptions match MQTT patterns and deliver in sequence order", "[sdk]") {
  TempDir root;
  add_probe(root);
  RunningHub hub(root);
  auto sub = hub.subscribe({"Probe/pong", "Probe/facts", "Probe/api"});
  std::vector<uint64_t> pings;
  for (const std::string topic : {"A/ping", "B/other", "B/ping", "A/pingx", "C/ping"}) {
    const uint64_t seq = publish(root, topic);
    if (topic.size() > 2 && topic.substr(topic.size() - 5) == "/ping") pings.push_back(seq);
  }
  for (uint64_t expected : pings) {  // A/ping, B/ping, C/ping; nothing for the others
    const Event pong = from_probe(sub, "Probe/pong");
    CHECK(json_int(pong.payload(), "seq") == static_cast<int64_t>(expected));
  }
  publish(root, "Probe/check");  // a marker: no stray pong came before it
  auto next = sub.next(20s);
  REQUIRE(next);
  CHECK(next->topic() != "Probe/pong");
  // The check ends with API calls; stopping the hub in the middle of them would hold the
  // probe's stop until they time out.
  from_probe(sub, "Probe/api");
}

TEST_CASE("a handler that throws is logged and reported, and the service carries on", "[sdk]") {
  TempDir root;
  add_probe(root);
  RunningHub hub(root);
  auto sub = hub.subscribe({"Probe/#"});
  const uint64_t thrown = publish(root, "Probe/throw");
  const Event failed = from_probe(sub, "Probe/handler-failed");
  CHECK(json_field(failed.payload(), "what") == "asked to throw");
  CHECK(json_int(failed.payload(), "seq") == static_cast<int64_t>(thrown));
  publish(root, "X/ping");
  from_probe(sub, "Probe/pong");  // still serving
  // Something not derived from std::exception: reported alike, the service goes on.
  const uint64_t other = publish(root, "Probe/throw-other");
  const Event failed_other = from_probe(sub, "Probe/handler-failed");
  CHECK(json_field(failed_other.payload(), "what") ==
        "an exception not derived from std::exception");
  CHECK(json_int(failed_other.payload(), "seq") == static_cast<int64_t>(other));
  publish(root, "Y/ping");
  from_probe(sub, "Probe/pong");
  hub.stop();
  const std::string log = read_file(root.path() / "var/log/hub/Probe.log");
  CHECK_THAT(log, Catch::Contains("handler for Probe/throw (seq " + std::to_string(thrown) +
                                  ") threw: asked to throw"));
  CHECK_THAT(log, Catch::Contains("handler for Probe/throw-other (seq " + std::to_string(other) +
                                  ") threw: an exception not derived from std::exception"));
}

TEST_CASE("a durable subscription's handler that throws is reported, and its event handled",
          "[sdk]") {
  TempDir root;
  add_probe(root);
  RunningHub hub(root);
  auto sub = hub.subscribe({"Probe/#"});
  const uint64_t thrown = publish(root, "Durable/throw");
  CHECK(json_int(from_probe(sub, "Probe/durable-seen").payload(), "seq") ==
        static_cast<int64_t>(thrown));
  const Event failed = from_probe(sub, "Probe/handler-failed");
  CHECK(json_field(failed.payload(), "what") == "durable asked to throw");
  CHECK(json_field(failed.payload(), "subscription") == "main");
  CHECK(json_field(failed.payload(), "topic") == "Durable/throw");
  CHECK(json_int(failed.payload(), "seq") == static_cast<int64_t>(thrown));
  const uint64_t other = publish(root, "Durable/throw-other");
  CHECK(json_int(from_probe(sub, "Probe/durable-seen").payload(), "seq") ==
        static_cast<int64_t>(other));
  const Event failed_other = from_probe(sub, "Probe/handler-failed");
  CHECK(json_field(failed_other.payload(), "what") ==
        "an exception not derived from std::exception");
  CHECK(json_int(failed_other.payload(), "seq") == static_cast<int64_t>(other));
  // The subscription goes on, past both: the next event comes, once.
  const uint64_t after = publish(root, "Durable/after");
  CHECK(json_int(from_probe(sub, "Probe/durable-seen").payload(), "seq") ==
        static_cast<int64_t>(after));
  hub.stop();
  CHECK_THAT(read_file(root.path() / "var/log/hub/Probe.log"),
             Catch::Contains("handler of main for Durable/throw (seq " + std::to_string(thrown) +
                             ") threw: durable asked to throw"));
}

TEST_CASE("a dynamic instance started and stopped through the SDK shows in inspect and on the bus",
          "[sdk]") {
  TempDir root;
  add_probe(root);
  RunningHub hub(root);
  auto sub = hub.subscribe({"Probe/#"});
  publish(root, "Probe/spawn");
  auto started = next_on(sub, "Probe/started");
  REQUIRE(started);
  CHECK(json_field(started->payload(), "instance") == "Probe.w1");
  CHECK(json_field(from_probe(sub, "Probe/spawned").payload(), "result") == "ok");
  ChildProcess status(HUBCTL_PATH, {"--root", root.path(), "status", "Probe.w1"});
  REQUIRE(status.wait_exit() == 0);
  CHECK_THAT(status.stdout_lines().at(0),
             Catch::StartsWith("Probe.w1") && Catch::Contains("RUNNING"));
  CHECK_THAT(read_file(root.path() / "var/run/hub/services/Probe.w1/etc/hub/service.yml"),
             Catch::Contains("role: worker"));

  publish(root, "Probe/unspawn");
  auto stopped = next_on(sub, "Probe/stopped");
  REQUIRE(stopped);
  CHECK(json_field(stopped->payload(), "instance") == "Probe.w1");
  CHECK(json_field(from_probe(sub, "Probe/unspawned").payload(), "result") == "ok");
  ChildProcess gone(HUBCTL_PATH, {"--root", root.path(), "status", "Probe.w1"});
  CHECK(gone.wait_exit() == 4);
}

TEST_CASE("SIGTERM ends the SDK's wait, and the service exits cleanly", "[sdk]") {
  TempDir root;
  add_probe(root);
  auto hub = std::make_unique<RunningHub>(root);
  auto sub = hub->subscribe({"Probe/bye", "Probe/exited"});
  REQUIRE(hub->stop() == 0);
  from_probe(sub, "Probe/bye");
  auto exited = next_on(sub, "Probe/exited");
  REQUIRE(exited);
  CHECK(json_int(exited->payload(), "code") == 0);
}

TEST_CASE("an API call to a hub that is gone or silent ends within its timeout", "[sdk][api]") {
  TempDir root;
  zmq::context_t ctx(1);
  const Credential who{"admin", "secret"};
  {  // nothing listens
    ApiClient client(ctx, "ipc://" + (root.path() / "api.sock").string(), who);
    const auto reply = client.call("{\"method\":\"inspect\"}", 2s);
    REQUIRE_FALSE(reply);
    CHECK(reply.code() == Status::Code::kUnreachable);
  }
  {  // something listens but never answers
    zmq::socket_t mute(ctx, zmq::socket_type::router);
    mute.set(zmq::sockopt::linger, 0);
    mute.bind("ipc://" + (root.path() / "mute.sock").string());
    ApiClient client(ctx, "ipc://" + (root.path() / "mute.sock").string(), who);
    const auto began = std::chrono::steady_clock::now();
    const auto reply = client.call("{\"method\":\"inspect\"}", 300ms);
    REQUIRE_FALSE(reply);
    CHECK(reply.code() == Status::Code::kTimeout);
    CHECK(std::chrono::steady_clock::now() - began < 5s);
  }
}

TEST_CASE("a durable subscription gets, on restart, what was published while it was stopped",
          "[sdk][journal]") {
  TempDir root;
  add_probe(root);
  RunningHub hub(root);
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  zmq::context_t ctx(1);
  // Every Probe/durable-seen, recovered from the journal if this test falls behind.
  auto seen = Subscriber::open(ctx, admin, recovering(root, {"Probe/durable-seen"}));
  REQUIRE(seen);
  std::vector<uint64_t> published;
  for (int i = 0; i < 3; ++i) published.push_back(publish(root, "Durable/before", "{}"));
  for (uint64_t seq : published) {
    CHECK(json_int(from_probe(*seen, "Probe/durable-seen").payload(), "seq") ==
          static_cast<int64_t>(seq));
  }
  ChildProcess stop(HUBCTL_PATH, {"--root", root.path(), "stop", "Probe"});
  REQUIRE(stop.wait_exit() == 0);
  // 10,000 events while it is down, then it starts again.
  constexpr int kWhileDown = 10000;
  auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), admin);
  REQUIRE(pub);
  for (int i = 0; i < kWhileDown - 1; ++i) REQUIRE(pub->publish("Durable/while-down", "{}"));
  auto last_down = pub->publish_confirmed("Durable/while-down", "{}", 10s);
  REQUIRE(last_down);
  ChildProcess start(HUBCTL_PATH, {"--root", root.path(), "start", "Probe"});
  REQUIRE(start.wait_exit() == 0);
  // Every one, once, in order, none of the earlier ones again: the journal's own list.
  std::vector<uint64_t> while_down;
  JournalReader journal(root.path() / "var/db/hub/journal", published.back() + 1);
  while (const JournalRecord* r = journal.next()) {
    if (r->topic == "Durable/while-down") while_down.push_back(r->seq);
  }
  REQUIRE(while_down.size() == kWhileDown);
  REQUIRE(while_down.back() == *last_down);
  int wrong = 0;
  for (uint64_t seq : while_down) {
    if (json_int(from_probe(*seen, "Probe/durable-seen").payload(), "seq") !=
        static_cast<int64_t>(seq)) {
      ++wrong;
    }
  }
  CHECK(wrong == 0);
  const uint64_t live = publish(root, "Durable/after", "{}");
  CHECK(json_int(from_probe(*seen, "Probe/durable-seen").payload(), "seq") ==
        static_cast<int64_t>(live));
}

namespace {

// hubctl stop or start Probe.
void probe_ctl(const TempDir& root, const std::string& verb) {
  ChildProcess p(HUBCTL_PATH, {"--root", root.path(), verb, "Probe"});
  REQUIRE(p.wait_exit() == 0);
}

// The seq of the next Probe/acked-seen.
uint64_t next_seen(Subscriber& sub) {
  return static_cast<uint64_t>(json_int(from_probe(sub, "Probe/acked-seen").payload(), "seq"));
}

// The mark the probe's "acked" subscription saved.
uint64_t saved_mark(const TempDir& root) {
  return std::stoull(read_file(root.path() / "data/Probe/.hub/consumers/acked"));
}

}  // namespace

TEST_CASE(
    "an acknowledged durable subscription gets again, after a restart, what it did not "
    "acknowledge",
    "[sdk][journal]") {
  TempDir root;
  add_probe(root, "acked: {save_every: 1, window: 4}\n");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const Credential admin = admin_credential(root);
  auto ready = hub.subscribe({"Probe/acked-ready"}, true);
  const Event said = from_probe(ready, "Probe/acked-ready");
  CHECK(json_field(said.payload(), "unknown") == "no durable subscription nothing");
  CHECK(json_field(said.payload(), "implicit") ==
        "durable subscription main is not acknowledged explicitly");
  auto seen = Subscriber::open(ctx, admin, recovering(root, {"Probe/acked-seen"}));
  REQUIRE(seen);
  auto acks = Subscriber::open(ctx, admin, recovering(root, {"Probe/acked"}));
  REQUIRE(acks);

  const uint64_t a1 = publish(root, "Acked/ack");
  const uint64_t a2 = publish(root, "Acked/ahead");  // acknowledges a2 + 1000
  const uint64_t h1 = publish(root, "Acked/hold");
  const uint64_t h2 = publish(root, "Acked/hold");
  for (uint64_t seq : {a1, a2, h1, h2}) CHECK(next_seen(*seen) == seq);
  std::map<uint64_t, int64_t> marks;  // seq -> the mark acknowledge returned
  while (marks.size() < 2) {
    const Event e = from_probe(*acks, "Probe/acked");
    CHECK(json_field(e.payload(), "error").empty());
    marks[json_int(e.payload(), "seq")] = json_int(e.payload(), "mark");
  }
  // Clipped to the last event handed out (a2 then, h1 not yet): saved at once (save_every 1).
  CHECK(marks.at(a2) == static_cast<int64_t>(a2));

  probe_ctl(root, "stop");
  CHECK(saved_mark(root) == a2);
  probe_ctl(root, "start");
  // What was handed out and not acknowledged comes again, in order; nothing before it.
  CHECK(next_seen(*seen) == h1);
  CHECK(next_seen(*seen) == h2);
  const uint64_t a3 = publish(root, "Acked/ack");  // acknowledges h1 and h2 with it
  CHECK(next_seen(*seen) == a3);
  int64_t mark = 0;
  while (mark < static_cast<int64_t>(a3)) {
    const Event e = from_probe(*acks, "Probe/acked");
    if (json_int(e.payload(), "seq") == static_cast<int64_t>(a3))
      mark = json_int(e.payload(), "mark");
  }
  CHECK(mark == static_cast<int64_t>(a3));

  probe_ctl(root, "stop");
  probe_ctl(root, "start");
  const uint64_t a4 = publish(root, "Acked/ack");
  CHECK(next_seen(*seen) == a4);  // nothing came again
}

TEST_CASE(
    "save_every bounds what an acknowledged durable subscription gets again after a "
    "SIGKILL",
    "[sdk][journal]") {
  constexpr int kSaveEvery = 10, kWindow = 5;
  TempDir root;
  add_probe(root, "acked: {save_every: " + std::to_string(kSaveEvery) +
                      ", window: " + std::to_string(kWindow) + "}\n");
  RunningHub hub(root);
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  zmq::context_t ctx(1);
  auto seen = Subscriber::open(ctx, admin, recovering(root, {"Probe/acked-seen", "Probe/acked"}));
  REQUIRE(seen);
  constexpr int kEvents = 2000;
  auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), admin);
  REQUIRE(pub);
  for (int i = 0; i < kEvents - 1; ++i) REQUIRE(pub->publish("Acked/n", "{}"));
  auto last = pub->publish_confirmed("Acked/n", "{}", 10s);
  REQUIRE(last);

  // The first run's: what it handed out, and the newest mark it said was on disk.
  std::set<uint64_t> first_run, second_run;
  int64_t first_pid = 0, saved_before_kill = 0;
  uint64_t end = 0;
  bool killed = false;
  while (true) {
    auto e = seen->next(20s);
    REQUIRE(e);
    REQUIRE(e->source == "Probe");
    const uint64_t seq = static_cast<uint64_t>(json_int(e->payload(), "seq"));
    if (e->topic() == "Probe/acked") {  // its pid is the one that handed it out
      if (!killed) saved_before_kill = std::max(saved_before_kill, json_int(e->payload(), "mark"));
      continue;
    }
    const int64_t pid = json_int(e->payload(), "pid");
    if (first_pid == 0) first_pid = pid;
    if (pid == first_pid) {
      first_run.insert(seq);
    } else {
      second_run.insert(seq);
    }
    if (!killed && first_run.size() == 200) {  // mid-stream
      REQUIRE(::kill(static_cast<pid_t>(first_pid), SIGKILL) == 0);
      killed = true;
      // A marker after the stream: once the restarted probe hands it out, it is done.
      auto marker = pub->publish_confirmed("Acked/end", "{}", 10s);
      REQUIRE(marker);
      end = *marker;
    }
    if (pid != first_pid && seq == end) break;
  }
  CHECK(*first_run.rbegin() < *last);  // killed mid-stream
  // Every event handed out at least once, in two runs.
  JournalReader journal(root.path() / "var/db/hub/journal", 1);
  size_t published = 0, missing = 0;
  while (const JournalRecord* r = journal.next()) {
    if (r->topic != "Acked/n" && r->topic != "Acked/end") continue;
    ++published;
    if (!first_run.count(r->seq) && !second_run.count(r->seq)) ++missing;
  }
  CHECK(published == kEvents + 1);
  CHECK(missing == 0);
  // What the restarted one got again: nothing at or below a mark said saved, and at most
  // what was acknowledged and not yet saved (fewer than save_every, or save_every if the
  // kill came during a save) plus what was in flight (the window, and the one its
  // acknowledging thread held).
  REQUIRE_FALSE(second_run.empty());
  CHECK(static_cast<int64_t>(*second_run.begin()) > saved_before_kill);
  size_t again = 0;
  for (uint64_t seq : second_run) again += first_run.count(seq);
  CHECK(again <= static_cast<size_t>(kSaveEvery + kWindow + 1));
}

TEST_CASE("an acknowledged durable subscription is told the exact range retention removed",
          "[sdk][journal]") {
  TempDir root;
  root.write("config/hub.yml", "journal: {segment_size: 4KiB, max_size: 8KiB}\n");
  add_probe(root, "acked: {save_every: 1, window: 4}\n");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const Credential admin = admin_credential(root);
  auto seen = Subscriber::open(ctx, admin,
                               recovering(root, {"Probe/acked-seen", "Probe/acked", "Probe/lost"}));
  REQUIRE(seen);
  const uint64_t a1 = publish(root, "Acked/ack");
  CHECK(next_seen(*seen) == a1);
  REQUIRE(next_on(*seen, "Probe/acked"));
  probe_ctl(root, "stop");
  const uint64_t mark = saved_mark(root);
  CHECK(mark >= a1);
  // While it is stopped, retention removes what it has not handled.
  for (int i = 0; i < 200; ++i) publish(root, "Fill/up", "{\"padding\":\"xxxxxxxxxxxxxxxxxxxx\"}");
  const uint64_t after = publish(root, "Acked/ack");
  std::set<uint64_t> segments;  // the first seq of each segment kept
  for (const auto& entry : fs::directory_iterator(root.path() / "var/db/hub/journal")) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.substr(20) == ".seg") segments.insert(std::stoull(name));
  }
  REQUIRE_FALSE(segments.empty());
  REQUIRE(*segments.begin() > mark + 1);
  probe_ctl(root, "start");
  const Event lost = from_probe(*seen, "Probe/lost");
  CHECK(json_int(lost.payload(), "first") == static_cast<int64_t>(mark + 1));
  // Up to the first event still held when it asked: the first of a segment (starting the
  // probe may have rolled the journal over once more, removing the oldest of these).
  const uint64_t lost_last = static_cast<uint64_t>(json_int(lost.payload(), "last"));
  CHECK(segments.count(lost_last + 1) == 1);
  // The lost ones count as handled: acknowledging the next moves the mark past them all.
  CHECK(next_seen(*seen) == after);
  const Event acked = from_probe(*seen, "Probe/acked");
  CHECK(json_int(acked.payload(), "seq") == static_cast<int64_t>(after));
  CHECK(json_int(acked.payload(), "mark") == static_cast<int64_t>(after));
}
