// hubd's logger, installed as spdlog's default logger so every layer logs to the same place:
// - stderr is the journal ($JOURNAL_STREAM names its device and inode, as systemd sets it
//   for a unit's stderr): there only, each line "<N>message" with N the syslog priority
//   (journald keeps it as the record's level and stamps the time), and no hubd.log, so
//   nothing is stored twice;
// - otherwise: stderr (coloured on a terminal) and ROOT/var/log/hub/hubd.log, rotated by
//   size, each line "TIME LEVEL message".
// One record is one line: control characters (newline, carriage return, ESC, ...), C1
// controls and invalid UTF-8 in a message are escaped as append_printable (bus/text.h)
// does, so a name or reason a message quotes cannot forge a line or drive a terminal.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include "bus/status.h"
#include "core/config/hub_config.h"

namespace hub {

// `to_journal`: stderr is the journal (stderr_is_journal()); `log_file` is then not opened.
Result<std::shared_ptr<spdlog::logger>> install_hub_logger(const std::filesystem::path& log_file,
                                                           const HubConfig::Log& settings,
                                                           bool to_journal = false);

// True when `journal_stream` ($JOURNAL_STREAM: "DEVICE:INODE", decimal) names the file
// `fd` is open on (systemd's test for "my stderr is the journal").
bool is_journal_stream(const std::string& journal_stream, int fd);

// The formatter of hubd's log: "TIME LEVEL message", the message escaped as above.
std::unique_ptr<spdlog::formatter> hub_log_formatter();

}  // namespace hub
