// The Hub's events about modules and their service instances: each one's topic, payload
// and retention, built here for every publisher (the module manager, the supervisor).
// README.md ("Events hubd publishes") documents each payload; a field is only ever added.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/hub/hub_publish.h"
#include "core/modules/module_loader.h"
#include "core/modules/reload_plan.h"

namespace hub {

struct LifecycleEvent {
  std::string topic;
  std::string payload;  // a JSON object
  bool retain = false;  // the latest per topic is kept: a module's state
};

// Publishes `event` as Hub.
void publish_lifecycle(const HubPublish& publish, const LifecycleEvent& event);

// Whom an event is about; every payload starts {"name": MODULE, "instance": INSTANCE}.
struct EventSubject {
  std::string module;
  // The service instance concerned (NAME, or NAME.X for a dynamic one). Empty, and left
  // out of the payload, for an event about the module itself.
  std::string instance;

  // Module `m`, with its own instance when it runs a service.
  static EventSubject of(const Module& m);
};

// The process of a service instance that is running (NAME/started).
struct RunningProcess {
  int64_t pid = 0;
  int64_t restarts = 0;  // since the instance was started by a request
  std::string command;   // the program, resolved
};

// How a service's process ended (NAME/exited).
struct ServiceExit {
  int64_t pid = 0;
  std::optional<int64_t> code;  // it exited
  std::string signal;           // or a signal ended it ("SIGSEGV")
  bool core_dumped = false;
  int64_t run_ms = 0;
  bool requested = false;  // a stop asked for it
  int64_t oom_kills = 0;   // of its cgroup (limits.memory)
  std::string reason;      // why the hub or the kernel ended it ("oom", a readiness timeout)
};

// NAME/loaded (retained): the loader accepted module `m`.
LifecycleEvent loaded_event(const Module& m);
// NAME/rejected (retained), or Hub/rejected when NAME cannot be a topic: the loader
// refused `r`; `kept_running` when a reload keeps the running version.
LifecycleEvent rejected_event(const RejectedModule& r, bool kept_running);
// Hub/rejected {reason}: a level directory that could not be read, or a tree that could
// not be scanned.
LifecycleEvent scan_problem_event(const std::string& problem);
// NAME/shadowed (retained): every copy of NAME that the winning copy (by_level, by_path)
// hides, from a lower level or an earlier module tree, in search order. REQUIRES: `copies` is not
// empty and all of one name.
LifecycleEvent shadowed_event(const std::vector<ShadowedModule>& copies);
// NAME/shadowed listing no copy: `name` shadows nothing any more (not retained; it clears
// the retained NAME/shadowed).
LifecycleEvent unshadowed_event(const std::string& name);
// NAME/removed: a reload found module NAME (loaded or rejected before) gone from the tree;
// its retained lifecycle state goes with it.
LifecycleEvent removed_event(const std::string& name);
// NAME/starting: the module starts, or (with `attempt`) a service restart begins.
LifecycleEvent starting_event(const EventSubject& s, std::optional<int64_t> attempt = {});
// NAME/started (retained): the module's startup scripts succeeded (no service, no
// `launch`), or its service's process runs (`launch`). `duration_ms`: how long the start
// took (the startup scripts, or launching the process).
LifecycleEvent started_event(const EventSubject& s, int64_t duration_ms,
                             const std::optional<RunningProcess>& launch = {});
// NAME/ready (retained): the service said it is ready.
LifecycleEvent ready_event(const EventSubject& s, int64_t pid, int64_t after_ms);
// NAME/exited: the service's process ended.
LifecycleEvent exited_event(const EventSubject& s, const ServiceExit& exit);
// NAME/restarting: a service restart is scheduled.
LifecycleEvent restarting_event(const EventSubject& s, int64_t attempt, int64_t delay_ms,
                                const std::string& reason);
// NAME/failed (retained): the module or its service instance failed, or was given up.
LifecycleEvent failed_event(const EventSubject& s, const std::string& reason);
// NAME/stopping: a stop begins; `reason` when the module did not ask for it itself and no
// operator named it (a dependency went down: "Timer stopped").
LifecycleEvent stopping_event(const EventSubject& s, const std::string& reason = "");
// NAME/stopped (retained): the stop is done; `shutdown_failure` when a shutdown script
// failed; `reason` as for NAME/stopping.
LifecycleEvent stopped_event(const EventSubject& s, const std::string& shutdown_failure = "",
                             const std::string& reason = "");
// Hub/reload: what the reload `plan` did, and which added or changed modules did not
// come up.
LifecycleEvent reload_event(const ReloadPlan& plan, const std::vector<std::string>& failed);
// The API's answer to a reload with "dry_run": reload_event's payload without "failed",
// with "dry_run": true and "reasons" {NAME: why} of every rejected module.
std::string reload_preview_json(const ReloadPlan& plan,
                                const std::vector<RejectedModule>& rejected);
// Hub/reload {error}: the tree could not be scanned; every module keeps running.
LifecycleEvent reload_error_event(const std::string& error);

}  // namespace hub
