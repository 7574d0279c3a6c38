// A real broker on ipc sockets in a temp dir, running on its own thread, plus helpers to
// connect clients to it as the admin identity. Clients use their own ZeroMQ context, as
// separate processes would.
#pragma once

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bus/broker.h"
#include "bus/publisher.h"
#include "bus/subscriber.h"
#include "support/temp_dir.h"

namespace hub::test {

class BusFixture {
 public:
  explicit BusFixture(BrokerOptions options = {}) {
    options.ingest_endpoint = "ipc://" + (dir.path() / "ingest.sock").string();
    options.events_endpoint = "ipc://" + (dir.path() / "events.sock").string();
    options.replay_endpoint = "ipc://" + (dir.path() / "replay.sock").string();
    options_ = options;
    credentials.add(admin);
    auto bound = Broker::bind(broker_ctx, options, credentials);
    if (!bound) throw std::runtime_error(bound.error());
    broker = std::move(*bound);
    thread_ = std::thread([this] { broker->run(); });
  }
  ~BusFixture() { stop(); }

  // Stops the broker and waits until run() has returned (it drains first). Idempotent.
  void stop() {
    broker->stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string endpoint(const char* socket) const {
    return "ipc://" + (dir.path() / socket).string();
  }

  Publisher publisher(const Credential& who, PublisherOptions options = {}) {
    auto p = Publisher::connect(client_ctx, options_.ingest_endpoint, who, options);
    if (!p) throw std::runtime_error(p.error());
    return std::move(*p);
  }
  Publisher publisher() { return publisher(admin); }

  Result<Subscriber> try_subscribe(
      std::vector<std::string> patterns, const Credential& who, bool retained = true,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(6000),
      int receive_hwm = 10000) {
    SubscriberOptions o;
    o.events_endpoint = options_.events_endpoint;
    o.replay_endpoint = options_.replay_endpoint;
    o.patterns = std::move(patterns);
    o.retained = retained;
    o.connect_timeout = timeout;
    o.receive_hwm = receive_hwm;
    return Subscriber::open(client_ctx, who, std::move(o));
  }
  // Joined with a snapshot, so the subscription is active when this returns.
  Subscriber subscribe(std::vector<std::string> patterns = {}, int receive_hwm = 10000) {
    auto s = try_subscribe(std::move(patterns), admin, true, std::chrono::milliseconds(6000),
                           receive_hwm);
    if (!s) throw std::runtime_error(s.error());
    return std::move(*s);
  }

  TempDir dir;
  Credential admin{"admin", "correct-horse"};
  CredentialStore credentials;
  zmq::context_t broker_ctx{1};
  std::unique_ptr<Broker> broker;
  zmq::context_t client_ctx{1};

 private:
  BrokerOptions options_;
  std::thread thread_;
};

// What a subscriber joining now gets first: the retained events of `patterns`, as
// "TOPIC PAYLOAD", in seq order. The snapshot is taken in before subscribe() returns, so
// reading stops at the first event that is not retained, or when none is queued.
inline std::vector<std::string> retained_now(Subscriber& late) {
  std::vector<std::string> out;
  while (auto e = late.next(std::chrono::milliseconds(0))) {
    if (!e->retained()) break;
    out.push_back(std::string(e->topic()) + " " + std::string(e->payload()));
  }
  return out;
}
inline std::vector<std::string> retained_now(BusFixture& bus,
                                             std::vector<std::string> patterns = {}) {
  auto late = bus.subscribe(std::move(patterns));
  return retained_now(late);
}

// Publishes as the Hub does (the broker's in-process socket), confirmed.
class HubPublisher {
 public:
  explicit HubPublisher(BusFixture& bus) {
    auto p = Publisher::connect(bus.broker_ctx, "inproc://hub.internal", std::nullopt);
    if (!p) throw std::runtime_error(p.error());
    publisher_ = std::move(*p);
  }
  ~HubPublisher() { publisher_->close(); }
  HubPublisher(const HubPublisher&) = delete;
  HubPublisher& operator=(const HubPublisher&) = delete;
  // Returns once the broker acknowledged it; throws (a test failure) when it does not.
  void operator()(const std::string& topic, const std::string& payload, bool retain = true) {
    PublishOptions o;
    o.retain = retain;
    auto acked = publisher_->publish_confirmed(topic, payload, std::chrono::seconds(5), o);
    if (!acked) throw std::runtime_error(topic + ": " + acked.error());
  }

 private:
  std::optional<Publisher> publisher_;
};

}  // namespace hub::test
