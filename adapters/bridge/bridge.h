// The fleet bridge: a durable subscription to the local bus feeds the outbound rules into
// one MQTT connection, and the subscription's mark advances only as far as the broker has
// acknowledged everything (OutboundWindow); inbound rules turn the broker's messages into
// the bridge's own local events. Nothing is dropped: what the window cannot take waits in
// the hub's journal, and what retention removed before it was sent is published as
// Bridge/lost with its range.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <hub/sdk.h>

#include "bridge/bridge_config.h"
#include "bridge/mqtt_link.h"
#include "bridge/outbound_window.h"

namespace hub::bridge {

class Bridge {
 public:
  // The durable subscription's name: its mark lives in the module's data directory.
  static constexpr const char* kConsumer = "outbound";

  Bridge(sdk::Context& ctx, BridgeConfig config);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Subscribes, connects, and serves until the service is asked to stop.
  Status run();

 private:
  void handle(const sdk::Event& e);  // on the subscription's thread
  std::vector<OutboundMessage> messages_for(const sdk::Event& e) const;
  int send(const OutboundMessage& m);  // with mu_ held
  // Sends what waits (with mu_ held), and tells what was refused once mu_ is released.
  void send_pending_locked();
  void tell_refused();
  void refused(const OutboundMessage& m, const std::string& why);  // with mu_ held
  // Tells the durable subscription how far the broker acknowledged; with mu_ held.
  void acknowledge_locked();
  void on_connected(bool session_present);
  void on_disconnected(const std::string& reason, std::chrono::milliseconds retry_in);
  void on_published(int mid, const std::string& refusal);
  void on_message(const MqttMessage& m);
  void on_lost(uint64_t first, uint64_t last);
  void report_stats();
  std::string device_topic(const std::string& text) const;

  sdk::Context& ctx_;
  BridgeConfig config_;
  std::vector<std::string> inbound_filters_;  // expanded for this device

  std::mutex mu_;  // guards what follows, and the order of sends
  std::condition_variable room_;
  OutboundWindow window_;
  bool stopping_ = false;
  bool was_connected_ = false;
  std::string state_ = "connecting";
  std::string last_error_, last_told_;  // last_told_: the last Bridge/disconnected reason
  uint64_t handed_ = 0;                 // the newest event handed to the bridge
  uint64_t saved_mark_ = 0;
  std::vector<std::string> refusals_;  // Bridge/refused payloads still to publish

  // Messages sent (resent: again, after a connection went with them unacknowledged).
  std::atomic<uint64_t> sent_{0}, resent_{0}, acked_{0}, inbound_{0}, inbound_failed_{0};
  std::atomic<uint64_t> lost_{0}, refused_{0};
  MqttLink link_;
};

}  // namespace hub::bridge
