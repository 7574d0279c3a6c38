// The test support for a real mosquitto broker (support/mqtt_broker.h, mqtt_observer.h):
// what the bridge's tests rely on, checked on its own.
#include <catch2/catch.hpp>

#include "support/mqtt_broker.h"
#include "support/mqtt_observer.h"

using namespace hub::test;

namespace {

MqttObserverOptions watching(const MosquittoBroker& broker, std::vector<std::string> filters) {
  MqttObserverOptions options;
  options.port = broker.port();
  options.filters = std::move(filters);
  return options;
}

std::vector<std::string> payloads(const MqttObserver& observer) {
  std::vector<std::string> all;
  for (const auto& message : observer.messages()) all.push_back(message.payload);
  return all;
}

}  // namespace

TEST_CASE("mqtt support: an observer receives what mosquitto_pub and its own publish send",
          "[mqtt]") {
  MosquittoBroker broker;
  MqttObserver observer(watching(broker, {"t/#"}));
  REQUIRE(observer.connect());

  ChildProcess pub(find_program("mosquitto_pub"),
                   {"-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-q", "1", "-t",
                    "t/one", "-m", "from mosquitto_pub"});
  REQUIRE(pub.wait_exit() == 0);
  REQUIRE(observer.publish("t/two", "own", 1, true));
  REQUIRE(observer.wait_for_count(2));

  const auto messages = observer.messages();
  CHECK(messages[0].topic == "t/one");
  CHECK(messages[0].payload == "from mosquitto_pub");
  CHECK(messages[0].qos == 1);
  CHECK(messages[1].topic == "t/two");
  CHECK(messages[1].payload == "own");
  CHECK_FALSE(messages[1].retain);  // retained only for a later subscriber

  MqttObserver later(watching(broker, {"t/two"}));
  REQUIRE(later.connect());
  REQUIRE(later.wait_for_count(1));
  CHECK(later.messages()[0].retain);
}

TEST_CASE("mqtt support: a restart keeps the port, and a persistent session its queue", "[mqtt]") {
  MosquittoBroker broker;
  const int port = broker.port();
  auto persistent = watching(broker, {"q/#"});
  persistent.persistent = true;
  MqttObserver away(persistent);
  REQUIRE(away.connect());
  away.disconnect();

  MqttObserver publisher(watching(broker, {}));
  REQUIRE(publisher.connect());
  for (int i = 0; i < 3; ++i) REQUIRE(publisher.publish("q/x", std::to_string(i)));

  // Queued for the absent session, saved at SIGTERM, loaded at start.
  broker.stop();
  CHECK_FALSE(broker.running());
  broker.start();
  CHECK(broker.port() == port);

  REQUIRE(away.connect());
  REQUIRE(away.wait_for_count(3));
  CHECK(payloads(away) == std::vector<std::string>{"0", "1", "2"});

  // A connected observer (a clean session) comes back by itself after a restart.
  MqttObserver live(watching(broker, {"r/#"}));
  REQUIRE(live.connect());
  const int publisher_connections = publisher.connections();
  broker.stop();
  broker.start();
  REQUIRE(live.wait_connections(2));
  REQUIRE(publisher.wait_connections(publisher_connections + 1));
  REQUIRE(publisher.publish("r/y", "after"));
  REQUIRE(live.wait_for_count(1));
  CHECK(payloads(live) == std::vector<std::string>{"after"});
}

TEST_CASE("mqtt support: two brokers side by side get their own ports", "[mqtt]") {
  MosquittoBroker a, b;
  CHECK(a.port() != b.port());
  MqttObserver on_b(watching(b, {"#"}));
  REQUIRE(on_b.connect());
  MqttObserver on_a(watching(a, {}));
  REQUIRE(on_a.connect());
  REQUIRE(on_a.publish("x", "only on a"));
  REQUIRE(on_b.publish("x", "on b"));
  REQUIRE(on_b.wait_for_count(1));
  CHECK(payloads(on_b) == std::vector<std::string>{"on b"});
}

TEST_CASE("mqtt support: a password file admits its users only", "[mqtt]") {
  MosquittoOptions options;
  options.users = {{"device", "s3cret"}};
  MosquittoBroker broker(options);

  auto login = watching(broker, {"#"});
  login.username = "device";
  login.password = "s3cret";
  MqttObserver right(login);
  CHECK(right.connect());

  login.password = "wrong";
  MqttObserver wrong(login);
  CHECK_FALSE(wrong.connect());
  CHECK(wrong.error() == "Connection Refused: not authorised.");

  MqttObserver anonymous(watching(broker, {"#"}));
  CHECK_FALSE(anonymous.connect());
}

TEST_CASE("mqtt support: TLS with the test's CA, and a client certificate when required",
          "[mqtt]") {
  MosquittoOptions options;
  options.tls = true;
  options.require_certificate = true;
  MosquittoBroker broker(options);
  REQUIRE(broker.tls_port() != 0);
  REQUIRE(std::filesystem::exists(broker.ca_file()));

  auto tls = watching(broker, {"s/#"});
  tls.port = broker.tls_port();
  tls.ca_file = broker.ca_file().string();
  tls.cert_file = broker.client_cert_file().string();
  tls.key_file = broker.client_key_file().string();
  MqttObserver with_cert(tls);
  REQUIRE(with_cert.connect());
  REQUIRE(with_cert.publish("s/1", "secure"));
  REQUIRE(with_cert.wait_for_count(1));

  tls.cert_file.clear();
  tls.key_file.clear();
  MqttObserver without_cert(tls);
  CHECK_FALSE(without_cert.connect());
  CHECK_FALSE(without_cert.error().empty());

  auto untrusted = tls;  // the server's certificate checked against another CA: refused
  untrusted.ca_file = broker.client_cert_file().string();
  MqttObserver wrong_ca(untrusted);
  CHECK_FALSE(wrong_ca.connect(std::chrono::seconds(5)));
  CHECK_FALSE(wrong_ca.error().empty());

  // The plain listener still serves.
  MqttObserver plain(watching(broker, {"s/#"}));
  CHECK(plain.connect());
}
