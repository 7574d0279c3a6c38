// The ZAP handler (ZeroMQ RFC 27) for the broker's sockets: checks PLAIN credentials
// against a CredentialStore and gives the peer its identity as the ZAP User-Id, which
// ZeroMQ then attaches to every message from that peer, with the grant of the credential
// as property kGrantProperty (credentials.h). One thread only (the broker's).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <utility>

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
  // Refuses `identity` with the credential of `grant` from the peer at `address` (the ZAP
  // address: ":uid:gid:pid" on ipc) from now on: a subscriber whose connections were cut
  // for a refused subscription (peer_cutter.h) must not get them back by reconnecting. A
  // new credential of that identity (its instance restarted, maybe with the same pid) is
  // not refused.
  void ban_peer(const std::string& address, const std::string& identity, uint64_t grant) {
    if (banned_peers_.size() < kMaxBannedPeers) banned_peers_.emplace(address, identity, grant);
  }
  static constexpr size_t kMaxBannedPeers = 4096;

 private:
  void refuse_log_once(const std::string& identity, const std::string& mechanism);

  zmq::socket_t socket_;
  const CredentialStore& credentials_;
  std::set<std::string> warned_;  // identities whose refusal was already logged
  std::set<std::string> banned_;
  std::set<std::tuple<std::string, std::string, uint64_t>> banned_peers_;  // address,
                                                                           // identity, grant
};

}  // namespace hub
