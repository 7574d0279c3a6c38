// The rest of the module spec on a real hubd: service.yml templates rendered into the
// workspace (at start, at a reload, not at all when broken), the root's system/apps after
// the module's own, $HUB_MODULE_APPLICATIONS, CLASSPATH with real jars run by a real JVM,
// the unprefixed-app warning and info/build.txt in `hubctl status`.
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>

#include <catch2/catch.hpp>

#include "core/modules/module_parts.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string programs() { return "os/" + os_name() + "/programs"; }

// `name` found on PATH, or empty.
std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t from = 0; from <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', from), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(from, end - from)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    from = end + 1;
  }
  return {};
}

void run(const std::string& program, const std::vector<std::string>& args) {
  ChildProcess p(program, args);
  const auto code = p.wait_exit(120s);
  INFO(program << ": " << p.stderr_text());
  REQUIRE(code == 0);
}

}  // namespace

TEST_CASE(
    "a service reads the config its templates rendered; a reload re-renders it; a broken "
    "template fails the start and leaves the last file",
    "[hubd][templates]") {
  TempDir root;
  add_module(root, "Conf",
             "command: " + programs() +
                 "/run\nready: {notify: true}\nrestart: {policy: 'no'}\n"
                 "templates:\n  - {source: templates/app.conf.st, target: etc/app.conf, mode: "
                 "0600}\n");
  root.write("modules/system/Conf/templates/app.conf.st",
             "port=<port>\ninstance=<instance.name>\n<extra>");
  root.write("config/system/modules/Conf/conf.yml", "port: 8080\n");
  add_script(root, "modules/system/Conf/" + programs() + "/run",
             "cat etc/app.conf > \"$HUB_DATA_DIR/seen\"\necho ready >&3\nexec sleep 1000\n");
  RunningHub hub(root);
  auto ready = hub.subscribe({"Conf/ready"}, /*retained=*/true);
  REQUIRE(next_on(ready, "Conf/ready"));
  CHECK(read_file(root.path() / "data/Conf/seen") == "port=8080\ninstance=Conf\n");
  CHECK(
      hub.process().wait_stderr("service Conf: templates/app.conf.st uses what its "
                                "configuration does not define, rendered empty: extra"));
  const fs::path rendered = root.path() / "var/run/hub/services/Conf/etc/app.conf";
  struct stat st {};
  REQUIRE(::stat(rendered.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A dynamic instance renders its own, with the configuration it was started with.
  ChildProcess start(HUBCTL_PATH, {"--root", root.path(), "start", "Conf.b", "port=7070"});
  REQUIRE(start.wait_exit() == 0);
  CHECK(read_file(root.path() / "var/run/hub/services/Conf.b/etc/app.conf") ==
        "port=7070\ninstance=Conf.b\n");
  CHECK(read_file(rendered) == "port=8080\ninstance=Conf\n");

  auto sub = hub.subscribe({"Conf/ready", "Conf/failed", "Hub/reload"});
  root.write("config/system/modules/Conf/conf.yml", "port: 9090\n");
  hub.process().signal(SIGHUP);
  REQUIRE(next_on(sub, "Conf/ready"));
  CHECK(read_file(root.path() / "data/Conf/seen") == "port=9090\ninstance=Conf\n");
  REQUIRE(next_on(sub, "Hub/reload"));

  // The template itself changed: a reload renders it again, and this one is broken.
  root.write("modules/system/Conf/templates/app.conf.st", "port=<endif>\n");
  hub.process().signal(SIGHUP);
  const auto failed = next_on(sub, "Conf/failed");
  REQUIRE(failed);
  const std::string reason = json_field(failed->payload(), "reason");
  CHECK(reason == "cannot render its templates: templates[0] (etc/app.conf): " +
                      (root.path() / "modules/system/Conf/templates/app.conf.st").string() +
                      ":1:6: <endif> without an open <if>");
  CHECK(read_file(rendered) == "port=9090\ninstance=Conf\n");  // the last run's, whole
  const auto reload = next_on(sub, "Hub/reload");
  REQUIRE(reload);
  CHECK(json_field(reload->payload(), "failed") == "[\"Conf\"]");
}

TEST_CASE(
    "the module's apps come before the root's system/apps on PATH; applications are "
    "named, not put on PATH",
    "[hubd][parts]") {
  TempDir root;
  add_module(root, "Paths", "command: " + programs() + "/run\nready: {notify: true}\n");
  add_script(root, "modules/system/Paths/system/apps/Paths-which", "echo module\n");
  add_script(root, "system/apps/Paths-which", "echo root\n");
  add_script(root, "system/apps/shared-tool", "echo shared\n");
  add_script(root, "modules/system/Paths/os/" + os_name() + "/applications/big/bin/big",
             "echo big\n");
  add_script(root, "modules/system/Paths/" + programs() + "/run",
             "{ Paths-which; shared-tool; \"$HUB_MODULE_APPLICATIONS/big/bin/big\";\n"
             "  command -v big || echo 'big: not on PATH'; } > \"$HUB_DATA_DIR/out\" 2>&1\n"
             "echo ready >&3\nexec sleep 1000\n");
  RunningHub hub(root);
  auto ready = hub.subscribe({"Paths/ready"}, /*retained=*/true);
  REQUIRE(next_on(ready, "Paths/ready"));
  CHECK(read_file(root.path() / "data/Paths/out") == "module\nshared\nbig\nbig: not on PATH\n");
}

TEST_CASE("a module's service runs `java Main` with its jars and the root's on CLASSPATH",
          "[hubd][parts][java]") {
  const std::string javac = on_path("javac"), jar = on_path("jar");
  if (javac.empty() || jar.empty())
    FAIL("javac and jar are needed (.ci/setup installs default-jdk-headless)");
  TempDir root, src;
  // The root's lib.jar: Lib, and a Which the module's own must shadow.
  src.write("lib/Lib.java",
            "public class Lib { public static String greet() { return \"lib\"; } }\n");
  src.write("lib/Which.java",
            "public class Which { public static String who() { return \"root\"; } }\n");
  src.write("app/Which.java",
            "public class Which { public static String who() { return \"module\"; } }\n");
  src.write("app/Main.java",
            "import java.io.FileOutputStream;\n"
            "import java.nio.file.Files;\nimport java.nio.file.Path;\n"
            "public class Main {\n"
            "  public static void main(String[] args) throws Exception {\n"
            "    Files.writeString(Path.of(System.getenv(\"HUB_DATA_DIR\"), \"out\"),\n"
            "                      Which.who() + \" \" + Lib.greet() + \"\\n\");\n"
            "    try (FileOutputStream ready = new FileOutputStream(\"/dev/fd/\" + "
            "System.getenv(\"HUB_NOTIFY_FD\"))) {\n"
            "      ready.write(\"ready\\n\".getBytes());\n"
            "    }\n"
            "    Thread.sleep(1000000);\n"
            "  }\n"
            "}\n");
  const fs::path s = src.path();
  run(javac, {"-d", (s / "lib-classes").string(), (s / "lib/Lib.java").string(),
              (s / "lib/Which.java").string()});
  run(javac, {"-cp", (s / "lib-classes").string(), "-d", (s / "app-classes").string(),
              (s / "app/Main.java").string(), (s / "app/Which.java").string()});
  fs::create_directories(root.path() / "system/jars");
  fs::create_directories(root.path() / "modules/system/Jar/system/jars");
  run(jar, {"cf", (root.path() / "system/jars/lib.jar").string(), "-C",
            (s / "lib-classes").string(), "."});
  run(jar, {"cf", (root.path() / "modules/system/Jar/system/jars/app.jar").string(), "-C",
            (s / "app-classes").string(), "."});

  add_module(root, "Jar",
             "command: java\nargs: [Main]\nready: {notify: true, timeout: 60s}\n"
             "stop: {grace: 2s}\n");
  RunningHub hub(root);
  auto ready = hub.subscribe({"Jar/ready", "Jar/failed"}, /*retained=*/true);
  const auto event = next_on(ready, "Jar/ready", 90s);
  INFO(read_file(root.path() / "var/log/hub/Jar.log"));
  REQUIRE(event);
  CHECK(read_file(root.path() / "data/Jar/out") == "module lib\n");
}

TEST_CASE(
    "an app not named after its module is loaded with a warning; status shows it and "
    "info/build.txt",
    "[hubd][parts]") {
  TempDir root;
  add_module(root, "Tools", "");
  root.write("modules/system/Tools/info/build.txt",
             "Tools 1.0 built by ci\nsecond line\nthird\nfourth, not shown\n");
  add_script(root, "modules/system/Tools/system/apps/Tools-ok", "true\n");
  add_script(root, "modules/system/Tools/system/apps/helper", "true\n");
  RunningHub hub(root);
  const std::string warning =
      "system/apps/helper is not named after its module (Tools-..., the convention that keeps "
      "every module's apps apart on PATH); loaded anyway";
  CHECK(hub.process().wait_stderr("module Tools: " + warning));
  auto loaded = hub.subscribe({"Tools/loaded"}, /*retained=*/true);
  const auto event = next_on(loaded, "Tools/loaded");
  REQUIRE(event);
  CHECK_THAT(std::string(event->payload()), Catch::Contains("\"warnings\":[\"" + warning + "\"]"));

  ChildProcess status(HUBCTL_PATH, {"--root", root.path(), "status", "Tools"});
  REQUIRE(status.wait_exit() == 0);
  const auto lines = status.stdout_lines();
  REQUIRE(lines.size() == 5);
  CHECK_THAT(lines[0], Catch::StartsWith("Tools   UP"));
  CHECK(lines[1] == "  Tools build: Tools 1.0 built by ci");
  CHECK(lines[2] == "  Tools build: second line");
  CHECK(lines[3] == "  Tools build: third");
  CHECK(lines[4] == "  Tools warning: " + warning);

  ChildProcess inspect(HUBCTL_PATH, {"--root", root.path(), "inspect", "--json"});
  REQUIRE(inspect.wait_exit() == 0);
  const std::string json = inspect.stdout_lines().at(0);
  CHECK_THAT(json, Catch::Contains("\"build\":\"Tools 1.0 built by ci\\nsecond line\\nthird\""));
  CHECK_THAT(json, Catch::Contains("\"warnings\":[\"" + warning + "\"]"));
}
