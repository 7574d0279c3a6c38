// Small filesystem helpers for hubd's view of a root: directories it owns, the entries a
// user placed in a directory, the files it writes (the files it reads: bus/small_file.h).
// Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bus/small_file.h"  // read_small_file: how every file hubd reads is read
#include "bus/status.h"
#include "core/system/accounts.h"

namespace hub {

// Where a problem in a file is: the file, and the line of its first problem when known
// (else 0).
struct FileFault {
  std::filesystem::path file;
  int line = 0;
};

// Creates `dir` (and parents) if needed and sets its mode. Fails when it exists but is
// owned by another user (than this one, or `owner`), so sockets are never placed where
// someone else controls them. With `owner`, gives the directory to it.
Status make_private_dir(const std::filesystem::path& dir, mode_t mode,
                        const std::optional<Account>& owner = std::nullopt);

// Gives `path` (never what a symbolic link points to) to `owner`.
Status give_to(const std::filesystem::path& path, const Account& owner);

// The entries of `dir` whose names do not start with '.', in C-locale (byte) order. A
// missing `dir` gives none; any other failure to read it is reported in `error`.
std::vector<std::filesystem::path> visible_entries(const std::filesystem::path& dir,
                                                   std::error_code& error);

// Writes `text` to `file` (created with `mode`, else truncated; never through a symlink).
Status write_file(const std::filesystem::path& file, const std::string& text, mode_t mode = 0644);

}  // namespace hub
