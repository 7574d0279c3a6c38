// Small filesystem helpers for hubd's view of a root: directories it owns, the entries a
// user placed in a directory, and little text files. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bus/status.h"

namespace hub {

// A user and group that files are given to (a service that runs as another user).
struct Account {
  uid_t uid = 0;
  gid_t gid = 0;                     // the primary group; files given to it get this one
  std::optional<gid_t> extra_group;  // the only supplementary group of its processes
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

// Reads a small text file: fails with "PATH: reason" (missing, a directory, not a regular
// file, unreadable, larger than `max_bytes`). Never blocks on a FIFO.
Result<std::string> read_small_file(const std::filesystem::path& file, size_t max_bytes);

}  // namespace hub
