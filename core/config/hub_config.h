// config/hub.yml: the Hub's runtime settings. Every field has a default; the file only
// needs what differs. A default that a component's options share is that component's
// (kDefault... next to its options), named here. See config/hub.yml for the documented
// example, and hub_options.h for how each section becomes a component's options.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bus/broker.h"
#include "bus/journal.h"
#include "bus/root_layout.h"
#include "bus/status.h"
#include "core/modules/module_loader.h"
#include "core/scripts/script_dispatcher.h"
#include "core/scripts/script_runner.h"
#include "core/services/supervisor.h"

namespace hub {

// The shortest time limit a script run may have (scripts.timeout, a module's
// hub.scripts.timeout, shutdown.scripts_timeout): a shorter one kills scripts before
// /bin/sh has started on a busy device, so every run would fail as a timeout.
constexpr std::chrono::milliseconds kMinScriptTimeout{100};

// The smallest journal segment (journal.segment_size); journal.max_size must be at least
// twice the segment size, so retention never deletes the segment just filled.
constexpr uint64_t kMinSegmentSize = 4 * 1024;

struct HubConfig {
  // Config levels, lowest precedence first.
  std::vector<std::string> levels = default_config_levels();
  // Where the root's places are (README, "Layout"): each a directory, relative to the
  // root or absolute, without '..'; modules: a list of trees, lowest precedence first.
  // Unset: the place's default under the root.
  RootPlaces paths;
  // This device's name in a fleet (the bridge's {device}); every module process gets it as
  // HUB_DEVICE. Empty: the host name.
  std::string device;

  struct Log {
    std::string level = "info";            // trace, debug, info, warn, error
    uint64_t max_size = 10 * 1024 * 1024;  // hubd.log rotates at this size
    int64_t keep = 3;                      // rotated files kept
  } log;

  struct Bus {
    // Events queued per subscriber before it misses some.
    int64_t subscriber_hwm = kDefaultSubscriberHwm;
    uint64_t max_payload = kDefaultMaxPayload;  // larger publishes are refused
    // The retained store's bounds (the Hub's own retained events are reserved, not counted):
    // topics of all publishers together, their bytes (topic, header, payload), topics one
    // module (or admin) holds, and their bytes.
    int64_t max_retained = kDefaultMaxRetained;
    uint64_t max_retained_bytes = kDefaultMaxRetainedBytes;
    int64_t max_retained_per_module = kDefaultMaxRetainedPerModule;
    uint64_t max_retained_bytes_per_module = kDefaultMaxRetainedBytesPerModule;
  } bus;

  struct JournalSettings {
    std::string durability = durability_name(kDefaultDurability);  // none, batch, every-event
    // batch: the most an event waits to be synced (at least 1 ms; every-event syncs each)
    std::chrono::milliseconds sync_interval = kDefaultSyncInterval;
    uint64_t segment_size = kDefaultSegmentSize;  // var/db/hub/journal/ files roll at this size
    uint64_t max_size = kDefaultJournalMaxBytes;  // retention by size
    std::chrono::milliseconds max_age = kDefaultJournalMaxAge;  // retention by age (>= 1 s)
  } journal;

  struct Scripts {
    // Per script run; its process group is then killed (at least kMinScriptTimeout).
    std::chrono::milliseconds timeout = kDefaultScriptTimeout;
    uint64_t output_cap = kDefaultScriptOutputCap;  // bytes of stdout and of stderr kept per run
    // Event script runs at once (a long run then holds only its owner's slot).
    int64_t parallel = kDefaultScriptsParallel;
    int64_t queue_limit = kDefaultScriptQueueLimit;  // events waiting per owner before refusing
    // After a restart, run what an earlier hubd left undispatched.
    bool resume = kDefaultScriptsResume;
    // The feedback brake: a module's scripts run at most this often per topic and window
    // for events its own scripts published (0: no brake).
    int64_t feedback_limit = kDefaultFeedbackLimit;
    std::chrono::milliseconds feedback_window = kDefaultFeedbackWindow;
  } scripts;

  struct Services {
    // Absolute directories outside the root that service volumes may point into.
    std::vector<std::string> volume_paths;
    uint64_t log_max_size = kDefaultInstanceLogMaxSize;  // an instance's output log rotates here
    int64_t log_keep = kDefaultInstanceLogKeep;          // rotated output logs kept per instance
    std::chrono::milliseconds leftover_grace{5000};      // for instances a killed hubd left behind
    // The group that may enter var/run/hub (the bus and API sockets): services and scripts
    // that run as another user (service.yml user:) run with it as their group. Empty:
    // hubd's own group, and then no service may run as another user.
    std::string group;
  } services;

  // The bus and the API on tcp as well, for peers on other machines: CURVE only (README,
  // "Security"). Empty endpoints are not served. Key files are relative to the root.
  struct Network {
    std::string ingest, events, replay, api;  // tcp://HOST:PORT (PORT may be '*')
    std::string server_key;                   // this hub's CURVE secret key, owner-only
    std::string clients;                      // "IDENTITY PUBLIC_KEY" lines, owner-only
    bool any() const {
      return !ingest.empty() || !events.empty() || !replay.empty() || !api.empty();
    }
  } network;

  struct Shutdown {
    // Bound on flushing the bus at exit (0: none).
    std::chrono::milliseconds drain_timeout = kDefaultDrainTimeout;
    std::chrono::milliseconds scripts_timeout{
        30000};  // bound on Hub/shutdown's scripts (>= 100 ms)
  } shutdown;
};

// Reads `file`. Every problem (syntax, unknown key, wrong type, bad value) is reported
// with file:line:column and the dotted key, all in one Status.
Result<HubConfig> load_hub_config(const std::filesystem::path& file);

}  // namespace hub
