// A client of the Hub API (docs/API.md): one JSON request, one JSON reply, over a
// ZeroMQ DEALER authenticated with PLAIN. Every call is bounded by a timeout: a hub that
// is gone or busy gives an error, never a hang. Move-only; one thread only.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "bus/credentials.h"
#include "bus/status.h"

namespace hub {

class ApiClient {
 public:
  ApiClient(zmq::context_t& ctx, std::string endpoint, Credential credential)
      : ctx_(&ctx), endpoint_(std::move(endpoint)), credential_(std::move(credential)) {}

  // Sends `request` (a JSON object with "method") and returns the reply's "result" (JSON
  // text), or its error with the API's code (bus/api_protocol.h); kUnreachable when no hub
  // listens, kTimeout when no reply came in time, kProtocol when it was no API reply. The
  // request carries "deadline_ms" (now + timeout), so a hub that gets to it too late
  // refuses it instead of doing it unseen.
  Result<std::string> call(const std::string& request,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  zmq::context_t* ctx_;
  std::string endpoint_;
  Credential credential_;
  std::optional<zmq::socket_t> socket_;  // dropped after a timeout: a late reply must not be
                                         // taken for the next call's
};

}  // namespace hub
