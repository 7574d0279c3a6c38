#include "bus/curve.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "bus/small_file.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

bool is_z85_key(const std::string& key) {
  uint8_t raw[32];
  return key.size() == 40 && zmq_z85_decode(raw, key.c_str()) != nullptr;
}

// The file's text, when it is a regular file (not a link) that belongs to this user and
// that no one else may read or write.
Result<std::string> read_key_file(const fs::path& file) {
  SmallFileOptions options;
  options.max_bytes = 1024 * 1024;
  options.follow_links = false;
  auto read = read_small_file(file, options);
  if (!read) return read.status();
  if (read->owner != ::geteuid()) {
    return Status::error(file.string() + ": owned by uid " + std::to_string(read->owner) +
                         ", not by hubd's user");
  }
  if ((read->mode & 077) != 0) {
    return Status::error(file.string() +
                         ": readable or writable by group or others, so the key "
                         "may be known to them; run: chmod 600 " +
                         file.string());
  }
  return std::move(read->text);
}

// An identity a client key may stand for: the administrator, or a module's (NAME or
// NAME.X, NAME a module name; never the Hub's).
bool is_client_identity(const std::string& identity) {
  if (identity == "admin") return true;
  const std::string module = identity.substr(0, identity.find('.'));
  const auto name_ok = [](const std::string& s) {
    return !s.empty() && s.size() <= 64 && std::isalpha(static_cast<unsigned char>(s[0])) &&
           std::all_of(s.begin(), s.end(), [](char c) {
             return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
           });
  };
  const size_t dot = identity.find('.');
  return name_ok(module) && module != "Hub" && module != "admin" &&
         (dot == std::string::npos || name_ok(identity.substr(dot + 1)));
}

}  // namespace

Result<CurveServer> load_curve_server(const fs::path& secret_key_file,
                                      const fs::path& clients_file) {
  CurveServer curve;
  auto key_text = read_key_file(secret_key_file);
  if (!key_text) return key_text.status();
  auto clients_text = read_key_file(clients_file);
  if (!clients_text) return clients_text.status();
  curve.secret_key = key_text->substr(0, key_text->find('\n'));
  if (!is_z85_key(curve.secret_key)) {
    return Status::error(secret_key_file.string() +
                         ":1: expected a CURVE secret key (40 Z85 characters; hubctl keygen)");
  }
  char public_key[41] = {};
  if (zmq_curve_public(public_key, curve.secret_key.c_str()) != 0) {
    return Status::error(secret_key_file.string() + ": this libzmq has no CURVE");
  }
  curve.public_key = public_key;
  std::istringstream in(*clients_text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::istringstream words(line);
    std::string identity, key, extra;
    words >> identity >> key >> extra;
    if (identity.empty() || identity[0] == '#') continue;
    const std::string where = clients_file.string() + ":" + std::to_string(n) + ": ";
    if (!is_z85_key(key) || !extra.empty()) {
      return Status::error(where + "expected IDENTITY PUBLIC_KEY (40 Z85 characters)");
    }
    if (!is_client_identity(identity)) {
      return Status::error(where + "'" + identity +
                           "' is not an identity a client may have "
                           "(admin, or a module's NAME or NAME.X; never Hub)");
    }
    if (!curve.identities.emplace(key, identity).second) {
      return Status::error(where + "this key is listed twice");
    }
  }
  return curve;
}

void bind_curve(zmq::socket_t& socket, const CurveServer& curve, const std::string& endpoint) {
  socket.set(zmq::sockopt::curve_secretkey, curve.secret_key);
  socket.set(zmq::sockopt::curve_server, 1);
  socket.bind(endpoint);
}

std::pair<std::string, std::string> curve_keypair() {
  char public_key[41] = {}, secret_key[41] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) return {};
  return {public_key, secret_key};
}

}  // namespace hub
