// Cuts a subscriber's connections to the broker's events socket. A ZeroMQ XPUB applies
// every subscription it receives and cannot refuse one (xpub_manual, which could, pairs
// subscriptions with the wrong connection in libzmq 4.3 as soon as a peer sends anything
// else upstream, and may hand back a connection already closed). So a subscription the
// rules refuse is undone by closing the connections it came on: they are found by the
// peer's address as ZeroMQ gives it ("Peer-Address": "HOST:uid:gid:pid" on ipc, the IP
// address on tcp), among the connections a socket monitor reported accepted. All of that
// peer's connections to the events socket go (on ipc, all of that process's), so clients
// ask before they subscribe (wire::kMayRead). Broker thread only.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include <zmq.hpp>

namespace hub {

class PeerCutter {
 public:
  // Monitors `events` (the broker's XPUB) through an inproc socket named after it.
  PeerCutter(zmq::context_t& ctx, zmq::socket_t& events);

  // The monitor's socket, to poll; take_events() when it is readable.
  zmq::socket_t& socket() { return monitor_; }
  void take_events();
  // Closes every connection of the peer at `peer_address`; returns how many.
  int cut(const std::string& peer_address);

 private:
  zmq::socket_t monitor_;
  std::set<int> connections_;  // fds of accepted connections, as last reported
};

}  // namespace hub
