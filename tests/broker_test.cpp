#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "support/bus_fixture.h"

using namespace hub;
using namespace std::chrono_literals;
using hub::test::BusFixture;

namespace {

// Sends raw frames on a DEALER, as a buggy or hostile client would.
class RawClient {
 public:
  RawClient(BusFixture& bus, const std::string& endpoint, const Credential* who = nullptr)
      : socket_(bus.client_ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    set_plain_credential(socket_, who != nullptr ? *who : bus.admin);
    socket_.connect(endpoint);
  }
  void send(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  std::vector<std::string> receive(std::chrono::milliseconds timeout) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    std::vector<std::string> frames;
    if (zmq::poll(&item, 1, timeout) == 0) return frames;
    bool more = true;
    while (more) {
      zmq::message_t part;
      (void)socket_.recv(part);
      more = part.more();
      frames.push_back(part.to_string());
    }
    return frames;
  }

 private:
  zmq::socket_t socket_;
};

std::string publish_header(uint8_t flags, uint64_t request_id) {
  std::string header;
  wire::encode(wire::PublishHeader{flags, request_id, "application/json"}, header);
  return header;
}

}  // namespace

TEST_CASE("several subscribers receive the same events in order with contiguous sequence numbers",
          "[broker]") {
  BusFixture bus;
  std::vector<Subscriber> subscribers;
  for (int i = 0; i < 3; ++i) subscribers.push_back(bus.subscribe());
  auto publisher = bus.publisher();

  constexpr int kEvents = 5000;
  for (int i = 0; i < kEvents; ++i) {
    REQUIRE(publisher.publish("Load/step", "{\"i\":" + std::to_string(i) + "}"));
  }
  for (auto& subscriber : subscribers) {
    uint64_t first_seq = 0;
    for (int i = 0; i < kEvents; ++i) {
      auto event = subscriber.next(10s);
      REQUIRE(event);
      if (i == 0) first_seq = event->seq;
      REQUIRE(event->seq == first_seq + static_cast<uint64_t>(i));
      REQUIRE(event->topic() == "Load/step");
      REQUIRE(event->payload() == "{\"i\":" + std::to_string(i) + "}");
    }
    CHECK(subscriber.malformed() == 0);
  }
  CHECK(bus.broker->counters().events == kEvents);
}

TEST_CASE("the broker stamps the authenticated source, publishers cannot choose it", "[broker]") {
  BusFixture bus;
  bus.credentials.add({"Timer", "timer-secret"});
  auto subscriber = bus.subscribe({"Timer/#"});
  auto timer = bus.publisher({"Timer", "timer-secret"});

  const uint64_t before = wire::now_ns();
  auto seq = timer.publish_confirmed("Timer/tick", "{}", 5s);
  REQUIRE(seq);
  auto event = subscriber.next(5s);
  REQUIRE(event);
  CHECK(event->seq == *seq);  // the confirmed publish returns the broker's sequence number
  CHECK(event->source == "Timer");
  CHECK(event->content_type == "application/json");
  CHECK(event->time_ns >= before);
  CHECK(event->time_ns <= wire::now_ns());
}

TEST_CASE("in-process publishers publish as Hub", "[broker]") {
  BusFixture bus;
  auto subscriber = bus.subscribe({"Hub/+"});
  auto internal = Publisher::connect(bus.broker_ctx, "inproc://hub.internal", std::nullopt);
  REQUIRE(internal);
  REQUIRE(internal->publish_confirmed("Hub/startup", "{}", 5s));
  auto event = subscriber.next(5s);
  REQUIRE(event);
  CHECK(event->source == "Hub");
  internal->close();
}

TEST_CASE("subscriber patterns select topics MQTT-style", "[broker]") {
  BusFixture bus;
  auto ticks = bus.subscribe({"+/tick"});
  auto publisher = bus.publisher();
  for (const char* topic : {"Timer/tick", "Timer/tock", "Clock/tick", "Timer/ticks"}) {
    REQUIRE(publisher.publish(topic, "{}"));
  }
  REQUIRE(publisher.publish_confirmed("Clock/tick", "{\"last\":true}", 5s));
  std::vector<std::string> seen;
  while (seen.size() < 3) {
    auto event = ticks.next(5s);
    REQUIRE(event);
    seen.emplace_back(event->topic());
  }
  CHECK(seen == std::vector<std::string>{"Timer/tick", "Clock/tick", "Clock/tick"});
}

TEST_CASE("a late subscriber starts with the retained events, then every later event", "[broker]") {
  BusFixture bus;
  auto publisher = bus.publisher();
  PublishOptions retain;
  retain.retain = true;
  REQUIRE(publisher.publish_confirmed("Site/startup", "{\"n\":1}", 5s, retain));
  REQUIRE(publisher.publish_confirmed("Sensor/temp", "{\"c\":20}", 5s, retain));
  REQUIRE(publisher.publish_confirmed("Sensor/temp", "{\"c\":21}", 5s, retain));  // replaces
  REQUIRE(publisher.publish_confirmed("Sensor/noise", "{}", 5s));                 // not retained

  auto subscriber = bus.subscribe({"Sensor/#"});
  auto live = publisher.publish_confirmed("Sensor/temp", "{\"c\":22}", 5s);
  REQUIRE(live);

  auto first = subscriber.next(5s);
  REQUIRE(first);
  CHECK(first->topic() == "Sensor/temp");
  CHECK(first->payload() == "{\"c\":21}");
  CHECK(first->retained());
  auto second = subscriber.next(5s);
  REQUIRE(second);
  CHECK(second->seq == *live);
  CHECK(second->payload() == "{\"c\":22}");
}

TEST_CASE("malformed publishes are dropped and counted, the broker keeps serving", "[broker]") {
  BusFixture bus;
  auto subscriber = bus.subscribe();
  RawClient raw(bus, bus.endpoint("ingest.sock"));

  raw.send({"Only/two", "frames"});                                    // frame count
  raw.send({"A/b", "not a header", "{}"});                             // bad header
  raw.send({"A/b", publish_header(0, 0), "{}", "extra"});              // frame count
  raw.send({"NoSlash", publish_header(wire::kFlagConfirm, 9), "{}"});  // bad topic
  const auto ack_frames = raw.receive(5s);
  REQUIRE(ack_frames.size() == 2);
  const auto ack = wire::decode_ack(ack_frames[0]);
  REQUIRE(ack);
  CHECK(ack->status == wire::AckStatus::kMalformed);
  CHECK(ack->request_id == 9);
  CHECK_THAT(ack_frames[1], Catch::Contains("no '/'"));
  CHECK(bus.broker->counters().malformed == 4);

  auto publisher = bus.publisher();
  auto seq = publisher.publish_confirmed("Good/event", "{}", 5s);
  REQUIRE(seq);
  auto event = subscriber.next(5s);
  REQUIRE(event);
  CHECK(event->topic() == "Good/event");  // nothing malformed reached the subscriber
  CHECK(event->seq == *seq);
}

TEST_CASE("a payload over the limit is refused with the limit in the reason", "[broker]") {
  BrokerOptions options;
  options.max_payload = 1024;
  BusFixture bus(options);
  auto publisher = bus.publisher();
  auto refused = publisher.publish_confirmed("Big/blob", std::string(1025, 'x'), 5s);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("exceeds the limit of 1024"));
  CHECK(publisher.publish_confirmed("Big/blob", std::string(1024, 'x'), 5s));
  CHECK(bus.broker->counters().too_large == 1);
}

TEST_CASE("a peer with a wrong secret gets nothing through", "[broker][auth]") {
  BusFixture bus;
  const Credential impostor{"admin", "guess"};
  auto refused = bus.try_subscribe({}, impostor, true, 1000ms);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("no answer from the hub"));

  auto watcher = bus.subscribe();
  PublisherOptions no_linger;
  no_linger.linger = 0ms;  // its queued event can never be delivered
  auto intruder = bus.publisher(impostor, no_linger);
  CHECK_FALSE(intruder.publish_confirmed("Hub/shutdown", "{}", 500ms));
  auto publisher = bus.publisher();
  auto seq = publisher.publish_confirmed("Real/event", "{}", 5s);
  REQUIRE(seq);
  auto event = watcher.next(5s);
  REQUIRE(event);
  CHECK(event->topic() == "Real/event");
  CHECK(bus.broker->counters().auth_failures >= 2);
  CHECK(bus.broker->counters().events == 1);
  intruder.close();
}

TEST_CASE("invalid topics and content types are refused by the publisher before sending",
          "[broker]") {
  BusFixture bus;
  auto publisher = bus.publisher();
  auto bad_topic = publisher.publish("a/b/c", "{}");
  REQUIRE_FALSE(bad_topic);
  CHECK_THAT(bad_topic.message(), Catch::Contains("more than two levels"));
  PublishOptions options;
  options.content_type = "bad\ntype";
  CHECK_FALSE(publisher.publish("A/b", "{}", options));
}

TEST_CASE("at stop the broker fans out what publishers had already handed over", "[broker]") {
  BusFixture bus;
  auto subscriber = bus.subscribe();
  auto internal = Publisher::connect(bus.broker_ctx, "inproc://hub.internal", std::nullopt);
  REQUIRE(internal);
  for (int i = 0; i < 1000; ++i) REQUIRE(internal->publish("Hub/drain", std::to_string(i)));
  bus.stop();  // in-process publishes are with the broker once publish() returns
  internal->close();
  for (int i = 0; i < 1000; ++i) {
    auto event = subscriber.next(5s);
    REQUIRE(event);
    REQUIRE(event->payload() == std::to_string(i));
  }
}

TEST_CASE("a subscriber that falls behind is told exactly which events it missed", "[broker]") {
  BrokerOptions options;
  options.subscriber_hwm = 10;
  BusFixture bus(options);
  std::vector<std::pair<uint64_t, uint64_t>> gaps;
  SubscriberOptions o;
  o.events_endpoint = bus.endpoint("events.sock");
  o.replay_endpoint = bus.endpoint("replay.sock");
  o.receive_hwm = 10;
  o.on_gap = [&](uint64_t first, uint64_t last) { gaps.emplace_back(first, last); };
  auto subscriber = Subscriber::open(bus.client_ctx, bus.admin, o);
  REQUIRE(subscriber);
  auto publisher = bus.publisher();
  auto start = publisher.publish_confirmed("Flood/start", "{}", 5s);
  REQUIRE(start);
  auto first = subscriber->next(5s);
  REQUIRE(first);
  REQUIRE(first->seq == *start);

  // 5000 events while the subscriber reads nothing: queues of 10 overflow.
  for (int i = 0; i < 5000; ++i) REQUIRE(publisher.publish("Flood/event", "{}"));
  // An end marker can be dropped like any event, so one is sent each round until one
  // arrives; the gap report fires on the first event after each hole.
  uint64_t delivered = 0, previous = *start, end_seq = 0;
  while (end_seq == 0) {
    REQUIRE(publisher.publish_confirmed("Flood/end", "{}", 5s));
    while (auto event = subscriber->next(200ms)) {
      CHECK(event->seq > previous);  // in order, never twice
      previous = event->seq;
      ++delivered;
      if (event->topic() == "Flood/end") {
        end_seq = event->seq;
        break;
      }
    }
  }
  uint64_t missed = 0;
  for (const auto& [first_missed, last_missed] : gaps) missed += last_missed - first_missed + 1;
  CHECK_FALSE(gaps.empty());
  CHECK(delivered + missed == end_seq - *start);  // every event delivered or reported
}

TEST_CASE("a retained store that is full still delivers, and says it did not retain", "[broker]") {
  BrokerOptions options;
  options.max_retained = 2;
  BusFixture bus(options);
  auto publisher = bus.publisher();
  auto watcher = bus.subscribe({"C/#"});
  PublishOptions retain;
  retain.retain = true;
  for (const char* topic : {"A/x", "B/x"})
    REQUIRE(publisher.publish_confirmed(topic, "{}", 5s, retain));
  // Delivered as an event, acked with kAckNotRetained and the reason.
  auto full = publisher.publish_delivered("C/x", "{}", 5s, retain);
  REQUIRE(full);
  CHECK(full->seq == 3);
  CHECK_THAT(full->not_retained, Catch::Contains("bus.max_retained"));
  auto delivered = watcher.next(5s);
  REQUIRE(delivered);
  CHECK(delivered->seq == 3);
  // publish_confirmed does not pass it off as done.
  auto again = publisher.publish_confirmed("C/x", "{}", 5s, retain);
  REQUIRE_FALSE(again);
  CHECK_THAT(again.error(), Catch::Contains("as event 4 but did not retain it"));
  REQUIRE(publisher.publish_confirmed("A/x", "{\"again\":1}", 5s,
                                      retain));  // a known topic still updates
  CHECK(bus.broker->counters().retained_refused == 2);
  CHECK(bus.broker->retained_refused_by_identity() ==
        std::map<std::string, uint64_t>{{"admin", 2}});
  auto internal = Publisher::connect(bus.broker_ctx, "inproc://hub.internal", std::nullopt);
  REQUIRE(internal);
  REQUIRE(internal->publish_confirmed("Hub/startup", "{}", 5s, retain));  // the hub's own: kept
  internal->close();
  auto late = bus.subscribe();
  std::vector<std::string> topics;
  for (int i = 0; i < 3; ++i) {
    auto event = late.next(5s);
    REQUIRE(event);
    topics.emplace_back(event->topic());
  }
  CHECK(topics == std::vector<std::string>{"B/x", "A/x", "Hub/startup"});  // in sequence order
}

TEST_CASE(
    "one module cannot crowd the others or the Hub's lifecycle state out of the retained store",
    "[broker][retained]") {
  BrokerOptions options;
  options.max_retained = 10;
  options.max_retained_per_module = 3;
  options.max_retained_bytes_per_module = 8192;
  options.max_retained_bytes = 6000;
  BusFixture bus(options);
  const Credential greedy{"Greedy.1", "greedy-secret"}, polite{"Polite", "polite-secret"};
  bus.credentials.add(greedy);
  bus.credentials.add(polite);
  PublishOptions retain;
  retain.retain = true;
  auto g = bus.publisher(greedy);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(g.publish_confirmed("Greedy/t" + std::to_string(i), "{}", 5s, retain));
  }
  // Its fourth topic is past its quota; so are bytes past its byte quota.
  auto fourth = g.publish_delivered("Greedy/t3", "{}", 5s, retain);
  REQUIRE(fourth);
  CHECK_THAT(fourth->not_retained, Catch::Contains("Greedy would hold 4 retained topics"));
  CHECK_THAT(fourth->not_retained, Catch::Contains("bus.max_retained_per_module"));
  // Another identity of the same module shares the quota.
  Credential scripts{"Greedy@scripts", "s"};
  bus.credentials.add(scripts);
  auto gs = bus.publisher(scripts);
  auto shared = gs.publish_delivered("Greedy/t4", "{}", 5s, retain);
  REQUIRE(shared);
  CHECK_THAT(shared->not_retained, Catch::Contains("Greedy would hold 4 retained topics"));
  auto big = g.publish_delivered("Greedy/t0", std::string(9000, 'x'), 5s, retain);
  REQUIRE(big);
  CHECK_THAT(big->not_retained, Catch::Contains("bus.max_retained_bytes_per_module"));
  // Another module still has its own room, and the Hub's lifecycle state is always kept.
  auto p = bus.publisher(polite);
  REQUIRE(p.publish_confirmed("Polite/state", std::string(3000, 'p'), 5s, retain));
  auto internal = Publisher::connect(bus.broker_ctx, "inproc://hub.internal", std::nullopt);
  REQUIRE(internal);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(internal->publish_confirmed("M" + std::to_string(i) + "/started",
                                        std::string(1000, 's'), 5s, retain));
  }
  internal->close();
  // The total byte bound holds for everyone but the Hub.
  auto over = p.publish_delivered("Polite/more", std::string(3000, 'q'), 5s, retain);
  REQUIRE(over);
  CHECK_THAT(over->not_retained, Catch::Contains("the retained store would hold"));
  CHECK_THAT(over->not_retained, Catch::EndsWith("bus.max_retained_bytes"));
  CHECK(bus.broker->retained_refused_by_identity() ==
        std::map<std::string, uint64_t>{{"Greedy.1", 2}, {"Greedy@scripts", 1}, {"Polite", 1}});

  auto late = bus.subscribe();
  std::set<std::string> topics;
  for (std::optional<Event> e; (e = late.next(200ms));) topics.emplace(e->topic());
  // Greedy/t0 was replaced by an event too large to keep: its older value is gone too.
  CHECK(topics.count("Greedy/t0") == 0);
  CHECK(topics.count("Greedy/t1") == 1);
  CHECK(topics.count("Greedy/t3") == 0);
  CHECK(topics.count("Polite/state") == 1);
  CHECK(topics.count("Polite/more") == 0);
  for (int i = 0; i < 20; ++i) CHECK(topics.count("M" + std::to_string(i) + "/started") == 1);
}

TEST_CASE("a revoked credential stops a connection made with it from publishing",
          "[broker][auth]") {
  BusFixture bus;
  const Credential instance{"Sensor", "first-secret"};
  bus.credentials.add(instance);
  auto watcher = bus.subscribe({"Sensor/#"});
  auto connected = bus.publisher(instance);
  REQUIRE(connected.publish_confirmed("Sensor/reading", "1", 5s));
  RawClient replay(bus, bus.endpoint("replay.sock"), &instance);
  replay.send({"replay", "1", "10"});
  REQUIRE(replay.receive(5s) == std::vector<std::string>{"error", "this hub keeps no journal"});
  bus.credentials.remove("Sensor");  // its instance stopped
  auto refused = connected.publish_confirmed("Sensor/reading", "2", 5s);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("was revoked"));
  CHECK(bus.broker->counters().revoked == 1);
  CHECK(bus.broker->forbidden_by_identity() == std::map<std::string, uint64_t>{{"Sensor", 1}});
  // Its retained snapshots and journal replays are refused as well.
  replay.send({"retained", "token"});
  const auto answer = replay.receive(5s);
  REQUIRE(answer.size() == 2);
  CHECK(answer[0] == "error");
  CHECK_THAT(answer[1], Catch::Contains("was revoked"));
  // A new start of the same identity, with a new secret, works; the old connection not.
  bus.credentials.add(Credential{"Sensor", "second-secret"});
  auto restarted = bus.publisher(Credential{"Sensor", "second-secret"});
  REQUIRE(restarted.publish_confirmed("Sensor/reading", "3", 5s));
  CHECK_FALSE(connected.publish_confirmed("Sensor/reading", "4", 5s));
  for (const char* payload : {"1", "3"}) {
    auto e = watcher.next(5s);
    REQUIRE(e);
    CHECK(e->payload() == payload);
  }
  CHECK_FALSE(watcher.next(200ms));  // nothing from the revoked connection
  // Others, and other identities, are untouched.
  CHECK(bus.publisher().publish_confirmed("Other/x", "{}", 5s));
}

TEST_CASE("snapshot requests that are wrong get an error that says why", "[broker]") {
  BusFixture bus;
  RawClient raw(bus, bus.endpoint("replay.sock"));
  raw.send({"everything please"});
  CHECK(raw.receive(5s) == std::vector<std::string>{"error",
                                                    "expected [\"retained\"][token][pattern]* or "
                                                    "[\"replay\"][from][credit][pattern]*"});
  // A replay needs a journal, which this broker has not.
  raw.send({"replay", "1", "10"});
  CHECK(raw.receive(5s) == std::vector<std::string>{"error", "this hub keeps no journal"});
  raw.send({"retained", "token", "Hub/#/x"});
  const auto reply = raw.receive(5s);
  REQUIRE(reply.size() == 2);
  CHECK(reply[0] == "error");
  CHECK_THAT(reply[1], Catch::Contains("'#' may only be the last level"));
}

TEST_CASE("a snapshot request that arrives before its sync subscription waits for it", "[broker]") {
  BusFixture bus;
  auto publisher = bus.publisher();
  PublishOptions retain;
  retain.retain = true;
  REQUIRE(publisher.publish_confirmed("Site/startup", "{}", 5s, retain));

  RawClient raw(bus, bus.endpoint("replay.sock"));
  raw.send({"retained", "early-token"});  // no SUB exists yet: the broker must wait
  zmq::socket_t sub(bus.client_ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  set_plain_credential(sub, bus.admin);
  sub.connect(bus.endpoint("events.sock"));
  sub.set(zmq::sockopt::subscribe, std::string(wire::kSyncPrefix) + "early-token");
  const auto reply = raw.receive(5s);
  REQUIRE(reply.size() == 5);
  CHECK(reply[0] == "ok");
  CHECK(reply[2] == "Site/startup");
}
