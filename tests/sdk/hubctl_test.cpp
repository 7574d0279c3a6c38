// hubctl as scripts use it: its output and exit status for every command, against a
// real hubd, and with no hub at all.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "bus/text.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit = -1;
  std::vector<std::string> out;
  std::string err;
};

Run hubctl(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.path().string()});
  ChildProcess p(HUBCTL_PATH, args);
  Run r;
  r.exit = p.wait_exit().value_or(-1);
  r.out = p.stdout_lines();
  r.err = p.stderr_text();
  return r;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  return all;
}

}  // namespace

TEST_CASE("hubctl without a hub says so and exits 3; bad usage exits 2; --help exits 0",
          "[hubctl]") {
  TempDir root;
  const Run status = hubctl(root, {"status"});
  CHECK(status.exit == 3);
  CHECK_THAT(status.err, Catch::Contains("is a hub running on " + root.path().string()));
  CHECK(hubctl(root, {}).exit == 2);
  const Run bogus = hubctl(root, {"bogus"});
  CHECK(bogus.exit == 2);
  CHECK_THAT(bogus.err, Catch::Contains("unknown command 'bogus'"));
  for (const std::string cmd : {"status", "inspect", "start", "stop", "restart", "enable",
                                "disable", "reload", "publish", "logs"}) {
    const Run help = hubctl(root, {cmd, "--help"});
    CHECK(help.exit == 0);
    REQUIRE_FALSE(help.out.empty());
    CHECK_THAT(help.out[0], Catch::StartsWith("usage: hubctl " + cmd));
    CHECK(hubctl(root, {"help", cmd}).out == help.out);
  }
  CHECK(hubctl(root, {"start"}).exit == 2);
  CHECK(hubctl(root, {"--timeout", "soon", "status"}).exit == 2);
  CHECK(hubctl(root, {"logs", "X", "-n", "many"}).exit == 2);
}

TEST_CASE("hubctl status, stop, start, restart and dynamic instances", "[hubctl]") {
  TempDir root;
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n");
  add_module(root, "Plain", "");
  RunningHub hub(root);

  const Run status = hubctl(root, {"status"});
  CHECK(status.exit == 0);
  REQUIRE(status.out.size() == 2);
  CHECK_THAT(status.out[0], Catch::Matches("Plain +UP +\\(no service\\)"));
  CHECK_THAT(status.out[1], Catch::Matches("Svc +RUNNING +pid [0-9]+, uptime 0:00:0[0-9]"));
  CHECK(hubctl(root, {"status", "Nope"}).exit == 4);

  const Run stop = hubctl(root, {"stop", "Svc"});
  CHECK(stop.exit == 0);
  CHECK(stop.out == std::vector<std::string>{"stopped Svc"});
  const Run down = hubctl(root, {"status", "Svc"});
  CHECK(down.exit == 1);  // not running: scripts can test for it
  CHECK_THAT(down.out.at(0), Catch::Matches("Svc +STOPPED.*"));
  CHECK(hubctl(root, {"start", "Svc"}).exit == 0);
  const std::string before = hubctl(root, {"status", "Svc"}).out.at(0);
  CHECK(hubctl(root, {"restart", "Svc"}).exit == 0);
  const std::string after = hubctl(root, {"status", "Svc"}).out.at(0);
  CHECK_THAT(after, Catch::Contains("RUNNING"));
  CHECK(before != after);  // a new pid

  const Run dynamic = hubctl(root, {"start", "Svc.extra", "greeting.text=hi"});
  CHECK(dynamic.exit == 0);
  CHECK_THAT(joined(hubctl(root, {"status"}).out), Catch::Contains("Svc.extra"));
  CHECK_THAT(read_file(root.path() / "var/run/hub/services/Svc.extra/etc/hub/service.yml"),
             Catch::Contains("greeting:\n  text: hi"));
  CHECK(hubctl(root, {"start", "Plain.extra"}).exit == 1);  // refused: Plain runs no service
  CHECK(hubctl(root, {"stop", "Svc.extra"}).exit == 0);
  CHECK(hubctl(root, {"stop", "Svc.extra"}).exit == 4);  // gone
  CHECK(hubctl(root, {"stop", "Nope"}).exit == 4);
}

TEST_CASE("hubctl publish, inspect and reload", "[hubctl]") {
  TempDir root;
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Svc/custom"});
  const Run published = hubctl(root, {"publish", "Svc/custom", "{\"a\":1}"});
  REQUIRE(published.exit == 0);
  auto event = next_on(sub, "Svc/custom");
  REQUIRE(event);
  CHECK(std::to_string(event->seq) == published.out.at(0));
  CHECK(event->payload() == "{\"a\":1}");
  CHECK(event->source == "admin");
  // The payload from stdin.
  ChildProcess piped("/bin/sh",
                     {"-c", "printf '{\"b\":2}' | " + std::string(HUBCTL_PATH) + " --root " +
                                root.path().string() + " publish Svc/custom -"});
  CHECK(piped.wait_exit() == 0);
  event = next_on(sub, "Svc/custom");
  REQUIRE(event);
  CHECK(event->payload() == "{\"b\":2}");
  CHECK(hubctl(root, {"publish", "no-slash"}).exit == 1);

  const Run json = hubctl(root, {"inspect", "--json"});
  CHECK(json.exit == 0);
  REQUIRE(json.out.size() == 1);
  CHECK(is_valid_json(json.out[0]));
  CHECK_THAT(json.out[0], Catch::Contains("\"instance\":\"Svc\",\"state\":\"running\""));
  const Run text = hubctl(root, {"inspect"});
  CHECK(text.exit == 0);
  CHECK_THAT(joined(text.out), Catch::Contains("bus: ") && Catch::Contains("Svc "));

  const Run reload = hubctl(root, {"reload"});
  CHECK(reload.exit == 0);
  CHECK(reload.out == std::vector<std::string>{"unchanged: Svc"});
  const Run raw = hubctl(root, {"reload", "--json"});
  CHECK(raw.exit == 0);
  CHECK_THAT(raw.out.at(0), Catch::Contains("\"unchanged\":[\"Svc\"]"));
}

TEST_CASE("hubctl logs shows the last lines and follows new ones", "[hubctl]") {
  TempDir root;
  add_module(root, "Talker", "command: os/linux/programs/run\nready: {notify: true}\n");
  add_script(root, "modules/system/Talker/os/linux/programs/run",
             "for i in 1 2 3 4 5; do echo \"line $i\"; done\necho ready >&3\n"
             "while read l < \"$HUB_DATA_DIR/say\"; do echo \"$l\"; done\n");
  fs::create_directories(root.path() / "data/Talker");
  REQUIRE(::mkfifo((root.path() / "data/Talker/say").c_str(), 0600) == 0);
  RunningHub hub(root);
  const Run last = hubctl(root, {"logs", "Talker", "-n", "2"});
  CHECK(last.exit == 0);
  CHECK(last.out == std::vector<std::string>{"line 4", "line 5"});
  CHECK(hubctl(root, {"logs", "Nope"}).exit == 4);

  ChildProcess follow(HUBCTL_PATH, {"--root", root.path(), "logs", "Talker", "-f", "-n", "1"});
  REQUIRE(follow.wait_stdout("line 5"));
  std::ofstream(root.path() / "data/Talker/say") << "said later\n";
  CHECK(follow.wait_stdout("said later"));
  follow.signal(SIGTERM);
  CHECK(follow.wait_exit() == 0);
}

TEST_CASE("hubctl start gives a service that failed for good another try", "[hubctl]") {
  TempDir root;
  add_module(root, "Gives", "command: os/linux/programs/run\nrestart: {policy: 'no'}\n");
  add_script(root, "modules/system/Gives/os/linux/programs/run",
             "[ -e \"$HUB_DATA_DIR/fixed\" ] && exec sleep 1000\nexit 4\n");
  RunningHub hub(root);
  auto failed = hub.subscribe({"Gives/failed"}, /*retained=*/true);
  REQUIRE(next_on(failed, "Gives/failed"));
  CHECK_THAT(
      hubctl(root, {"status", "Gives"}).out.at(0),
      Catch::Contains("FAILED") && Catch::Contains("exited with code 4 (restart policy: no)"));
  CHECK_THAT(hubctl(root, {"inspect", "--json"}).out.at(0),
             Catch::Contains("{\"name\":\"Gives\",\"level\":\"system\",\"version\":\"1.0.0\","
                             "\"state\":\"failed\""));
  root.write("data/Gives/fixed", "");
  CHECK(hubctl(root, {"start", "Gives"}).exit == 0);
  const Run status = hubctl(root, {"status", "Gives"});
  CHECK(status.exit == 0);
  CHECK_THAT(status.out.at(0), Catch::Contains("RUNNING"));
}

TEST_CASE("hubctl logs -f loses and repeats no line across rotations", "[hubctl]") {
  TempDir root;
  add_module(
      root, "Chatty",
      "command: os/linux/programs/run\nready: {notify: true}\nlog: {max_size: 8000, keep: 5}\n");
  add_script(
      root, "modules/system/Chatty/os/linux/programs/run",
      "echo waiting; echo ready >&3\nread go < \"$HUB_DATA_DIR/go\"\n"
      "i=1; while [ $i -le 3000 ]; do echo \"line $i\"; i=$((i+1)); done\nexec sleep 1000\n");
  fs::create_directories(root.path() / "data/Chatty");
  REQUIRE(::mkfifo((root.path() / "data/Chatty/go").c_str(), 0600) == 0);
  RunningHub hub(root);
  ChildProcess follow(HUBCTL_PATH, {"--root", root.path(), "logs", "Chatty", "-f", "-n", "0"});
  REQUIRE(follow.wait_stdout("waiting"));  // following the file before the burst starts
  std::ofstream(root.path() / "data/Chatty/go") << "go\n";
  REQUIRE(follow.wait_stdout("line 3000"));
  follow.signal(SIGTERM);
  REQUIRE(follow.wait_exit() == 0);
  const auto lines = follow.stdout_lines();
  REQUIRE(lines.size() == 3001);
  int wrong = 0;
  for (size_t i = 1; i < lines.size(); ++i) wrong += lines[i] != "line " + std::to_string(i);
  CHECK(wrong == 0);
}
