// Bus credentials: an identity and its secret. Peers present them with ZeroMQ PLAIN over
// ipc; the broker's ZAP handler checks them against a CredentialStore and stamps events
// with the identity. Files hold one line "IDENTITY:SECRET" and must be readable by their
// owner only.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
//
// Each credential added is a grant with its own number (never reused). The ZAP handler
// attaches the grant a connection authenticated with to it (kGrantProperty), so that
// revoking a credential reaches the connections already made with it: is_revoked(grant)
// says so on each of their messages. CURVE clients (tcp) hold grant kPermanentGrant.
class CredentialStore {
 public:
  static constexpr uint64_t kPermanentGrant = 0;

  // Adds (or replaces, as a new grant) the credential of `credential.identity`.
  void add(const Credential& credential);
  // Revokes `identity`'s credential: new connections with it are refused, and its grant
  // is revoked for the connections already made.
  void remove(const std::string& identity);
  // The grant `identity` authenticates with when `secret` is its secret (constant-time
  // compare), or nullopt.
  std::optional<uint64_t> verify(const std::string& identity, const std::string& secret) const;
  // True when `grant` was revoked (a replaced credential counts as revoked).
  bool is_revoked(uint64_t grant) const;
  // The same for the kGrantProperty of a message (zmq_msg_gets); no grant (nullptr) or a
  // malformed one counts as revoked.
  bool is_revoked(const char* grant_property) const;
  // Counts revocations; 0 until the first. A cheap check before is_revoked().
  uint64_t revocations() const { return revocations_.load(std::memory_order_acquire); }
  // CURVE clients (tcp): a public key (Z85) and the identity it stands for.
  void add_curve_client(const std::string& public_key, const std::string& identity);
  // The identity of a CURVE client's public key (32 raw bytes), or empty when unknown.
  std::string curve_identity(const std::string& raw_public_key) const;

 private:
  struct Secret {
    std::string secret;
    uint64_t grant = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Secret> secrets_;     // guarded by mu_
  std::map<std::string, std::string> curve_;  // Z85 public key -> identity, guarded by mu_
  std::set<uint64_t> live_;                   // grants of secrets_, guarded by mu_
  uint64_t next_grant_ = 1;                   // guarded by mu_
  std::atomic<uint64_t> revocations_{0};
};

// The ZAP metadata property (on every message of a connection) holding its grant, as
// decimal text.
inline constexpr const char* kGrantProperty = "Hub-Grant";

}  // namespace hub
