#include "core/modules/dependents.h"

#include <algorithm>
#include <set>

namespace hub {

std::vector<std::string> dependents_of(const std::vector<Module>& loaded, const std::string& name) {
  std::set<std::string> reached{name};
  std::vector<std::string> out;
  // In dependency order a module comes after what it depends on: one pass finds them all.
  for (const auto& m : loaded) {
    const bool depends = std::any_of(m.depends.begin(), m.depends.end(),
                                     [&](const Dependency& d) { return reached.count(d.name); });
    if (depends && reached.insert(m.name).second) out.push_back(m.name);
  }
  return out;
}

}  // namespace hub
