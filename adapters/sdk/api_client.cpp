#include "hub/api_client.h"

#include "bus/api_protocol.h"
#include "bus/bus_paths.h"

namespace hub {

Result<std::string> ApiClient::call(const std::string& request, std::chrono::milliseconds timeout) {
  if (!socket_) {
    // Tells "no hub here" at once, rather than after the timeout.
    if (Status reachable = probe_endpoint(endpoint_); !reachable) {
      return Status::error(Status::Code::kUnreachable, reachable.message());
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
  const std::string deadline_key = "\"" + std::string(api::kDeadlineField) + "\"";
  if (!sent.empty() && sent[0] == '{' && sent.find(deadline_key) == std::string::npos) {
    sent.insert(1, deadline_key + ":" + std::to_string(deadline_ms) + (sent.size() > 2 ? "," : ""));
  }
  (void)socket_->send(zmq::message_t(), zmq::send_flags::sndmore);  // REQ-style delimiter
  (void)socket_->send(zmq::buffer(sent), zmq::send_flags::none);
  zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
  // A live hub answers by deadline_ms (a timeout error when the operation goes on); the
  // grace lets that answer, which says more than silence, arrive.
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::milliseconds(500);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) {
      socket_.reset();
      return Status::timeout("no reply from the hub at " + endpoint_ + " within " +
                             std::to_string(timeout.count()) + " ms");
    }
    zmq::message_t part;
    if (!socket_->recv(part, zmq::recv_flags::dontwait)) continue;
    if (part.size() == 0 && part.more()) continue;  // the delimiter
    return api::decode_reply(part.to_string_view());
  }
}

}  // namespace hub
