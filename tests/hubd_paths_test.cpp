// hub.yml paths: a hub whose every place is elsewhere (as an installed hub's are in the
// FHS) runs there and leaves the root's default places alone; hubctl and bus-tap find it
// without a flag; `hubd --check` reports a tree without disturbing a running hub.
#include <signal.h>

#include <catch2/catch.hpp>

#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit = -1;
  std::string out;
  std::string err;
};

// `program args...` run by /bin/sh in `cwd`, with neither $HUB_ROOT nor $HUB_YML set.
Run run_in(const fs::path& cwd, const std::string& program, const std::vector<std::string>& args) {
  std::string line =
      "cd '" + cwd.string() + "' && exec env -u HUB_ROOT -u HUB_YML '" + program + "'";
  for (const auto& a : args) line += " '" + a + "'";
  ChildProcess p("/bin/sh", {"-c", line});
  Run r;
  r.exit = p.wait_exit(60s).value_or(-1);
  for (const auto& l : p.stdout_lines()) r.out += l + "\n";
  r.err = p.stderr_text();
  return r;
}

// Writes TREE/LEVEL/NAME/ (in `dir`, relative) with info files and a service.yml.
void add_tree_module(const TempDir& dir, const std::string& tree, const std::string& level,
                     const std::string& name, const std::string& version,
                     const std::string& service_yml = "", const std::string& depends = "") {
  const std::string at = tree + "/" + level + "/" + name + "/";
  dir.write(at + "info/version.txt", version + "\n");
  dir.write(at + "info/depends.txt", depends);
  if (!service_yml.empty()) dir.write(at + "service.yml", service_yml);
}

// Every path under `dir`, relative, sorted.
std::vector<std::string> everything_in(const fs::path& dir) {
  std::vector<std::string> all;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    all.push_back(e.path().lexically_relative(dir).string());
  }
  std::sort(all.begin(), all.end());
  return all;
}

// The hub.yml that puts every place of a root under `places`, absolute.
std::string moved_paths(const TempDir& places) {
  const std::string p = places.path().string();
  return "paths:\n"
         "  config: " +
         p +
         "/config\n"
         "  modules: [" +
         p + "/packaged, " + p +
         "/admin]\n"
         "  events: " +
         p +
         "/events\n"
         "  data: " +
         p +
         "/data\n"
         "  run: " +
         p +
         "/run\n"
         "  db: " +
         p +
         "/db\n"
         "  log: " +
         p + "/log\n";
}

}  // namespace

TEST_CASE("a hub whose paths: move every place runs there, and nothing under the root",
          "[hubd][paths]") {
  TempDir root, places;
  const fs::path& p = places.path();
  root.write("config/hub.yml", moved_paths(places));
  // The packaged Svc would fail at once; the administrator's copy at the same level wins.
  add_tree_module(places, "packaged", "system", "Svc", "1.0.0", "command: /bin/false\n");
  add_tree_module(places, "admin", "system", "Svc", "1.1.0",
                  "command: os/linux/programs/run\nready: {notify: true}\n");
  add_script(places, "admin/system/Svc/os/linux/programs/run",
             "echo kept > \"$HUB_DATA_DIR/kept\"\necho said-hello\necho ready >&3\n"
             "exec sleep 1000\n");
  add_tree_module(places, "packaged", "system", "Base", "2.0.0");
  places.write("config/site/modules/Svc/greeting.yml", "greeting: hello\n");
  // A site script that reaches the hub back with hubctl, as scripts do ($HUB_ROOT, $HUB_YML).
  add_script(places, "events/Svc/started/10-note",
             std::string("exec '") + HUBCTL_PATH +
                 "' publish --retain Site/noted '{\"by\":\"'\"$1\"'\"}'\n");

  RunningHub hub(root);
  CHECK(hub.layout().run_dir() == p / "run");
  Subscriber sub = hub.subscribe({"+/shadowed", "Svc/loaded", "Site/noted"}, /*retained=*/true);
  const auto shadowed = next_on(sub, "Svc/shadowed");
  REQUIRE(shadowed);
  CHECK(json_field(shadowed->payload(), "by_path") == (p / "admin/system/Svc").string());
  CHECK_THAT(std::string(shadowed->payload()),
             Catch::Contains((p / "packaged/system/Svc").string()));
  const auto loaded = next_on(sub, "Svc/loaded");
  REQUIRE(loaded);
  CHECK(json_field(loaded->payload(), "version") == "1.1.0");
  const auto noted = next_on(sub, "Site/noted");  // the site's events/, and hubctl found it
  REQUIRE(noted);
  CHECK(json_field(noted->payload(), "by") == "Svc");

  // Every place is where paths: says.
  CHECK(fs::exists(p / "run/api.sock"));
  CHECK(fs::exists(p / "run/hubd.lock"));
  CHECK(fs::is_directory(p / "run/services/Svc"));
  CHECK_THAT(read_file(p / "run/modules/Svc/config.yml"), Catch::Contains("greeting: hello"));
  CHECK(fs::exists(p / "db/admin.cred"));
  CHECK(fs::is_directory(p / "db/journal"));
  CHECK(read_file(p / "data/Svc/kept") == "kept\n");
  CHECK_THAT(read_file(p / "log/hubd.log"), Catch::Contains("hub is up"));
  CHECK_THAT(read_file(p / "log/Svc.log"), Catch::Contains("said-hello"));

  // hubctl and bus-tap, started in the root with no flag, find the hub through hub.yml.
  const Run status = run_in(root.path(), HUBCTL_PATH, {"status", "Svc"});
  CHECK(status.exit == 0);
  CHECK_THAT(status.out, Catch::Contains("Svc"));
  const Run logs = run_in(root.path(), HUBCTL_PATH, {"logs", "Svc"});
  CHECK(logs.exit == 0);
  CHECK_THAT(logs.out, Catch::Contains("said-hello"));
  const Run tap = run_in(root.path(), BUS_TAP_PATH, {"-C", "1", "-W", "20", "Hub/startup"});
  CHECK(tap.exit == 0);
  CHECK_THAT(tap.out, Catch::Contains("Hub/startup"));
  // From elsewhere, --root says which hub.
  TempDir elsewhere;
  CHECK(run_in(elsewhere.path(), HUBCTL_PATH, {"--root", root.path().string(), "status"}).exit ==
        0);

  REQUIRE(hub.stop() == 0);
  CHECK_FALSE(fs::exists(p / "run/api.sock"));
  CHECK(fs::exists(p / "db/consumers/scripts"));
  CHECK(fs::exists(p / "log/scripts/_site.log"));
  // The root holds its hub.yml, and nothing hubd made.
  CHECK(everything_in(root.path()) == std::vector<std::string>{"config", "config/hub.yml"});
}

TEST_CASE("hubd --check names every problem of a tree and exits 3", "[hubd][paths][check]") {
  TempDir root, places;
  const fs::path& p = places.path();
  root.write("config/hub.yml", moved_paths(places));
  add_tree_module(places, "packaged", "system", "Good", "1.0.0");
  add_tree_module(places, "packaged", "system", "Twice", "1.0.0");
  add_tree_module(places, "admin", "system", "Twice", "1.2.0");
  add_tree_module(places, "admin", "site", "NoVersion", "x.y");
  add_tree_module(places, "admin", "site", "Lonely", "1.0.0", "", "Missing\n");
  add_tree_module(places, "admin", "site", "Picky", "1.0.0",
                  "command: /bin/sleep\nargs: ['1000']\ncheck: {command: vet}\n");
  add_script(places, "admin/site/Picky/os/linux/programs/vet",
             "for f; do grep -q 'mode: fast' \"$f\" && exit 0; done\n"
             "echo \"$1:1: mode must be fast\"; exit 1\n");
  places.write("config/site/modules/Picky/picky.yml", "mode: slow\n");
  add_tree_module(places, "admin", "site", "BadSpec", "1.0.0",
                  "command: /bin/true\nrestart: {policy: sometimes}\n");

  const Run check = run_in(root.path(), HUBD_PATH, {"--root", root.path().string(), "--check"});
  INFO(check.out << check.err);
  CHECK(check.exit == 3);
  CHECK_THAT(check.out, Catch::Contains("run      " + (p / "run").string()));
  CHECK_THAT(check.out, Catch::Contains("loaded    Good 1.0.0"));
  CHECK_THAT(check.out, Catch::Contains("loaded    Twice 1.2.0 (level system, " +
                                        (p / "admin/system/Twice").string()));
  CHECK_THAT(check.out, Catch::Contains("shadowed  Twice (level system, " +
                                        (p / "packaged/system/Twice").string() + ") by " +
                                        (p / "admin/system/Twice").string()));
  CHECK_THAT(check.out, Catch::Contains("rejected  NoVersion"));
  CHECK_THAT(check.out, Catch::Contains("info/version.txt:1:"));
  CHECK_THAT(check.out, Catch::Contains("rejected  Lonely"));
  CHECK_THAT(check.out, Catch::Contains("missing dependency Missing"));
  CHECK_THAT(check.out, Catch::Contains("rejected  Picky"));
  CHECK_THAT(check.out, Catch::Contains("mode must be fast"));
  CHECK_THAT(check.out, Catch::Contains("rejected  BadSpec"));
  CHECK_THAT(check.out, Catch::Contains("restart.policy"));
  CHECK_THAT(check.out, Catch::Contains("2 loaded, 1 shadowed, 4 rejected"));
  // It made nothing: no run, db or log directory, anywhere.
  CHECK_FALSE(fs::exists(p / "run"));
  CHECK_FALSE(fs::exists(p / "db"));
  CHECK_FALSE(fs::exists(p / "log"));
  CHECK(everything_in(root.path()) == std::vector<std::string>{"config", "config/hub.yml"});

  // A place hubd could not make.
  places.write("a-file", "");
  root.write("config/hub.yml", "paths:\n  log: " + (p / "a-file/log").string() + "\n");
  const Run unwritable = run_in(root.path(), HUBD_PATH, {"--check"});
  CHECK(unwritable.exit == 3);
  CHECK_THAT(unwritable.out, Catch::Contains("problem   " + (p / "a-file/log").string() + ": " +
                                             (p / "a-file").string() + " is not a directory"));

  // A bad hub.yml: every problem, exit 3.
  root.write("config/hub.yml", "paths:\n  run: ../run\n  db: [x]\n");
  const Run bad = run_in(root.path(), HUBD_PATH, {"--check"});
  CHECK(bad.exit == 3);
  CHECK_THAT(bad.out, Catch::Contains("hub.yml:2:8: paths.run: expected a directory"));
  CHECK_THAT(bad.out, Catch::Contains("hub.yml:3:7: paths.db: expected a string"));
}

TEST_CASE("hubd --check on a good tree exits 0, next to the hub it checks, leaving it alone",
          "[hubd][paths][check]") {
  TempDir root;
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n");
  add_module(root, "Svc", "command: /bin/sleep\nargs: ['1000']\n", "", "site");
  RunningHub hub(root);
  Subscriber sub = hub.subscribe({"#"});
  const auto lock_before = fs::last_write_time(root.path() / "var/run/hub/hubd.lock");
  const auto log_size = fs::file_size(root.path() / "var/log/hub/hubd.log");

  const Run check = run_in(root.path(), HUBD_PATH, {"--check"});
  INFO(check.out << check.err);
  CHECK(check.exit == 0);
  CHECK_THAT(check.out, Catch::Contains("hub.yml " + (root.path() / "config/hub.yml").string() +
                                        ": absent, built-in defaults"));
  CHECK_THAT(check.out, Catch::Contains("loaded    Svc 1.0.0 (level site"));
  CHECK_THAT(check.out, Catch::Contains("shadowed  Svc (level system"));
  CHECK_THAT(check.out, Catch::Contains("1 loaded, 1 shadowed, 0 rejected, 0 other problems"));

  // The running hub noticed nothing: same sockets, lock and log; nothing published; it
  // still answers and stops cleanly.
  CHECK(fs::exists(root.path() / "var/run/hub/api.sock"));
  CHECK(fs::last_write_time(root.path() / "var/run/hub/hubd.lock") == lock_before);
  CHECK(fs::file_size(root.path() / "var/log/hub/hubd.log") == log_size);
  CHECK(run_in(root.path(), HUBCTL_PATH, {"status", "Svc"}).exit == 0);
  REQUIRE(run_in(root.path(), HUBCTL_PATH, {"publish", "Test/after"}).exit == 0);
  CHECK_THAT(next_line(sub), Catch::StartsWith("Test/after "));  // the first event since
  CHECK(process_alive(hub.process().pid()));
  CHECK(hub.stop() == 0);
}

// hubd makes its places private at start, so a place that is the root itself would change
// the root's own mode (with `--root /`, that of / itself): such a hub.yml is refused.
TEST_CASE("hubd leaves the root's mode alone when paths.run is the root", "[hubd][paths]") {
  TempDir root;
  root.write("config/hub.yml", "paths:\n  run: .\n");
  fs::permissions(root.path(), fs::perms(0755));
  const Run start = run_in(root.path(), HUBD_PATH, {"--root", root.path().string()});
  CHECK(start.exit == 3);
  CHECK_THAT(start.err, Catch::Contains("paths.run: expected a directory of its own"));
  CHECK(fs::status(root.path()).permissions() == fs::perms(0755));
}

// hubd refuses to start when services.group names no group (prepare_root): --check says so.
TEST_CASE("hubd --check names a services.group that does not exist", "[hubd][paths][check]") {
  TempDir root;
  root.write("config/hub.yml", "services:\n  group: no-such-group-for-hub\n");
  const Run check = run_in(root.path(), HUBD_PATH, {"--check"});
  INFO(check.out << check.err);
  CHECK(check.exit == 3);
  CHECK_THAT(check.out, Catch::Contains("no-such-group-for-hub"));
  const Run start = run_in(root.path(), HUBD_PATH, {});
  CHECK(start.exit != 0);  // as --check foresaw
}
