// hubd under a service manager: the sd_notify messages it sends to $NOTIFY_SOCKET (a
// datagram socket the test binds) around startup, reloads and shutdown, and its watchdog
// pings, which stop when its main loop stalls (the test hook $HUB_TEST_STALL_FILE).
#include <signal.h>

#include <catch2/catch.hpp>

#include "support/fake_journal.h"
#include "support/notify_listener.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

EnvVars notify_env(const NotifyListener& listener) {
  return {{"NOTIFY_SOCKET", listener.path().string()}};
}

}  // namespace

TEST_CASE("hubd says READY=1 only once Hub/startup is on the bus", "[hubd][systemd]") {
  TempDir root;
  add_module(root, "Sleeper", "command: /bin/sleep\nargs: ['1000']\n");
  NotifyListener manager(root.path() / "notify");
  RunningHub hubd(root, notify_env(manager));

  const auto messages = manager.until_line("READY=1", 20s);
  REQUIRE_FALSE(messages.empty());
  for (size_t i = 0; i + 1 < messages.size(); ++i) CHECK_FALSE(has_line(messages[i], "READY=1"));
  CHECK(has_line(messages.front(), "STATUS=starting"));
  CHECK(has_line(messages.back(), "STATUS=up: 1 module, 1 service"));
  // Published before READY=1 (retained): a subscriber that comes now finds it.
  Subscriber sub = hubd.subscribe({"Hub/startup"}, /*retained=*/true);
  auto startup = next_on(sub, "Hub/startup", 5s);
  REQUIRE(startup);
  CHECK(json_int(startup->payload(), "pid") == hubd.process().pid());
}

TEST_CASE(
    "hubd says RELOADING=1 then READY=1 around SIGHUP and an API reload, and "
    "STOPPING=1 on SIGTERM",
    "[hubd][systemd]") {
  TempDir root;
  NotifyListener manager(root.path() / "notify");
  RunningHub hubd(root, notify_env(manager));
  REQUIRE_FALSE(manager.until_line("READY=1", 20s).empty());

  Subscriber sub = hubd.subscribe({"Hub/reload"});
  add_module(root, "Late", "command: /bin/sleep\nargs: ['1000']\n");
  hubd.process().signal(SIGHUP);
  auto reloading = manager.next(20s);
  REQUIRE(reloading);
  CHECK(has_line(*reloading, "RELOADING=1"));
  CHECK(reloading->find("\nMONOTONIC_USEC=") != std::string::npos);
  CHECK(has_line(*reloading, "STATUS=reloading"));
  REQUIRE(next_on(sub, "Hub/reload"));
  auto ready = manager.next(20s);
  REQUIRE(ready);
  CHECK(*ready == "READY=1\nSTATUS=up: 1 module, 1 service");

  ChildProcess hubctl(HUBCTL_PATH, {"--root", root.path(), "reload"});
  REQUIRE(hubctl.wait_exit() == 0);
  REQUIRE(manager.next(20s).value_or("").find("RELOADING=1") == 0);
  CHECK(has_line(manager.next(20s).value_or(""), "READY=1"));

  hubd.process().signal(SIGTERM);
  auto stopping = manager.next(20s);
  REQUIRE(stopping);
  CHECK(*stopping == "STOPPING=1\nSTATUS=stopping");
  CHECK(hubd.stop() == 0);
  CHECK_FALSE(manager.next(0ms));  // nothing after STOPPING=1: no READY=1, no ping
}

TEST_CASE("hubd's services inherit nothing of the service manager's environment",
          "[hubd][systemd]") {
  TempDir root;
  add_module(root, "Env", "command: os/linux/programs/run\nready: {notify: true}\n");
  add_script(root, "modules/system/Env/os/linux/programs/run",
             "echo \"${NOTIFY_SOCKET-none} ${WATCHDOG_USEC-none} ${WATCHDOG_PID-none}\" "
             "> \"$HUB_DATA_DIR/env\"\necho ready >&3\nexec sleep 1000\n");
  NotifyListener manager(root.path() / "notify");
  RunningHub hubd(root, {{"NOTIFY_SOCKET", manager.path().string()},
                         {"WATCHDOG_USEC", "60000000"},
                         {"WATCHDOG_PID", "1"}});
  REQUIRE_FALSE(manager.until_line("READY=1", 20s).empty());  // after Env/ready
  CHECK(read_file(root.path() / "data/Env/env") == "none none none\n");
}

TEST_CASE("hubd pings the watchdog from its main loop; a stalled loop stops the pings",
          "[hubd][systemd][watchdog]") {
  TempDir root;
  NotifyListener manager(root.path() / "notify");
  const fs::path stall = root.path() / "stall";
  // A ping every 100 ms.
  RunningHub hubd(root, {{"NOTIFY_SOCKET", manager.path().string()},
                         {"WATCHDOG_USEC", "200000"},
                         {"HUB_TEST_STALL_FILE", stall.string()}});
  REQUIRE_FALSE(manager.until_line("READY=1", 20s).empty());

  // Over one second: about ten pings. Bounded loosely: a loaded machine delays some.
  const auto window_end = std::chrono::steady_clock::now() + 1s;
  int pings = 0;
  while (auto message = manager.next(std::chrono::duration_cast<std::chrono::milliseconds>(
             window_end - std::chrono::steady_clock::now()))) {
    pings += *message == "WATCHDOG=1" ? 1 : 0;
    if (std::chrono::steady_clock::now() >= window_end) break;
  }
  CHECK(pings >= 3);
  CHECK(pings <= 12);

  root.write("stall", "");
  REQUIRE(hubd.process().wait_stderr("the main loop stalls"));
  while (manager.next(0ms)) {
  }                               // what was sent before the stall
  CHECK_FALSE(manager.next(1s));  // ten intervals: no ping

  fs::remove(stall);
  REQUIRE(hubd.process().wait_stderr("the main loop goes on"));
  CHECK(manager.until_line("WATCHDOG=1", 5s).size() >= 1);
  CHECK(hubd.stop() == 0);
}

TEST_CASE("with stderr the journal ($JOURNAL_STREAM), hubd logs there only, with priorities",
          "[hubd][systemd][logger]") {
  TempDir root;
  // As systemd does for a unit: JOURNAL_STREAM names the stderr hubd is started with.
  ChildProcess hubd("/bin/sh",
                    {"-c", "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$0\" \"$@\"",
                     HUBD_PATH, "--root", root.path()});
  const auto up = hubd.wait_stderr("hub is up");
  REQUIRE(up);
  CHECK(up->rfind("<6>hub is up: Hub/startup is event ", 0) == 0);
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit() == 0);
  CHECK_FALSE(fs::exists(root.path() / "var/log/hub/hubd.log"));

  // Any other JOURNAL_STREAM (a parent's, inherited) is not this stderr: the file as usual.
  ChildProcess plain(HUBD_PATH, {"--root", root.path()}, {{"JOURNAL_STREAM", "1:1"}});
  const auto line = plain.wait_stderr("hub is up");
  REQUIRE(line);
  CHECK(line->find("<6>") == std::string::npos);
  plain.signal(SIGTERM);
  CHECK(plain.wait_exit() == 0);
  CHECK(read_file(root.path() / "var/log/hub/hubd.log").find("hub is up") != std::string::npos);
}

TEST_CASE(
    "a service with log.to journal writes to journald's stream, with its name as "
    "identifier; without journald, to its file",
    "[hubd][systemd][journal]") {
  TempDir root;
  add_module(root, "Talker",
             "command: os/linux/programs/run\nready: {notify: true}\nlog: {to: journal}\n");
  add_script(root, "modules/system/Talker/os/linux/programs/run",
             "echo \"hello on stdout, JOURNAL_STREAM=${JOURNAL_STREAM:+set}\"\n"
             "echo '<3>broken on stderr' >&2\necho ready >&3\nexec sleep 1000\n");
  {
    FakeJournal journald(root.path() / "journal-stdout");
    RunningHub hubd(root, {{"HUB_JOURNAL_SOCKET", journald.path().string()}});
    const auto stream = journald.wait_for("broken on stderr", 20s);
    REQUIRE(stream);
    CHECK(stream->rfind("Talker\n\n6\n1\n0\n0\n0\n", 0) == 0);
    CHECK_THAT(*stream, Catch::Contains("\nhello on stdout, JOURNAL_STREAM=set\n"));
    CHECK_THAT(*stream, Catch::Contains("\n<3>broken on stderr\n"));
    CHECK(hubd.stop() == 0);
    CHECK_FALSE(fs::exists(root.path() / "var/log/hub/Talker.log"));
  }

  RunningHub hubd(root, {{"HUB_JOURNAL_SOCKET", (root.path() / "no-journald").string()}});
  CHECK(hubd.process().wait_stderr("service Talker: log.to journal: "));
  Subscriber sub = hubd.subscribe({"Talker/ready"}, true);
  REQUIRE(next_on(sub, "Talker/ready"));
  const std::string log = read_file(root.path() / "var/log/hub/Talker.log");
  CHECK_THAT(log, Catch::Contains("hello on stdout, JOURNAL_STREAM=\n"));
  CHECK_THAT(log, Catch::Contains("<3>broken on stderr\n"));
}

// systemd keeps a unit's watchdog armed while it reloads (and while it runs an API start or
// stop): a reload that waits on a module's ready.timeout or stop.grace longer than
// WatchdogSec= without a ping gets hubd killed with SIGABRT in the middle of it.
TEST_CASE("hubd keeps pinging the watchdog through a reload longer than WATCHDOG_USEC",
          "[hubd][systemd][watchdog]") {
  TempDir root;
  NotifyListener manager(root.path() / "notify");
  RunningHub hubd(root, {{"NOTIFY_SOCKET", manager.path().string()},
                         {"WATCHDOG_USEC", "500000"}});  // a ping every 250 ms
  REQUIRE_FALSE(manager.until_line("READY=1", 20s).empty());

  // A service that never says it is ready: the reload that starts it waits 2 s.
  add_module(root, "Slow",
             "command: /bin/sleep\nargs: ['1000']\nready: {notify: true, timeout: 2s}\n"
             "restart: {policy: no}\n");
  hubd.process().signal(SIGHUP);
  REQUIRE_FALSE(manager.until_line("RELOADING=1", 10s).empty());
  auto last_ping = std::chrono::steady_clock::now();
  auto longest = std::chrono::steady_clock::duration::zero();
  bool ready = false;
  while (auto message = manager.next(10s)) {
    const auto now = std::chrono::steady_clock::now();
    if (has_line(*message, "WATCHDOG=1") || has_line(*message, "READY=1")) {
      longest = std::max(longest, now - last_ping);
      last_ping = now;
    }
    if (has_line(*message, "READY=1")) {
      ready = true;
      break;
    }
  }
  REQUIRE(ready);
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(longest).count() < 500);
  CHECK(hubd.stop() == 0);
}
