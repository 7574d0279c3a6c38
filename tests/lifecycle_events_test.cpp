// The lifecycle events' topics, payloads and retention (README, "Events hubd publishes"),
// built without a bus.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/modules/lifecycle_events.h"

using namespace hub;

namespace {

Module module(const std::string& name, bool service) {
  Module m;
  m.name = name;
  m.level = "site";
  m.dir = "/srv/hub/modules/site/" + name;
  m.version = Version{0, 3, 0};
  m.depends.push_back(Dependency{"Timer", 1, Version{1, 0, 0}, 1});
  m.build_info = "built";
  if (service) m.service = ServiceSpec{};
  return m;
}

const EventSubject kModule{"Greeter", ""};
const EventSubject kInstance{"Timer", "Timer"};
const EventSubject kDynamic{"Timer", "Timer.fast"};

}  // namespace

TEST_CASE("every payload names the module, and the instance when it is about one", "[lifecycle]") {
  CHECK(EventSubject::of(module("Greeter", false)).instance.empty());
  CHECK(EventSubject::of(module("Timer", true)).instance == "Timer");
  CHECK(stopping_event(kModule).payload == R"({"name":"Greeter"})");
  CHECK(stopping_event(kInstance).payload == R"({"name":"Timer","instance":"Timer"})");
  CHECK(stopping_event(kDynamic).topic == "Timer/stopping");
  CHECK(stopping_event(kDynamic).payload == R"({"name":"Timer","instance":"Timer.fast"})");
}

TEST_CASE("NAME/loaded, NAME/rejected, NAME/shadowed and Hub/rejected", "[lifecycle]") {
  const LifecycleEvent loaded = loaded_event(module("Greeter", false));
  CHECK(loaded.topic == "Greeter/loaded");
  CHECK(loaded.retain);
  CHECK(loaded.payload ==
        R"({"name":"Greeter","level":"site","version":"0.3.0",)"
        R"("path":"/srv/hub/modules/site/Greeter","depends":["Timer:1"],"build":"built",)"
        R"("service":false})");

  RejectedModule r;
  r.name = "Broken";
  r.level = "system";
  r.dir = "/m/Broken";
  r.reason = "bad version";
  const LifecycleEvent plain = rejected_event(r, false);
  CHECK(plain.topic == "Broken/rejected");
  CHECK(plain.retain);
  CHECK(plain.payload ==
        R"({"name":"Broken","level":"system","path":"/m/Broken","reason":"bad version"})");
  r.file = "/m/Broken/info/version.txt";
  r.line = 1;
  CHECK(rejected_event(r, true).payload ==
        R"({"name":"Broken","level":"system","path":"/m/Broken","reason":"bad version",)"
        R"("file":"/m/Broken/info/version.txt","line":1,"kept_running":true})");
  r.name = "no/topic";
  const LifecycleEvent hub = rejected_event(r, false);
  CHECK(hub.topic == "Hub/rejected");
  CHECK_FALSE(hub.retain);

  const LifecycleEvent problem = scan_problem_event("modules/site: cannot be read");
  CHECK(problem.topic == "Hub/rejected");
  CHECK(problem.payload == R"({"reason":"modules/site: cannot be read"})");
  CHECK_FALSE(problem.retain);

  const LifecycleEvent shadowed =
      shadowed_event({{"Timer", "system", "/m/system/Timer", "site", "/m/site/Timer"},
                      {"Timer", "customer", "/m/c/Timer", "site", "/m/site/Timer"}});
  CHECK(shadowed.topic == "Timer/shadowed");
  CHECK(shadowed.retain);
  CHECK(shadowed.payload ==
        R"({"name":"Timer","by_level":"site","shadowed":[{"level":"system",)"
        R"("path":"/m/system/Timer"},{"level":"customer","path":"/m/c/Timer"}],)"
        R"("by_path":"/m/site/Timer"})");
}

TEST_CASE("NAME/starting and NAME/started: one payload for a module and for a service",
          "[lifecycle]") {
  CHECK(starting_event(kModule).payload == R"({"name":"Greeter"})");
  CHECK_FALSE(starting_event(kModule).retain);
  CHECK(starting_event(kInstance, 2).payload ==
        R"({"name":"Timer","instance":"Timer","attempt":2})");

  const LifecycleEvent module_started = started_event(kModule, 10);
  CHECK(module_started.topic == "Greeter/started");
  CHECK(module_started.retain);
  CHECK(module_started.payload == R"({"name":"Greeter","duration_ms":10})");
  // A service's carries the same fields, and its process's.
  const LifecycleEvent service_started =
      started_event(kInstance, 1, RunningProcess{19927, 0, "/srv/Timer/timer"});
  CHECK(service_started.topic == "Timer/started");
  CHECK(service_started.payload == R"({"name":"Timer","instance":"Timer","pid":19927,)"
                                   R"("restarts":0,"command":"/srv/Timer/timer","duration_ms":1})");
}

TEST_CASE("a service's NAME/ready, NAME/exited and NAME/restarting", "[lifecycle]") {
  const LifecycleEvent ready = ready_event(kInstance, 42, 7);
  CHECK(ready.topic == "Timer/ready");
  CHECK(ready.retain);
  CHECK(ready.payload == R"({"name":"Timer","instance":"Timer","pid":42,"after_ms":7})");

  ServiceExit code;
  code.pid = 42;
  code.code = 0;
  code.run_ms = 1500;
  code.requested = true;
  const LifecycleEvent exited = exited_event(kInstance, code);
  CHECK(exited.topic == "Timer/exited");
  CHECK_FALSE(exited.retain);
  CHECK(exited.payload == R"({"name":"Timer","instance":"Timer","pid":42,"code":0,)"
                          R"("run_ms":1500,"requested":true})");

  ServiceExit oom;
  oom.pid = 43;
  oom.signal = "SIGKILL";
  oom.core_dumped = true;
  oom.run_ms = 9;
  oom.oom_kills = 1;
  oom.reason = "oom";
  CHECK(exited_event(kInstance, oom).payload ==
        R"({"name":"Timer","instance":"Timer","pid":43,"signal":"SIGKILL","core_dumped":true,)"
        R"("run_ms":9,"requested":false,"oom_kills":1,"reason":"oom"})");

  const LifecycleEvent restarting = restarting_event(kInstance, 3, 400, "exited with code 1");
  CHECK(restarting.topic == "Timer/restarting");
  CHECK_FALSE(restarting.retain);
  CHECK(restarting.payload == R"({"name":"Timer","instance":"Timer","attempt":3,)"
                              R"("delay_ms":400,"reason":"exited with code 1"})");
}

TEST_CASE("NAME/failed and NAME/stopped", "[lifecycle]") {
  const LifecycleEvent module_failed = failed_event(kModule, "dependency Timer did not start");
  CHECK(module_failed.topic == "Greeter/failed");
  CHECK(module_failed.retain);
  CHECK(module_failed.payload == R"({"name":"Greeter","reason":"dependency Timer did not start"})");
  CHECK(failed_event(kInstance, "gave up").payload ==
        R"({"name":"Timer","instance":"Timer","reason":"gave up"})");

  const LifecycleEvent stopped = stopped_event(kInstance);
  CHECK(stopped.retain);
  CHECK(stopped.payload == R"({"name":"Timer","instance":"Timer"})");
  CHECK(stopped_event(kModule, "control/shutdown/10-x exited with 1").payload ==
        R"({"name":"Greeter","shutdown_failure":"control/shutdown/10-x exited with 1"})");
}

TEST_CASE("Hub/reload", "[lifecycle]") {
  ReloadPlan plan;
  plan.added = {"New"};
  plan.removed = {"Gone"};
  plan.changed = {"Svc"};
  plan.unchanged = {"Base"};
  plan.kept = {{"Old", "bad service.yml"}};
  plan.rejected = {"Broken"};
  const LifecycleEvent report = reload_event(plan, {"Svc"});
  CHECK(report.topic == "Hub/reload");
  CHECK_FALSE(report.retain);
  CHECK(report.payload ==
        R"({"added":["New"],"removed":["Gone"],"changed":["Svc"],"unchanged":["Base"],)"
        R"("kept":[{"name":"Old","reason":"bad service.yml"}],"rejected":["Broken"],)"
        R"("failed":["Svc"]})");
  CHECK(reload_error_event("cannot scan").payload == R"({"error":"cannot scan"})");
}
