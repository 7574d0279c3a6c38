// One MQTT connection to the fleet's broker (libmosquitto), kept up by its own thread:
// connect, serve, and after any failure wait (exponential backoff, reset by a connection
// that lasted) and connect again. Each connection is a fresh client, so nothing of a dead
// connection is resent behind the owner's back: the owner resends what it needs, in the
// order it chooses (OutboundWindow). Handlers run on the link's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include <mosquitto.h>

#include "bridge/bridge_config.h"

namespace hub::bridge {

struct MqttMessage {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retain = false;
};

class MqttLink {
 public:
  struct Handlers {
    std::function<void(bool session_present)> connected;
    // Why the connection went or could not be made, and when the next try is.
    std::function<void(const std::string& reason, std::chrono::milliseconds retry_in)> disconnected;
    // PUBACK (QoS 1), or written (QoS 0). `refusal`: empty, or why an MQTT 5 broker
    // refused the message (a reason code >= 0x80: it will never take it).
    std::function<void(int mid, const std::string& refusal)> published;
    std::function<void(const MqttMessage&)> message;
  };
  // `will`: the Last Will, published by the broker when the connection dies unannounced.
  MqttLink(BrokerSettings settings, std::string client_id, std::optional<MqttMessage> will,
           uint32_t max_inflight, Handlers handlers);
  ~MqttLink();
  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  void start();
  // Sends `farewell` (if any, waiting briefly for it to leave), disconnects cleanly (so the
  // Will is not published), and ends the thread.
  void stop(std::optional<MqttMessage> farewell);

  // Thread-safe, also from the handlers. The message id; -1 when there is no connection
  // (nothing was sent); -2 when the message can never be sent on this connection (larger
  // than the broker takes, a QoS it does not support), with why in `refusal`.
  int publish(const std::string& topic, std::string_view payload, int qos, bool retain,
              std::string* refusal = nullptr);
  // From the connected handler: subscribes on this connection. False when it failed.
  bool subscribe(const std::string& filter, int qos);

  bool connected() const { return connected_; }
  uint64_t reconnects() const { return reconnects_; }

 private:
  void run();
  mosquitto* make_client(std::string& error);
  // Runs one connection until it ends; returns why it ended.
  std::string serve(mosquitto* client);
  std::string describe(int rc) const;
  bool wait_before_retry(std::chrono::milliseconds delay);

  static void on_connect(mosquitto*, void* self, int rc, int flags, const mosquitto_property*);
  static void on_publish(mosquitto*, void* self, int mid, int rc, const mosquitto_property*);
  static void on_message(mosquitto*, void* self, const mosquitto_message* message,
                         const mosquitto_property*);
  static void on_log(mosquitto*, void* self, int level, const char* text);

  BrokerSettings settings_;
  std::string client_id_;
  std::optional<MqttMessage> will_;
  uint32_t max_inflight_;
  Handlers handlers_;

  std::mutex client_mu_;         // guards client_ against its destruction
  mosquitto* client_ = nullptr;  // the current connection's client
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::string refused_;     // the broker's CONNACK refusal, on the link's thread
  std::string last_error_;  // libmosquitto's last error line (TLS details), idem
  std::mutex wait_mu_;
  std::condition_variable wake_;
  std::mt19937_64 random_{std::random_device{}()};  // the backoff's jitter, link thread only
  std::thread thread_;
};

}  // namespace hub::bridge
