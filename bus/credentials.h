// Bus credentials: an identity and its secret. Peers present them with ZeroMQ PLAIN over
// ipc; the broker's ZAP handler checks them against a CredentialStore and stamps events
// with the identity. Files hold one line "IDENTITY:SECRET" and must be readable by their
// owner only.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "bus/status.h"

namespace hub {

struct Credential {
  std::string identity;
  std::string secret;
};

// The identity of the administrator (hubctl, bus-tap).
inline constexpr const char* kAdminIdentity = "admin";
// The identity stamped on events published by hubd's own components.
inline constexpr const char* kHubIdentity = "Hub";

// 32 random bytes from the kernel, as 64 hex characters.
std::string random_secret();

// Reads a credential file. Fails naming the file when it is missing, malformed, or
// readable or writable by anyone but its owner.
Result<Credential> read_credential_file(const std::filesystem::path& file);

// Reads the credential at `file`, creating it (mode 0600) with a fresh secret for
// `identity` when it does not exist yet.
Result<Credential> load_or_create_credential(const std::filesystem::path& file,
                                             const std::string& identity);

// Makes `socket` present `credential` with ZeroMQ PLAIN when it connects.
void set_plain_credential(zmq::socket_t& socket, const Credential& credential);

// The identities allowed on the bus. Safe for concurrent use.
class CredentialStore {
 public:
  void add(const Credential& credential);
  void remove(const std::string& identity);
  // True when `identity` is known and `secret` is its secret (constant-time compare).
  bool verify(const std::string& identity, const std::string& secret) const;
  // CURVE clients (tcp): a public key (Z85) and the identity it stands for.
  void add_curve_client(const std::string& public_key, const std::string& identity);
  // The identity of a CURVE client's public key (32 raw bytes), or empty when unknown.
  std::string curve_identity(const std::string& raw_public_key) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> secrets_;  // guarded by mu_
  std::map<std::string, std::string> curve_;    // Z85 public key -> identity, guarded by mu_
};

}  // namespace hub
