// The root's layout: every path hubd and its tools use, as README documents it.
#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/root_layout.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("the root layout puts every path where README says", "[layout]") {
  const RootLayout layout("/r");
  CHECK(layout.root() == "/r");
  CHECK(layout.config_file() == "/r/config/hub.yml");
  CHECK(layout.module_config_dir("site", "Timer") == "/r/config/site/modules/Timer");
  CHECK(layout.modules_dirs("system") == std::vector<std::filesystem::path>{"/r/modules/system"});
  CHECK(layout.site_events_dir() == "/r/events");
  CHECK(layout.module_data_dir("Timer") == "/r/data/Timer");

  CHECK(layout.run_dir() == "/r/var/run/hub");
  CHECK(layout.lock_file() == "/r/var/run/hub/hubd.lock");
  CHECK(layout.module_run_dir("Timer") == "/r/var/run/hub/modules/Timer");
  CHECK(layout.module_config_file("Timer") == "/r/var/run/hub/modules/Timer/config.yml");
  CHECK(layout.script_credential_file("Timer") == "/r/var/run/hub/modules/Timer/credential");
  CHECK(layout.workspace_dir("Timer.2") == "/r/var/run/hub/services/Timer.2");
  CHECK(layout.instance_records_dir() == "/r/var/run/hub/instances");
  CHECK(layout.script_records_dir() == "/r/var/run/hub/scripts");

  CHECK(layout.db_dir() == "/r/var/db/hub");
  CHECK(layout.admin_credential() == "/r/var/db/hub/admin.cred");
  CHECK(layout.journal_dir() == "/r/var/db/hub/journal");
  CHECK(layout.consumer_mark_file("scripts") == "/r/var/db/hub/consumers/scripts");

  CHECK(layout.log_dir() == "/r/var/log/hub");
  CHECK(layout.hubd_log() == "/r/var/log/hub/hubd.log");
  CHECK(layout.instance_log("Timer.2") == "/r/var/log/hub/Timer.2.log");
  CHECK(layout.instance_log_dir("Timer.2") == "/r/var/log/hub/services/Timer.2");
  CHECK(layout.script_logs_dir() == "/r/var/log/hub/scripts");
  CHECK(layout.script_log("Timer") == "/r/var/log/hub/scripts/Timer.log");
  CHECK(layout.script_log("") == "/r/var/log/hub/scripts/_site.log");  // the site's
}

TEST_CASE("the bus's paths are the layout's, relative roots staying relative", "[layout]") {
  const RootLayout layout("root");
  const BusPaths bus = layout.bus();
  CHECK(bus.run_dir == "root/var/run/hub");
  CHECK(bus.ingest_socket == "root/var/run/hub/ingest.sock");
  CHECK(bus.events_socket == "root/var/run/hub/events.sock");
  CHECK(bus.replay_socket == "root/var/run/hub/replay.sock");
  CHECK(bus.api_socket == "root/var/run/hub/api.sock");
  CHECK(bus.admin_credential == "root/var/db/hub/admin.cred");

  const BusPaths shorthand = BusPaths::for_root("root");
  CHECK(shorthand.run_dir == bus.run_dir);
  CHECK(shorthand.api_socket == bus.api_socket);
  CHECK(shorthand.admin_credential == bus.admin_credential);
}

TEST_CASE("hub.yml paths: move each place; relative ones stay under the root", "[layout]") {
  RootPlaces places;
  places.config = "etc/hub/config";
  places.modules = {"usr/lib/hub/modules", "/etc/hub/modules"};
  places.events = "/etc/hub/events";
  places.data = "var/lib/hub/data";
  places.run = "/run/hub";
  places.db = "var/lib/hub/db";
  places.log = "/var/log/hub";
  const RootLayout layout("/r", places);
  CHECK(layout.config_file() == "/r/config/hub.yml");  // read before paths: is known
  CHECK(layout.module_config_dir("site", "Timer") == "/r/etc/hub/config/site/modules/Timer");
  CHECK(layout.modules_dirs("site") ==
        std::vector<fs::path>{"/r/usr/lib/hub/modules/site", "/etc/hub/modules/site"});
  CHECK(layout.site_events_dir() == "/etc/hub/events");
  CHECK(layout.module_data_dir("Timer") == "/r/var/lib/hub/data/Timer");
  CHECK(layout.lock_file() == "/run/hub/hubd.lock");
  CHECK(layout.workspace_dir("Timer") == "/run/hub/services/Timer");
  CHECK(layout.bus().api_socket == "/run/hub/api.sock");
  CHECK(layout.bus().admin_credential == "/r/var/lib/hub/db/admin.cred");
  CHECK(layout.journal_dir() == "/r/var/lib/hub/db/journal");
  CHECK(layout.hubd_log() == "/var/log/hub/hubd.log");
  CHECK(layout.script_log("") == "/var/log/hub/scripts/_site.log");
  CHECK(layout.state_dirs() ==
        std::vector<fs::path>{"/run/hub", "/r/var/lib/hub/db", "/var/log/hub"});
}

TEST_CASE("the tools read paths: from hub.yml, and nothing else of it", "[layout]") {
  TempDir dir;
  auto none = read_root_layout("/r", dir.path() / "absent.yml");
  REQUIRE(none);
  CHECK(none->run_dir() == "/r/var/run/hub");

  const auto file = dir.write("hub.yml",
                              "levels: [site]\nbus: {max_payload: 1KiB}\n"
                              "paths:\n  run: /x/run\n  modules: [a, /b]\n  db: state\n"
                              "  system: /usr/lib/hub/system\n");
  auto read = read_root_layout("/r", file);
  REQUIRE(read);
  CHECK(read->run_dir() == "/x/run");
  CHECK(read->db_dir() == "/r/state");
  CHECK(read->modules_dirs("site") == std::vector<fs::path>{"/r/a/site", "/b/site"});
  CHECK(read->log_dir() == "/r/var/log/hub");
  CHECK(read->system_dir() == "/usr/lib/hub/system");
  CHECK(none->system_dir() == "/r/system");

  auto bad = read_root_layout("/r", dir.write("bad.yml", "paths:\n  run: [x]\n"));
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error(), Catch::Contains("bad.yml: paths: run: expected a directory"));
  CHECK_THAT(bad.error(), Catch::Contains("hubd --check"));
  CHECK_FALSE(read_root_layout("/r", dir.write("broken.yml", "paths: [\n")));
}

TEST_CASE("a tool finds $HUB_ROOT, else a root here, else the installed hub", "[layout]") {
  TempDir here, installed;
  const fs::path installed_yml = installed.write("etc/hub/hub.yml", "paths: {run: run/hub}\n");
  const char* saved_root = std::getenv("HUB_ROOT");
  const char* saved_yml = std::getenv("HUB_YML");
  const std::string root_value = saved_root ? saved_root : "";
  const std::string yml_value = saved_yml ? saved_yml : "";
  ::unsetenv("HUB_ROOT");
  ::unsetenv("HUB_YML");

  // Not a root here: the installed hub, when its hub.yml exists.
  HubLocation found = locate_hub(here.path(), installed_yml);
  CHECK(found.root == "/");
  CHECK(found.config_file == installed_yml);
  found = locate_hub(here.path(), installed.path() / "nothing.yml");
  CHECK(found.root == here.path());
  CHECK(found.config_file == here.path() / "config/hub.yml");

  // A root here (its hub.yml, or a hub that ran here) wins over the installed hub.
  fs::create_directories(here.path() / "var/run/hub");
  CHECK(locate_hub(here.path(), installed_yml).root == here.path());
  fs::remove_all(here.path() / "var");
  here.write("config/hub.yml", "");
  CHECK(locate_hub(here.path(), installed_yml).root == here.path());

  // In /, the installed hub (whose /run/hub /var/run/hub may well be).
  CHECK(locate_hub("/", installed_yml).config_file == installed_yml);

  // $HUB_ROOT wins over both, with $HUB_YML as its hub.yml when set.
  ::setenv("HUB_ROOT", "/elsewhere", 1);
  found = locate_hub(here.path(), installed_yml);
  CHECK(found.root == "/elsewhere");
  CHECK(found.config_file == "/elsewhere/config/hub.yml");
  ::setenv("HUB_YML", "/etc/other.yml", 1);
  CHECK(locate_hub(here.path(), installed_yml).config_file == "/etc/other.yml");

  if (saved_root)
    ::setenv("HUB_ROOT", root_value.c_str(), 1);
  else
    ::unsetenv("HUB_ROOT");
  if (saved_yml)
    ::setenv("HUB_YML", yml_value.c_str(), 1);
  else
    ::unsetenv("HUB_YML");
}

TEST_CASE("a root whose hub.yml is installed in etc/hub is found there", "[layout]") {
  hub::test::TempDir root;
  CHECK(RootLayout(root.path()).config_file() == root.path() / "config/hub.yml");
  root.write("etc/hub/hub.yml", "levels: [system]\n");
  CHECK(RootLayout(root.path()).config_file() == root.path() / "etc/hub/hub.yml");
  root.write("config/hub.yml", "levels: [system]\n");  // a checkout's own wins
  CHECK(RootLayout(root.path()).config_file() == root.path() / "config/hub.yml");
}

TEST_CASE("the tools refuse a hub.yml with a key given twice, naming both lines", "[layout]") {
  TempDir dir;
  const auto file = dir.write("hub.yml", "paths:\n  run: /a/run\n  run: /b/run\n");
  auto read = read_root_layout("/r", file);
  REQUIRE_FALSE(read);
  CHECK_THAT(read.error(),
             Catch::Contains("hub.yml:3:3: paths.run: given twice in one map (first at line 2)"));
}
