#include "bus/zap_handler.h"

#include <array>
#include <iterator>
#include <vector>

#include <zmq_addon.hpp>

#include <spdlog/spdlog.h>

namespace hub {
namespace {
constexpr size_t kMaxWarnedIdentities = 1024;
}

ZapHandler::ZapHandler(zmq::context_t& ctx, const CredentialStore& credentials)
    : socket_(ctx, zmq::socket_type::rep), credentials_(credentials) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind("inproc://zeromq.zap.01");
}

uint64_t ZapHandler::serve_pending() {
  uint64_t refused = 0;
  for (;;) {
    std::vector<zmq::message_t> request;
    if (!zmq::recv_multipart(socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
      return refused;
    }
    // version, request id, domain, address, routing id, mechanism, credentials...
    const auto frame = [&](size_t i) {
      return i < request.size() ? request[i].to_string() : std::string();
    };
    const std::string mechanism = frame(5);
    // PLAIN (ipc): [identity][secret]. CURVE (tcp): [the client's public key].
    const bool curve = mechanism == "CURVE" && request.size() == 7;
    const std::string identity = curve                  ? credentials_.curve_identity(frame(6))
                                 : mechanism == "PLAIN" ? frame(6)
                                                        : "";
    const bool ok = frame(0) == "1.0" && frame(2) == kZapDomain && !identity.empty() &&
                    banned_.count(identity) == 0 &&
                    (curve || (mechanism == "PLAIN" && request.size() == 8 &&
                               credentials_.verify(identity, frame(7))));
    if (!ok) {
      ++refused;
      refuse_log_once(curve ? "(a CURVE key not in network.clients)" : identity, mechanism);
    }
    const std::array<std::string, 6> reply = {"1.0",
                                              frame(1),
                                              ok ? "200" : "400",
                                              ok ? "OK" : "unknown identity or wrong secret",
                                              ok ? identity : "",
                                              ""};
    for (size_t i = 0; i < reply.size(); ++i) {
      socket_.send(zmq::buffer(reply[i]),
                   i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
}

void ZapHandler::refuse_log_once(const std::string& identity, const std::string& mechanism) {
  if (warned_.count(identity) != 0) return;
  if (warned_.size() < kMaxWarnedIdentities) warned_.insert(identity);
  spdlog::warn("bus: refused a {} connection as '{}': unknown identity or wrong secret",
               mechanism.empty() ? "NULL" : mechanism, identity);
}

}  // namespace hub
