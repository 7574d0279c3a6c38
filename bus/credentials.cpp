#include "bus/credentials.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "bus/small_file.h"

namespace hub {
namespace fs = std::filesystem;

std::string random_secret() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

Result<Credential> read_credential_file(const fs::path& file) {
  SmallFileOptions options;
  options.max_bytes = 4096;  // one line IDENTITY:SECRET
  auto read = read_small_file(file, options);
  if (!read) return Status::error("credential " + read.error());
  if ((read->mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::error("credential " + file.string() +
                         ": readable or writable by group or others; run: chmod 600 " +
                         file.string());
  }
  const std::string line = read->text.substr(0, read->text.find('\n'));
  const size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
    return Status::error("credential " + file.string() + ":1: expected one line IDENTITY:SECRET");
  }
  return Credential{line.substr(0, colon), line.substr(colon + 1)};
}

Result<Credential> load_or_create_credential(const fs::path& file, const std::string& identity) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(file, ec))) {
    const Credential fresh{identity, random_secret()};
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Status::error("credential " + file.string() + ": " + std::strerror(errno));
    }
    const std::string line = fresh.identity + ":" + fresh.secret + "\n";
    const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!written) return Status::error("credential " + file.string() + ": short write");
  }
  auto credential = read_credential_file(file);
  if (credential && credential->identity != identity) {
    return Status::error("credential " + file.string() + ":1: expected identity '" + identity +
                         "', found '" + credential->identity + "'");
  }
  return credential;
}

void set_plain_credential(zmq::socket_t& socket, const Credential& credential) {
  socket.set(zmq::sockopt::plain_username, credential.identity);
  socket.set(zmq::sockopt::plain_password, credential.secret);
}

void CredentialStore::add(const Credential& credential) {
  std::lock_guard lock(mu_);
  Secret& held = secrets_[credential.identity];
  if (held.grant != 0) {  // replaced: the connections made with the old one go too
    live_.erase(held.grant);
    revocations_.fetch_add(1, std::memory_order_release);
  }
  held = Secret{credential.secret, next_grant_++};
  live_.insert(held.grant);
}

void CredentialStore::remove(const std::string& identity) {
  std::lock_guard lock(mu_);
  const auto it = secrets_.find(identity);
  if (it == secrets_.end()) return;
  live_.erase(it->second.grant);
  secrets_.erase(it);
  revocations_.fetch_add(1, std::memory_order_release);
}

bool CredentialStore::is_revoked(const char* grant_property) const {
  if (grant_property == nullptr || *grant_property == '\0') return true;
  char* end = nullptr;
  errno = 0;
  const uint64_t grant = std::strtoull(grant_property, &end, 10);
  return *end != '\0' || errno != 0 || is_revoked(grant);
}

bool CredentialStore::is_revoked(uint64_t grant) const {
  std::lock_guard lock(mu_);
  return grant != kPermanentGrant && live_.count(grant) == 0;
}

void CredentialStore::add_curve_client(const std::string& public_key, const std::string& identity) {
  std::lock_guard lock(mu_);
  curve_[public_key] = identity;
}

std::string CredentialStore::curve_identity(const std::string& raw_public_key) const {
  if (raw_public_key.size() != 32) return {};
  char z85[41] = {};
  zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(raw_public_key.data()), 32);
  std::lock_guard lock(mu_);
  const auto it = curve_.find(z85);
  return it == curve_.end() ? std::string() : it->second;
}

std::optional<uint64_t> CredentialStore::verify(const std::string& identity,
                                                const std::string& secret) const {
  std::lock_guard lock(mu_);
  const auto it = secrets_.find(identity);
  if (it == secrets_.end() || it->second.secret.size() != secret.size()) return std::nullopt;
  unsigned char diff = 0;
  for (size_t i = 0; i < secret.size(); ++i) {
    diff |= static_cast<unsigned char>(it->second.secret[i] ^ secret[i]);
  }
  if (diff != 0) return std::nullopt;
  return it->second.grant;
}

}  // namespace hub
