// The end of a log file, for the page's log tail.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "bus/status.h"

namespace hub::console {

// The last `lines` lines of `file`, reading at most its last `max_bytes` (a first line
// cut by that bound is left out). kNotFound when the file does not exist.
Result<std::string> tail_lines(const std::filesystem::path& file, size_t lines,
                               size_t max_bytes = 256 * 1024);

// True for a name that may be a service instance's (NAME or NAME.X): letters, digits,
// '_', '-', '.', not starting with '.', so it cannot leave the log directory.
bool is_instance_name(const std::string& name);

}  // namespace hub::console
