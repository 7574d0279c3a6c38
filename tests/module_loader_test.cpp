#include <grp.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include <catch2/catch.hpp>

#include "core/modules/module_loader.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kLevels = {"system", "customer", "site"};

// Writes modules/LEVEL/NAME/info/{version,depends}.txt.
void add_module(const TempDir& root, const std::string& level, const std::string& name,
                const std::string& version, const std::string& depends = "") {
  const std::string dir = "modules/" + level + "/" + name + "/info/";
  root.write(dir + "version.txt", version);
  root.write(dir + "depends.txt", depends);
}

std::vector<std::string> loaded_names(const ModuleTree& tree) {
  std::vector<std::string> names;
  for (const auto& m : tree.loaded) names.push_back(m.name);
  return names;
}

const RejectedModule& rejected(const ModuleTree& tree, const std::string& name) {
  for (const auto& r : tree.rejected) {
    if (r.name == name) return r;
  }
  FAIL("module " << name << " was not rejected");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("modules load in dependency order, ties broken by name", "[loader]") {
  TempDir root;
  add_module(root, "system", "Zeta", "1.0.0\n");
  add_module(root, "system", "Base", "4.12.9\n");
  add_module(root, "customer", "App", "2.0.0\n", "# needs both\nBase:4.12\n\nZeta\n");
  add_module(root, "site", "Alpha", "0.1.0\n", "App:2\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.rejected.empty());
  CHECK(loaded_names(tree) == std::vector<std::string>{"Base", "Zeta", "App", "Alpha"});
  const Module& app = tree.loaded[2];
  CHECK(app.level == "customer");
  CHECK(app.version.str() == "2.0.0");
  REQUIRE(app.depends.size() == 2);
  CHECK(app.depends[0].requirement() == "Base:4.12");
  CHECK(app.depends[0].line == 2);
}

TEST_CASE("a version requirement matches as specifically as written", "[loader]") {
  Dependency dep{"Bar", 2, Version{4, 12, 0}, 1};
  CHECK(dep.accepts({4, 12, 0}));
  CHECK(dep.accepts({4, 12, 9}));
  CHECK_FALSE(dep.accepts({4, 13, 0}));
  CHECK_FALSE(dep.accepts({5, 12, 0}));
  dep.parts = 3;
  dep.version = {4, 14, 2};
  CHECK(dep.accepts({4, 14, 2}));
  CHECK_FALSE(dep.accepts({4, 14, 3}));
  dep.parts = 0;
  CHECK(dep.accepts({9, 9, 9}));
}

TEST_CASE("malformed version files reject the module with what was found", "[loader]") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"", "the file is empty"},
      {"4.14\n", "got '4.14'"},
      {"4.x.2\n", "got '4.x.2'"},
      {"v4.14.2\n", "got 'v4.14.2'"},
      {"4.14.2 beta\n", "got '4.14.2 beta'"},
      {"4.14.2.1\n", "got '4.14.2.1'"},
      {"4.14.2\n4.14.3\n", "got '4.14.2\\n4.14.3'"},
      // Bytes an editor does not show are shown: here a zero-width space.
      {"1.0.0\xE2\x80\x8B\n", "got '1.0.0\\xE2\\x80\\x8B'"},
  };
  for (const auto& c : cases) {
    INFO("version.txt: " << c.text);
    TempDir root;
    add_module(root, "site", "Foo", c.text);
    const ModuleTree tree = load_module_tree(root.path(), kLevels);
    REQUIRE(tree.loaded.empty());
    const auto& r = rejected(tree, "Foo");
    CHECK_THAT(r.reason,
               Catch::StartsWith((root.path() / "modules/site/Foo/info/version.txt").string() +
                                 ":1: expected MAJOR.MINOR.RELEASE"));
    CHECK_THAT(r.reason, Catch::Contains(c.message));
    CHECK(r.line == 1);
  }
}

TEST_CASE("malformed depends lines reject the module naming file and line", "[loader]") {
  for (const char* line : {"Bar:", ":4.1", "Bar:4.1.2.3", "Bar 4.1", "Bar:4.", "Bar:a.1", "B@r"}) {
    INFO("depends line: " << line);
    TempDir root;
    add_module(root, "site", "Bar", "4.1.2\n");
    add_module(root, "site", "Foo", "1.0.0\n", std::string("# deps\n\n") + line + "\n");
    const ModuleTree tree = load_module_tree(root.path(), kLevels);
    CHECK(loaded_names(tree) == std::vector<std::string>{"Bar"});
    const auto& r = rejected(tree, "Foo");
    CHECK_THAT(r.reason,
               Catch::StartsWith((root.path() / "modules/site/Foo/info/depends.txt").string() +
                                 ":3: expected Name, Name:MAJOR"));
    CHECK_THAT(r.reason, Catch::Contains(std::string("got '") + line + "'"));
    CHECK(r.line == 3);
  }
}

TEST_CASE("a module without its required files is not loaded, and says which file", "[loader]") {
  TempDir root;
  root.write("modules/site/NoDepends/info/version.txt", "1.0.0\n");
  root.write("modules/site/NoVersion/info/depends.txt", "");
  fs::create_directories(root.path() / "modules/site/Empty");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  CHECK_THAT(rejected(tree, "NoDepends").reason,
             Catch::Contains("info/depends.txt: missing (it may be empty, but must exist)"));
  CHECK_THAT(rejected(tree, "NoVersion").reason, Catch::Contains("info/version.txt: missing"));
  CHECK_THAT(rejected(tree, "Empty").reason, Catch::Contains("info/version.txt: missing"));
}

TEST_CASE("files where directories belong, and the reverse, are clear rejections", "[loader]") {
  TempDir root;
  root.write("modules/site/README", "not a module\n");
  root.write("modules/site/InfoFile/info", "a file, not a directory\n");
  add_module(root, "site", "VersionDir", "1.0.0\n");
  fs::remove(root.path() / "modules/site/VersionDir/info/version.txt");
  fs::create_directories(root.path() / "modules/site/VersionDir/info/version.txt");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  CHECK_THAT(rejected(tree, "README").reason,
             Catch::Contains("expected a module directory, found a file"));
  CHECK_THAT(rejected(tree, "InfoFile").reason,
             Catch::Contains("info/version.txt: Not a directory"));
  CHECK_THAT(rejected(tree, "VersionDir").reason,
             Catch::Contains("info/version.txt: is a directory, expected a regular file"));
}

TEST_CASE("unreadable info files reject the module with the system's reason", "[loader]") {
  TempDir root;
  add_module(root, "site", "Locked", "1.0.0\n");
  const fs::path version = root.path() / "modules/site/Locked/info/version.txt";
  fs::remove(version);
  fs::create_symlink("nowhere", version);  // dangling: unreadable whoever we run as
  add_module(root, "site", "Fifo", "1.0.0\n");
  const fs::path depends = root.path() / "modules/site/Fifo/info/depends.txt";
  fs::remove(depends);
  REQUIRE(::mkfifo(depends.c_str(), 0600) == 0);  // never blocks the loader
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  CHECK_THAT(rejected(tree, "Locked").reason, Catch::Contains(version.string() + ": missing"));
  CHECK_THAT(rejected(tree, "Fifo").reason,
             Catch::Contains(depends.string() + ": is a FIFO, expected a regular file"));
}

TEST_CASE("symlink loops in the tree reject the module and nothing else", "[loader]") {
  TempDir root;
  add_module(root, "site", "Fine", "1.0.0\n");
  fs::create_directories(root.path() / "modules/site");
  fs::create_symlink("Loop", root.path() / "modules/site/Loop");
  add_module(root, "site", "InnerLoop", "1.0.0\n");
  fs::create_symlink("../info", root.path() / "modules/site/InnerLoop/info/info");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(loaded_names(tree) == std::vector<std::string>{"Fine", "InnerLoop"});
  CHECK_THAT(rejected(tree, "Loop").reason, Catch::Contains("Too many levels of symbolic links"));
}

TEST_CASE("module names unsafe in paths or topics are refused", "[loader]") {
  TempDir root;
  for (const char* name : {"bad name", "9lives", "a+b", "Hub", "caf\xc3\xa9"})
    add_module(root, "site", name, "1.0.0\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  CHECK(tree.rejected.size() == 5);
  CHECK_THAT(rejected(tree, "bad name").reason,
             Catch::Contains("unsafe module name: a module name has only letters"));
  CHECK_THAT(rejected(tree, "9lives").reason, Catch::Contains("starts with a letter"));
  CHECK_THAT(rejected(tree, "Hub").reason, Catch::Contains("reserved"));
}

TEST_CASE("a missing dependency rejects the module and, transitively, its dependents", "[loader]") {
  TempDir root;
  add_module(root, "site", "Foo", "1.0.0\n", "Bar\n");
  add_module(root, "site", "Top", "1.0.0\n", "Foo:1\n");
  add_module(root, "site", "Other", "1.0.0\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(loaded_names(tree) == std::vector<std::string>{"Other"});
  CHECK_THAT(rejected(tree, "Foo").reason,
             Catch::EndsWith("depends.txt:1: missing dependency Bar"));
  CHECK_THAT(rejected(tree, "Top").reason,
             Catch::Contains("depends.txt:1: depends on Foo, which was rejected (Foo: "));
  CHECK_THAT(rejected(tree, "Top").reason, Catch::EndsWith("missing dependency Bar)"));
}

TEST_CASE("a version mismatch names what was wanted and what was found", "[loader]") {
  TempDir root;
  add_module(root, "system", "Bar", "4.13.0\n");
  add_module(root, "site", "Foo", "1.0.0\n", "Bar:4.12\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(loaded_names(tree) == std::vector<std::string>{"Bar"});
  CHECK_THAT(rejected(tree, "Foo").reason,
             Catch::EndsWith("wants Bar:4.12, found Bar 4.13.0 (level system)"));
}

TEST_CASE("the higher level wins a name, the lower one is shadowed", "[loader]") {
  TempDir root;
  add_module(root, "system", "Bar", "1.0.0\n");
  add_module(root, "customer", "Bar", "1.5.0\n");
  add_module(root, "site", "Bar", "2.0.0\n");
  add_module(root, "site", "Old", "1.0.0\n", "Bar:1\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  REQUIRE(loaded_names(tree) == std::vector<std::string>{"Bar"});
  CHECK(tree.loaded[0].level == "site");
  REQUIRE(tree.shadowed.size() == 2);
  CHECK(tree.shadowed[0].level == "system");  // in level order
  CHECK(tree.shadowed[0].by_level == "site");
  CHECK(tree.shadowed[1].level == "customer");
  CHECK(tree.shadowed[1].by_level == "site");
  // A dependency on a shadowed module's version does not load, and says why.
  CHECK_THAT(rejected(tree, "Old").reason,
             Catch::EndsWith(
                 "wants Bar:1, found Bar 2.0.0 (level site); Bar 1.0.0 at level system would "
                 "match but is shadowed by level site; Bar 1.5.0 at level customer would match but "
                 "is shadowed by level site"));
}

TEST_CASE("a dependency cycle rejects every module in it, naming the cycle", "[loader]") {
  TempDir root;
  add_module(root, "site", "A", "1.0.0\n", "B\n");
  add_module(root, "site", "B", "1.0.0\n", "C\n");
  add_module(root, "site", "C", "1.0.0\n", "A\n");
  add_module(root, "site", "D", "1.0.0\n", "A\n");
  add_module(root, "site", "Self", "1.0.0\n", "Self\n");
  add_module(root, "site", "Free", "1.0.0\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(loaded_names(tree) == std::vector<std::string>{"Free"});
  // Each member names the cycle through itself.
  CHECK(rejected(tree, "A").reason == "dependency cycle: A -> B -> C -> A");
  CHECK(rejected(tree, "B").reason == "dependency cycle: B -> C -> A -> B");
  CHECK(rejected(tree, "C").reason == "dependency cycle: C -> A -> B -> C");
  CHECK_THAT(rejected(tree, "Self").reason,
             Catch::EndsWith("depends.txt:1: a module cannot depend on itself"));
  CHECK_THAT(rejected(tree, "D").reason,
             Catch::Contains("depends on A, which was rejected (A: dependency cycle"));
}

TEST_CASE("levels come from the configuration, lowest precedence first", "[loader]") {
  TempDir root;
  add_module(root, "vendor", "Bar", "1.0.0\n");
  add_module(root, "local", "Bar", "2.0.0\n");
  add_module(root, "ignored", "Baz", "1.0.0\n");
  const ModuleTree tree = load_module_tree(root.path(), {"vendor", "local"});
  REQUIRE(loaded_names(tree) == std::vector<std::string>{"Bar"});
  CHECK(tree.loaded[0].version.str() == "2.0.0");
}

TEST_CASE("a long chain of rejections names the root cause without nesting every reason",
          "[loader]") {
  TempDir root;
  add_module(root, "site", "M0", "1.0.0\n", "Missing\n");
  for (int i = 1; i < 200; ++i) {
    add_module(root, "site", "M" + std::to_string(i), "1.0.0\n",
               "M" + std::to_string(i - 1) + "\n");
  }
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  REQUIRE(tree.rejected.size() == 200);
  for (const auto& r : tree.rejected) {
    INFO(r.name);
    CHECK(r.reason.size() < 400 + 2 * root.path().string().size());
    CHECK_THAT(r.reason, Catch::Contains("missing dependency Missing"));
  }
  CHECK_THAT(rejected(tree, "M199").reason,
             Catch::Contains("depends on M198, which was rejected (M0: "));
}

TEST_CASE("a module's own script timeout comes from hub.scripts.timeout in its config",
          "[loader]") {
  TempDir root;
  add_module(root, "site", "Quick", "1.0.0\n");
  root.write("config/site/modules/Quick/hub.yml", "hub:\n  scripts:\n    timeout: 1500ms\n");
  add_module(root, "site", "Wrong", "1.0.0\n");
  root.write("config/site/modules/Wrong/hub.yml", "hub:\n  scripts:\n    timeout: soon\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  REQUIRE(loaded_names(tree) == std::vector<std::string>{"Quick"});
  CHECK(tree.loaded[0].script_timeout == std::chrono::milliseconds(1500));
  CHECK_THAT(rejected(tree, "Wrong").reason,
             Catch::Contains("hub.scripts.timeout: expected a duration"));
}

TEST_CASE("a dependency listed twice is refused, naming both lines", "[loader]") {
  TempDir root;
  add_module(root, "site", "Bar", "1.0.0\n");
  add_module(root, "site", "Foo", "1.0.0\n", "Bar\n# again, stricter\nBar:1\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK_THAT(
      rejected(tree, "Foo").reason,
      Catch::EndsWith(
          "depends.txt:3: Bar is listed twice (lines 1 and 3): keep one line per dependency"));
}

TEST_CASE("a level directory that cannot be read is reported, not silently empty", "[loader]") {
  TempDir root;
  root.write("modules/site", "a file where the level's directory belongs\n");
  add_module(root, "system", "Base", "1.0.0\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(loaded_names(tree) == std::vector<std::string>{"Base"});
  REQUIRE(tree.problems.size() == 1);
  CHECK(tree.problems[0] ==
        (root.path() / "modules/site").string() + ": cannot be read: Not a directory");
}

TEST_CASE("a byte-order mark at the start of an info file is dropped", "[loader]") {
  TempDir root;
  add_module(root, "site", "Bom",
             "\xEF\xBB\xBF"
             "1.0.0\n");
  add_module(root, "site", "User", "1.0.0\n",
             "\xEF\xBB\xBF"
             "Bom:1\n");
  root.write("modules/site/Bom/info/build.txt",
             "\xEF\xBB\xBF"
             "built today\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  REQUIRE(loaded_names(tree) == std::vector<std::string>{"Bom", "User"});
  CHECK(tree.loaded[0].version.str() == "1.0.0");
  CHECK(tree.loaded[0].build_info == "built today");
}

TEST_CASE("an optional info/build.txt that cannot be read rejects the module, not ignored",
          "[loader]") {
  TempDir root;
  add_module(root, "site", "Built", "1.0.0\n");
  const fs::path build = root.path() / "modules/site/Built/info/build.txt";
  fs::create_directory(build);
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  const auto& r = rejected(tree, "Built");
  CHECK_THAT(r.reason,
             Catch::Contains(build.string() + ": is a directory, expected a regular file"));
  CHECK(r.file == build);
}

TEST_CASE("a directory where a config or service file belongs rejects the module, naming it",
          "[loader]") {
  TempDir root;
  add_module(root, "site", "Conf", "1.0.0\n");
  add_module(root, "site", "Svc", "1.0.0\n");
  add_module(root, "site", "Fine", "1.0.0\n");
  const fs::path conf = root.path() / "config/customer/modules/Conf/a.yml";
  const fs::path svc = root.path() / "config/site/modules/Svc/service.yml";
  fs::create_directories(conf);
  fs::create_directories(svc);
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(loaded_names(tree) == std::vector<std::string>{"Fine"});
  CHECK_THAT(rejected(tree, "Conf").reason,
             Catch::Contains("bad configuration: " + conf.string() + ": is a directory"));
  CHECK(rejected(tree, "Conf").file == conf);
  CHECK_THAT(rejected(tree, "Svc").reason,
             Catch::Contains("bad service definition: " + svc.string() + ": is a directory"));
  CHECK(rejected(tree, "Svc").file == svc);
}

TEST_CASE("a rejected module names the file and line of a bad config or service file", "[loader]") {
  TempDir root;
  add_module(root, "site", "Conf", "1.0.0\n");
  add_module(root, "site", "Svc", "1.0.0\n");
  const fs::path conf = root.write("config/site/modules/Conf/a.yml", "a: 1\nb: [\n");
  const fs::path svc =
      root.write("modules/site/Svc/service.yml", "command: serve\nstop: {grace: soon}\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  CHECK(rejected(tree, "Conf").file == conf);
  CHECK(rejected(tree, "Conf").line >= 2);
  CHECK(rejected(tree, "Svc").file == svc);
  CHECK(rejected(tree, "Svc").line == 2);
}

TEST_CASE("a user or group id too large for any system is a problem, not an exception",
          "[loader]") {
  TempDir root;
  add_module(root, "site", "Huge", "1.0.0\n");
  const fs::path svc =
      root.write("modules/site/Huge/service.yml", "command: serve\nuser: '99999999999999999999'\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK_THAT(
      rejected(tree, "Huge").reason,
      Catch::Contains(svc.string() +
                      ":2:7: user: expected a user of this system, got '99999999999999999999'"));
}

TEST_CASE("a service.yml that is a link to nothing rejects the module, not runs it without",
          "[loader]") {
  TempDir root;
  add_module(root, "site", "Linked", "1.0.0\n");
  const fs::path svc = root.path() / "modules/site/Linked/service.yml";
  fs::create_symlink("service-old.yml", svc);
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  CHECK_THAT(rejected(tree, "Linked").reason,
             Catch::Contains("bad service definition: " + svc.string() + ": missing"));
}

// ---- needs_config and check ----------------------------------------------------------

namespace {

// Writes an executable /bin/sh script (the body follows "#!/bin/sh\n").
void write_script(const TempDir& root, const std::string& relative, const std::string& body) {
  fs::permissions(root.write(relative, "#!/bin/sh\n" + body), fs::perms(0755));
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Module Bridge at level system, whose service runs `serve` and whose service.yml ends with
// `extra`.
void add_bridge(const TempDir& root, const std::string& extra) {
  add_module(root, "system", "Bridge", "1.0.0\n");
  root.write("modules/system/Bridge/service.yml", "command: serve\n" + extra);
}

const Module& loaded(const ModuleTree& tree, const std::string& name) {
  for (const auto& m : tree.loaded) {
    if (m.name == name) return m;
  }
  for (const auto& r : tree.rejected) INFO(r.name << ": " << r.reason);
  FAIL("module " << name << " was not loaded");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a module whose configuration lacks needs_config loads, its service off, saying why",
          "[loader][check]") {
  TempDir root;
  add_bridge(root, "needs_config: broker\n");
  root.write("config/site/modules/Bridge/bridge.yml", "other: 1\n");
  ModuleTree tree = load_module_tree(root.path(), kLevels);
  const Module& off = loaded(tree, "Bridge");
  REQUIRE(off.service);
  CHECK_FALSE(off.runs_service());
  CHECK(off.service_off == "its configuration has no `broker` (config/LEVEL/modules/Bridge/*.yml)");

  // A null value is no value.
  root.write("config/site/modules/Bridge/bridge.yml", "broker: ~\n");
  tree = load_module_tree(root.path(), kLevels);
  CHECK_FALSE(loaded(tree, "Bridge").runs_service());

  // Any level may give it; a map is a value.
  root.write("config/customer/modules/Bridge/bridge.yml", "broker: {host: localhost}\n");
  root.write("config/site/modules/Bridge/bridge.yml", "other: 1\n");
  tree = load_module_tree(root.path(), kLevels);
  CHECK(loaded(tree, "Bridge").runs_service());
  CHECK(loaded(tree, "Bridge").service_off.empty());
}

TEST_CASE("a failing check rejects its module with its output, file and line", "[loader][check]") {
  TempDir root;
  add_bridge(root, "check: {command: os/linux/tools/check}\n");
  root.write("config/site/modules/Bridge/bridge.yml", "outbound:\n  - {qos: 7}\n");
  write_script(root, "modules/system/Bridge/os/linux/tools/check",
               "echo 'config/site/modules/Bridge/bridge.yml:3:5: outbound[0].qos: "
               "expected 0 or 1'\necho 'and more' >&2\nexit 1\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.loaded.empty());
  const RejectedModule& r = rejected(tree, "Bridge");
  CHECK(r.reason ==
        "configuration check failed: config/site/modules/Bridge/bridge.yml:3:5: "
        "outbound[0].qos: expected 0 or 1\nand more");
  CHECK(r.file == root.path() / "config/site/modules/Bridge/bridge.yml");
  CHECK(r.line == 3);
}

TEST_CASE("a check's first line names a file and line only for a file it was given",
          "[loader][check]") {
  TempDir root;
  add_bridge(root, "check: {command: os/linux/tools/check}\n");
  root.write("config/site/modules/Bridge/bridge.yml", "broker: x\n");
  write_script(root, "modules/system/Bridge/os/linux/tools/check",
               "echo 'config/site/modules/Other/o.yml:3: no'\nexit 2\n");
  ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(rejected(tree, "Bridge").file.empty());
  CHECK(rejected(tree, "Bridge").line == 0);
  // Without output, the reason says how it ended.
  write_script(root, "modules/system/Bridge/os/linux/tools/check", "exit 3\n");
  tree = load_module_tree(root.path(), kLevels);
  CHECK(rejected(tree, "Bridge").reason ==
        "configuration check failed: os/linux/tools/check exited with 3");
  // Killed by a signal.
  write_script(root, "modules/system/Bridge/os/linux/tools/check", "echo dying\nkill -SEGV $$\n");
  tree = load_module_tree(root.path(), kLevels);
  CHECK(rejected(tree, "Bridge").reason ==
        "configuration check failed: os/linux/tools/check killed by SIGSEGV: dying");
}

TEST_CASE("a passing check loads its module, having seen its args and config files in order",
          "[loader][check]") {
  TempDir root;
  add_bridge(root, "check: {command: os/linux/tools/check, args: [--strict, -v]}\n");
  root.write("config/system/modules/Bridge/b.yml", "a: 1\n");
  root.write("config/site/modules/Bridge/b.yml", "a: 3\n");
  root.write("config/site/modules/Bridge/a.yml", "a: 2\n");
  root.write("config/site/modules/Bridge/service.yml", "args: [--site]\n");
  root.write("config/site/modules/Bridge/.hidden.yml", "a: 4\n");
  write_script(root, "modules/system/Bridge/os/linux/tools/check",
               "printf '%s\\n' \"$@\" > seen.txt\n"
               "pwd >> seen.txt\n"
               "echo \"module=$HUB_MODULE config=${HUB_MODULE_CONFIG-unset} "
               "credential=${HUB_CREDENTIAL_FILE-unset}\" >> seen.txt\n"
               "read line && echo \"stdin: $line\" >> seen.txt\n"
               "echo all fine\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.rejected.empty());
  CHECK(loaded(tree, "Bridge").runs_service());
  CHECK(read_text(root.path() / "seen.txt") ==
        "--strict\n-v\n"
        "config/system/modules/Bridge/b.yml\n"
        "config/site/modules/Bridge/a.yml\n"
        "config/site/modules/Bridge/b.yml\n" +
            fs::canonical(root.path()).string() +
            "\nmodule=Bridge config=unset credential=unset\n");
}

TEST_CASE("a check that hangs is killed, its process group too, and rejects its module",
          "[loader][check]") {
  TempDir root;
  add_bridge(root, "check: {command: os/linux/tools/check, timeout: 200ms}\n");
  write_script(root, "modules/system/Bridge/os/linux/tools/check",
               "sleep 60 &\necho $! > bg.pid\necho waiting\nwait\n");
  const auto began = std::chrono::steady_clock::now();
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(10));
  CHECK_THAT(rejected(tree, "Bridge").reason,
             Catch::StartsWith("configuration check failed: os/linux/tools/check timed out "
                               "after ") &&
                 Catch::EndsWith(" ms (its process group was killed): waiting"));
  const pid_t background = std::stoi(read_text(root.path() / "bg.pid"));
  // Killed with its group; gone once reaped by whoever inherited it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (::kill(background, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(::kill(background, 0) != 0);
}

TEST_CASE("a check's output is kept up to 4 KiB, saying when it was cut", "[loader][check]") {
  TempDir root;
  add_bridge(root, "check: {command: os/linux/tools/check}\n");
  write_script(root, "modules/system/Bridge/os/linux/tools/check",
               "i=0\nwhile [ $i -lt 1000 ]; do echo 0123456789; i=$((i+1)); done\n"
               "exit 1\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  const std::string& reason = rejected(tree, "Bridge").reason;
  CHECK_THAT(reason, Catch::EndsWith("0123456789\n0123 (output cut at 4096 bytes)"));
  CHECK(reason.size() < 4096 + 100);
}

TEST_CASE("a check that cannot be run rejects its module", "[loader][check]") {
  TempDir root;
  add_bridge(root, "check: {command: os/linux/tools/missing}\n");
  ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK(rejected(tree, "Bridge").reason ==
        "configuration check failed: " +
            (root.path() / "modules/system/Bridge/os/linux/tools/missing").string() +
            ": not an executable file");
  // A name without '/' is looked up on the module's PATH, its own directories first.
  add_bridge(root, "check: {command: vet}\n");
  write_script(root, "modules/system/Bridge/os/linux/tools/vet", "exit 0\n");
  tree = load_module_tree(root.path(), kLevels);
  CHECK(tree.rejected.empty());
}

TEST_CASE("no check runs for a module whose service is off", "[loader][check]") {
  TempDir root;
  add_bridge(root, "needs_config: broker\ncheck: {command: os/linux/tools/check}\n");
  write_script(root, "modules/system/Bridge/os/linux/tools/check", "touch ran\nexit 1\n");
  ModuleTree tree = load_module_tree(root.path(), kLevels);
  CHECK_FALSE(loaded(tree, "Bridge").runs_service());
  CHECK_FALSE(fs::exists(root.path() / "ran"));
  // Once the key is there, the check runs, and its failure rejects.
  root.write("config/site/modules/Bridge/bridge.yml", "broker: x\n");
  tree = load_module_tree(root.path(), kLevels);
  CHECK(fs::exists(root.path() / "ran"));
  CHECK_THAT(rejected(tree, "Bridge").reason, Catch::StartsWith("configuration check failed: "));
}

TEST_CASE("a check of a service with user: reads config files only hubd may read",
          "[loader][check]") {
  // The service itself reads the merged copy hubd writes for it (HUB_CONFIG_FILE), so a
  // config file kept private to root (it holds a broker password) serves it well; its
  // check, run as the service's user, is given the private file itself.
  if (::geteuid() != 0) {
    WARN("not root: a check as another user cannot be tried");
    return;
  }
  const group* nogroup = ::getgrnam("nogroup");
  if (nogroup == nullptr) {
    WARN("no group nogroup");
    return;
  }
  TempDir root;
  fs::permissions(root.path(), fs::perms(0755));  // the check's user reaches its program
  add_bridge(root, "user: nobody\ncheck: {command: os/linux/tools/check}\n");
  root.write("config/site/modules/Bridge/bridge.yml", "broker: {password: s3cret}\n");
  fs::permissions(root.path() / "config/site/modules/Bridge/bridge.yml", fs::perms(0600));
  write_script(root, "modules/system/Bridge/os/linux/tools/check",
               "for f in \"$@\"; do cat \"$f\" >/dev/null || exit 1; done\n");
  CheckOptions checks;
  checks.services_group = nogroup->gr_gid;
  const ModuleTree tree = load_module_tree(root.path(), kLevels, {}, checks);
  std::string reasons;
  for (const auto& r : tree.rejected) reasons += r.name + ": " + r.reason + "\n";
  INFO(reasons);
  CHECK(tree.rejected.empty());
}

TEST_CASE("module trees: at one level a later tree wins a name, a higher level wins over both",
          "[loader]") {
  TempDir root, packaged, admin;
  const auto add = [](const TempDir& tree, const std::string& level, const std::string& name,
                      const std::string& version, const std::string& depends = "") {
    tree.write(level + "/" + name + "/info/version.txt", version);
    tree.write(level + "/" + name + "/info/depends.txt", depends);
  };
  add(packaged, "system", "Timer", "1.0.0\n");
  add(admin, "system", "Timer", "1.1.0\n");  // the administrator's copy wins
  add(packaged, "site", "Greeter", "2.0.0\n");
  add(admin, "system", "Greeter", "3.0.0\n");           // a lower level: the packaged site one wins
  add(packaged, "system", "Only", "1.0.0\n");           // in one tree only
  add(admin, "site", "Old", "1.0.0\n", "Timer:1.0\n");  // the shadowed copy would match
  RootPlaces places;
  places.modules = {packaged.path(), admin.path()};
  const ModuleTree tree = load_module_tree(RootLayout(root.path(), places), kLevels);

  CHECK(loaded_names(tree) == std::vector<std::string>{"Greeter", "Only", "Timer"});
  for (const auto& m : tree.loaded) {
    if (m.name == "Timer") CHECK(m.dir == admin.path() / "system/Timer");
    if (m.name == "Greeter") CHECK(m.dir == packaged.path() / "site/Greeter");
  }
  REQUIRE(tree.shadowed.size() == 2);
  CHECK(tree.shadowed[0].name == "Greeter");
  CHECK(tree.shadowed[0].dir == admin.path() / "system/Greeter");
  CHECK(tree.shadowed[0].by_level == "site");
  CHECK(tree.shadowed[1].name == "Timer");
  CHECK(tree.shadowed[1].dir == packaged.path() / "system/Timer");
  CHECK(tree.shadowed[1].by_level == "system");
  CHECK(tree.shadowed[1].by_dir == admin.path() / "system/Timer");
  CHECK_THAT(rejected(tree, "Old").reason,
             Catch::EndsWith("Timer 1.0.0 at level system would match but is shadowed by " +
                             (admin.path() / "system/Timer").string()));
  CHECK(tree.problems.empty());  // a tree without some level is no problem
  CHECK_FALSE(fs::exists(root.path() / "modules"));
}
