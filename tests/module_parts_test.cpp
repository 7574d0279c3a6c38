// The parts of a module directory hub gives meaning to (core/modules/module_parts.h): the
// os/OS directory, jars on CLASSPATH, applications, the root's system/, and the
// environment made of them.
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

#include <catch2/catch.hpp>

#include "core/modules/module_environment.h"
#include "core/modules/module_parts.h"
#include "core/modules/modules_view.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;

namespace {

// The value of KEY in a module environment; nullopt when it is not set.
std::optional<std::string> value_of(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& entry : env) {
    if (entry.rfind(key + "=", 0) == 0) return entry.substr(key.size() + 1);
  }
  return std::nullopt;
}

Module module_at(const TempDir& root, const std::string& name) {
  Module m;
  m.name = name;
  m.level = "system";
  m.dir = root.path() / "modules/system" / name;
  fs::create_directories(m.dir);
  return m;
}

std::string os_part() { return "os/" + os_name() + "/"; }

}  // namespace

TEST_CASE("os/OS is `uname -s` lower-cased", "[modules][parts]") {
  struct utsname u {};
  REQUIRE(::uname(&u) == 0);
  std::string expected = u.sysname;
  std::transform(expected.begin(), expected.end(), expected.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  CHECK(os_name() == expected);
  CHECK(os_dir("/m/Foo") == fs::path("/m/Foo/os") / expected);
}

TEST_CASE("PATH has the module's programs, tools and apps, then the root's system/apps",
          "[modules][parts]") {
  TempDir root;
  const Module m = module_at(root, "Foo");
  for (const std::string& dir :
       std::vector<std::string>{os_part() + "programs", os_part() + "tools", "system/apps"})
    fs::create_directories(m.dir / dir);
  fs::create_directories(root.path() / "system/apps");
  const auto path = value_of(module_environment(root.path(), m), "PATH");
  REQUIRE(path);
  const std::string expected =
      (m.dir / os_part() / "programs").string() + ":" + (m.dir / os_part() / "tools").string() +
      ":" + (m.dir / "system/apps").string() + ":" + (root.path() / "system/apps").string() + ":";
  CHECK(path->rfind(expected, 0) == 0);
}

TEST_CASE("CLASSPATH is every jar of the module's system/jars, os/OS/jars, then the root's",
          "[modules][parts]") {
  TempDir root;
  const Module m = module_at(root, "Foo");
  const auto none = module_environment(root.path(), m);
  CHECK(value_of(none, "CLASSPATH") == std::nullopt);  // none: java's default stays
  CHECK(value_of(none, "HUB_MODULE_APPLICATIONS") == std::nullopt);

  root.write("modules/system/Foo/system/jars/b.jar", "");
  root.write("modules/system/Foo/system/jars/a.jar", "");
  root.write("modules/system/Foo/system/jars/notes.txt", "");  // not a jar
  root.write("modules/system/Foo/system/jars/.hidden.jar", "");
  fs::create_directories(m.dir / "system/jars/dir.jar");  // not a file
  root.write("modules/system/Foo/" + os_part() + "jars/native.jar", "");
  root.write("system/jars/shared.jar", "");
  fs::create_directories(m.dir / os_part() / "applications");
  const auto env = module_environment(root.path(), m);
  CHECK(value_of(env, "CLASSPATH") == (m.dir / "system/jars/a.jar").string() + ":" +
                                          (m.dir / "system/jars/b.jar").string() + ":" +
                                          (m.dir / os_part() / "jars/native.jar").string() + ":" +
                                          (root.path() / "system/jars/shared.jar").string());
  CHECK(value_of(env, "HUB_MODULE_APPLICATIONS") ==
        fs::absolute(m.dir / os_part() / "applications").string());
}

TEST_CASE("the root's system/ is where hub.yml paths.system says", "[modules][parts]") {
  TempDir root;
  RootPlaces places;
  places.system = "usr/lib/hub/system";
  const RootLayout layout(root.path(), places);
  CHECK(layout.system_dir() == root.path() / "usr/lib/hub/system");
  CHECK(RootLayout(root.path()).system_dir() == root.path() / "system");
  const Module m = module_at(root, "Foo");
  root.write("usr/lib/hub/system/jars/shared.jar", "");
  CHECK(value_of(module_environment(layout, m), "CLASSPATH") ==
        (root.path() / "usr/lib/hub/system/jars/shared.jar").string());
}

TEST_CASE("apps not named after their module are told, whatever their case", "[modules][parts]") {
  TempDir root;
  for (const std::string app :
       {"Foo-ctl", "foo_dump", "FOOTOOL", "tool", "bar-Foo", ".hidden", "Fo"})
    root.write("modules/system/Foo/system/apps/" + app, "");
  CHECK(unprefixed_apps(root.path() / "modules/system/Foo", "Foo") ==
        std::vector<std::string>{"Fo", "bar-Foo", "tool"});
  CHECK(unprefixed_apps(root.path() / "modules/system/None", "None").empty());
}

TEST_CASE("the templates digest changes with a template's contents only", "[modules][parts]") {
  TempDir root;
  const fs::path dir = root.path() / "modules/system/Foo";
  CHECK(templates_digest(dir).empty());
  root.write("modules/system/Foo/templates/a.st", "a=<a>\n");
  root.write("modules/system/Foo/templates/sub/b.stg", "b() ::= <<b>>\n");
  const std::string first = templates_digest(dir);
  CHECK(first == templates_digest(dir));
  root.write("modules/system/Foo/templates/a.st", "a=<a>!\n");
  CHECK(templates_digest(dir) != first);
}

TEST_CASE("status and inspect show the first three lines of info/build.txt", "[modules][parts]") {
  CHECK(build_summary("") == "");
  CHECK(build_summary("one") == "one");
  CHECK(build_summary("one\r\ntwo\nthree\nfour\n") == "one\ntwo\nthree");
  CHECK(build_summary(std::string(300, 'x')) == std::string(200, 'x'));
}
