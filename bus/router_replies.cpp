#include "bus/router_replies.h"

#include "bus/wire.h"

namespace hub {

void send_reply(zmq::socket_t& router, zmq::message_t& routing_id,
                std::vector<zmq::message_t>& frames) {
  try {
    if (!router.send(routing_id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
    for (size_t i = 0; i < frames.size(); ++i) {
      router.send(frames[i],
                  i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  } catch (const zmq::error_t&) {
    // The client left before its answer.
  }
}

void reply_error(zmq::socket_t& router, zmq::message_t& routing_id, const std::string& why) {
  std::vector<zmq::message_t> reply;
  reply.emplace_back(wire::kReplyError.data(), wire::kReplyError.size());
  reply.emplace_back(why.data(), why.size());
  send_reply(router, routing_id, reply);
}

bool send_frames(zmq::socket_t& router, const zmq::message_t& routing_id,
                 std::initializer_list<std::string_view> frames) {
  try {
    zmq::message_t id(routing_id.data(), routing_id.size());
    if (!router.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    size_t i = 0;
    for (std::string_view f : frames) {
      ++i;
      router.send(zmq::buffer(f),
                  i < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    return true;
  } catch (const zmq::error_t&) {
    return false;  // the client left
  }
}

}  // namespace hub
