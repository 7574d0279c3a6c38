// hubd's logger: stderr (coloured on a terminal) and ROOT/var/log/hub/hubd.log, rotated by
// size. Installed as spdlog's default logger so every layer logs to the same place.
// One record is one line: control characters (newline, carriage return, ESC, ...), C1
// controls and invalid UTF-8 in a message are escaped as append_printable (bus/text.h)
// does, so a name or reason a message quotes cannot forge a line or drive a terminal.
#pragma once

#include <filesystem>
#include <memory>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include "bus/status.h"
#include "core/config/hub_config.h"

namespace hub {

Result<std::shared_ptr<spdlog::logger>> install_hub_logger(const std::filesystem::path& log_file,
                                                           const HubConfig::Log& settings);

// The formatter of hubd's log: "TIME LEVEL message", the message escaped as above.
std::unique_ptr<spdlog::formatter> hub_log_formatter();

}  // namespace hub
