// The environment a module's scripts and its service run with (the supervisor adds the
// instance's own facts to the service's): hubd's own environment, minus any HUB_
// variables it inherited, plus the module's facts, and PATH and LD_LIBRARY_PATH with the
// module's own directories first. Documented in README.md.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/module_loader.h"

namespace hub {

// Where hubd keeps per-module runtime files: ROOT/var/run/hub/modules/NAME/.
std::filesystem::path module_run_dir(const std::filesystem::path& root, const std::string& name);
// The merged config as the module's scripts see it: module_run_dir(...)/config.yml.
std::filesystem::path module_config_file(const std::filesystem::path& root,
                                         const std::string& name);

// The credential a module's scripts (control and event) act with on the bus and the API,
// identity NAME@scripts: module_run_dir(...)/credential, mode 0600. Given to them as
// HUB_CREDENTIAL_FILE.
std::filesystem::path script_credential_file(const std::filesystem::path& root,
                                             const std::string& name);

// The log of an owner's scripts: ROOT/var/log/hub/scripts/NAME.log, and _site.log for
// the site's (empty `name`; a module name starts with a letter, so it cannot collide).
std::filesystem::path script_log_file(const std::filesystem::path& root, const std::string& name);

// Where a running script's record is kept (ScriptRequest::record_dir):
// ROOT/var/run/hub/scripts/.
std::filesystem::path script_record_dir(const std::filesystem::path& root);

// "KEY=VALUE" strings. `extra` is added last and wins over everything else.
std::vector<std::string> module_environment(
    const std::filesystem::path& root, const Module& module,
    const std::vector<std::pair<std::string, std::string>>& extra = {});

// The same for the site's own scripts (ROOT/events): no module variables, hubd's PATH.
std::vector<std::string> site_environment(
    const std::filesystem::path& root,
    const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace hub
