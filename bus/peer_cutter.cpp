#include "bus/peer_cutter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstring>

namespace hub {
namespace {

std::string peer_address_of(int fd);

// True when `fd` is a connection from `peer_address` (Peer-Address as ZeroMQ gives it:
// the IP address on tcp, "HOST:uid:gid:pid" on ipc, HOST being what getnameinfo says).
bool comes_from(int fd, const std::string& peer_address) {
  const std::string mine = peer_address_of(fd);
  if (mine.empty()) return false;
  if (mine[0] != ':') return mine == peer_address;
  const size_t colon = peer_address.find(':');
  return colon != std::string::npos && peer_address.compare(colon, std::string::npos, mine) == 0;
}

// The address of the connection `fd`: the IP address on tcp, ":uid:gid:pid" on ipc;
// empty when it is neither (or no connection).
std::string peer_address_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  if (ss.ss_family == AF_UNIX) {
    ucred cred{};
    socklen_t size = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) return {};
    return ":" + std::to_string(cred.uid) + ":" + std::to_string(cred.gid) + ":" +
           std::to_string(cred.pid);
  }
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, host, sizeof host);
  } else if (ss.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, host, sizeof host);
  }
  return host;
}

}  // namespace

PeerCutter::PeerCutter(zmq::context_t& ctx, zmq::socket_t& events)
    : monitor_(ctx, zmq::socket_type::pair) {
  const std::string endpoint =
      "inproc://hub.events-monitor." + std::to_string(reinterpret_cast<uintptr_t>(&events));
  if (zmq_socket_monitor(events.handle(), endpoint.c_str(),
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw zmq::error_t();
  }
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(endpoint);
}

void PeerCutter::take_events() {
  zmq::message_t head, address;
  while (monitor_.recv(head, zmq::recv_flags::dontwait)) {
    if (head.more()) (void)monitor_.recv(address, zmq::recv_flags::none);
    if (head.size() < 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, head.data(), sizeof event);
    std::memcpy(&value, static_cast<const char*>(head.data()) + 2, sizeof value);
    if (event == ZMQ_EVENT_ACCEPTED) connections_.insert(static_cast<int>(value));
    if (event == ZMQ_EVENT_DISCONNECTED) connections_.erase(static_cast<int>(value));
  }
}

int PeerCutter::cut(const std::string& peer_address) {
  take_events();
  int cut = 0;
  if (peer_address.empty()) return cut;
  for (int fd : connections_) {
    // An fd reused since is checked like any other: only a connection of that peer goes.
    if (comes_from(fd, peer_address) && ::shutdown(fd, SHUT_RDWR) == 0) ++cut;
  }
  return cut;
}

}  // namespace hub
