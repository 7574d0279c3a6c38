#include "bus/zap_handler.h"

#include <array>
#include <iterator>
#include <optional>
#include <vector>

#include <zmq_addon.hpp>

#include <spdlog/spdlog.h>

namespace hub {
namespace {
constexpr size_t kMaxWarnedIdentities = 1024;

// ZAP metadata (ZMTP property list: u8 name length, name, u32 value length, value) that
// makes ZeroMQ attach kGrantProperty to every message of the connection.
std::string grant_metadata(uint64_t grant) {
  const std::string name = kGrantProperty;
  const std::string value = std::to_string(grant);
  std::string out(1, static_cast<char>(name.size()));
  out += name;
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += static_cast<char>((value.size() >> shift) & 0xff);
  }
  return out + value;
}

}  // namespace

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
    std::optional<uint64_t> grant;
    if (frame(0) == "1.0" && frame(2) == kZapDomain && !identity.empty() &&
        banned_.count(identity) == 0) {
      if (curve) {
        grant = CredentialStore::kPermanentGrant;
      } else if (mechanism == "PLAIN" && request.size() == 8) {
        grant = credentials_.verify(identity, frame(7));
      }
      if (grant && banned_peers_.count({frame(3), identity, *grant}) != 0) grant.reset();
    }
    if (!grant) {
      ++refused;
      refuse_log_once(curve ? "(a CURVE key not in network.clients)" : identity, mechanism);
    }
    const std::array<std::string, 6> reply = {"1.0",
                                              frame(1),
                                              grant ? "200" : "400",
                                              grant ? "OK" : "unknown identity or wrong secret",
                                              grant ? identity : "",
                                              grant ? grant_metadata(*grant) : ""};
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
