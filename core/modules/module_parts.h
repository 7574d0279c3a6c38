// The directories of a module that hub gives meaning to, besides info/, control/,
// events/ and service.yml (README, "Modules", has the table of them all):
//   os/OS/programs, os/OS/tools, system/apps   on PATH, in that order
//   os/OS/lib                                  on LD_LIBRARY_PATH
//   system/jars, os/OS/jars                    every *.jar on CLASSPATH, in that order
//   os/OS/applications                         $HUB_MODULE_APPLICATIONS (launched by path)
// OS is `uname -s` lower-cased ("linux"). Thread-safe (no shared state but a constant).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace hub {

// `uname -s` lower-cased, read once: the OS part of a module's os/OS/.
const std::string& os_name();

// DIR/os/OS.
std::filesystem::path os_dir(const std::filesystem::path& module_dir);

// The *.jar files directly in `dir` (regular files, or links to them), in C-locale (byte)
// order of their names; none when `dir` is missing or unreadable.
std::vector<std::filesystem::path> jars_in(const std::filesystem::path& dir);

// The programs in the module's system/apps/ whose names do not start with the module's
// name (compared without case: Timer's apps are timer-*, Timer_* or TimerCtl), which the
// module spec's convention asks for so that apps of different modules never collide on
// PATH. Names starting with '.' are not apps.
std::vector<std::string> unprefixed_apps(const std::filesystem::path& module_dir,
                                         const std::string& module);

// A digest of every file under the module's templates/ (names and contents): equal
// digests, same templates. Empty when it has none.
std::string templates_digest(const std::filesystem::path& module_dir);

}  // namespace hub
