// The ZAP handler (ZeroMQ RFC 27) for the broker's sockets: checks PLAIN credentials
// against a CredentialStore and gives the peer its identity as the ZAP User-Id, which
// ZeroMQ then attaches to every message from that peer, with the grant of the credential
// as property kGrantProperty (credentials.h). One thread only (the broker's).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <zmq.hpp>

#include "bus/credentials.h"

namespace hub {

inline constexpr const char* kZapDomain = "hub";

class ZapHandler {
 public:
  // Binds the context's ZAP endpoint. Throws zmq::error_t when one is already bound.
  ZapHandler(zmq::context_t& ctx, const CredentialStore& credentials);

  zmq::socket_t& socket() { return socket_; }
  // Answers every request waiting on the socket. Returns how many were refused.
  uint64_t serve_pending();
  // Refuses `identity` from now on, whatever its credential (a peer that misbehaved).
  void ban(const std::string& identity) { banned_.insert(identity); }

 private:
  void refuse_log_once(const std::string& identity, const std::string& mechanism);

  zmq::socket_t socket_;
  const CredentialStore& credentials_;
  std::set<std::string> warned_;  // identities whose refusal was already logged
  std::set<std::string> banned_;
};

}  // namespace hub
