// Publishing to the bus. A Publisher owns one DEALER connected to the broker's ingest
// socket. DEALER queues while the broker is busy or not yet reachable and blocks the
// caller at its high-water mark, so nothing is dropped on the way in. Move-only; one
// thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/status.h"
#include "bus/wire.h"

namespace hub {

struct PublisherOptions {
  int send_hwm = 1000;                            // events queued before publish() blocks
  std::chrono::milliseconds send_timeout{10000};  // publish() gives up after blocking this long
  std::chrono::milliseconds linger{5000};         // close() waits this long to hand over the queue
};

struct PublishOptions {
  std::string_view content_type = wire::kDefaultContentType;
  bool retain = false;  // keep as the topic's last value for subscribers that join later
};

class Publisher {
 public:
  // Connects to `endpoint`, presenting `credential` with PLAIN when given (in-process
  // endpoints need none). Connection is asynchronous: publishing right away is fine.
  static Result<Publisher> connect(zmq::context_t& ctx, const std::string& endpoint,
                                   const std::optional<Credential>& credential,
                                   PublisherOptions options = {});

  Publisher(Publisher&&) noexcept = default;
  Publisher& operator=(Publisher&&) noexcept = default;

  // Queues one event. Fails on an invalid topic or content type, or when the queue stays
  // full for send_timeout (the broker is gone or stuck); the event is then not sent.
  Status publish(std::string_view topic, std::string_view payload, PublishOptions options = {});

  // Publishes and waits for the broker's answer. Returns the sequence number the broker
  // assigned once the event is durable in the hub's journal (when it keeps one), or why it
  // refused the event, could not keep it (wire::AckStatus::kFailed: disk full, I/O error),
  // or did not answer within `timeout`. With `retain`, also fails when the event was
  // delivered but not retained (a limit of the retained store); the message says so, with
  // the event's seq.
  Result<uint64_t> publish_confirmed(std::string_view topic, std::string_view payload,
                                     std::chrono::milliseconds timeout,
                                     PublishOptions options = {});

  // What the broker did with a publish it delivered.
  struct Delivery {
    uint64_t seq = 0;          // the sequence number it stamped
    std::string not_retained;  // why it did not retain it, though asked to; empty when it did
    std::string not_kept;      // why the journal could not keep it (delivered live only)
  };
  // publish_confirmed() that tells "delivered, but not retained or not kept" apart: it
  // fails only when the event was refused, not delivered at all, or not answered.
  Result<Delivery> publish_delivered(std::string_view topic, std::string_view payload,
                                     std::chrono::milliseconds timeout,
                                     PublishOptions options = {});

  // Closes the socket at once. Events still queued are handed to the broker in the
  // background for up to `linger`; destroying the ZeroMQ context waits for that. Idempotent.
  void close();

 private:
  explicit Publisher(zmq::socket_t socket) : socket_(std::move(socket)) {}
  Status send(std::string_view topic, std::string_view payload, uint8_t flags, uint64_t request_id,
              std::string_view content_type);

  zmq::socket_t socket_;
  uint64_t next_request_id_ = 1;
  std::string header_buf_;
};

}  // namespace hub
