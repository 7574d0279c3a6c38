// A module's configuration check (service.yml `check:`, docs/SERVICES.md): a program of
// the module that vets its configuration files before its service may run, run by the
// loader at load and at every reload. Thread-safe (no shared state); blocks the calling
// thread for the run.
//
// It runs in the root, as the module's control scripts do (its account, its environment
// but no bus credential and no HUB_MODULE_CONFIG, whose file is written only once the
// module is loaded), with stdin /dev/null, its `args` and then the module's config files
// (root-relative, absolute when outside the root; in merge order) as arguments, and its
// stdout and stderr captured together. When it ends, times out or is cancelled, its
// process group is killed. A check that runs as another account (service.yml user:) gets
// the files as a private copy it owns, under the same relative paths, and runs in that
// copy's directory: the originals may be readable by hubd alone (a file holding a broker
// password).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/modules/module_loader.h"

namespace hub {

// How much of a check's output is kept (stdout and stderr together).
inline constexpr size_t kCheckOutputCap = 4096;

// Why a check failed: "configuration check failed: " and its output, trimmed (or what
// happened to it), and the config file and line it names, when the output's first line
// starts with "FILE:LINE:" for one of the files it was given.
struct CheckFailure {
  std::string reason;
  std::filesystem::path file;  // ROOT/FILE, or empty
  int line = 0;
  bool cancelled = false;  // hubd is stopping: the check was cut short, nothing was judged
};

// Runs `m`'s check with `config_files` (absolute, from module_config_files):
// nullopt when it exited with 0. REQUIRES: m.service && m.service->check
std::optional<CheckFailure> run_config_check(const RootLayout& layout, const Module& m,
                                             const std::vector<std::filesystem::path>& config_files,
                                             const CheckOptions& options);

}  // namespace hub
