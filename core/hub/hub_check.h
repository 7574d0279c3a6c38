// hubd --check (like `nginx -t`): reads hub.yml and the whole module tree as hubd would
// start with them, runs the modules' configuration checks (service.yml `check:`), and
// prints what would load, be shadowed and be rejected, with every reason. Binds nothing,
// creates no directory, takes no lock and writes nothing under the root: a hub running on
// the same root goes on undisturbed.
#pragma once

#include <iosfwd>

#include "core/hub/hubd.h"

namespace hub {

// kExitOk when every module would load and hubd could write its places; kExitConfig when
// hub.yml is invalid, a module would be rejected, a template of a loaded module does not
// render or uses a name its configuration does not define, a module tree cannot be read, a place
// hubd writes (run, db, log) could not be made, or the network keys do not load. The
// report goes to `out`.
int check_hub(const HubdOptions& options, std::ostream& out);

}  // namespace hub
