#include "bus/publisher.h"

#include <iterator>
#include <vector>

#include <zmq_addon.hpp>

namespace hub {

Result<Publisher> Publisher::connect(zmq::context_t& ctx, const std::string& endpoint,
                                     const std::optional<Credential>& credential,
                                     PublisherOptions options) {
  try {
    zmq::socket_t socket(ctx, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::sndhwm, options.send_hwm);
    socket.set(zmq::sockopt::sndtimeo, static_cast<int>(options.send_timeout.count()));
    socket.set(zmq::sockopt::linger, static_cast<int>(options.linger.count()));
    if (credential) set_plain_credential(socket, *credential);
    socket.connect(endpoint);
    return Publisher(std::move(socket));
  } catch (const zmq::error_t& e) {
    return Status::error("bus: cannot connect to " + endpoint + ": " + e.what());
  }
}

Status Publisher::send(std::string_view topic, std::string_view payload, uint8_t flags,
                       uint64_t request_id, std::string_view content_type) {
  if (auto problem = wire::topic_problem(topic)) {
    return Status::error("cannot publish '" + std::string(topic) + "': " + *problem);
  }
  if (auto problem = wire::content_type_problem(content_type)) {
    return Status::error("cannot publish '" + std::string(topic) + "': " + *problem);
  }
  wire::encode(wire::PublishHeader{flags, request_id, content_type}, header_buf_);
  try {
    // Only the first frame can block: ZeroMQ checks the high-water mark per message.
    if (!socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore)) {
      return Status::error(
          "cannot publish '" + std::string(topic) +
          "': the bus did not take it in time (is hubd running, and is the credential right?)");
    }
    socket_.send(zmq::buffer(header_buf_), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(payload), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    return Status::error("cannot publish '" + std::string(topic) + "': " + e.what());
  }
  return Status::ok();
}

Status Publisher::publish(std::string_view topic, std::string_view payload,
                          PublishOptions options) {
  const uint8_t flags = options.retain ? wire::kFlagRetain : 0;
  return send(topic, payload, flags, 0, options.content_type);
}

Result<uint64_t> Publisher::publish_confirmed(std::string_view topic, std::string_view payload,
                                              std::chrono::milliseconds timeout,
                                              PublishOptions options) {
  auto delivered = publish_delivered(topic, payload, timeout, options);
  if (!delivered) return delivered.status();
  if (!delivered->not_kept.empty()) {
    return Status::error("the hub could not keep '" + std::string(topic) +
                         "' (delivered live as event " + std::to_string(delivered->seq) +
                         "): " + delivered->not_kept);
  }
  if (!delivered->not_retained.empty()) {
    return Status::error("the hub delivered '" + std::string(topic) + "' as event " +
                         std::to_string(delivered->seq) +
                         " but did not retain it: " + delivered->not_retained);
  }
  return delivered->seq;
}

Result<Publisher::Delivery> Publisher::publish_delivered(std::string_view topic,
                                                         std::string_view payload,
                                                         std::chrono::milliseconds timeout,
                                                         PublishOptions options) {
  const uint64_t request_id = next_request_id_++;
  const uint8_t flags = wire::kFlagConfirm | (options.retain ? wire::kFlagRetain : 0);
  if (Status s = send(topic, payload, flags, request_id, options.content_type); !s) return s;

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (left.count() < 0 || zmq::poll(&item, 1, left) == 0) {
      return Status::error("no confirmation for '" + std::string(topic) + "' within " +
                           std::to_string(timeout.count()) +
                           " ms (is hubd running, and is the credential right?)");
    }
    std::vector<zmq::message_t> frames;  // [ack][reason]
    (void)zmq::recv_multipart(socket_, std::back_inserter(frames));
    const auto ack = wire::decode_ack(frames[0].to_string_view());
    const std::string reason = frames.size() > 1 ? frames[1].to_string() : "";
    if (!ack || ack->request_id != request_id) continue;  // a late ack of an earlier call
    if (ack->status == wire::AckStatus::kFailed) {
      if (ack->seq == 0) {  // not kept, and not delivered either
        return Status::error("the hub could not keep '" + std::string(topic) + "': " + reason);
      }
      return Delivery{ack->seq, {}, reason.empty() ? "no reason given" : reason};
    }
    if (ack->status != wire::AckStatus::kAccepted) {
      return Status::error("the hub refused '" + std::string(topic) + "': " + reason);
    }
    Delivery delivery{ack->seq, {}, {}};
    if (ack->flags & wire::kAckNotRetained) {
      delivery.not_retained = reason.empty() ? "no reason given" : reason;
    }
    return delivery;
  }
}

void Publisher::close() { socket_.close(); }

}  // namespace hub
