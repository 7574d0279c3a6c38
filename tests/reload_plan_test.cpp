// plan_reload: what a reload stops, restarts, starts, keeps and rejects, decided from the
// running modules and a freshly scanned tree, without processes or files.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "core/modules/reload_plan.h"

using namespace hub;
using Names = std::vector<std::string>;

namespace {

Module module(const std::string& name, const Names& depends = {}) {
  Module m;
  m.name = name;
  m.level = "system";
  m.dir = "/root/modules/system/" + name;
  m.version = Version{1, 0, 0};
  for (const auto& d : depends) m.depends.push_back(Dependency{d, 0, {}, 1});
  m.config = YAML::Load("{}");
  return m;
}

Module with_service(Module m, const std::string& text = "command: run\n") {
  ServiceSpec spec;
  spec.command = "run";
  spec.text = text;
  m.service = spec;
  return m;
}

RejectedModule rejected(const std::string& name, const std::string& reason = "broken") {
  RejectedModule r;
  r.name = name;
  r.level = "system";
  r.dir = "/root/modules/system/" + name;
  r.reason = reason;
  return r;
}

// Every module of `loaded` started, in order, and up.
ModulesNow all_up(const std::vector<Module>& loaded) {
  ModulesNow now;
  for (const auto& m : loaded) {
    now.started.push_back(m.name);
    now.up.insert(m.name);
  }
  return now;
}

Names stops(const ReloadPlan& plan) {
  Names names;
  for (const auto& s : plan.stop) names.push_back(s.name);
  return names;
}

Names names_of(const std::vector<Module>& modules) {
  Names names;
  for (const auto& m : modules) names.push_back(m.name);
  return names;
}

ModuleTree tree(std::vector<Module> loaded, std::vector<RejectedModule> rejected = {}) {
  ModuleTree t;
  t.loaded = std::move(loaded);
  t.rejected = std::move(rejected);
  return t;
}

}  // namespace

TEST_CASE("an unchanged tree makes an empty plan", "[reload]") {
  const std::vector<Module> loaded = {module("Base"), with_service(module("App", {"Base"}))};
  const ReloadPlan plan = plan_reload(loaded, all_up(loaded), tree(loaded));
  CHECK(plan.empty());
  CHECK(plan.unchanged == Names{"Base", "App"});
  CHECK(plan.added.empty());
  CHECK(plan.removed.empty());
  CHECK(plan.changed.empty());
  CHECK(plan.kept.empty());
  CHECK(plan.rejected.empty());
  CHECK(names_of(plan.loaded) == Names{"Base", "App"});
}

TEST_CASE("an added module is started, and nothing else is touched", "[reload]") {
  const std::vector<Module> loaded = {module("Base")};
  const ReloadPlan plan =
      plan_reload(loaded, all_up(loaded), tree({module("Base"), module("New", {"Base"})}));
  CHECK(plan.added == Names{"New"});
  CHECK(plan.unchanged == Names{"Base"});
  CHECK(plan.stop.empty());
  CHECK(plan.stop_scripts.empty());
  CHECK(plan.start == Names{"New"});
  CHECK(names_of(plan.loaded) == Names{"Base", "New"});
}

TEST_CASE("a removed module loses its scripts, then is stopped", "[reload]") {
  const std::vector<Module> loaded = {module("Base"), module("Gone")};
  const ReloadPlan plan = plan_reload(loaded, all_up(loaded), tree({module("Base")}));
  CHECK(plan.removed == Names{"Gone"});
  REQUIRE(plan.stop_scripts.size() == 1);
  CHECK(plan.stop_scripts[0].first == "Gone");
  CHECK(plan.stop_scripts[0].second == "module Gone was removed");
  REQUIRE(plan.stop.size() == 1);
  CHECK(plan.stop[0].name == "Gone");
  CHECK(plan.stop[0].scripts_reason.empty());  // already stopped first of all
  CHECK(plan.start.empty());
  CHECK(names_of(plan.loaded) == Names{"Base"});
}

TEST_CASE("a changed service.yml restarts the module with its new definition", "[reload]") {
  const std::vector<Module> loaded = {with_service(module("Svc"), "command: run\n")};
  const Module changed = with_service(module("Svc"), "command: run\nargs: [-v]\n");
  const ReloadPlan plan = plan_reload(loaded, all_up(loaded), tree({changed}));
  CHECK(plan.changed == Names{"Svc"});
  REQUIRE(plan.stop.size() == 1);
  CHECK(plan.stop[0].name == "Svc");
  CHECK(plan.stop[0].scripts_reason == "module Svc is restarted");
  CHECK(plan.start == Names{"Svc"});
  REQUIRE(plan.loaded.size() == 1);
  CHECK(plan.loaded[0].service->text == "command: run\nargs: [-v]\n");
}

TEST_CASE("a changed config restarts the module; so do a changed script timeout and version",
          "[reload]") {
  const std::vector<Module> loaded = {module("Cfg")};
  Module next = module("Cfg");
  SECTION("config") { next.config = YAML::Load("{interval: 5}"); }
  SECTION("script timeout") { next.script_timeout = std::chrono::milliseconds(500); }
  SECTION("version") { next.version = Version{1, 1, 0}; }
  SECTION("level") { next.level = "site"; }
  const ReloadPlan plan = plan_reload(loaded, all_up(loaded), tree({next}));
  CHECK(plan.changed == Names{"Cfg"});
  CHECK(stops(plan) == Names{"Cfg"});
  CHECK(plan.start == Names{"Cfg"});
}

TEST_CASE("a config that gains or loses needs_config's key turns the service on or off",
          "[reload][check]") {
  Module off = with_service(module("Bridge"), "command: run\nneeds_config: broker\n");
  off.service->needs_config = "broker";
  off.service_off = "its configuration has no `broker` (config/LEVEL/modules/Bridge/*.yml)";
  Module on = off;
  on.config = YAML::Load("{broker: {host: localhost}}");
  on.service_off.clear();
  SECTION("gains") {
    const std::vector<Module> loaded = {off};
    const ReloadPlan plan = plan_reload(loaded, all_up(loaded), tree({on}));
    CHECK(plan.changed == Names{"Bridge"});
    CHECK(stops(plan) == Names{"Bridge"});
    CHECK(plan.start == Names{"Bridge"});
    REQUIRE(plan.loaded.size() == 1);
    CHECK(plan.loaded[0].runs_service());
  }
  SECTION("loses") {
    const std::vector<Module> loaded = {on};
    const ReloadPlan plan = plan_reload(loaded, all_up(loaded), tree({off}));
    CHECK(plan.changed == Names{"Bridge"});
    CHECK(stops(plan) == Names{"Bridge"});
    REQUIRE(plan.loaded.size() == 1);
    CHECK_FALSE(plan.loaded[0].runs_service());
  }
}

TEST_CASE("a module that is not up, or whose service failed, gets another try", "[reload]") {
  const std::vector<Module> loaded = {module("Base"), with_service(module("Svc"))};
  ModulesNow now = all_up(loaded);
  SECTION("its service failed after it came up: stopped, then started") {
    now.service_failed.insert("Svc");
    const ReloadPlan plan = plan_reload(loaded, now, tree(loaded));
    CHECK(plan.changed == Names{"Svc"});
    CHECK(stops(plan) == Names{"Svc"});
    CHECK(plan.start == Names{"Svc"});
  }
  SECTION("it never started (failed): started only") {
    now.started = {"Base"};
    now.up = {"Base"};
    const ReloadPlan plan = plan_reload(loaded, now, tree(loaded));
    CHECK(plan.changed == Names{"Svc"});
    CHECK(plan.stop.empty());
    CHECK(plan.start == Names{"Svc"});
  }
}

TEST_CASE(
    "around a changed module, its dependencies are not touched and its dependents are "
    "restarted with it",
    "[reload]") {
  const std::vector<Module> loaded = {module("Base"), module("Mid", {"Base"}),
                                      module("Top", {"Mid"}), module("Side", {"Base"})};
  Module mid = module("Mid", {"Base"});
  mid.config = YAML::Load("{level: 2}");
  const ReloadPlan plan =
      plan_reload(loaded, all_up(loaded),
                  tree({module("Base"), mid, module("Top", {"Mid"}), module("Side", {"Base"})}));
  CHECK(plan.changed == Names{"Mid", "Top"});
  CHECK(plan.unchanged == Names{"Base", "Side"});
  CHECK(plan.follows == std::map<std::string, std::string>{{"Top", "Mid is restarted"}});
  CHECK(stops(plan) == Names{"Top", "Mid"});  // the dependent first
  CHECK(plan.start == Names{"Mid", "Top"});
  // The unchanged keep their running definition, in the new tree's order.
  CHECK(names_of(plan.loaded) == Names{"Base", "Mid", "Top", "Side"});
  CHECK(plan.loaded[1].config["level"].as<int>() == 2);
}

TEST_CASE(
    "a changed dependency and its changed dependent: the dependent stops first, "
    "the dependency starts first",
    "[reload]") {
  const std::vector<Module> loaded = {module("Base"), module("App", {"Base"})};
  Module base = module("Base");
  base.version = Version{2, 0, 0};
  Module app = module("App", {"Base"});
  app.depends[0].parts = 1;  // App now asks for Base:2
  app.depends[0].version = Version{2, 0, 0};
  const ReloadPlan plan = plan_reload(loaded, all_up(loaded), tree({base, app}));
  CHECK(plan.changed == Names{"Base", "App"});
  CHECK(stops(plan) == Names{"App", "Base"});
  CHECK(plan.start == Names{"Base", "App"});
}

TEST_CASE("a module rejected now keeps running when it is up and healthy", "[reload]") {
  const std::vector<Module> loaded = {module("Base"), with_service(module("Svc"))};
  const ModuleTree fresh = tree({module("Base")}, {rejected("Svc", "service.yml: bad")});
  SECTION("up: kept, with its running definition, and not reported as rejected") {
    const ReloadPlan plan = plan_reload(loaded, all_up(loaded), fresh);
    REQUIRE(plan.kept.size() == 1);
    CHECK(plan.kept[0] == std::make_pair(std::string("Svc"), std::string("service.yml: bad")));
    CHECK(plan.keeps("Svc"));
    CHECK(plan.rejected.empty());
    CHECK(plan.empty());
    CHECK(names_of(plan.loaded) == Names{"Base", "Svc"});
  }
  SECTION("its service failed: dropped, its scripts stopped, then it") {
    ModulesNow now = all_up(loaded);
    now.service_failed.insert("Svc");
    const ReloadPlan plan = plan_reload(loaded, now, fresh);
    CHECK(plan.kept.empty());
    CHECK(plan.dropped == Names{"Svc"});
    CHECK(plan.rejected == Names{"Svc"});
    REQUIRE(plan.stop_scripts.size() == 1);
    CHECK(plan.stop_scripts[0].second == "module Svc was rejected");
    CHECK(stops(plan) == Names{"Svc"});
    CHECK(plan.start.empty());
    CHECK(names_of(plan.loaded) == Names{"Base"});
  }
}

TEST_CASE("a module rejected before and still is only reported", "[reload]") {
  const std::vector<Module> loaded = {module("Base")};
  const ReloadPlan plan =
      plan_reload(loaded, all_up(loaded), tree({module("Base")}, {rejected("Broken")}));
  CHECK(plan.rejected == Names{"Broken"});
  CHECK(plan.empty());
}

TEST_CASE("stops run in reverse start order, starts in the new tree's dependency order",
          "[reload]") {
  // A <- B <- C, all changed; D removed; started in the order A, D, B, C.
  const std::vector<Module> loaded = {module("A"), module("D"), module("B", {"A"}),
                                      module("C", {"B"})};
  ModulesNow now = all_up(loaded);
  std::vector<Module> next = {module("A"), module("B", {"A"}), module("C", {"B"}),
                              module("E", {"C"})};
  for (auto& m : next) m.build_info = "rebuilt";
  const ReloadPlan plan = plan_reload(loaded, now, tree(next));
  CHECK(plan.changed == Names{"A", "B", "C"});
  CHECK(plan.removed == Names{"D"});
  CHECK(plan.added == Names{"E"});
  CHECK(stops(plan) == Names{"C", "B", "D", "A"});
  CHECK(plan.start == Names{"A", "B", "C", "E"});
}

TEST_CASE("module_fingerprint tells apart every part of a definition", "[reload]") {
  const Module base = with_service(module("M"));
  CHECK(module_fingerprint(base) == module_fingerprint(with_service(module("M"))));
  Module other = base;
  other.dir = "/elsewhere/M";
  CHECK(module_fingerprint(other) != module_fingerprint(base));
  other = base;
  other.service.reset();
  CHECK(module_fingerprint(other) != module_fingerprint(base));
  other = base;
  other.service_off = "its configuration has no `x`";
  CHECK(module_fingerprint(other) != module_fingerprint(base));
  other = base;
  other.depends.push_back(Dependency{"X", 0, {}, 1});
  CHECK(module_fingerprint(other) != module_fingerprint(base));
}
