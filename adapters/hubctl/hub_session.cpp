#include "hubctl/hub_session.h"

#include <iostream>

#include "bus/api_protocol.h"
#include "bus/credentials.h"
#include "bus/text.h"
#include "help/hubctl_help.h"
#include "hub/api_client.h"

namespace hub::ctl {

std::string printable(std::string_view text) {
  std::string out;
  append_printable(out, text);
  return out;
}

int usage_error(const std::string& message, const std::string& command) {
  std::cerr << "hubctl: " << message << "\n";
  for (const auto& [name, text] : help::hubctl::kCommands) {
    if (name == command) {
      std::cerr << text;
      return kBadUsage;
    }
  }
  std::cerr << help::hubctl::kUsage;
  return kBadUsage;
}

std::string request_json(std::string_view method) {
  return JsonObject().add(api::kMethodField, method).str();
}

// bad_request from the hub is a refusal (1); 2 is for our own command line.
int exit_status(Status::Code code) {
  switch (code) {
    case Status::Code::kUnreachable:
    case Status::Code::kTimeout:
      return kUnreachable;
    case Status::Code::kNotFound:
      return kNotFound;
    default:
      return kFailed;
  }
}

std::filesystem::path Hub::credential_file() const {
  return line_.credential.empty() ? default_credential_file(paths_) : line_.credential;
}

std::optional<std::string> Hub::call(const std::string& request, int& exit) {
  auto credential = read_credential_file(credential_file());
  if (!credential) {
    std::cerr << "hubctl: " << credential.error() << "\n(is a hub running on "
              << layout_.root().string() << ", its sockets in " << paths_.run_dir.string()
              << "? pass --root DIR or set HUB_ROOT)\n";
    exit = kUnreachable;
    return std::nullopt;
  }
  ApiClient client(ctx_, ipc_endpoint(paths_.api_socket), *credential);
  auto result = client.call(request, line_.timeout);
  if (result) {
    exit = kOk;
    return std::move(*result);
  }
  std::cerr << "hubctl: " << printable(result.error()) << "\n";
  exit = exit_status(result.code());
  return std::nullopt;
}

}  // namespace hub::ctl
