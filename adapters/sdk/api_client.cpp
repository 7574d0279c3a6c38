#include "hub/api_client.h"

#include <yaml-cpp/yaml.h>

#include "bus/bus_paths.h"

namespace hub {

std::optional<std::string> ApiClient::call(const std::string& request, ApiError& error,
                                           std::chrono::milliseconds timeout) {
  if (!socket_) {
    // Tells "no hub here" at once, rather than after the timeout.
    if (Status reachable = probe_endpoint(endpoint_); !reachable) {
      error = {"unreachable", reachable.message()};
      return std::nullopt;
    }
    socket_.emplace(*ctx_, zmq::socket_type::dealer);
    socket_->set(zmq::sockopt::linger, 0);
    set_plain_credential(*socket_, credential_);
    socket_->connect(endpoint_);
  }
  // The hub does not carry out a request it gets to after this caller has given up.
  const auto deadline_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() + timeout).time_since_epoch())
                               .count();
  std::string sent = request;
  if (!sent.empty() && sent[0] == '{' && sent.find("\"deadline_ms\"") == std::string::npos) {
    sent.insert(1, "\"deadline_ms\":" + std::to_string(deadline_ms) + (sent.size() > 2 ? "," : ""));
  }
  (void)socket_->send(zmq::message_t(), zmq::send_flags::sndmore);  // REQ-style delimiter
  (void)socket_->send(zmq::buffer(sent), zmq::send_flags::none);
  zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) {
      socket_.reset();
      error = {"timeout", "no reply from the hub at " + endpoint_ + " within " +
                              std::to_string(timeout.count()) + " ms"};
      return std::nullopt;
    }
    zmq::message_t part;
    if (!socket_->recv(part, zmq::recv_flags::dontwait)) continue;
    if (part.size() == 0 && part.more()) continue;  // the delimiter
    const std::string reply = part.to_string();
    // {"ok":true,"result":R} or {"ok":false,"error":{"code":C,"message":M}}
    const std::string ok_prefix = "{\"ok\":true,\"result\":";
    if (reply.rfind(ok_prefix, 0) == 0 && reply.back() == '}') {
      return reply.substr(ok_prefix.size(), reply.size() - ok_prefix.size() - 1);
    }
    try {
      const YAML::Node node = YAML::Load(reply);
      error = {node["error"]["code"].as<std::string>(), node["error"]["message"].as<std::string>()};
    } catch (const YAML::Exception&) {
      error = {"protocol", "not an API reply: " + reply.substr(0, 200)};
    }
    return std::nullopt;
  }
}

}  // namespace hub
