#include "bus/curve.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace hub {
namespace fs = std::filesystem;
namespace {

bool is_z85_key(const std::string& key) {
  uint8_t raw[32];
  return key.size() == 40 && zmq_z85_decode(raw, key.c_str()) != nullptr;
}

Status owner_only(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return Status::error(file.string() + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::error(file.string() +
                         ": readable or writable by group or others, so the key "
                         "may be known to them; run: chmod 600 " +
                         file.string());
  }
  return Status::ok();
}

}  // namespace

Result<CurveServer> load_curve_server(const fs::path& secret_key_file,
                                      const fs::path& clients_file) {
  CurveServer curve;
  for (const auto& file : {secret_key_file, clients_file}) {
    if (Status s = owner_only(file); !s) return s;
  }
  std::ifstream key_in(secret_key_file);
  std::getline(key_in, curve.secret_key);
  if (!is_z85_key(curve.secret_key)) {
    return Status::error(secret_key_file.string() +
                         ":1: expected a CURVE secret key (40 Z85 characters; hubctl keygen)");
  }
  char public_key[41] = {};
  if (zmq_curve_public(public_key, curve.secret_key.c_str()) != 0) {
    return Status::error(secret_key_file.string() + ": this libzmq has no CURVE");
  }
  curve.public_key = public_key;
  std::ifstream in(clients_file);
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
