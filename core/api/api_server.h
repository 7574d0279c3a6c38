// The Hub API endpoint (docs/API.md): a ROUTER socket on var/run/hub/api.sock taking one
// JSON request per message from authenticated peers (PLAIN, checked by the broker's ZAP
// handler) and sending one JSON reply. A request is answered at once or later (a deferred
// reply: an operation hubd carries out on its control thread), but by its caller's
// deadline ("deadline_ms") at the latest. One thread only (hubd's main thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>
#include <zmq.hpp>

#include "bus/curve.h"
#include "bus/status.h"

namespace hub {

class CredentialStore;

struct ApiRequest {
  std::string identity;  // the caller's authenticated identity ("admin", an instance name)
  std::string method;
  YAML::Node body;  // the whole request (a JSON object)
  // When the caller gives up: "deadline_ms" (Unix time in ms), when it is an integer.
  std::optional<std::chrono::system_clock::time_point> deadline;
};

// Answers one request with its result (JSON text) or its error, which the server puts in
// the reply envelope (bus/api_protocol.h). Only the first answer goes out; one that comes
// after the request's deadline was answered (a timeout) is dropped. Copyable; call it on
// the server's thread only, while the server lives.
using ApiReply = std::function<void(const Result<std::string>&)>;
// Serves one request: answers through the reply now or keeps it to answer later.
using ApiHandler = std::function<void(ApiRequest request, const ApiReply& reply)>;

class ApiServer {
 public:
  // Binds `endpoint` (ipc, PLAIN) and, when `tcp` is not empty, `tcp` with CURVE only
  // (`curve` then required). bound_tcp() is the tcp endpoint as bound ('*' port filled in).
  // With `credentials` (which must outlive the server), a request on a connection whose
  // credential was revoked since gets a forbidden error.
  static Result<std::unique_ptr<ApiServer>> bind(zmq::context_t& ctx, const std::string& endpoint,
                                                 const std::string& tcp = "",
                                                 const CurveServer* curve = nullptr,
                                                 const CredentialStore* credentials = nullptr);
  const std::string& bound_tcp() const { return bound_tcp_; }

  zmq::socket_t& socket() { return socket_; }
  // Serves every request already waiting, without blocking. A request that is not a
  // JSON object with a string "method" gets a bad_request error; a handler that throws,
  // a failed one.
  void serve_pending(const ApiHandler& handle);
  // Answers the deferred requests whose deadline has passed with a timeout (what they
  // asked for goes on). Returns how long until the next deadline (nullopt: none waits).
  std::optional<std::chrono::milliseconds> answer_overdue();

 private:
  struct Deferred;  // a request not answered yet
  explicit ApiServer(zmq::socket_t socket) : socket_(std::move(socket)) {}
  void send(std::vector<zmq::message_t>& envelope, const std::string& reply);
  zmq::socket_t socket_;
  std::vector<std::weak_ptr<Deferred>> deferred_;  // those with a deadline
  std::string bound_tcp_;
  const CredentialStore* credentials_ = nullptr;
};

// A JSON value parsed into a node, as JSON again: plain scalars that are numbers, true,
// false or null stay so; every other scalar is a string.
std::string node_to_json(const YAML::Node& node);

// A request as the API socket receives it: `method` is empty unless `json` is a JSON
// object with a "method" string.
ApiRequest parse_api_request(std::string_view json, std::string identity);

}  // namespace hub
