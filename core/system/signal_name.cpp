#include "core/system/signal_name.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace hub {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(sig);
}

Result<int> parse_signal(std::string_view text) {
  std::string upper;
  for (char c : text.substr(0, 16))
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const bool number =
      !upper.empty() && upper.size() <= 2 && std::all_of(upper.begin(), upper.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      });
  if (number && std::stoi(upper) >= 1 && std::stoi(upper) <= SIGRTMAX) return std::stoi(upper);
  const std::string name = upper.rfind("SIG", 0) == 0 ? upper.substr(3) : upper;
  for (int sig = 1; sig <= SIGRTMAX && text.size() <= 16; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  return Status::bad_request(
      "field \"signal\" must name a signal (HUP, TERM, USR1, ... or its "
      "number, 1 to " +
      std::to_string(SIGRTMAX) + "), not '" + std::string(text.substr(0, 32)) + "'");
}

}  // namespace hub
