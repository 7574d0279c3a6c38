// A stream to journald, as systemd gives a unit's stdout and stderr (its "stdout" stream
// protocol): a connection to journald's stream socket, then a header of seven lines
// (identifier, unit id, priority, level prefix, forward to syslog, to kmsg, to console),
// then the output itself, one journal record per line. hubd hands such a stream to a
// service as its stdout and stderr (service.yml `log: {to: journal}`), so its lines land
// with the instance's name as their identifier (SYSLOG_IDENTIFIER), at priority 6 (info)
// unless a line starts with "<N>". Thread-safe (no shared state).
#pragma once

#include <filesystem>
#include <string>

#include "bus/status.h"
#include "bus/unique_fd.h"

namespace hub {

// Where journald listens for streams.
inline constexpr const char* kJournalStreamSocket = "/run/systemd/journal/stdout";

// Connects to `socket` and sends the header for `identifier` (no unit id, priority 6,
// level prefixes on, no forwarding). The stream is write-only and close-on-exec. Fails with
// why (no journald: "...: No such file or directory").
Result<unique_fd> open_journal_stream(const std::filesystem::path& socket,
                                      const std::string& identifier);

// $JOURNAL_STREAM for a process whose stdout is `fd`: "DEVICE:INODE" (empty on failure).
std::string journal_stream_id(int fd);

}  // namespace hub
