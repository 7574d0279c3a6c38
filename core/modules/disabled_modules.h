// The modules an operator disabled (`hubctl disable NAME`): kept down for good, across
// reloads and hubd restarts, until enabled again. One name per line in a file under the
// root's db place, replaced atomically (a power cut leaves the old list or the new).
#pragma once

#include <filesystem>
#include <set>
#include <string>

#include "bus/status.h"

namespace hub {

class DisabledModules {
 public:
  DisabledModules() = default;
  explicit DisabledModules(std::filesystem::path file) : file_(std::move(file)) {}

  // Reads the file; a missing file is an empty list. An unreadable one (not a regular
  // file, too large, no permission) is an error: the list stays empty (every module runs:
  // nothing is kept down by a guess), and set() refuses until it is readable again, so a
  // change never replaces the entries it could not read.
  Status load();
  bool contains(const std::string& name) const { return names_.count(name) != 0; }
  // Adds or removes `name` and saves the list; on failure nothing changed, on disk or here.
  Status set(const std::string& name, bool disabled);
  const std::set<std::string>& names() const { return names_; }
  bool readable() const { return unreadable_.empty(); }

 private:
  Status save(const std::set<std::string>& names) const;

  std::filesystem::path file_;  // empty: nothing is saved
  std::set<std::string> names_;
  std::string unreadable_;  // why load() could not read the file; empty when it could
};

}  // namespace hub
