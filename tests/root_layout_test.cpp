// The root's layout: every path hubd and its tools use, as README documents it.
#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/root_layout.h"

using namespace hub;

TEST_CASE("the root layout puts every path where README says", "[layout]") {
  const RootLayout layout("/r");
  CHECK(layout.root() == "/r");
  CHECK(layout.config_file() == "/r/config/hub.yml");
  CHECK(layout.module_config_dir("site", "Timer") == "/r/config/site/modules/Timer");
  CHECK(layout.modules_dir("system") == "/r/modules/system");
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
