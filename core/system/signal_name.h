// A signal as events and messages name it. Thread-safe.
#pragma once

#include <string>

namespace hub {

// "SIGTERM" for SIGTERM (as NAME/exited and Hub/script-failed give `signal`); the number as
// text for a signal without a name.
std::string signal_name(int sig);

}  // namespace hub
