// hubd's journal as a user relies on it: the sequence goes on across restarts (clean or
// kill -9) and is never reused, and a confirmed publish is in the journal when it returns.
#include <signal.h>

#include <thread>

#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "bus/replay_client.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

uint64_t startup_seq(const TempDir& root) {
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path(), "-C", "1", "-W", "10", "Hub/startup"});
  REQUIRE(tap.wait_exit() == 0);
  const std::string line = tap.stdout_lines().at(0);
  return std::stoull(line.substr(0, line.find(' ')));
}

}  // namespace

TEST_CASE("the sequence goes on across a clean restart and after a kill -9, never reused",
          "[hubd][journal]") {
  TempDir root;
  uint64_t first = 0, second = 0;
  {
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    REQUIRE(hubd.wait_stderr("hub is up"));
    first = startup_seq(root);
    hubd.signal(SIGTERM);
    REQUIRE(hubd.wait_exit() == 0);
  }
  {
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    REQUIRE(hubd.wait_stderr("hub is up"));
    second = startup_seq(root);
    CHECK(second > first + 1);   // Hub/shutdown of the first run came in between
    CHECK(second < first + 10);  // a clean stop reserves nothing beyond what it wrote
    hubd.signal(SIGKILL);
    REQUIRE(hubd.wait_exit());
  }
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_stderr("hub is up"));
  CHECK(
      hubd.wait_stderr("may have been handed out by a hubd that crashed", std::chrono::seconds(1)));
  const uint64_t third = startup_seq(root);
  CHECK(third > second + kReserveBlock - 10);  // past every number the killed run reserved
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit() == 0);
  // Everything journalled reads back in order, the gap after the kill included.
  JournalReader reader(root.path() / "var/db/hub/journal", 1);
  uint64_t last = 0, count = 0, recovered_at = 0;
  while (const JournalRecord* r = reader.next()) {
    CHECK(r->seq > last);
    if (r->topic == "Hub/recovered") {  // the first event after the skipped numbers
      recovered_at = r->seq;
      CHECK(last == second);
      CHECK(json_int(r->payload, "skipped_first") == static_cast<int64_t>(second + 1));
      CHECK(json_int(r->payload, "skipped_last") == static_cast<int64_t>(r->seq - 1));
    }
    last = r->seq;
    ++count;
  }
  CHECK(last > third);
  CHECK(recovered_at != 0);
  CHECK(recovered_at < third);
  // Startup and shutdown of runs 1 and 3, startup of the killed run 2, and Hub/recovered.
  CHECK(count == 6);
}

TEST_CASE("a confirmed publish is in the journal when it returns", "[hubd][journal]") {
  TempDir root;
  RunningHub hub(root);
  ChildProcess publish(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/kept", "{\"k\":1}"});
  REQUIRE(publish.wait_exit() == 0);
  const uint64_t seq = std::stoull(publish.stdout_lines().at(0));
  JournalReader reader(root.path() / "var/db/hub/journal", seq);
  const JournalRecord* r = reader.next();
  REQUIRE(r);
  CHECK(r->seq == seq);
  CHECK(r->topic == "Test/kept");
  CHECK(r->payload == "{\"k\":1}");
}

namespace {

std::vector<std::string> tap_lines(const TempDir& root, std::vector<std::string> args,
                                   int exit = 0) {
  args.insert(args.begin(), {"--root", root.path().string()});
  ChildProcess tap(BUS_TAP_PATH, args);
  REQUIRE(tap.wait_exit() == exit);
  return tap.stdout_lines();
}

uint64_t publish(const TempDir& root, const std::string& topic, const std::string& payload) {
  ChildProcess p(HUBCTL_PATH, {"--root", root.path(), "publish", topic, payload});
  REQUIRE(p.wait_exit() == 0);
  return std::stoull(p.stdout_lines().at(0));
}

uint64_t seq_of(const std::string& line) { return std::stoull(line.substr(0, line.find(' '))); }

// A subscriber that recovers from the journal, with a small queue so it falls behind.
SubscriberOptions slow_recovering(const TempDir& root) {
  SubscriberOptions o = recovering(root, {});
  o.receive_hwm = 100;
  return o;
}

}  // namespace

TEST_CASE("bus-tap --from, --last and --follow read the journal, then the live bus",
          "[hubd][journal][replay]") {
  TempDir root;
  RunningHub hub(root);
  std::vector<uint64_t> seqs;
  for (int i = 1; i <= 5; ++i) seqs.push_back(publish(root, i % 2 ? "A/odd" : "B/even", "{}"));

  const auto all = tap_lines(root, {"--from", std::to_string(seqs[0])});
  REQUIRE(all.size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(seq_of(all[i]) == seqs[i]);
  const auto odd = tap_lines(root, {"--from", "1", "A/+"});
  REQUIRE(odd.size() == 3);
  CHECK(seq_of(odd[2]) == seqs[4]);
  const auto last = tap_lines(root, {"--last", "2"});
  REQUIRE(last.size() == 2);
  CHECK(seq_of(last[1]) == seqs[4]);

  // History, then live, with nothing missed or shown twice in between.
  ChildProcess follow(BUS_TAP_PATH, {"--root", root.path(), "--last", "1", "-f", "-C", "3"});
  REQUIRE(follow.wait_stdout(" A/odd "));  // history shown: the live subscription is on
  const uint64_t live1 = publish(root, "C/live", "{}");
  const uint64_t live2 = publish(root, "C/live", "{}");
  REQUIRE(follow.wait_exit() == 0);
  const auto lines = follow.stdout_lines();
  REQUIRE(lines.size() == 3);
  CHECK(seq_of(lines[0]) == seqs[4]);
  CHECK(seq_of(lines[1]) == live1);
  CHECK(seq_of(lines[2]) == live2);
  CHECK(tap_lines(root, {"--follow"}, 2).empty());  // -f alone is a usage error
}

TEST_CASE("a replay of many events comes back whole and in order, in bounded answers",
          "[hubd][journal][replay]") {
  TempDir root;
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), admin);
  REQUIRE(pub);
  const uint64_t first = *pub->publish_confirmed("Load/first", "{}", std::chrono::seconds(10));
  for (int i = 0; i < 20000; ++i) REQUIRE(pub->publish("Load/n", std::to_string(i)));
  const uint64_t last = *pub->publish_confirmed("Load/last", "{}", std::chrono::seconds(10));
  ReplayRequest request;
  request.endpoint = ipc_endpoint(paths.replay_socket);
  request.from = first;
  request.patterns = {"Load/#"};
  uint64_t expected = first, count = 0;
  auto done = replay(ctx, admin, request, [&](const Event& e) {
    CHECK(e.seq == expected);
    if (e.topic() == "Load/n") CHECK(e.payload() == std::to_string(e.seq - first - 1));
    ++expected;
    ++count;
    return true;
  });
  REQUIRE(done);
  CHECK(count == last - first + 1);
  CHECK(done->last_seq >= last);
  CHECK(done->lost.empty());
}

TEST_CASE("a replay from below the journal's retention says which events are lost",
          "[hubd][journal][replay]") {
  TempDir root;
  root.write("config/hub.yml", "journal: {segment_size: 4KiB, max_size: 8KiB}\n");
  RunningHub hub(root);
  for (int i = 0; i < 200; ++i) publish(root, "Fill/up", "{\"padding\":\"xxxxxxxxxxxxxxxxxxxx\"}");
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path(), "--from", "1"});
  REQUIRE(tap.wait_exit() == 0);
  const auto lines = tap.stdout_lines();
  REQUIRE_FALSE(lines.empty());
  const uint64_t first_kept = seq_of(lines[0]);
  CHECK(first_kept > 1);
  CHECK_THAT(tap.stderr_text(),
             Catch::Contains("events 1.." + std::to_string(first_kept - 1) +
                             " are missing from the journal: no longer in the journal"));
}

TEST_CASE("a deliberately slow subscriber to everything gets every event once, in order",
          "[hubd][journal][replay]") {
  TempDir root;
  root.write("config/hub.yml", "bus: {subscriber_hwm: 100}\n");  // it falls behind at once
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  SubscriberOptions o = slow_recovering(root);
  uint64_t gaps = 0;
  o.on_gap = [&](uint64_t, uint64_t) { ++gaps; };
  auto sub = Subscriber::open(ctx, admin, o);
  REQUIRE(sub);
  constexpr int kEvents = 1000000;
  std::thread publisher([&] {
    zmq::context_t pctx(1);
    auto pub = Publisher::connect(pctx, ipc_endpoint(paths.ingest_socket), admin);
    for (int i = 0; i < kEvents; ++i) (void)pub->publish("Burst/n", std::to_string(i));
    (void)pub->publish_confirmed("Burst/end", "{}", std::chrono::seconds(30));
  });
  uint64_t first = 0, last = 0, n = 0, out_of_order = 0;
  bool ended = false;
  while (!ended) {
    auto e = sub->next(std::chrono::seconds(20));
    REQUIRE(e);
    if (first == 0) first = e->seq;
    if (last != 0 && e->seq != last + 1) ++out_of_order;
    last = e->seq;
    ++n;
    ended = e->topic() == "Burst/end";
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(3);
    while (std::chrono::steady_clock::now() < until) {  // slower than the publisher
    }
  }
  publisher.join();
  CHECK(n == kEvents + 1);
  CHECK(last - first + 1 == n);
  CHECK(out_of_order == 0);
  CHECK(gaps == 0);
  CHECK(sub->recovered() > 0);  // it did fall behind: the journal filled the gaps
}

TEST_CASE("a recovering subscriber with patterns gets every event it asked for, once, in order",
          "[hubd][journal][replay]") {
  TempDir root;
  root.write("config/hub.yml", "bus: {subscriber_hwm: 100}\n");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  SubscriberOptions o = slow_recovering(root);
  SECTION("patterns of one module: gaps show in each event's module_prev") {
    o.patterns = {"Want/n", "Want/end"};
  }
  SECTION("patterns across modules: it receives every event and filters") {
    o.patterns = {"Want/n", "Want/end", "Other/+"};
  }
  uint64_t gaps = 0;
  o.on_gap = [&](uint64_t, uint64_t) { ++gaps; };
  auto sub = Subscriber::open(ctx, admin, o);
  REQUIRE(sub);
  constexpr int kEvents = 60000;  // two of three are noise, of its module and another
  std::thread publisher([&] {
    zmq::context_t pctx(1);
    auto pub = Publisher::connect(pctx, ipc_endpoint(paths.ingest_socket), admin);
    for (int i = 0; i < kEvents; ++i) {
      const char* topic = i % 3 == 0 ? "Want/n" : i % 3 == 1 ? "Want/noise" : "Noise/n";
      (void)pub->publish(topic, std::to_string(i));
    }
    (void)pub->publish_confirmed("Want/end", "{}", std::chrono::seconds(30));
  });
  int expected = 0, wrong = 0;
  uint64_t last = 0;
  for (bool ended = false; !ended;) {
    auto e = sub->next(std::chrono::seconds(20));
    REQUIRE(e);
    CHECK(e->seq > last);
    last = e->seq;
    ended = e->topic() == "Want/end";
    if (ended) break;
    if (e->topic() != "Want/n" || e->payload() != std::to_string(expected)) ++wrong;
    expected += 3;
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(5);
    while (std::chrono::steady_clock::now() < until) {  // slower than the publisher
    }
  }
  publisher.join();
  CHECK(wrong == 0);
  CHECK(expected == kEvents);  // 0, 3, ..., 59997: all 20,000 of them
  CHECK(gaps == 0);
  CHECK(sub->recovered() > 0);  // it did fall behind: the journal filled the gaps
}
