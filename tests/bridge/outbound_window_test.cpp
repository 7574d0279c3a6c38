#include <catch2/catch.hpp>

#include "bridge/outbound_window.h"

using hub::bridge::OutboundMessage;
using hub::bridge::OutboundWindow;

namespace {

OutboundMessage message(uint64_t seq, const std::string& topic = "t") {
  OutboundMessage m;
  m.seq = seq;
  m.topic = topic;
  return m;
}

// A broker that hands out ids 1, 2, 3... and remembers the order it was sent things in.
struct FakeSend {
  int next_mid = 1;
  bool up = true;
  std::vector<uint64_t> sent;
  int operator()(const OutboundMessage& m) {
    if (!up) return -1;
    sent.push_back(m.seq);
    return next_mid++;
  }
};

}  // namespace

TEST_CASE("the window acknowledges a prefix of events, never past one still out", "[bridge]") {
  OutboundWindow w(8);
  FakeSend broker;
  for (uint64_t seq : {10, 11, 12}) w.add(message(seq));
  w.send_pending(std::ref(broker));
  REQUIRE(broker.sent == std::vector<uint64_t>{10, 11, 12});
  REQUIRE(w.in_flight() == 3);
  REQUIRE(w.acknowledged(2));  // seq 11 first: 10 is still out
  REQUIRE(w.acked_through() == 0);
  REQUIRE(w.acknowledged(1));
  REQUIRE(w.acked_through() == 11);
  REQUIRE_FALSE(w.acknowledged(1));  // twice: unknown now
  REQUIRE(w.acknowledged(3));
  REQUIRE(w.acked_through() == 12);
}

TEST_CASE("an event with two messages is acknowledged only when both are", "[bridge]") {
  OutboundWindow w(8);
  FakeSend broker;
  w.add(message(5, "a"));
  w.add(message(5, "b"));
  w.add(message(6));
  w.send_pending(std::ref(broker));
  REQUIRE(w.acknowledged(1));
  REQUIRE(w.acked_through() == 4);
  REQUIRE(w.acknowledged(2));
  REQUIRE(w.acked_through() == 5);
}

TEST_CASE("after a lost connection everything unacknowledged is sent again, in order", "[bridge]") {
  OutboundWindow w(8);
  FakeSend broker;
  for (uint64_t seq = 1; seq <= 4; ++seq) w.add(message(seq));
  w.send_pending(std::ref(broker));
  REQUIRE(w.acknowledged(2));  // 2 arrived; 1, 3 and 4 did not
  w.connection_lost();
  REQUIRE(w.in_flight() == 0);
  REQUIRE_FALSE(w.nothing_pending());
  broker.up = false;
  w.add(message(5));
  w.send_pending(std::ref(broker));  // no connection: nothing leaves
  broker.up = true;
  broker.sent.clear();
  w.send_pending(std::ref(broker));
  REQUIRE(broker.sent == std::vector<uint64_t>{1, 3, 4, 5});
  REQUIRE(w.nothing_pending());
  REQUIRE_FALSE(w.acknowledged(2));  // an id of the old connection means nothing now
}

TEST_CASE("the window holds what the saved mark does not cover, and frees it once saved",
          "[bridge]") {
  OutboundWindow w(3);
  FakeSend broker;
  for (uint64_t seq = 1; seq <= 3; ++seq) w.add(message(seq));
  REQUIRE_FALSE(w.has_room());
  w.send_pending(std::ref(broker));
  REQUIRE(w.acknowledged(1));
  REQUIRE(w.acknowledged(2));
  REQUIRE_FALSE(w.has_room());  // acknowledged, but the mark on disk still says 0
  w.saved_through(1);
  REQUIRE(w.has_room());
  REQUIRE(w.size() == 2);
  w.saved_through(3);  // only acknowledged messages leave, whatever the mark says
  REQUIRE(w.size() == 1);
  REQUIRE(w.acknowledged(3));
  REQUIRE(w.acked_through() == 3);
}

TEST_CASE("an event that gives no message does not hold the acknowledged prefix back", "[bridge]") {
  OutboundWindow w(8);
  FakeSend broker;
  w.add(message(1));
  w.add_done(2);
  w.send_pending(std::ref(broker));
  REQUIRE(w.acked_through() == 0);
  REQUIRE(w.acknowledged(1));
  REQUIRE(w.acked_through() == 2);
}

TEST_CASE("a message that can never be sent counts as done, and the next one goes", "[bridge]") {
  OutboundWindow w(8);
  FakeSend broker;
  w.add(message(1));
  w.add(message(2, "too-big"));
  w.add(message(3));
  w.send_pending([&](const OutboundMessage& m) {
    return m.topic == "too-big" ? OutboundWindow::kRefused : broker(m);
  });
  CHECK(broker.sent == std::vector<uint64_t>{1, 3});
  CHECK(w.nothing_pending());
  REQUIRE(w.acknowledged(1));
  CHECK(w.acked_through() == 2);
  REQUIRE(w.acknowledged(2));
  CHECK(w.acked_through() == 3);
}
