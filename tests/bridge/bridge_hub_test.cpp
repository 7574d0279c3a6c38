// The fleet bridge end to end: a real hubd running the bundled modules/system/Bridge, a real
// mosquitto (tests/support/mqtt_broker.h), and an MQTT client watching what arrives.
#include <signal.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "bus/bus_paths.h"
#include "bus/publisher.h"
#include "support/mqtt_broker.h"
#include "support/mqtt_observer.h"
#include "support/running_hub.h"

namespace fs = std::filesystem;
using namespace hub;
using namespace hub::test;

namespace {

// The bundled module as it is in the tree, its program taken from this build (a sanitizer
// build keeps it outside the tree), and `bridge_yml` as the site's configuration.
void add_bridge(const TempDir& root, const std::string& bridge_yml) {
  const fs::path dest = root.path() / "modules/system/Bridge";
  fs::create_directories(dest);
  fs::copy(fs::path(HUB_SOURCE_DIR) / "modules/system/Bridge/info", dest / "info",
           fs::copy_options::recursive);
  fs::copy_file(fs::path(HUB_SOURCE_DIR) / "modules/system/Bridge/service.yml",
                dest / "service.yml");
  root.write("config/system/modules/Bridge/service.yml",
             std::string("command: ") + BRIDGE_PATH + "\ncheck: {command: " + BRIDGE_PATH +
                 "}\nrestart: {backoff: {min: 100ms, max: 1s}}\n");
  if (!bridge_yml.empty()) root.write("config/site/modules/Bridge/bridge.yml", bridge_yml);
}

std::string bridge_yml(int port, const std::string& extra = "") {
  return "broker: {host: 127.0.0.1, port: " + std::to_string(port) +
         ", backoff: {min: 50ms, max: 500ms}}\n" +
         "device: dev1\n"
         "outbound:\n"
         "  - {from: \"Probe/#\", to: \"fleet/{device}/{module}/{event}\", qos: 1}\n" +
         extra;
}

MqttObserverOptions fleet_watcher(const MosquittoBroker& broker, const std::string& id) {
  MqttObserverOptions o;
  o.port = broker.port();
  o.filters = {"fleet/dev1/#"};
  o.client_id = id + std::to_string(::getpid());
  o.persistent = true;  // the broker keeps its messages across its own restart
  return o;
}

// The numbers of the Probe/n messages that arrived, in arrival order.
std::vector<uint64_t> probe_numbers(const MqttObserver& watcher) {
  std::vector<uint64_t> out;
  for (const auto& m : watcher.messages()) {
    if (m.topic == "fleet/dev1/Probe/n") out.push_back(std::stoull(m.payload));
  }
  return out;
}

// Every number 1..n arrived, first arrivals in order; returns how many came twice.
size_t check_complete_in_order(const std::vector<uint64_t>& got, uint64_t n) {
  std::set<uint64_t> seen;
  uint64_t newest_first = 0;
  size_t duplicates = 0;
  for (uint64_t v : got) {
    if (!seen.insert(v).second) {
      ++duplicates;
      continue;
    }
    INFO("first arrival of " << v << " after " << newest_first);
    CHECK(v == newest_first + 1);  // in order, none skipped
    newest_first = v;
  }
  CHECK(seen.size() == n);
  return duplicates;
}

bool wait_for_numbers(MqttObserver& watcher, uint64_t n, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = probe_numbers(watcher);
    if (std::set<uint64_t>(got.begin(), got.end()).size() >= n) return true;
    watcher.wait_for_count(watcher.count() + 1, std::chrono::milliseconds(500));
  }
  return false;
}

class ProbePublisher {
 public:
  explicit ProbePublisher(const TempDir& root) : pub_(connect(ctx_, root)) {}
  // Publishes Probe/n with payloads first..last, the last one confirmed: all are then in
  // the hub's journal.
  void publish(uint64_t first, uint64_t last) {
    for (uint64_t i = first; i < last; ++i) REQUIRE(pub_.publish("Probe/n", std::to_string(i)));
    REQUIRE(pub_.publish_confirmed("Probe/n", std::to_string(last), std::chrono::seconds(20)));
  }
  // One event, confirmed.
  void publish_one(const std::string& topic, const std::string& payload) {
    REQUIRE(pub_.publish_confirmed(topic, payload, std::chrono::seconds(20)));
  }

 private:
  static Publisher connect(zmq::context_t& ctx, const TempDir& root) {
    auto pub = Publisher::connect(ctx, ipc_endpoint(BusPaths::for_root(root.path()).ingest_socket),
                                  admin_credential(root));
    if (!pub) throw std::runtime_error(pub.error());
    return std::move(*pub);
  }

  zmq::context_t ctx_{1};
  Publisher pub_;
};

constexpr size_t kWindow = 256;  // the bridge's default window

// Every event matching `patterns` from the journal's first on, then live: what was published
// before the test could subscribe is there too.
Subscriber from_start(const TempDir& root, std::vector<std::string> patterns) {
  static zmq::context_t ctx(1);
  SubscriberOptions options = recovering(root, std::move(patterns));
  options.resume_from = 1;
  auto sub = Subscriber::open(ctx, admin_credential(root), std::move(options));
  if (!sub) throw std::runtime_error(sub.error());
  return std::move(*sub);
}

}  // namespace

TEST_CASE("bridge: events published locally reach the fleet's broker, in order, at QoS 1",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  SECTION("the issue's bridge.yml, as written (MQTT 3.1.1)") {
    add_bridge(root,
               "# config/site/modules/Bridge/bridge.yml\n"
               "broker: {host: 127.0.0.1, port: " +
                   std::to_string(broker.port()) +
                   "}\n"
                   "device: dev1\n"
                   "outbound:\n"
                   "  - {from: \"Probe/#\", to: \"fleet/{device}/{module}/{event}\", qos: 1}\n");
  }
  SECTION("MQTT 5") {
    add_bridge(root, "broker: {host: 127.0.0.1, port: " + std::to_string(broker.port()) +
                         ", protocol: 5}\ndevice: dev1\noutbound:\n"
                         "  - {from: \"Probe/#\", to: \"fleet/{device}/{module}/{event}\"}\n");
  }
  MqttObserver watcher(fleet_watcher(broker, "in-order"));
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  ProbePublisher probe(root);
  probe.publish(1, 2000);
  REQUIRE(wait_for_numbers(watcher, 2000, std::chrono::seconds(30)));
  CHECK(check_complete_in_order(probe_numbers(watcher), 2000) == 0);
  for (const auto& m : watcher.messages()) {
    if (m.topic == "fleet/dev1/status") CHECK(m.payload == "online");
    if (m.topic == "fleet/dev1/Probe/n") CHECK(m.qos == 1);
  }
}

TEST_CASE("bridge: its state and counts are in inspect; a clean stop says offline",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  root.write("config/hub.yml", "device: from-hub-yml\n");
  add_bridge(root, "broker: {host: 127.0.0.1, port: " + std::to_string(broker.port()) +
                       "}\nstats_every: 100ms\noutbound:\n"
                       "  - {from: \"Probe/#\", to: \"fleet/{device}/{module}/{event}\"}\n");
  MqttObserverOptions o;
  o.port = broker.port();
  o.filters = {"fleet/from-hub-yml/#"};
  MqttObserver watcher(o);
  REQUIRE(watcher.connect());
  auto hub = std::make_unique<RunningHub>(root);
  ProbePublisher probe(root);
  probe.publish(1, 500);
  REQUIRE(watcher.wait_for_count(501));  // the birth message and every event
  // The stats are reported every 100 ms: wait (bounded) for a report that counts them all.
  std::string inspect;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    ChildProcess hubctl(HUBCTL_PATH, {"--root", root.path().string(), "inspect", "--json"});
    REQUIRE(hubctl.wait_exit() == 0);
    inspect.clear();
    for (const auto& line : hubctl.stdout_lines()) inspect += line;
    if (inspect.find("\"acked\":500") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // between two polls
  }
  INFO(inspect);
  CHECK(inspect.find("\"state\":\"connected\"") != std::string::npos);
  CHECK(inspect.find("\"sent\":500") != std::string::npos);
  CHECK(inspect.find("\"acked\":500") != std::string::npos);
  CHECK(inspect.find("\"backlog\":") != std::string::npos);
  CHECK(inspect.find("\"lost\":0") != std::string::npos);
  CHECK(inspect.find("\"reconnects\":0") != std::string::npos);
  hub.reset();  // SIGTERM: the bridge says goodbye itself (retained), no Will needed
  REQUIRE(watcher.wait_for_count(502));
  const auto messages = watcher.messages();
  CHECK(messages.front().topic == "fleet/from-hub-yml/status");
  CHECK(messages.front().payload == "online");
  CHECK(messages.back().topic == "fleet/from-hub-yml/status");
  CHECK(messages.back().payload == "offline");
}

TEST_CASE("bridge: a bridge that dies unannounced is reported offline by the broker (Last Will)",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  add_bridge(root, "broker: {host: 127.0.0.1, port: " + std::to_string(broker.port()) +
                       ", keepalive: 5s}\ndevice: dev1\noutbound:\n"
                       "  - {from: \"Probe/#\", to: \"fleet/{device}/{module}/{event}\"}\n");
  // The bridge is not restarted here, so only the broker can tell that it is gone.
  root.write("config/site/modules/Bridge/service.yml", "restart: {policy: \"no\"}\n");
  MqttObserverOptions o;
  o.port = broker.port();
  o.filters = {"fleet/dev1/status"};
  MqttObserver watcher(o);
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  Subscriber started = hub.subscribe({"Bridge/started"}, true);
  auto s = next_on(started, "Bridge/started");
  REQUIRE(s);
  REQUIRE(watcher.wait_for_count(1));
  REQUIRE(watcher.messages().back().payload == "online");
  ::kill(static_cast<int>(json_int(s->payload(), "pid")), SIGKILL);
  REQUIRE(watcher.wait_for_count(2, std::chrono::seconds(20)));
  CHECK(watcher.messages().back().payload == "offline");
  CHECK(watcher.messages().back().retain == false);  // live delivery of a retained Will
}

TEST_CASE("bridge: a broker away while tens of thousands of events are published gets every one",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  add_bridge(root, bridge_yml(broker.port()));
  MqttObserver watcher(fleet_watcher(broker, "outage"));
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  Subscriber bridge_events = hub.subscribe({"Bridge/+"});
  ProbePublisher probe(root);
  probe.publish(1, 1000);
  REQUIRE(wait_for_numbers(watcher, 1000, std::chrono::seconds(30)));
  broker.stop();
  REQUIRE(next_on(bridge_events, "Bridge/disconnected"));
  probe.publish(1001, 30000);
  broker.start();
  REQUIRE(next_on(bridge_events, "Bridge/connected", std::chrono::seconds(30)));
  REQUIRE(wait_for_numbers(watcher, 30000, std::chrono::seconds(60)));
  const size_t duplicates = check_complete_in_order(probe_numbers(watcher), 30000);
  INFO("duplicates: " << duplicates);
  CHECK(duplicates <= kWindow);
}

TEST_CASE("bridge: a bridge killed with SIGKILL mid-stream loses nothing", "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  add_bridge(root, bridge_yml(broker.port()));
  MqttObserver watcher(fleet_watcher(broker, "kill-bridge"));
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  Subscriber started = hub.subscribe({"Bridge/started"}, true);
  auto first = next_on(started, "Bridge/started");
  REQUIRE(first);
  const int pid = static_cast<int>(json_int(first->payload(), "pid"));
  ProbePublisher probe(root);
  std::atomic<bool> done{false};
  std::thread killer([&] {
    while (!done && probe_numbers(watcher).size() < 3000)
      watcher.wait_for_count(watcher.count() + 1, std::chrono::milliseconds(200));
    ::kill(pid, SIGKILL);
  });
  probe.publish(1, 20000);
  killer.join();
  auto again = next_on(started, "Bridge/started", std::chrono::seconds(30));
  REQUIRE(again);
  CHECK(json_int(again->payload(), "pid") != pid);
  done = true;
  REQUIRE(wait_for_numbers(watcher, 20000, std::chrono::seconds(60)));
  const size_t duplicates = check_complete_in_order(probe_numbers(watcher), 20000);
  INFO("duplicates: " << duplicates);
  CHECK(duplicates <= kWindow);
}

TEST_CASE("bridge: hubd killed with SIGKILL mid-stream: every confirmed event still arrives",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  add_bridge(root, bridge_yml(broker.port()));
  MqttObserver watcher(fleet_watcher(broker, "kill-hubd"));
  REQUIRE(watcher.connect());
  {
    auto hubd =
        std::make_unique<ChildProcess>(HUBD_PATH, std::vector<std::string>{"--root", root.path()});
    REQUIRE(hubd->wait_stderr("hub is up"));
    ProbePublisher probe(root);
    probe.publish(1, 10000);
    REQUIRE(watcher.wait_for_count(100));
    hubd->signal(SIGKILL);
    REQUIRE(hubd->wait_exit());
  }
  RunningHub hub(root);
  ProbePublisher probe(root);
  probe.publish(10001, 12000);
  REQUIRE(wait_for_numbers(watcher, 12000, std::chrono::seconds(60)));
  const size_t duplicates = check_complete_in_order(probe_numbers(watcher), 12000);
  INFO("duplicates: " << duplicates);
  CHECK(duplicates <= kWindow);
}

TEST_CASE("bridge: events that retention removed before they were sent are told as Bridge/lost",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  root.write("config/hub.yml", "journal: {segment_size: 4KiB, max_size: 8KiB}\n");
  add_bridge(root,
             bridge_yml(broker.port()) +
                 "  - {from: \"Probe/#\", to: \"wrapped/{device}/{event}\", payload: wrapped}\n");
  MqttObserverOptions o = fleet_watcher(broker, "retention");
  o.filters = {"wrapped/dev1/#"};
  MqttObserver watcher(o);
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  Subscriber bridge_events = hub.subscribe({"Bridge/+"});
  ProbePublisher probe(root);
  probe.publish(1, 10);
  REQUIRE(watcher.wait_for_count(10));
  broker.stop();
  REQUIRE(next_on(bridge_events, "Bridge/disconnected"));
  // More than the bridge's window and the bus's queues hold, through 8 KiB of journal.
  constexpr uint64_t kEvents = 60000;
  probe.publish(11, kEvents);
  broker.start();
  auto lost = next_on(bridge_events, "Bridge/lost", std::chrono::seconds(30));
  REQUIRE(lost);
  const auto first = static_cast<uint64_t>(json_int(lost->payload(), "first"));
  const auto last = static_cast<uint64_t>(json_int(lost->payload(), "last"));
  CHECK(json_int(lost->payload(), "count") == static_cast<int64_t>(last - first + 1));
  // The last event published arrives once the backlog is through.
  const auto has_last = [&] {
    for (const auto& m : watcher.messages())
      if (json_int(m.payload, "payload") == static_cast<int64_t>(kEvents)) return true;
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!has_last() && std::chrono::steady_clock::now() < deadline)
    watcher.wait_for_count(watcher.count() + 1, std::chrono::milliseconds(500));
  REQUIRE(has_last());
  // The range is exact: nothing in it arrived, and the events right around it did.
  std::set<uint64_t> seqs;
  for (const auto& m : watcher.messages())
    seqs.insert(static_cast<uint64_t>(json_int(m.payload, "seq")));
  CHECK(seqs.lower_bound(first) == seqs.upper_bound(last));
  CHECK(seqs.count(first - 1));
  CHECK(seqs.count(last + 1));
  // And every other event of the run arrived.
  CHECK(seqs.size() + (last - first + 1) >= kEvents);
}

TEST_CASE("bridge: a command from the fleet becomes a local event and runs its script",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  add_bridge(root, bridge_yml(broker.port(),
                              "inbound:\n  - {from: \"fleet/{device}/cmd/#\", to: command}\n"));
  add_script(root, "events/Bridge/command/10-record",
             "cat > \"$HUB_ROOT/command.txt\"; echo \"$HUB_EVENT_REMOTE_TOPIC $HUB_EVENT_PAYLOAD\" "
             ">> \"$HUB_ROOT/command.txt\"\n");
  RunningHub hub(root);
  Subscriber done = hub.subscribe({"Hub/scripts-done", "Bridge/connected"});
  MqttObserverOptions o;
  o.port = broker.port();
  MqttObserver fleet(o);
  REQUIRE(fleet.connect());
  // The bridge subscribes once connected; a command sent before that would find no one.
  Subscriber status = hub.subscribe({"Bridge/connected"});
  MqttObserver status_watch(fleet_watcher(broker, "cmd-status"));
  REQUIRE(status_watch.connect());
  REQUIRE(status_watch.wait_for_count(1));  // the retained "online": the bridge is connected
  REQUIRE(fleet.publish("fleet/dev1/cmd/reboot", "now"));
  auto ran = next_on(done, "Hub/scripts-done", std::chrono::seconds(30));
  REQUIRE(ran);
  CHECK(json_field(ran->payload(), "topic") == "Bridge/command");
  CHECK(json_int(ran->payload(), "failures") == 0);
  const std::string text = read_file(root.path() / "command.txt");
  CHECK(text.find("\"remote_topic\":\"fleet/dev1/cmd/reboot\"") != std::string::npos);
  CHECK(text.find("fleet/dev1/cmd/reboot now\n") != std::string::npos);
}

TEST_CASE("bridge: TLS with the fleet's CA and a client certificate", "[bridge][mqtt]") {
  MosquittoOptions options;
  options.tls = true;
  options.require_certificate = true;
  MosquittoBroker broker(options);
  TempDir root;
  add_bridge(root, "broker:\n  host: 127.0.0.1\n  port: " + std::to_string(broker.tls_port()) +
                       "\n  tls: {ca_file: " + broker.ca_file().string() +
                       ", cert_file: " + broker.client_cert_file().string() +
                       ", key_file: " + broker.client_key_file().string() +
                       "}\ndevice: dev1\noutbound: [{from: \"Probe/#\", to: "
                       "\"fleet/{device}/{module}/{event}\"}]\n");
  MqttObserver watcher(fleet_watcher(broker, "tls"));
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  ProbePublisher probe(root);
  probe.publish(1, 100);
  REQUIRE(wait_for_numbers(watcher, 100, std::chrono::seconds(30)));
}

TEST_CASE("bridge: a wrong password, a bad certificate and a closed port are told, and retried",
          "[bridge][mqtt]") {
  MosquittoOptions options;
  options.users = {{"device", "right"}};
  options.tls = true;
  MosquittoBroker broker(options);
  const int closed = pick_free_port();
  struct Case {
    std::string name, broker_yml, reason;
  };
  const std::vector<Case> cases = {
      {"wrong password",
       "{host: 127.0.0.1, port: " + std::to_string(broker.port()) +
           ", username: device, password: wrong}",
       "refused by 127.0.0.1:" + std::to_string(broker.port()) + ": "},
      {"unknown CA",
       "{host: 127.0.0.1, port: " + std::to_string(broker.tls_port()) +
           ", username: device, password: right, tls: {ca_file: "
           "/etc/ssl/certs/ca-certificates.crt}}",
       "TLS: "},
      {"closed port", "{host: 127.0.0.1, port: " + std::to_string(closed) + "}",
       "cannot connect to 127.0.0.1:" + std::to_string(closed) + ": Connection refused"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      TempDir root;
      add_bridge(root, "broker: " + c.broker_yml +
                           "\ndevice: dev1\noutbound: [{from: \"Probe/#\", to: \"x/{event}\"}]\n");
      RunningHub hub(root);
      Subscriber events = from_start(root, {"Bridge/+"});
      auto told = next_on(events, "Bridge/disconnected", std::chrono::seconds(20));
      REQUIRE(told);
      const std::string reason = json_field(told->payload(), "reason");
      INFO(reason);
      CHECK(reason.find(c.reason) != std::string::npos);
      // Still running, still trying: no crash loop (one start only).
      Subscriber started = hub.subscribe({"Bridge/started", "Bridge/exited"}, true);
      auto s = next_on(started, "Bridge/started");
      REQUIRE(s);
      CHECK(json_int(s->payload(), "restarts") == 0);
    }
  }
}

TEST_CASE("bridge: a malformed rule rejects the module at load, naming file, line and key",
          "[bridge][mqtt]") {
  TempDir root;
  add_bridge(
      root,
      "broker: {host: 127.0.0.1}\noutbound:\n  - {from: \"Probe/#\", to: \"f/{oops}\", qos: 1}\n");
  RunningHub hub(root);
  Subscriber rejected = hub.subscribe({"Bridge/rejected"}, true);
  auto r = next_on(rejected, "Bridge/rejected");
  REQUIRE(r);
  const std::string reason = json_field(r->payload(), "reason");
  INFO(reason);
  CHECK(reason.find("config/site/modules/Bridge/bridge.yml:3:") != std::string::npos);
  CHECK(reason.find("outbound[0].to: 'f/{oops}': {oops} is not known") != std::string::npos);
}

TEST_CASE("bridge: without a broker in its configuration the bridge does not run",
          "[bridge][mqtt]") {
  TempDir root;
  add_bridge(root, "");
  RunningHub hub(root);
  Subscriber loaded = hub.subscribe({"Bridge/loaded", "Bridge/started"}, true);
  auto e = next_on(loaded, "Bridge/loaded");
  REQUIRE(e);
  auto started = next_on(loaded, "Bridge/started", std::chrono::milliseconds(500));
  // A module without a running service publishes started without an instance.
  if (started) CHECK(json_field(started->payload(), "instance").empty());
}

// Three rules matching every event: the window (256 messages) holds 85 events, fewer than
// the mark's save_every (128 events), so a window of acknowledged messages is freed only
// by a save that is due by time (100 ms), and only an acknowledgement checks that.
TEST_CASE("bridge: events that three rules match all arrive (the window does not stall)",
          "[bridge][mqtt]") {
  MosquittoBroker broker;
  TempDir root;
  add_bridge(root, bridge_yml(broker.port(),
                              "  - {from: \"Probe/#\", to: \"fleet/{device}/r2/{event}\"}\n"
                              "  - {from: \"Probe/#\", to: \"fleet/{device}/r3/{event}\"}\n"));
  MqttObserver watcher(fleet_watcher(broker, "three-rules"));
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  ProbePublisher probe(root);
  probe.publish(1, 2000);
  const bool all = wait_for_numbers(watcher, 2000, std::chrono::seconds(30));
  INFO("Probe/n messages arrived: " << probe_numbers(watcher).size());
  REQUIRE(all);
  CHECK(check_complete_in_order(probe_numbers(watcher), 2000) == 0);
}

// A message the broker will never take (larger than its max_packet_size) must not hold
// back every event after it: it is told (Bridge/refused) and the rest flows.
TEST_CASE("bridge: a message too large for the broker does not stall the events after it",
          "[bridge][mqtt]") {
  MosquittoOptions options;
  options.extra_config = "max_packet_size 2000\n";
  MosquittoBroker broker(options);
  TempDir root;
  std::string protocol, limit;
  SECTION("MQTT 5: libmosquitto refuses it before sending (MOSQ_ERR_OVERSIZE_PACKET)") {
    protocol = "5";
  }
  SECTION("MQTT 3.1.1: the broker cannot say, so broker.max_message_size does") {
    protocol = "3.1.1";
    limit = ", max_message_size: 2000";
  }
  add_bridge(root,
             "broker: {host: 127.0.0.1, port: " + std::to_string(broker.port()) + ", protocol: \"" +
                 protocol + "\"" + limit +
                 ", backoff: {min: 50ms, max: 200ms}}\n"
                 "device: dev1\n"
                 "outbound:\n"
                 "  - {from: \"Probe/#\", to: \"fleet/{device}/{module}/{event}\", qos: 1}\n");
  MqttObserver watcher(fleet_watcher(broker, "oversize"));
  REQUIRE(watcher.connect());
  RunningHub hub(root);
  Subscriber bridge_events = hub.subscribe({"Bridge/+"});
  ProbePublisher probe(root);
  probe.publish(1, 10);
  REQUIRE(wait_for_numbers(watcher, 10, std::chrono::seconds(30)));
  probe.publish_one("Probe/big", std::string(5000, 'x'));
  probe.publish(11, 100);
  const bool all = wait_for_numbers(watcher, 100, std::chrono::seconds(15));
  INFO("Probe/n messages arrived: " << probe_numbers(watcher).size());
  CHECK(all);
  auto refused = next_on(bridge_events, "Bridge/refused", std::chrono::seconds(1));
  REQUIRE(refused);
  CHECK(json_field(refused->payload(), "topic") == "fleet/dev1/Probe/big");
  CHECK(json_int(refused->payload(), "bytes") == 5000);
}
