#include "bus/replay_client.h"

#include <iterator>

#include <zmq_addon.hpp>

#include "bus/wire.h"

namespace hub {

Result<ReplayOutcome> replay(zmq::context_t& ctx, const Credential& credential,
                             const ReplayRequest& request,
                             const std::function<bool(const Event&)>& on_event) {
  zmq::socket_t socket(ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvhwm, static_cast<int>(2 * wire::kReplayMaxCredit + 16));
  set_plain_credential(socket, credential);
  socket.connect(request.endpoint);
  ReplayOutcome outcome;
  uint64_t from = std::max<uint64_t>(request.from, 1);
  for (;;) {
    std::vector<std::string> ask = {std::string(wire::kReplayRequest), std::to_string(from),
                                    std::to_string(wire::kReplayMaxCredit)};
    ask.insert(ask.end(), request.patterns.begin(), request.patterns.end());
    for (size_t i = 0; i < ask.size(); ++i) {
      (void)socket.send(zmq::buffer(ask[i]),
                        i + 1 < ask.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    for (bool answered = false; !answered;) {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, request.timeout) == 0) {
        return Status::error("no replay answer from " + request.endpoint + " within " +
                             std::to_string(request.timeout.count()) + " ms");
      }
      std::vector<zmq::message_t> parts;
      (void)zmq::recv_multipart(socket, std::back_inserter(parts));
      const std::string_view kind = parts.empty() ? "" : parts[0].to_string_view();
      if (kind == wire::kReplayEvents && parts.size() >= 4 && (parts.size() - 1) % 3 == 0) {
        for (size_t i = 1; i + 2 < parts.size(); i += 3) {
          auto event = Event::decode(std::move(parts[i]), parts[i + 1], std::move(parts[i + 2]));
          if (!event) return Status::error("replay: a malformed event header");
          from = event->seq + 1;
          if (request.to != 0 && event->seq > request.to) return outcome;
          if (!on_event(*event)) return outcome;
        }
      } else if (kind == wire::kReplayLost && parts.size() == 3) {
        outcome.lost.emplace_back(std::stoull(parts[1].to_string()),
                                  std::stoull(parts[2].to_string()));
      } else if (kind == wire::kReplayMore && parts.size() == 2) {
        from = std::stoull(parts[1].to_string());
        answered = true;
        if (request.to != 0 && from > request.to) return outcome;
      } else if (kind == wire::kReplayCaughtUp && parts.size() == 2) {
        outcome.last_seq = std::stoull(parts[1].to_string());
        return outcome;
      } else if (kind == wire::kReplyError && parts.size() == 2) {
        return Status::error("replay refused: " + parts[1].to_string());
      } else {
        return Status::error("replay: an answer of an unknown kind");
      }
    }
  }
}

}  // namespace hub
