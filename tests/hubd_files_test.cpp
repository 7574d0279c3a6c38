// hubd and the wrong kind of file where it expects one: a directory, a FIFO or an alias
// bomb never stops the hub (nor blocks it); the module it belongs to is rejected, naming
// the file, and a reload that meets one keeps everything running.
#include <signal.h>
#include <sys/stat.h>

#include <map>

#include <catch2/catch.hpp>

#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

enum class Kind { kDirectory, kFifo };

// Puts a directory or a FIFO at root/relative (replacing what is there).
fs::path place(const TempDir& root, const std::string& relative, Kind kind) {
  const fs::path path = root.path() / relative;
  fs::remove_all(path);
  fs::create_directories(path.parent_path());
  if (kind == Kind::kDirectory) {
    fs::create_directory(path);
  } else {
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  }
  return path;
}

std::string what(Kind kind) {
  return kind == Kind::kDirectory ? ": is a directory, expected a regular file"
                                  : ": is a FIFO, expected a regular file";
}

// Maps nested `depth` deep, each holding nine aliases of the one before: 9^depth nodes
// from a few hundred bytes.
std::string alias_bomb(int depth) {
  std::string text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= depth; ++level) {
    const std::string prev = "*l" + std::to_string(level - 1);
    text += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " {";
    for (int i = 0; i < 9; ++i) text += (i ? ", k" : "k") + std::to_string(i) + ": " + prev;
    text += "}\n";
  }
  return text;
}

// The next `count` events of `sub`, by topic.
std::map<std::string, std::string> events_by_topic(Subscriber& sub, size_t count) {
  std::map<std::string, std::string> out;
  while (out.size() < count) {
    const std::string line = next_line(sub);
    REQUIRE_FALSE(line.empty());
    const size_t space = line.find(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

}  // namespace

TEST_CASE("a directory or a FIFO where hub.yml belongs stops hubd at once with exit status 3",
          "[hubd][files]") {
  for (const Kind kind : {Kind::kDirectory, Kind::kFifo}) {
    TempDir root;
    const fs::path file = place(root, "config/hub.yml", kind);
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    const auto status = hubd.wait_exit(10s);  // a FIFO used to block hubd in open() for good
    REQUIRE(status);
    CHECK(*status == 3);
    CHECK_THAT(hubd.stderr_text(), Catch::Contains(file.string() + what(kind)));
  }
}

TEST_CASE("a hub.yml that is a link to nothing is an error, not the defaults", "[hubd][files]") {
  TempDir root;
  const fs::path file = root.path() / "config/hub.yml";
  fs::create_directories(file.parent_path());
  fs::create_symlink("hub-old.yml", file);
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  const auto status = hubd.wait_exit(10s);
  REQUIRE(status);
  CHECK(*status == 3);
  CHECK_THAT(hubd.stderr_text(), Catch::Contains(file.string() + ": missing"));
}

TEST_CASE("a directory or a FIFO where a module's file belongs rejects that module only",
          "[hubd][files]") {
  TempDir root;
  const std::map<std::string, std::pair<std::string, Kind>> bad = {
      {"SvcDir", {"modules/system/SvcDir/service.yml", Kind::kDirectory}},
      {"SvcFifo", {"modules/system/SvcFifo/service.yml", Kind::kFifo}},
      {"OverDir", {"config/site/modules/OverDir/service.yml", Kind::kDirectory}},
      {"ConfDir", {"config/site/modules/ConfDir/a.yml", Kind::kDirectory}},
      {"ConfFifo", {"config/system/modules/ConfFifo/a.yml", Kind::kFifo}},
      {"VersionFifo", {"modules/system/VersionFifo/info/version.txt", Kind::kFifo}},
      {"BuildDir", {"modules/system/BuildDir/info/build.txt", Kind::kDirectory}},
  };
  std::vector<std::string> topics = {"Fine/started"};
  for (const auto& [name, where] : bad) {
    add_module(root, name, "command: /bin/sleep\nargs: ['1000']\n");
    place(root, where.first, where.second);
    topics.push_back(name + "/rejected");
  }
  add_module(root, "Fine", "command: /bin/sleep\nargs: ['1000']\n");
  RunningHub hub(root);  // comes up: nothing aborts it, nothing blocks it
  auto sub = hub.subscribe(topics, /*retained=*/true);
  const auto events = events_by_topic(sub, topics.size());
  for (const auto& [name, where] : bad) {
    INFO(name);
    const auto event = events.find(name + "/rejected");
    REQUIRE(event != events.end());
    const std::string file = (root.path() / where.first).string();
    CHECK_THAT(json_field(event->second, "reason"), Catch::Contains(file + what(where.second)));
    CHECK(json_field(event->second, "file") == file);
  }
  CHECK(events.count("Fine/started") == 1);
  CHECK(hub.stop() == 0);
}

TEST_CASE("a reload that meets a directory, a FIFO or an alias bomb keeps the hub running",
          "[hubd][files][reload]") {
  TempDir root;
  add_module(root, "Steady", "command: /bin/sleep\nargs: ['1000']\n");
  RunningHub hub(root);
  auto started = hub.subscribe({"Steady/started"}, /*retained=*/true);
  const auto first = next_on(started, "Steady/started");
  REQUIRE(first);
  const int pid = static_cast<int>(json_int(first->payload(), "pid"));
  auto sub = hub.subscribe({"Hub/reload", "Steady/rejected"});
  const auto reload_rejects = [&](const std::string& reason) {
    hub.process().signal(SIGHUP);
    auto rejected = next_on(sub, "Steady/rejected");
    REQUIRE(rejected);
    CHECK_THAT(json_field(rejected->payload(), "reason"), Catch::Contains(reason));
    CHECK(json_field(rejected->payload(), "kept_running") == "true");
    REQUIRE(next_on(sub, "Hub/reload"));
    CHECK(process_alive(pid));
  };

  const fs::path conf = place(root, "config/site/modules/Steady/a.yml", Kind::kDirectory);
  reload_rejects(conf.string() + what(Kind::kDirectory));
  fs::remove(conf);

  const fs::path service = place(root, "modules/system/Steady/service.yml", Kind::kFifo);
  reload_rejects(service.string() + what(Kind::kFifo));
  fs::remove(service);  // writing to it would wait for a reader
  root.write("modules/system/Steady/service.yml", "command: /bin/sleep\nargs: ['1000']\n");

  // Each file alone is within bounds as yaml-cpp holds it; merging one onto the other
  // expanded every alias, and a few more levels took all memory (std::bad_alloc).
  root.write("config/site/modules/Steady/b.yml", alias_bomb(6));
  const fs::path bomb = root.write("config/site/modules/Steady/a.yml", alias_bomb(6));
  reload_rejects("bad configuration: " + bomb.string() + ":");

  CHECK(hub.stop() == 0);
}
