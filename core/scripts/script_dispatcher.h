// The event-script dispatcher (DESIGN, "The script contract"): an ordinary bus subscriber
// inside hubd that runs, for every event MODULE/EVENT, the scripts in ROOT/events/MODULE/EVENT
// and in every loaded module's events/MODULE/EVENT. One owner's (the site's, or a module's)
// scripts see events in bus order, one at a time; different owners run in parallel, at most
// `parallel` at once, so a slow or hung owner never holds up another owner or the bus.
//
// Outcomes are events, published as Hub: Hub/script-failed for every run that fails or
// times out, Hub/scripts-done when all scripts for one event have finished (only for events
// that had scripts). Runs for those two topics report nothing, so they cannot feed a loop.
//
// Thread-safe: start() and the methods below from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "bus/subscriber.h"
#include "core/hub/hub_publish.h"
#include "core/modules/module_loader.h"
#include "core/scripts/script_runner.h"

namespace hub {

// Defaults of the options below that hub.yml sets too (scripts:).
inline constexpr int kDefaultScriptsParallel = 4;
inline constexpr uint64_t kDefaultFeedbackLimit = 30;
inline constexpr std::chrono::milliseconds kDefaultFeedbackWindow{10000};
inline constexpr size_t kDefaultScriptQueueLimit = 10000;
inline constexpr bool kDefaultScriptsResume = true;

struct DispatcherOptions {
  RootLayout layout;
  // Per script, unless the module sets its own.
  std::chrono::milliseconds timeout = kDefaultScriptTimeout;
  size_t output_cap = kDefaultScriptOutputCap;  // bytes of stdout and of stderr kept per run
  int parallel = kDefaultScriptsParallel;       // runs that share the machine at once
  // A run that lasts longer holds only its owner's slot from then on.
  std::chrono::milliseconds slot_hold{250};
  // The feedback brake (0: none): runs of a module's scripts caused by its own scripts'
  // events on one topic, per window of bus time.
  uint64_t feedback_limit = kDefaultFeedbackLimit;
  std::chrono::milliseconds feedback_window = kDefaultFeedbackWindow;
  // Events waiting per owner before some are refused.
  size_t queue_limit = kDefaultScriptQueueLimit;
  // Durable dispatch: where the dispatcher keeps the seq up to which every event's scripts
  // have finished (empty: nowhere, dispatch from start() on only). With `resume`, the
  // events after it that are still in the journal are dispatched first, with
  // HUB_EVENT_REPLAYED=1: those an earlier hubd took in but did not finish (a crash, or a
  // stop that came first). `bus_last_seq` is the bus's newest seq when start() is called.
  std::filesystem::path mark_file;
  // hub.yml services.group: a module whose service runs as another user runs its event
  // scripts as that user, with this group.
  std::optional<gid_t> services_group;
  bool resume = kDefaultScriptsResume;
  uint64_t bus_last_seq = 0;
};

class ScriptDispatcher {
 public:
  // Subscribes to the whole bus; the subscription is active when this returns, so every
  // event published afterwards is dispatched. `modules` are the loaded modules (owners
  // after the site, in this order).
  static Result<std::unique_ptr<ScriptDispatcher>> start(
      zmq::context_t& ctx, const Credential& credential, SubscriberOptions bus,
      DispatcherOptions options, std::vector<Module> modules, HubPublish publish);
  ~ScriptDispatcher();

  // Waits until the event `seq` and every earlier one have been dispatched and all their
  // scripts have finished. False when `timeout` passes first.
  bool wait_done(uint64_t seq, std::chrono::milliseconds timeout);

  // Replaces the loaded modules (after a reload). Every event published after this returns
  // is dispatched to the new owners; a module that stays keeps its queue and order.
  void set_modules(std::vector<Module> modules);

  // Takes module `module`'s scripts out of service (its module stopped), until
  // resume_scripts(): its running script is killed (reported as Hub/script-failed with
  // `reason`), its queued events are cancelled (one Hub/scripts-skipped), events that come
  // meanwhile are not queued for it. Returns once the killed script has been reaped.
  void stop_scripts(const std::string& module, const std::string& reason);
  // Its scripts run again, for events taken from the bus from now on.
  void resume_scripts(const std::string& module);

  // inspect's `scripts` (docs/API.md): {"owners": [{owner, runs, failures, timeouts,
  // queued, refused, running, stopped}], "latency": H, "durations": H}, H as
  // DurationHistogram::json() gives it (script_stats.h).
  std::string stats_json() const;

  // Stops taking events from the bus and kills the scripts still running; their events
  // and the queued ones that have not started are left (logged) for the next start to
  // resume, with a mark_file.
  void stop();

  struct Impl;

 private:
  explicit ScriptDispatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// HUB_EVENT_<FIELD> for a payload's top-level scalar fields: the name upper-cased, every
// character outside [A-Z0-9_] turned into '_'. Fields whose value holds a NUL byte or is
// longer than 64 KiB are left out (the raw payload is on stdin), as are those whose name
// is one the dispatcher sets itself (HUB_EVENT_TOPIC, _SEQ, _TIME, _SOURCE, _CONTENT_TYPE,
// _REPLAYED, _FIELDS_TRUNCATED; set or not) or an earlier field's. At most 1000 fields
// and 256 KiB in all: beyond, fields are left out and HUB_EVENT_FIELDS_TRUNCATED=1 says so.
std::vector<std::pair<std::string, std::string>> event_field_environment(std::string_view payload);

}  // namespace hub
