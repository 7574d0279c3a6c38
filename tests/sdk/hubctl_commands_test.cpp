// hubctl's operator spellings against a real hubd: global options anywhere, --json on
// every command, pid, avail, signal, reread, publish as mosquitto_pub, logs of event
// scripts with --since and JSON lines, --version on every tool.
#include <signal.h>

#include <fstream>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "bus/text.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit = -1;
  std::vector<std::string> out;
  std::string err;
};

// hubctl with ARGS as given: the root goes last, after the command's own arguments.
Run hubctl(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.end(), {"--root", root.path().string()});
  ChildProcess p(HUBCTL_PATH, args);
  Run r;
  r.exit = p.wait_exit().value_or(-1);
  r.out = p.stdout_lines();
  r.err = p.stderr_text();
  return r;
}

// `shell_input | hubctl ARGS --root ROOT`
Run hubctl_fed(const TempDir& root, const std::string& shell_input, const std::string& args) {
  ChildProcess p("/bin/sh", {"-c", shell_input + " | " + std::string(HUBCTL_PATH) + " " + args +
                                       " --root " + root.path().string()});
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

const char* const kHupService = "command: os/linux/programs/run\nready: {notify: true}\n";
const char* const kHupProgram =
    "trap 'echo \"got HUP\"' HUP\necho listening\necho ready >&3\nwhile :; do sleep 1000 & wait "
    "$!; done\n";

}  // namespace

TEST_CASE("hubctl takes global options after the command, and --json on every command",
          "[hubctl]") {
  TempDir root;
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n");
  add_module(root, "Plain", "");
  RunningHub hub(root);

  const Run status = hubctl(root, {"status", "Svc", "--json"});
  CHECK(status.exit == 0);
  REQUIRE(status.out.size() == 1);
  CHECK(is_valid_json(status.out[0]));
  CHECK_THAT(status.out[0], Catch::StartsWith("[{\"name\":\"Svc\",\"state\":\"RUNNING\","));
  // The facts as data, not only as the text of the table.
  const YAML::Node row = YAML::Load(status.out[0])[0];
  CHECK(row["pid"].as<int64_t>() > 1);
  CHECK(row["uptime_ms"].as<int64_t>() >= 0);
  CHECK(row["restarts"].as<int64_t>() == 0);
  CHECK(hubctl(root, {"status", "-o", "json"}).out.size() == 1);
  CHECK(hubctl(root, {"status", "Nope", "--json"}).exit == 4);
  CHECK(hubctl(root, {"inspect", "--json"}).exit == 0);
  CHECK(hubctl(root, {"--json", "inspect"}).exit == 0);  // before the command too

  const Run stop = hubctl(root, {"stop", "Svc", "--json"});
  CHECK(stop.exit == 0);
  CHECK(stop.out == std::vector<std::string>{"{}"});
  const Run start = hubctl(root, {"start", "Svc", "--json"});
  CHECK(start.exit == 0);
  CHECK(start.out == std::vector<std::string>{"{}"});
  CHECK(hubctl(root, {"start", "Svc", "--json"}).out ==
        std::vector<std::string>{"{\"already\":\"running\"}"});
  const Run every = hubctl(root, {"restart", "all", "--json"});
  CHECK(every.exit == 0);
  CHECK_THAT(every.out.at(0), Catch::Contains("\"started\":[\"Plain\",\"Svc\"]"));
  CHECK(hubctl(root, {"disable", "Plain", "--json"}).out ==
        std::vector<std::string>{"{\"enabled\":false}"});
  CHECK_THAT(hubctl(root, {"enable", "Plain", "--json"}).out.at(0),
             Catch::StartsWith("{\"enabled\":true"));
  const Run keys = hubctl(root, {"keygen", "--json"});
  CHECK(keys.exit == 0);
  CHECK_THAT(keys.out.at(0), Catch::StartsWith("{\"public\":\"") && Catch::Contains("\"secret\""));
  CHECK(hubctl(root, {"reload", "--json"}).exit == 0);
  const Run published = hubctl(root, {"publish", "Svc/x", "{}", "--json"});
  CHECK(published.exit == 0);
  CHECK_THAT(published.out.at(0),
             Catch::Matches("\\{\"seq\":[0-9]+,\"topic\":\"Svc/x\",\"content_type\":"
                            "\"application/json\",\"retained\":false\\}"));
  CHECK(hubctl(root, {"status", "--timeout", "soon"}).exit == 2);
}

TEST_CASE("every tool prints its version", "[hubctl]") {
  for (const auto& [program, name] :
       std::vector<std::pair<std::string, std::string>>{{HUBCTL_PATH, "hubctl"},
                                                        {BUS_TAP_PATH, "bus-tap"},
                                                        {HUBD_PATH, "hubd"},
                                                        {BRIDGE_PATH, "bridge"}}) {
    ChildProcess p(program, {"--version"});
    CHECK(p.wait_exit() == 0);
    const auto out = p.stdout_lines();
    REQUIRE(out.size() == 1);
    CHECK_THAT(out[0],
               Catch::StartsWith(name + " ") && Catch::EndsWith(std::string(" ") + HUB_VERSION));
  }
  ChildProcess anywhere(HUBCTL_PATH, {"status", "Svc", "--version"});
  CHECK(anywhere.wait_exit() == 0);
  CHECK(anywhere.stdout_lines() == std::vector<std::string>{std::string("hubctl ") + HUB_VERSION});
}

TEST_CASE("hubctl pid, avail and signal", "[hubctl]") {
  TempDir root;
  add_module(root, "Hup", kHupService);
  add_script(root, "modules/system/Hup/os/linux/programs/run", kHupProgram);
  add_module(root, "Plain", "");
  RunningHub hub(root);

  const Run hubd = hubctl(root, {"pid"});
  CHECK(hubd.exit == 0);
  CHECK(hubd.out == std::vector<std::string>{std::to_string(hub.process().pid())});
  const Run pid = hubctl(root, {"pid", "Hup"});
  CHECK(pid.exit == 0);
  REQUIRE(pid.out.size() == 1);
  CHECK_THAT(hubctl(root, {"status", "Hup"}).out.at(0), Catch::Contains("pid " + pid.out[0]));
  CHECK(hubctl(root, {"pid", "all"}).out == std::vector<std::string>{"Hup " + pid.out[0]});
  CHECK(hubctl(root, {"pid", "Hup", "--json"}).out ==
        std::vector<std::string>{"{\"instance\":\"Hup\",\"pid\":" + pid.out[0] + "}"});
  const Run plain = hubctl(root, {"pid", "Plain"});
  CHECK(plain.exit == 1);  // no process
  CHECK(plain.out == std::vector<std::string>{"0"});
  CHECK(hubctl(root, {"pid", "Nope"}).exit == 4);
  CHECK(hubctl(root, {"pid", "a", "b"}).exit == 2);

  const Run avail = hubctl(root, {"avail"});
  CHECK(avail.exit == 0);
  REQUIRE(avail.out.size() == 2);
  CHECK_THAT(avail.out[0], Catch::Matches("Hup +in use +enabled +system +1\\.0\\.0"));
  CHECK_THAT(avail.out[1], Catch::Matches("Plain +in use +enabled +system +1\\.0\\.0"));
  hubctl(root, {"disable", "Plain"});
  CHECK_THAT(hubctl(root, {"avail"}).out.at(1),
             Catch::Matches("Plain +avail +disabled +system +1\\.0\\.0"));
  CHECK_THAT(hubctl(root, {"avail", "--json"}).out.at(0),
             Catch::Contains("{\"name\":\"Plain\",\"level\":\"system\",\"version\":\"1.0.0\","
                             "\"state\":\"stopped\",\"in_use\":false,\"enabled\":false}"));

  ChildProcess log(HUBCTL_PATH, {"logs", "Hup", "-f", "--root", root.path()});
  REQUIRE(log.wait_stdout("listening"));
  const Run signalled = hubctl(root, {"signal", "HUP", "Hup"});
  CHECK(signalled.exit == 0);
  CHECK(signalled.out ==
        std::vector<std::string>{"signalled Hup (pid " + pid.out[0] + ") with SIGHUP"});
  CHECK(log.wait_stdout("got HUP"));
  CHECK_THAT(hubctl(root, {"signal", "sighup", "all", "--json"}).out.at(0),
             Catch::Equals("{\"signal\":\"SIGHUP\",\"signalled\":[{\"instance\":\"Hup\",\"pid\":" +
                           pid.out[0] + "}]}"));
  CHECK(hubctl(root, {"signal", "1", "Hup"}).exit == 0);
  CHECK(hubctl(root, {"pid", "Hup"}).out == pid.out);  // trapped: the same process
  const Run bogus = hubctl(root, {"signal", "BOGUS", "Hup"});
  CHECK(bogus.exit == 1);
  CHECK_THAT(bogus.err, Catch::Contains("must name a signal"));
  CHECK_THAT(hubctl(root, {"signal", "HUP", "Plain"}).err,
             Catch::Contains("module Plain runs no service"));
  CHECK(hubctl(root, {"signal", "HUP", "Nope"}).exit == 4);
  CHECK(hubctl(root, {"signal", "HUP"}).exit == 2);
  log.signal(SIGTERM);
  CHECK(log.wait_exit() == 0);
}

TEST_CASE("hubctl reread tells what a reload would change, and changes nothing", "[hubctl]") {
  TempDir root;
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n");
  add_module(root, "Plain", "");
  RunningHub hub(root);
  const Run nothing = hubctl(root, {"reread"});
  CHECK(nothing.exit == 0);
  CHECK(nothing.out == std::vector<std::string>{"unchanged: Plain, Svc"});

  const std::string pid = hubctl(root, {"pid", "Svc"}).out.at(0);
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['999']\n");
  add_module(root, "Fresh", "");
  add_module(root, "Broken", "");
  root.write("modules/system/Broken/info/version.txt", "one\n");
  const Run reread = hubctl(root, {"reread"});
  CHECK(reread.exit == 1);  // a module would be rejected
  REQUIRE(reread.out.size() == 4);
  CHECK(reread.out[0] == "would add: Fresh");
  CHECK(reread.out[1] == "would restart: Svc");
  CHECK(reread.out[2] == "unchanged: Plain");
  CHECK_THAT(reread.out[3], Catch::StartsWith("rejected: Broken: ") &&
                                Catch::Contains("version.txt:1: expected MAJOR.MINOR.RELEASE"));
  const Run json = hubctl(root, {"reread", "--json"});
  CHECK_THAT(json.out.at(0), Catch::StartsWith("{\"dry_run\":true,\"added\":[\"Fresh\"],") &&
                                 Catch::Contains("\"reasons\":{\"Broken\":"));
  // Nothing was done: the same process, no new module.
  CHECK(hubctl(root, {"pid", "Svc"}).out.at(0) == pid);
  CHECK(hubctl(root, {"status", "Fresh"}).exit == 4);

  const Run reload = hubctl(root, {"reload"});
  CHECK_THAT(joined(reload.out),
             Catch::Contains("added: Fresh") && Catch::Contains("changed: Svc"));
  CHECK(hubctl(root, {"pid", "Svc"}).out.at(0) != pid);
}

TEST_CASE("hubctl publish as mosquitto_pub: -t -m -r -n -s -l -f and the content type",
          "[hubctl]") {
  TempDir root;
  RunningHub hub(root);
  auto sub = hub.subscribe({"Pub/#"});
  const auto next = [&](const std::string& topic) {
    auto event = next_on(sub, topic);
    REQUIRE(event);
    return std::make_pair(std::string(event->payload()), event->content_type);
  };

  CHECK(hubctl(root, {"publish", "-t", "Pub/text", "-m", "hello"}).exit == 0);
  CHECK(next("Pub/text") ==
        std::make_pair(std::string("hello"), std::string("text/plain; charset=utf-8")));
  CHECK(hubctl(root, {"publish", "-t", "Pub/json", "-m", "{\"a\": 1}"}).exit == 0);
  CHECK(next("Pub/json") ==
        std::make_pair(std::string("{\"a\": 1}"), std::string("application/json")));
  CHECK(hubctl(root, {"publish", "Pub/default"}).exit == 0);
  CHECK(next("Pub/default") == std::make_pair(std::string("{}"), std::string("application/json")));
  CHECK(
      hubctl(root, {"publish", "-t", "Pub/csv", "-m", "a,b", "--content-type", "text/csv"}).exit ==
      0);
  CHECK(next("Pub/csv").second == "text/csv");

  const fs::path file = root.write("payload.bin", std::string("\x89PNG\x00\xff", 6));
  CHECK(hubctl(root, {"publish", "-t", "Pub/file", "-f", file.string()}).exit == 0);
  CHECK(next("Pub/file") ==
        std::make_pair(std::string("\x89PNG\x00\xff", 6), std::string("application/octet-stream")));
  CHECK(hubctl(root, {"publish", "-t", "Pub/file", "-f", (root.path() / "none").string()}).exit ==
        1);

  CHECK(hubctl_fed(root, "printf 'all\\nof it'", "publish -t Pub/stdin -s").exit == 0);
  CHECK(next("Pub/stdin").first == "all\nof it");
  const Run lines = hubctl_fed(root, "printf 'one\\n\\n{\"n\":2}\\n'", "publish -t Pub/line -l");
  CHECK(lines.exit == 0);
  CHECK(lines.out.size() == 2);  // a number per event; the blank line is not sent
  CHECK(next("Pub/line") ==
        std::make_pair(std::string("one"), std::string("text/plain; charset=utf-8")));
  CHECK(next("Pub/line") ==
        std::make_pair(std::string("{\"n\":2}"), std::string("application/json")));

  // -r retains; -n -r clears the topic's retained event.
  CHECK(hubctl(root, {"publish", "-r", "-t", "Pub/kept", "-m", "v1"}).exit == 0);
  CHECK(next("Pub/kept").first == "v1");
  {
    auto retained = hub.subscribe({"Pub/kept"}, /*retained=*/true);
    auto event = next_on(retained, "Pub/kept");
    REQUIRE(event);
    CHECK(event->payload() == "v1");
  }
  CHECK(hubctl(root, {"publish", "-t", "Pub/kept", "-n", "-r"}).exit == 0);
  CHECK(next("Pub/kept").first.empty());
  ChildProcess none(BUS_TAP_PATH, {"--root", root.path(), "--retained-only", "Pub/#"});
  CHECK(none.wait_exit() == 0);
  CHECK(none.stdout_lines().empty());

  CHECK(hubctl(root, {"publish", "-t", "Pub/x", "-m", "a", "-n"}).exit == 2);
  CHECK(hubctl(root, {"publish", "-m", "a"}).exit == 2);
  CHECK(hubctl(root, {"publish", "-t", "no-slash", "-m", "a"}).exit == 1);  // the hub refuses
}

TEST_CASE("hubctl logs shows a module's event script log, --since and as JSON lines", "[hubctl]") {
  TempDir root;  // logs reads files: no hub needed
  root.write("var/log/hub/scripts/Greeter.log",
             "2026-12-08T01:00:00.000000Z events/Hub-startup: greet.sh exited 0 in 3 ms\n"
             "  | early\n"
             "2026-12-08T02:40:00.000000Z events/Hub-startup: greet.sh exited 1 in 2 ms\n"
             "  ! late\n");
  root.write("var/log/hub/scripts/_site.log",
             "2026-12-08T02:00:00.000000Z events/x: site.sh exited 0 in 1 ms\n");
  root.write("var/log/hub/Svc.log", "plain output\n");

  const Run scripts = hubctl(root, {"logs", "Greeter", "--scripts"});
  CHECK(scripts.exit == 0);
  CHECK(scripts.out.size() == 4);
  // A module with no service log: its scripts' log; supervisorctl's and journalctl's
  // spellings too.
  CHECK(hubctl(root, {"logs", "Greeter"}).out == scripts.out);
  CHECK(hubctl(root, {"tail", "Greeter"}).out == scripts.out);
  CHECK(hubctl(root, {"logs", "-u", "Greeter"}).out == scripts.out);
  CHECK(hubctl(root, {"logs", "Svc", "--scripts"}).exit == 4);
  CHECK(hubctl(root, {"logs", "--scripts"}).out ==
        std::vector<std::string>{"2026-12-08T02:00:00.000000Z events/x: site.sh exited 0 in 1 ms"});

  const Run since = hubctl(root, {"logs", "Greeter", "--scripts", "--since", "2026-12-08 02:00"});
  CHECK(since.exit == 0);
  CHECK(
      since.out ==
      std::vector<std::string>{
          "2026-12-08T02:40:00.000000Z events/Hub-startup: greet.sh exited 1 in 2 ms", "  ! late"});
  CHECK(hubctl(root, {"logs", "Greeter", "-S", "2026-12-08T02:00:00Z", "-n", "1"}).out ==
        std::vector<std::string>{"  ! late"});
  CHECK(hubctl(root, {"logs", "Greeter", "--since", "2030-01-01"}).out.empty());
  CHECK(hubctl(root, {"logs", "Greeter", "--since", "whenever"}).exit == 2);

  const Run json = hubctl(root, {"logs", "Greeter", "-n", "2", "-o", "json"});
  CHECK(json.exit == 0);
  CHECK(json.out ==
        std::vector<std::string>{
            "{\"log\":\"Greeter.log\",\"time\":\"2026-12-08T02:40:00.000000Z\",\"line\":"
            "\"2026-12-08T02:40:00.000000Z events/Hub-startup: greet.sh exited 1 in 2 ms\"}",
            "{\"log\":\"Greeter.log\",\"line\":\"  ! late\"}"});
  CHECK(hubctl(root, {"logs", "Svc", "--json"}).out ==
        std::vector<std::string>{"{\"log\":\"Svc.log\",\"line\":\"plain output\"}"});

  // Following, as JSON lines too: a line is written once it is whole.
  ChildProcess follow(HUBCTL_PATH, {"logs", "Svc", "-f", "-o", "json", "--root", root.path()});
  REQUIRE(follow.wait_stdout("plain output"));
  std::ofstream(root.path() / "var/log/hub/Svc.log", std::ios::app) << "more, 2026-12-08";
  std::ofstream(root.path() / "var/log/hub/Svc.log", std::ios::app) << " later\n";
  CHECK(follow.wait_stdout("{\"log\":\"Svc.log\",\"line\":\"more, 2026-12-08 later\"}"));
  follow.signal(SIGTERM);
  CHECK(follow.wait_exit() == 0);
}
