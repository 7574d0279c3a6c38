// The Console module under hubd: off without `listen`, rejected (naming the file, line and
// key) with a bad console.yml. The browser test (console_browser_test.py) covers the rest.
#include <filesystem>

#include <catch2/catch.hpp>

#include "support/child_process.h"
#include "support/temp_dir.h"

using hub::test::ChildProcess;
using hub::test::TempDir;
namespace fs = std::filesystem;

namespace {

// The bundled module, with the program of this build.
void add_console(const TempDir& root) {
  const fs::path module = root.path() / "modules/system/Console";
  fs::create_directories(module / "os/linux/programs");
  for (const char* file :
       {"service.yml", "info/version.txt", "info/depends.txt", "info/build.txt"}) {
    fs::create_directories((module / file).parent_path());
    fs::copy_file(fs::path(HUB_SOURCE_DIR) / "modules/system/Console" / file, module / file);
  }
  fs::copy_file(CONSOLE_PATH, module / "os/linux/programs/console");
}

// The one retained event of `topic`, as bus-tap prints it.
std::string retained(const TempDir& root, const std::string& topic) {
  ChildProcess tap(BUS_TAP_PATH, {"--root", root.path().string(), "-C", "1", "-W", "10", topic});
  REQUIRE(tap.wait_exit() == 0);
  const auto lines = tap.stdout_lines();
  REQUIRE(lines.size() == 1);
  return lines[0];
}

}  // namespace

TEST_CASE("Console is off without listen, and a bad console.yml rejects it, naming the place",
          "[console][hubd]") {
  TempDir root;
  add_console(root);
  {
    ChildProcess hubd(HUBD_PATH, {"--root", root.path().string()});
    REQUIRE(hubd.wait_stderr("hub is up"));
    CHECK(
        hubd.wait_stderr("module Console: its service does not run: its configuration has no "
                         "`listen`"));
    CHECK_THAT(retained(root, "Console/loaded"), Catch::Contains("\"service\":false"));
  }
  root.write("config/site/modules/Console/console.yml",
             "listen: 127.0.0.1:1\n# a comment\nlive_rate: fast\n");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path().string()});
  REQUIRE(hubd.wait_stderr("hub is up"));
  CHECK_THAT(retained(root, "Console/rejected"),
             Catch::Contains("configuration check failed: config/site/modules/Console/"
                             "console.yml:3:1: live_rate: expected a whole number from 1 to "
                             "1000000, not 'fast'"));
}
