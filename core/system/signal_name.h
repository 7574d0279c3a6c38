// A signal as events and messages name it, and as an operator names one. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "bus/status.h"

namespace hub {

// "SIGTERM" for SIGTERM (as NAME/exited and Hub/script-failed give `signal`); the number as
// text for a signal without a name.
std::string signal_name(int sig);

// The signal `text` names: "HUP", "SIGHUP", "hup" or its number (hubctl signal, the API's
// "signal" method); bad_request saying what is expected otherwise.
Result<int> parse_signal(std::string_view text);

}  // namespace hub
