// Losing nothing across a kill -9 of hubd: the journal of a burst cut short reads back
// whole and in order, and the scripts of events a killed hubd took in but had not run
// yet run once it is back.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

const fs::path kJournal = "var/db/hub/journal";

}  // namespace

TEST_CASE("kill -9 in the middle of a burst: the journal reads back whole, the sequence goes on",
          "[hubd][journal]") {
  TempDir root;
  auto hubd =
      std::make_unique<ChildProcess>(HUBD_PATH, std::vector<std::string>{"--root", root.path()});
  REQUIRE(hubd->wait_stderr("hub is up"));
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  std::atomic<uint64_t> confirmed{0};  // the newest payload number the broker acknowledged
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    zmq::context_t ctx(1);
    auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), admin);
    for (uint64_t i = 1; !stop; ++i) {
      if (i % 10000 != 0) {
        (void)pub->publish("Burst/n", std::to_string(i));
      } else if (pub->publish_confirmed("Burst/n", std::to_string(i), std::chrono::seconds(2))) {
        confirmed = i;
      } else {
        break;  // hubd is gone
      }
    }
  });
  // Killed while the burst goes on: some confirmed, more in flight.
  while (confirmed < 50000) std::this_thread::yield();
  hubd->signal(SIGKILL);
  REQUIRE(hubd->wait_exit());
  stop = true;
  publisher.join();
  const uint64_t acknowledged = confirmed;

  hubd = std::make_unique<ChildProcess>(HUBD_PATH, std::vector<std::string>{"--root", root.path()});
  REQUIRE(hubd->wait_stderr("hub is up"));
  const auto up = hubd->wait_stderr("Hub/startup is event");
  REQUIRE(up);
  const uint64_t startup = std::stoull(up->substr(up->find("event ") + 6));

  // Every journalled burst event is there once, in publish order, up to at least the last
  // acknowledged one; the new run's numbers come after all of them.
  JournalReader reader(root.path() / kJournal, 1, [](const std::string& why) { FAIL(why); });
  uint64_t last_seq = 0, last_n = 0, burst = 0, out_of_order = 0;
  while (const JournalRecord* r = reader.next()) {
    if (r->seq <= last_seq) ++out_of_order;
    last_seq = r->seq;
    if (r->topic != "Burst/n") continue;
    const uint64_t n = std::stoull(std::string(r->payload));
    if (n != last_n + 1) ++out_of_order;
    last_n = n;
    ++burst;
  }
  CHECK(out_of_order == 0);
  CHECK(last_n >= acknowledged);
  CHECK(burst == last_n);
  CHECK(startup > kReserveBlock);  // past every number the killed run may have handed out
  CHECK(last_seq >= startup);
  hubd->signal(SIGTERM);
  CHECK(hubd->wait_exit() == 0);
}

TEST_CASE("scripts of events a killed hubd took in but had not run, run when it is back",
          "[hubd][journal][scripts]") {
  TempDir root;
  const fs::path ran = root.path() / "ran";
  const fs::path gate = root.path() / "gate";
  REQUIRE(::mkfifo(gate.c_str(), 0600) == 0);
  // Each run says which event it ran for, and whether it comes from an earlier hubd; while
  // the gate is there, a run waits at it until the test opens and closes it.
  add_script(root, "events/Work/item/record",
             "echo \"$HUB_EVENT_SEQ ${HUB_EVENT_REPLAYED:-0}\" >> '" + ran.string() + "'\n[ -p '" +
                 gate.string() + "' ] && cat '" + gate.string() + "' >/dev/null\n");
  auto hubd =
      std::make_unique<ChildProcess>(HUBD_PATH, std::vector<std::string>{"--root", root.path()});
  REQUIRE(hubd->wait_stderr("hub is up"));
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  std::vector<uint64_t> items;
  {
    zmq::context_t ctx(1);
    auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), admin);
    REQUIRE(pub);
    for (int i = 0; i < 50; ++i) {
      auto seq = pub->publish_confirmed("Work/item", "{}", std::chrono::seconds(10));
      REQUIRE(seq);
      items.push_back(*seq);
    }
  }
  // Opening the gate for writing returns once the first run waits at it: the other 49
  // events wait in the dispatcher's queue when hubd is killed.
  auto opened = std::async(std::launch::async, [&] { return ::open(gate.c_str(), O_WRONLY); });
  REQUIRE(opened.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  const int gate_fd = opened.get();
  REQUIRE(gate_fd >= 0);
  hubd->signal(SIGKILL);
  REQUIRE(hubd->wait_exit());
  fs::remove(gate);
  ::close(gate_fd);  // the first run ends

  hubd = std::make_unique<ChildProcess>(HUBD_PATH, std::vector<std::string>{"--root", root.path()});
  REQUIRE(hubd->wait_stderr("hub is up"));
  CHECK(hubd->wait_stderr("scripts: resuming after event"));
  INFO(hubd->stderr_text());
  // Hub/scripts-done of the last item, from the journal if it came before this subscribes.
  SubscriberOptions o = recovering(root, {"Hub/scripts-done"});
  o.resume_from = items.back() + 1;
  zmq::context_t ctx(1);
  auto done = Subscriber::open(ctx, admin, o);
  REQUIRE(done);
  for (;;) {
    auto e = next_on(*done, "Hub/scripts-done");
    REQUIRE(e);
    if (json_int(e->payload(), "seq") == static_cast<int64_t>(items.back())) break;
  }
  // The first item ran in the killed hubd; every item, the first too (it never finished),
  // ran once after the restart, marked as replayed, in order.
  std::istringstream lines(read_file(ran));
  std::vector<uint64_t> replayed;
  uint64_t seq = 0;
  int flag = 0;
  REQUIRE(lines >> seq >> flag);
  CHECK(seq == items.front());
  CHECK(flag == 0);
  while (lines >> seq >> flag) {
    CHECK(flag == 1);
    replayed.push_back(seq);
  }
  CHECK(replayed == items);
  // The numbers the killed hubd had reserved are not reported as lost events.
  CHECK_THAT(hubd->stderr_text(), !Catch::Contains("are lost"));
  hubd->signal(SIGTERM);
  CHECK(hubd->wait_exit() == 0);
}
