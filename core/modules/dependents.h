// Who depends on a module, directly or through others: what must stop before it stops,
// and what may come back once it is up again (systemd's Requires + PartOf).
#pragma once

#include <string>
#include <vector>

#include "core/modules/module_loader.h"

namespace hub {

// The modules of `loaded` (dependency order) that depend on `name`, directly or not, in
// that order: start them front to back, stop them back to front.
std::vector<std::string> dependents_of(const std::vector<Module>& loaded, const std::string& name);

}  // namespace hub
