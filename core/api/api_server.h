// The Hub API endpoint (docs/API.md): a ROUTER socket on var/run/hub/api.sock taking one
// JSON request per message from authenticated peers (PLAIN, checked by the broker's ZAP
// handler) and sending one JSON reply. Requests are served on the thread that owns the
// modules (hubd's main thread), between its other work; clients bound every call with a
// timeout, so a busy hub gives a timeout, never a hang. One thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

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
};

// A request's result (JSON text) or its error; the server puts either in the reply
// envelope (bus/api_protocol.h).
using ApiHandler = std::function<Result<std::string>(const ApiRequest&)>;

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
  // Answers every request already waiting, without blocking. A request that is not a
  // JSON object with a string "method" gets a bad_request error; a handler that throws,
  // a failed one.
  void serve_pending(const ApiHandler& handle);

 private:
  explicit ApiServer(zmq::socket_t socket) : socket_(std::move(socket)) {}
  zmq::socket_t socket_;
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
