// Answers on the broker's replay socket (a ROUTER), to the client a routing id names.
// None waits: a client that is gone, or whose queue is full, misses the answer.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace hub {

// Sends `frames` as one reply to `routing_id`; both are consumed.
void send_reply(zmq::socket_t& router, zmq::message_t& routing_id,
                std::vector<zmq::message_t>& frames);
// Sends [error][why] to `routing_id` (consumed).
void reply_error(zmq::socket_t& router, zmq::message_t& routing_id, const std::string& why);
// Sends `frames` as one reply to `routing_id` (kept for more replies). False when the
// client cannot take it now (gone, or its queue full).
bool send_frames(zmq::socket_t& router, const zmq::message_t& routing_id,
                 std::initializer_list<std::string_view> frames);

}  // namespace hub
