// hubd and bus-tap as a user runs them: real processes on a temp root.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "support/child_process.h"
#include "support/temp_dir.h"

using hub::test::ChildProcess;
using hub::test::TempDir;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<ChildProcess> start_hubd(const TempDir& root) {
  auto hubd =
      std::make_unique<ChildProcess>(HUBD_PATH, std::vector<std::string>{"--root", root.path()});
  REQUIRE(hubd->wait_stderr("hub is up"));
  return hubd;
}

std::unique_ptr<ChildProcess> bus_tap(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.path().string()});
  return std::make_unique<ChildProcess>(BUS_TAP_PATH, args);
}

mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("bus-tap sees Hub/startup, and SIGTERM gives Hub/shutdown and a clean exit", "[hubd]") {
  TempDir root;
  auto hubd = start_hubd(root);
  auto tap = bus_tap(root, {"-C", "2", "Hub/+"});

  const auto startup = tap->wait_stdout("Hub/startup");
  REQUIRE(startup);
  CHECK_THAT(*startup, Catch::StartsWith("1 "));
  CHECK_THAT(*startup, Catch::Contains(" Hub Hub/startup {\"pid\":" + std::to_string(hubd->pid())));

  hubd->signal(SIGTERM);
  const auto shutdown = tap->wait_stdout("Hub/shutdown");
  REQUIRE(shutdown);
  CHECK_THAT(*shutdown, Catch::Contains("\"signal\":\"SIGTERM\""));
  CHECK(tap->wait_exit() == 0);
  CHECK(hubd->wait_exit() == 0);
  CHECK_THAT(hubd->stderr_text(), Catch::Contains("hubd stopped"));
  CHECK_FALSE(std::filesystem::exists(root.path() / "var/run/hub/events.sock"));

  std::ifstream log(root.path() / "var/log/hub/hubd.log");
  const std::string logged((std::istreambuf_iterator<char>(log)), {});
  CHECK_THAT(logged, Catch::Contains("hub is up"));
  CHECK_THAT(logged, Catch::Contains("SIGTERM received"));
}

TEST_CASE("bus-tap --json prints one JSON object per event with the payload embedded", "[hubd]") {
  TempDir root;
  auto hubd = start_hubd(root);
  auto tap = bus_tap(root, {"--json", "-C", "1"});
  REQUIRE(tap->wait_exit() == 0);
  const auto lines = tap->stdout_lines();
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::StartsWith("{\"seq\":1,\"time\":\""));
  CHECK_THAT(lines[0], Catch::Contains("\"source\":\"Hub\",\"topic\":\"Hub/startup\""));
  CHECK_THAT(lines[0], Catch::Contains("\"retained\":true,\"payload\":{\"pid\":" +
                                       std::to_string(hubd->pid())));
}

TEST_CASE("bus-tap gives up with exit status 3 when -C events do not come within -W", "[hubd]") {
  TempDir root;
  auto hubd = start_hubd(root);
  auto tap = bus_tap(root, {"-C", "1", "-W", "0.3", "Nothing/here"});
  CHECK(tap->wait_exit() == 3);
  CHECK(tap->stdout_lines().empty());
}

TEST_CASE("bus-tap with no hub running exits non-zero with a clear message", "[hubd]") {
  TempDir root;
  SECTION("a root where no hub ever ran") {
    auto tap = bus_tap(root, {"-C", "1"});
    CHECK(tap->wait_exit() == 1);
    CHECK_THAT(tap->stderr_text(), Catch::Contains("is a hub running on " + root.path().string()));
  }
  SECTION("a root whose hub has stopped") {
    auto hubd = start_hubd(root);
    hubd->signal(SIGINT);
    REQUIRE(hubd->wait_exit() == 0);
    auto tap = bus_tap(root, {"-C", "1"});
    CHECK(tap->wait_exit() == 1);
    CHECK_THAT(tap->stderr_text(), Catch::Contains("no hub is running"));
  }
}

TEST_CASE("a malformed hub.yml stops hubd with the file, line and key, and exit status 3",
          "[hubd]") {
  TempDir root;
  const auto file = root.write("config/hub.yml", "bus:\n  max_payload: huge\n  colour: red\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(hubd.wait_exit() == 3);
  const std::string err = hubd.stderr_text();
  CHECK_THAT(err, Catch::Contains(file.string() + ":2:16: bus.max_payload: expected a size"));
  CHECK_THAT(err, Catch::Contains(file.string() + ":3:3: bus.colour: unknown key"));
  CHECK_FALSE(std::filesystem::exists(root.path() / "var/run/hub/events.sock"));
}

TEST_CASE("a --config file that does not exist is a configuration error", "[hubd]") {
  TempDir root;
  ChildProcess hubd(HUBD_PATH, {"--root", root.path(), "--config", "/nonexistent/hub.yml"});
  CHECK(hubd.wait_exit() == 3);
  CHECK_THAT(hubd.stderr_text(), Catch::Contains("/nonexistent/hub.yml: missing"));
}

TEST_CASE("a second hubd on the same root refuses and the first keeps running", "[hubd]") {
  TempDir root;
  auto first = start_hubd(root);
  ChildProcess second(HUBD_PATH, {"--root", root.path()});
  CHECK(second.wait_exit() == 4);
  CHECK_THAT(second.stderr_text(),
             Catch::Contains("another hubd (pid " + std::to_string(first->pid()) +
                             ") is already running"));

  auto tap = bus_tap(root, {"-C", "1", "Hub/startup"});
  REQUIRE(tap->wait_exit() == 0);
  CHECK_THAT(tap->stdout_lines().at(0), Catch::Contains("\"pid\":" + std::to_string(first->pid())));
}

TEST_CASE("a hubd killed with SIGKILL leaves nothing that stops the next start", "[hubd]") {
  TempDir root;
  auto killed = start_hubd(root);
  killed->signal(SIGKILL);
  REQUIRE(killed->wait_exit());
  REQUIRE(std::filesystem::exists(root.path() / "var/run/hub/events.sock"));  // stale socket

  auto next = start_hubd(root);
  auto tap = bus_tap(root, {"-C", "1", "Hub/startup"});
  REQUIRE(tap->wait_exit() == 0);
  CHECK_THAT(tap->stdout_lines().at(0), Catch::Contains("\"pid\":" + std::to_string(next->pid())));
}

TEST_CASE("the bus is reachable by owner and group only, the admin credential by owner only",
          "[hubd]") {
  TempDir root;
  auto hubd = start_hubd(root);
  CHECK(mode_of(root.path() / "var/run/hub") == 0750);
  CHECK(mode_of(root.path() / "var/db/hub/admin.cred") == 0600);
}
