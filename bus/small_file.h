// The one way hub reads a file a user, an operator or another process may have placed:
// settings, module info, credentials, keys, marks. Only a regular file is read; anything
// else (a directory, a FIFO, a socket, a device) is refused without blocking and without
// reading it, with an error naming the file and what it is. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>

#include "bus/status.h"

namespace hub {

struct SmallFileOptions {
  size_t max_bytes = 64 * 1024;  // larger files are refused, not cut
  bool follow_links = true;      // false: a symbolic link is refused (for secrets)
};

struct SmallFile {
  std::string text;  // the whole file, a leading UTF-8 byte-order mark removed
  uid_t owner = 0;
  mode_t mode = 0;  // the permission bits (07777)
};

// Reads `file` whole. Fails with "PATH: reason": "missing", "is a directory, expected a
// regular file", "is a FIFO, expected a regular file" (never waits for a writer), "is N
// bytes, more than the M allowed", or the system's reason. A byte-order mark (EF BB BF)
// is invisible in editors and means nothing to hub, so it is dropped, never an error.
Result<SmallFile> read_small_file(const std::filesystem::path& file,
                                  const SmallFileOptions& options);

// The same, for callers that need only the text.
Result<std::string> read_small_file(const std::filesystem::path& file, size_t max_bytes);

// What `mode` (from stat) is, in words: "a directory", "a FIFO", "a socket", ...
std::string file_kind(mode_t mode);

}  // namespace hub
