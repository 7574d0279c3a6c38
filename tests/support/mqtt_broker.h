// A real mosquitto broker (Debian's package) for tests and benchmarks: a config written
// into a TempDir, a listener on 127.0.0.1 at a port picked at start, persistence in that
// directory. stop() and start() again keep the same ports (outage tests). Stopped when
// destroyed. MqttObserver (support/mqtt_observer.h) is the client that watches it.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace hub::test {

struct MosquittoOptions {
  // true: no per-client queue or in-flight limit (max_queued_messages 0,
  // max_inflight_messages 0), so a subscriber that is away or slow never loses a message.
  // false: mosquitto's defaults (1000 queued, 20 in flight), as a user's broker has them.
  bool unlimited_queues = true;
  // user -> password. When not empty, a password file holds them and anonymous clients are
  // refused.
  std::map<std::string, std::string> users;
  // A second listener with TLS (tls_port()), its certificates made with openssl: a CA, a
  // server certificate for 127.0.0.1 and localhost, and a client certificate.
  bool tls = false;
  // With tls: a client must present a certificate signed by the CA.
  bool require_certificate = false;
  // Appended to the config verbatim, after the listeners (a bridge `connection` section).
  std::string extra_config;
};

class MosquittoBroker {
 public:
  // Starts the broker and waits until every listener accepts connections (throws when it
  // does not within 20 s, with mosquitto's output).
  explicit MosquittoBroker(MosquittoOptions options = {});
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // Starts it again on the same ports after stop() or kill(); waits as the constructor.
  void start();
  // SIGTERM, waited for: mosquitto saves its persistence (sessions, queued messages).
  void stop();
  // SIGKILL, waited for: nothing is saved.
  void kill();
  bool running() const { return process_ != nullptr; }

  int port() const { return port_; }
  int tls_port() const { return tls_port_; }  // 0 without tls
  int pid() const;
  // What mosquitto wrote on stderr in its current (or last) run.
  std::string log() const;

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path config_file() const { return dir_.path() / "mosquitto.conf"; }
  // With tls (otherwise empty paths).
  std::filesystem::path ca_file() const { return cert_path("ca.crt"); }
  std::filesystem::path client_cert_file() const { return cert_path("client.crt"); }
  std::filesystem::path client_key_file() const { return cert_path("client.key"); }

 private:
  std::filesystem::path cert_path(const std::string& name) const;
  void write_config() const;
  bool launch();  // true when up; false when a port was taken (the caller picks again)

  MosquittoOptions options_;
  TempDir dir_;
  int port_ = 0;
  int tls_port_ = 0;
  bool ports_fixed_ = false;  // after the first start: a restart keeps them
  std::unique_ptr<ChildProcess> process_;
  std::string last_log_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (the caller binds it soon, and retries
// with another when someone else was quicker).
int pick_free_port();
// True once a TCP connection to 127.0.0.1:port succeeds; false when `timeout` passes first.
bool port_accepts(int port, std::chrono::milliseconds timeout);
// The full path of a program found on PATH or in the sbin directories (mosquitto is in
// /usr/sbin, not on every user's PATH); `name` itself when not found.
std::string find_program(const std::string& name);

}  // namespace hub::test
