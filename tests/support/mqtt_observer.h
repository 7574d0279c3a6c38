// An MQTT client for tests (libmosquitto, MQTT 3.1.1, its own network thread): subscribes
// to filters at QoS 1 and keeps every message it receives, in order, so a test can wait for
// a count instead of sleeping. It reconnects by itself when the broker goes away; with a
// persistent session the broker keeps its subscriptions and queues QoS 1 messages for it
// meanwhile (across a broker restart too, with the broker's persistence on).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace hub::test {

struct MqttMessage {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

struct MqttObserverOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::vector<std::string> filters;  // subscribed at QoS 1; none: a publisher only
  std::string client_id;             // empty: a unique one
  // clean_session false: the broker keeps the session while the observer is away.
  // Give a client_id to find the same session again from another MqttObserver.
  bool persistent = false;
  std::string username, password;  // none when username is empty
  // TLS when ca_file is set; a client certificate when cert_file and key_file are.
  std::string ca_file, cert_file, key_file;
  // Called on the network thread for every message, before it is kept; keep_messages false
  // keeps none (a benchmark counting a million messages), so messages() stays empty.
  std::function<void(const MqttMessage&)> on_message;
  bool keep_messages = true;
};

class MqttObserver {
 public:
  explicit MqttObserver(MqttObserverOptions options);
  ~MqttObserver();  // disconnects (a persistent session stays on the broker)
  MqttObserver(const MqttObserver&) = delete;
  MqttObserver& operator=(const MqttObserver&) = delete;

  // Connects and subscribes; true once the broker acknowledged the subscriptions (or had
  // them in the persistent session already). False when the broker refused or closed the
  // connection, or `timeout` passed: error() says why, and the observer stops trying.
  bool connect(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // A clean disconnect; connect() again later.
  void disconnect();

  // Connected and subscribed, how many times so far (a reconnect after the broker came back
  // counts); wait_connections(n) waits for the nth.
  int connections() const;
  bool wait_connections(int n, std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // True once at least `n` messages have arrived in total.
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::vector<MqttMessage> messages() const;
  std::size_t count() const;

  // Publishes and waits until the broker acknowledged it (PUBACK at QoS 1; sent at QoS 0).
  bool publish(const std::string& topic, const std::string& payload, int qos = 1,
               bool retain = false, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Why the last connection attempt failed or the connection was lost ("" when none).
  std::string error() const;

 private:
  static void on_connect(mosquitto*, void* self, int rc, int flags);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_subscribe(mosquitto*, void* self, int mid, int count, const int* granted);
  static void on_message(mosquitto*, void* self, const mosquitto_message* message);
  static void on_publish(mosquitto*, void* self, int mid);
  static void on_log(mosquitto*, void* self, int level, const char* text);

  MqttObserverOptions options_;
  mosquitto* client_ = nullptr;
  bool looping_ = false;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<MqttMessage> messages_;  // guarded by mu_
  int connections_ = 0;                // guarded by mu_
  int subscribe_mid_ = -1;             // guarded by mu_
  bool refused_ = false;               // guarded by mu_
  bool connecting_ = false;            // in connect(), guarded by mu_
  std::set<int> published_;            // mids acknowledged, guarded by mu_
  std::string error_;                  // guarded by mu_
};

}  // namespace hub::test
