#include <catch2/catch.hpp>

#include "bus/wire.h"

using namespace hub;

TEST_CASE("a publish header survives encoding and decoding", "[wire]") {
  std::string bytes;
  wire::encode(
      wire::PublishHeader{wire::kFlagConfirm | wire::kFlagRetain, 0x0102030405060708, "text/plain"},
      bytes);
  REQUIRE(bytes.size() == wire::kPublishHeaderFixed + 10);
  CHECK(bytes.substr(4, 8) == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));  // big-endian
  const auto decoded = wire::decode_publish_header(bytes);
  REQUIRE(decoded);
  CHECK(decoded->flags == (wire::kFlagConfirm | wire::kFlagRetain));
  CHECK(decoded->request_id == 0x0102030405060708);
  CHECK(decoded->content_type == "text/plain");
}

TEST_CASE("an event header survives encoding and decoding", "[wire]") {
  std::string bytes;
  wire::encode(wire::EventHeader{wire::kFlagRetain, 42, 1'795'245'878'324'132'531, "Timer",
                                 "application/json"},
               bytes);
  REQUIRE(bytes.size() == wire::kEventHeaderFixed + 5 + 16);
  const auto decoded = wire::decode_event_header(bytes);
  REQUIRE(decoded);
  CHECK(decoded->flags == wire::kFlagRetain);
  CHECK(decoded->seq == 42);
  CHECK(decoded->time_ns == 1'795'245'878'324'132'531);
  CHECK(decoded->source == "Timer");
  CHECK(decoded->content_type == "application/json");
}

TEST_CASE("an event header names its module's previous event, always an earlier one", "[wire]") {
  std::string bytes;
  wire::EventHeader h{0, 42, 1, "Timer", "application/json"};
  h.module_prev = 17;
  wire::encode(h, bytes);
  auto decoded = wire::decode_event_header(bytes);
  REQUIRE(decoded);
  CHECK(decoded->module_prev == 17);
  h.module_prev = 42;  // not before the event itself: malformed
  wire::encode(h, bytes);
  CHECK_FALSE(wire::decode_event_header(bytes));
}

TEST_CASE("replay records carry several events in one frame and refuse a torn one", "[wire]") {
  std::string records;
  wire::append_record(records, "A/x", "hdr1", "payload one");
  wire::append_record(records, "B/y", "", std::string(70000, 'p'));
  size_t pos = 0;
  auto first = wire::next_record(records, pos);
  REQUIRE(first);
  CHECK(first->topic == "A/x");
  CHECK(first->header == "hdr1");
  CHECK(first->payload == "payload one");
  auto second = wire::next_record(records, pos);
  REQUIRE(second);
  CHECK(second->topic == "B/y");
  CHECK(second->payload.size() == 70000);
  CHECK(pos == records.size());
  CHECK_FALSE(wire::next_record(records, pos));
  for (size_t cut = 1; cut < 30; ++cut) {  // a length that runs past the end
    size_t at = 0;
    const std::string torn = records.substr(0, cut);
    CHECK_FALSE(wire::next_record(torn, at));
    CHECK(at == 0);
  }
}

TEST_CASE("an ack survives encoding and decoding", "[wire]") {
  std::string bytes;
  wire::encode(wire::Ack{wire::AckStatus::kTooLarge, 7, 0}, bytes);
  const auto decoded = wire::decode_ack(bytes);
  REQUIRE(decoded);
  CHECK(decoded->status == wire::AckStatus::kTooLarge);
  CHECK(decoded->request_id == 7);
  CHECK(decoded->flags == 0);
  wire::encode(wire::Ack{wire::AckStatus::kAccepted, 8, 42, wire::kAckNotRetained}, bytes);
  CHECK(bytes.substr(0, 3) == std::string("\x02\x00\x01", 3));  // flags at offset 2
  const auto not_retained = wire::decode_ack(bytes);
  REQUIRE(not_retained);
  CHECK(not_retained->flags == wire::kAckNotRetained);
  CHECK(not_retained->seq == 42);
}

TEST_CASE("malformed headers are rejected, not misread", "[wire]") {
  std::string good;
  wire::encode(wire::PublishHeader{0, 1, "application/json"}, good);

  SECTION("too short") { CHECK_FALSE(wire::decode_publish_header(good.substr(0, 11))); }
  SECTION("content type length longer than the frame") {
    CHECK_FALSE(wire::decode_publish_header(good.substr(0, good.size() - 1)));
  }
  SECTION("trailing bytes") { CHECK_FALSE(wire::decode_publish_header(good + "x")); }
  SECTION("unknown version") {
    good[0] = 3;
    CHECK_FALSE(wire::decode_publish_header(good));
  }
  SECTION("unknown flag") {
    good[1] = 0x04;
    CHECK_FALSE(wire::decode_publish_header(good));
  }
  SECTION("reserved byte set") {
    good[3] = 1;
    CHECK_FALSE(wire::decode_publish_header(good));
  }
  SECTION("event header lengths that do not add up") {
    std::string event;
    wire::encode(wire::EventHeader{0, 1, 2, "Hub", "x"}, event);
    CHECK(wire::decode_event_header(event));
    event[3] = 4;  // source length one too long
    CHECK_FALSE(wire::decode_event_header(event));
    CHECK_FALSE(wire::decode_event_header(""));
  }
  SECTION("ack of the wrong size or status") {
    std::string ack;
    wire::encode(wire::Ack{}, ack);
    CHECK_FALSE(wire::decode_ack(ack + "x"));
    ack[1] = 9;
    CHECK_FALSE(wire::decode_ack(ack));
  }
}

TEST_CASE("topics must be MODULE/EVENT", "[wire]") {
  CHECK_FALSE(wire::topic_problem("Hub/startup"));
  CHECK_FALSE(wire::topic_problem("Timer/tick"));
  CHECK_FALSE(wire::topic_problem("Capteur/température"));

  CHECK(*wire::topic_problem("") == "the topic is empty");
  CHECK_THAT(*wire::topic_problem("NoSlash"), Catch::Contains("no '/'"));
  CHECK_THAT(*wire::topic_problem("/event"), Catch::Contains("module name is empty"));
  CHECK_THAT(*wire::topic_problem("Module/"), Catch::Contains("event name is empty"));
  CHECK_THAT(*wire::topic_problem("a/b/c"), Catch::Contains("more than two levels"));
  CHECK_THAT(*wire::topic_problem("a/+"), Catch::Contains("wildcard"));
  CHECK_THAT(*wire::topic_problem("a/#"), Catch::Contains("wildcard"));
  CHECK_THAT(*wire::topic_problem("a/b\nc"), Catch::Contains("control character"));
  CHECK_THAT(*wire::topic_problem(std::string("a/\xff", 3)), Catch::Contains("UTF-8"));
  CHECK_THAT(*wire::topic_problem("a/" + std::string(300, 'x')), Catch::Contains("longer"));
}

TEST_CASE("content types are printable ASCII", "[wire]") {
  CHECK_FALSE(wire::content_type_problem(""));
  CHECK_FALSE(wire::content_type_problem("text/plain; charset=utf-8"));
  CHECK(wire::content_type_problem("text/\x01"));
  CHECK(wire::content_type_problem(std::string(256, 'a')));
}

TEST_CASE("Hub/recovered tells numbers only reserved from numbers lost", "[wire][recovered]") {
  // Events 11..19 missing before Hub/recovered, event 20.
  SECTION("reserved only: none of them lost") {
    CHECK(wire::recovered_lost_through(
              R"({"skipped_first":11,"skipped_last":19,"lost_first":0,"lost_last":0})", 20) == 10);
  }
  SECTION("lost below the reserved ones") {
    CHECK(wire::recovered_lost_through(
              R"({"skipped_first":15,"skipped_last":19,"lost_first":11,"lost_last":14})", 20) ==
          14);
  }
  SECTION("lost only, nothing reserved: every one of them is lost") {
    CHECK(wire::recovered_lost_through(
              R"({"skipped_first":0,"skipped_last":0,"lost_first":11,"lost_last":19})", 20) == 19);
  }
}
