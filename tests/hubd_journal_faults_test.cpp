// hubd's journal when files are damaged or the disk is full, as a user meets it: a damaged
// `reserved` stops hubd with the file named; a segment missing or cut in the middle shows
// in bus-tap and the log with its exact range; a cut below what was durable is reported
// as lost, apart from numbers only reserved; a full disk fails exactly the publishes it
// could not keep, and the hub carries on once space is freed; hubctl publish keeps to
// --timeout.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path journal_dir(const TempDir& root) { return root.path() / "var/db/hub/journal"; }

// Publishes `n` events with a confirmation for the last; returns the last seq.
uint64_t publish_many(const TempDir& root, int n, const std::string& topic = "Test/n") {
  zmq::context_t ctx(1);
  auto pub = Publisher::connect(ctx, ipc_endpoint(BusPaths::for_root(root.path()).ingest_socket),
                                admin_credential(root));
  REQUIRE(pub);
  for (int i = 1; i < n; ++i) REQUIRE(pub->publish(topic, "{\"i\":" + std::to_string(i) + "}"));
  auto last = pub->publish_confirmed(topic, "{}", 10s);
  REQUIRE(last);
  return *last;
}

// (seq, topic, payload) of every journalled event.
struct Journalled {
  uint64_t seq;
  std::string topic, payload;
};
std::vector<Journalled> read_journal(const TempDir& root) {
  std::vector<Journalled> out;
  JournalReader reader(journal_dir(root), 1);
  while (const JournalRecord* r = reader.next()) {
    out.push_back({r->seq, std::string(r->topic), std::string(r->payload)});
  }
  return out;
}

}  // namespace

TEST_CASE("a reserved number near 2^64 stops hubd with the file named; nothing is handed out",
          "[hubd][journal]") {
  TempDir root;
  root.write("var/db/hub/journal/reserved", "18446744073709551610\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_exit() == 1);
  CHECK_THAT(hubd.stderr_text(),
             Catch::Contains("journal/reserved") && Catch::Contains("18446744073709551610"));
}

TEST_CASE("a segment deleted in the middle: bus-tap and hubd's log name the exact range",
          "[hubd][journal][gaps]") {
  TempDir root;
  root.write("config/hub.yml", "journal: {segment_size: 4KiB}\n");
  {
    RunningHub hub(root);
    publish_many(root, 600);
  }
  const auto segments = journal_segments(journal_dir(root));
  REQUIRE(segments.size() > 6);
  const uint64_t first = segments[3].first, last = segments[4].first - 1;
  fs::remove(segments[3].second);
  RunningHub hub(root);
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path(), "--from", "1"});
  REQUIRE(tap.wait_exit() == 0);
  const std::string range = "events " + std::to_string(first) + ".." + std::to_string(last);
  CHECK_THAT(tap.stderr_text(), Catch::Contains(range + " are missing from the journal"));
  const auto lines = tap.stdout_lines();
  CHECK(lines.size() >= 600 - (last - first + 1));  // everything else, after the gap too
  for (const auto& line : lines) {
    const uint64_t seq = std::stoull(line.substr(0, line.find(' ')));
    CHECK((seq < first || seq > last));
  }
  CHECK(hub.process().wait_stderr(range + " are missing"));
}

TEST_CASE("a cut below what was durable is reported as lost, apart from what was reserved",
          "[hubd][journal]") {
  TempDir root;
  uint64_t durable = 0;
  {
    RunningHub hub(root);
    publish_many(root, 50);
    REQUIRE(hub.stop() == 0);
  }
  const auto before = read_journal(root);
  durable = before.back().seq;  // Hub/shutdown: everything was synced at the clean stop
  // The newest segment loses its last ten records (a bad flash block, a careless copy).
  const fs::path segment = journal_segments(journal_dir(root)).back().second;
  uint64_t cut_at = 0;
  {
    uint64_t offset = 0;
    JournalReader reader(journal_dir(root), 1);
    while (const JournalRecord* r = reader.next()) {
      if (r->seq == before[before.size() - 10].seq) cut_at = offset;
      offset += 12 + 16 + r->topic.size() + r->header.size() + r->payload.size();
    }
  }
  fs::resize_file(segment, cut_at + 5);  // and a torn piece of the next
  const uint64_t kept = before[before.size() - 11].seq;
  RunningHub hub(root);
  const std::string range = std::to_string(kept + 1) + ".." + std::to_string(durable);
  CHECK(hub.process().wait_stderr("events " + range + " were durable"));
  const auto after = read_journal(root);
  const auto recovered = std::find_if(
      after.begin(), after.end(), [&](const Journalled& e) { return e.topic == "Hub/recovered"; });
  REQUIRE(recovered != after.end());
  CHECK(json_int(recovered->payload, "lost_first") == static_cast<int64_t>(kept + 1));
  CHECK(json_int(recovered->payload, "lost_last") == static_cast<int64_t>(durable));
  CHECK(json_int(recovered->payload, "skipped_first") == 0);  // a clean stop reserves nothing
  CHECK(json_int(recovered->payload, "skipped_last") == 0);
  CHECK(json_int(recovered->payload, "cut_bytes") == 5);
  // A reader is told of the loss, not that these were never events.
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path(), "--from", std::to_string(kept)});
  REQUIRE(tap.wait_exit() == 0);
  CHECK_THAT(tap.stderr_text(), Catch::Contains("events " + range + " are missing"));
  const auto lines = tap.stdout_lines();
  REQUIRE(lines.size() >= 2);
  CHECK_THAT(lines[1], Catch::Contains("Hub/recovered"));
}

TEST_CASE("hubctl publish gives up after --timeout", "[hubctl][journal]") {
  TempDir root;
  RunningHub hub(root);
  struct Resume {  // the hub goes on even when a check fails
    ChildProcess& hubd;
    ~Resume() { hubd.signal(SIGCONT); }
  } resume{hub.process()};
  hub.process().signal(SIGSTOP);  // takes connections, answers nothing
  const auto start = std::chrono::steady_clock::now();
  ChildProcess publish(HUBCTL_PATH,
                       {"--root", root.path(), "--timeout", "1", "publish", "Test/slow", "{}"});
  REQUIRE(publish.wait_exit(8s) == 1);
  CHECK(std::chrono::steady_clock::now() - start < 6s);  // not the 10 s it used to take
  CHECK_THAT(publish.stderr_text(), Catch::Contains("within 1000 ms"));
}

TEST_CASE(
    "a full disk (real tmpfs): publishes it cannot keep fail, none is acked that is "
    "not in the journal, and the hub carries on once space is freed",
    "[hubd][journal][faults][tmpfs]") {
  TempDir root;
  const fs::path dir = journal_dir(root);
  fs::create_directories(dir);
  if (::geteuid() != 0 || ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    WARN("SKIPPED: mounting a tmpfs needs root (and a system that allows it)");
    return;
  }
  struct Unmount {
    fs::path dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{dir};
  RunningHub hub(root);
  Subscriber reports = hub.subscribe({"Hub/journal-failed"});
  zmq::context_t ctx(1);
  auto pub = Publisher::connect(ctx, ipc_endpoint(BusPaths::for_root(root.path()).ingest_socket),
                                admin_credential(root));
  REQUIRE(pub);
  REQUIRE(pub->publish_confirmed("Test/first", "{}", 10s));

  // Fill the file system up to the last byte.
  {
    std::ofstream filler(dir / "filler", std::ios::binary);
    const std::string block(4096, 'f');
    while (filler.write(block.data(), block.size()) && filler.flush()) {
    }
  }
  const std::string payload = "{\"pad\":\"" + std::string(2000, 'x') + "\"}";
  std::set<uint64_t> acked;
  std::vector<std::string> failures;
  for (int i = 0; i < 40; ++i) {
    auto seq = pub->publish_confirmed("Test/full", payload, 10s);
    if (seq) {
      acked.insert(*seq);
    } else {
      failures.push_back(seq.error());
    }
  }
  REQUIRE_FALSE(failures.empty());
  CHECK_THAT(failures.back(), Catch::Contains("No space left on device"));
  auto report = next_on(reports, "Hub/journal-failed", 10s);
  REQUIRE(report);
  CHECK(json_int(report->payload(), "events_lost") >= 1);
  ChildProcess hubctl(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/full", payload});
  CHECK(hubctl.wait_exit() == 1);
  CHECK_THAT(hubctl.stderr_text(), Catch::Contains("No space left on device"));

  fs::remove(dir / "filler");  // space again: no restart needed
  for (int i = 0; i < 5; ++i) {
    auto seq = pub->publish_confirmed("Test/after", payload, 10s);
    REQUIRE(seq);
    acked.insert(*seq);
  }
  pub->close();
  REQUIRE(hub.stop() == 0);
  std::set<uint64_t> journalled;
  for (const auto& e : read_journal(root)) CHECK(journalled.insert(e.seq).second);  // once each
  for (uint64_t seq : acked) CHECK(journalled.count(seq) == 1);
}

TEST_CASE(
    "killed on a full disk (real tmpfs), hubd starts again, says what it could not keep, and "
    "carries on once space is freed",
    "[hubd][journal][faults][tmpfs]") {
  TempDir root;
  const fs::path dir = journal_dir(root);
  fs::create_directories(dir);
  if (::geteuid() != 0 || ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    WARN("SKIPPED: mounting a tmpfs needs root (and a system that allows it)");
    return;
  }
  struct Unmount {
    fs::path dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{dir};
  std::set<uint64_t> acked;
  {
    RunningHub hub(root);
    acked.insert(publish_many(root, 50));
    std::ofstream filler(dir / "filler", std::ios::binary);
    const std::string block(4096, 'f');
    while (filler.write(block.data(), block.size()) && filler.flush()) {
    }
    hub.process().signal(SIGKILL);
    REQUIRE(hub.process().wait_exit());
  }
  // Up, although the disk is full: the reservation is rewritten in place, and Hub/recovered
  // and Hub/startup go out live even when the journal cannot keep them.
  RunningHub hub(root);
  Subscriber reports = hub.subscribe({"Hub/journal-failed"});
  {
    std::ofstream filler(dir / "filler2", std::ios::binary);  // what the cut tail freed
    const std::string block(4096, 'f');
    while (filler.write(block.data(), block.size()) && filler.flush()) {
    }
  }
  const std::string payload = "{\"pad\":\"" + std::string(3000, 'x') + "\"}";
  std::optional<int> refused;
  for (int i = 0; i < 10 && !refused; ++i) {  // a page's slack may take one or two
    ChildProcess full(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/full", payload});
    const auto rc = full.wait_exit();
    REQUIRE(rc);
    if (*rc == 0) {
      acked.insert(std::stoull(full.stdout_lines().at(0)));
      continue;
    }
    refused = rc;
    CHECK_THAT(full.stderr_text(), Catch::Contains("No space left on device"));
    CHECK(full.stdout_lines().empty());  // no seq: only what is kept is acknowledged
  }
  REQUIRE(refused == 1);
  CHECK(next_on(reports, "Hub/journal-failed", 10s));

  fs::remove(dir / "filler");
  fs::remove(dir / "filler2");
  ChildProcess after(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/after", payload});
  REQUIRE(after.wait_exit() == 0);
  acked.insert(std::stoull(after.stdout_lines().at(0)));
  REQUIRE(hub.stop() == 0);
  std::set<uint64_t> journalled;
  for (const auto& e : read_journal(root)) journalled.insert(e.seq);
  for (uint64_t seq : acked) CHECK(journalled.count(seq) == 1);
}
