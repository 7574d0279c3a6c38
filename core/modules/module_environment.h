// The environment a module's scripts and its service run with (the supervisor adds the
// instance's own facts to the service's): hubd's own environment, minus any HUB_
// variables it inherited, plus the module's facts, PATH and LD_LIBRARY_PATH with the
// module's own directories first (then the root's system/apps on PATH), CLASSPATH with
// the module's jars, then the root's system/jars, and $HUB_MODULE_APPLICATIONS
// (module_parts.h). Documented in README.md.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/modules/module_loader.h"

namespace hub {

// Variables every module and site process gets besides its own: hub.yml's facts
// (HUB_DEVICE). Set once by hubd at start, before it starts any process.
void set_hub_environment(std::vector<std::pair<std::string, std::string>> variables);

// The files these name (the merged config, the scripts' credential NAME@scripts, given
// as HUB_CREDENTIAL_FILE, the data directory) are RootLayout's (bus/root_layout.h).

// "KEY=VALUE" strings. `extra` is added last and wins over everything else.
std::vector<std::string> module_environment(
    const RootLayout& layout, const Module& module,
    const std::vector<std::pair<std::string, std::string>>& extra = {});

// The same for the site's own scripts (ROOT/events): no module variables, hubd's PATH.
std::vector<std::string> site_environment(
    const RootLayout& layout, const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace hub
