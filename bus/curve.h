// CURVE for the bus and the API on tcp (hub.yml `network:`): the hub's key pair and the
// clients it knows, each public key standing for one identity. Over tcp nothing but
// CURVE is accepted; the ZAP handler maps a client's key to its identity, so ownership
// and API rules apply as over ipc. Key files must be readable by their owner only.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include <zmq.hpp>

#include "bus/status.h"

namespace hub {

struct CurveServer {
  std::string secret_key;                         // this hub's, Z85 (40 characters)
  std::string public_key;                         // derived from it, Z85
  std::map<std::string, std::string> identities;  // client public key (Z85) -> identity
};

// Reads the hub's secret key file (one line, Z85) and the clients file (lines "IDENTITY
// PUBLIC_KEY", '#' comments). Fails naming the file and line: missing, readable or
// writable by others, a malformed key, an identity listed twice.
Result<CurveServer> load_curve_server(const std::filesystem::path& secret_key_file,
                                      const std::filesystem::path& clients_file);

// Binds `endpoint` on `socket` as a CURVE server with `curve`'s key. Binds made before
// keep their own mechanism (the PLAIN of the ipc endpoints). Throws zmq::error_t.
void bind_curve(zmq::socket_t& socket, const CurveServer& curve, const std::string& endpoint);

// A fresh key pair, Z85: {public, secret}.
std::pair<std::string, std::string> curve_keypair();

}  // namespace hub
