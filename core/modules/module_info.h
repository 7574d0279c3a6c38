// The parts of a module's info/ directory (seed 003, made exact): its version, its
// dependencies, and what a module may be called. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bus/status.h"

namespace hub {

struct Version {
  unsigned major = 0, minor = 0, release = 0;
  std::string str() const;
};

// "MAJOR.MINOR.RELEASE": three decimal numbers of at most 9 digits. Surrounding blank
// space (the file's final newline) is allowed, anything else is an error saying what was
// found.
Result<Version> parse_version(std::string_view text);

// One line of depends.txt: Name, Name:MAJOR, Name:MAJOR.MINOR or Name:MAJOR.MINOR.RELEASE.
struct Dependency {
  std::string name;
  int parts = 0;  // how many version parts were written (0 to 3)
  Version version;
  int line = 0;  // 1-based line in depends.txt

  // True when `v` matches as specifically as written: Bar:4.12 accepts 4.12.x.
  bool accepts(const Version& v) const;
  // "Bar", "Bar:4", "Bar:4.12", "Bar:4.12.2".
  std::string requirement() const;
};

struct DependsProblem {
  int line = 0;
  std::string message;
};

// Parses depends.txt. Blank lines and lines starting with '#' (after blanks) are skipped.
// Fails on the first malformed line, naming the line and what was expected.
Result<std::vector<Dependency>> parse_depends(std::string_view text, DependsProblem* problem);

// Why `name` cannot be a module name, or nullopt when it can. A module name is 1 to 64
// characters from [A-Za-z0-9_-], starting with a letter: safe as a path component, a
// topic level and an environment value. "Hub" is the hub's own and reserved.
std::optional<std::string> module_name_problem(std::string_view name);

}  // namespace hub
