// A real hubd on a temporary root, plus what tests need around it: modules with services
// written in a few lines of shell, and subscribers that wait for events instead of
// sleeping. Stopped with SIGTERM (and waited for) when destroyed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "bus/root_layout.h"
#include "bus/subscriber.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

namespace hub::test {

// Writes modules/LEVEL/NAME/ with info files and, when `service_yml` is not empty, that
// service.yml.
void add_module(const TempDir& root, const std::string& name, const std::string& service_yml,
                const std::string& depends = "", const std::string& level = "system");
// Writes an executable /bin/sh script (the body follows "#!/bin/sh\n").
std::filesystem::path add_script(const TempDir& root, const std::string& relative,
                                 const std::string& body);

class RunningHub {
 public:
  // Starts hubd on `root` (with `env` added to its environment) and waits until it says
  // the hub is up.
  explicit RunningHub(const TempDir& root, const EnvVars& env = {});
  // The same with `config_file` given to hubd (--config): the hub's places are where its
  // paths: say.
  RunningHub(const TempDir& root, const std::filesystem::path& config_file,
             const EnvVars& env = {});
  ~RunningHub();

  ChildProcess& process() { return *hubd_; }
  const RootLayout& layout() const { return layout_; }
  // Subscribes to `patterns` (MQTT-style). Every event published after this returns
  // arrives; with `retained`, the last retained event of each matching topic first.
  Subscriber subscribe(std::vector<std::string> patterns, bool retained = false);
  // SIGTERM, then waits for the exit status.
  std::optional<int> stop();

 private:
  RootLayout layout_;
  zmq::context_t ctx_{1};
  std::unique_ptr<ChildProcess> hubd_;
};

// The administrator's credential of the hub running on `root` (throws when unreadable).
Credential admin_credential(const TempDir& root);

// Sends `request` (JSON) to `root`'s API as the administrator; the reply's text (throws
// when no answer comes within 20 s).
std::string admin_api_call(const TempDir& root, const std::string& request);

// Options for a subscriber to `root`'s bus that fetches what it misses from the journal
// (no retained snapshot), so a test that falls behind still sees every event.
SubscriberOptions recovering(const TempDir& root, std::vector<std::string> patterns);

// The next event on `topic` (others are skipped); nullopt when `timeout` passes first.
std::optional<Event> next_on(Subscriber& sub, std::string_view topic,
                             std::chrono::milliseconds timeout = std::chrono::seconds(20));
// The next event of any topic, as "TOPIC PAYLOAD"; empty on timeout.
std::string next_line(Subscriber& sub,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A top-level field of a flat JSON payload, as written (strings without their quotes);
// empty when absent.
std::string json_field(std::string_view payload, const std::string& key);
int64_t json_int(std::string_view payload, const std::string& key);

// The whole file as text (empty when it cannot be read).
std::string read_file(const std::filesystem::path& file);

}  // namespace hub::test
