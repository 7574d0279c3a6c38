// The workspace of a service instance (seed 000, "Directory Convention"):
// var/run/hub/services/INSTANCE/, the service's cwd, recreated on every start:
//   etc/hub/service.yml   the module's merged config
//   etc/hub/credential    the instance's bus credential (mode 0600)
//   var/db/hub  -> data/NAME/                       persistent data of the module
//   var/log/hub -> var/log/hub/services/INSTANCE/   where the service may keep log files
//   TARGET      -> SOURCE                            each declared volume
//   TARGET                                           each rendered template (template_files.h)
// Its stdout and stderr go to var/log/hub/INSTANCE.log (see instance_log.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "bus/credentials.h"
#include "bus/root_layout.h"
#include "bus/status.h"
#include "core/services/service_spec.h"
#include "core/services/template_files.h"
#include "core/system/files.h"

namespace hub {

struct WorkspacePaths {
  std::filesystem::path dir;
  std::filesystem::path config_file;
  std::filesystem::path credential_file;
  std::filesystem::path log_dir;     // the target of var/log/hub inside the workspace
  std::filesystem::path output_log;  // stdout and stderr
};

WorkspacePaths workspace_paths(const RootLayout& layout, const std::string& instance);

struct WorkspaceRequest {
  std::string module;
  std::string instance;
  std::string config_yaml;
  std::vector<Volume> volumes;
  std::vector<RenderedFile> files;  // the service's templates, rendered
  Credential credential;
  std::optional<Account> owner;  // the service's user: its workspace, data and logs are its
};

// Removes what an earlier start left and builds the workspace afresh. Fails, naming the
// path, when something cannot be created or a volume resolves outside the root and
// outside every `volume_paths` entry.
Result<WorkspacePaths> prepare_workspace(const RootLayout& layout,
                                         const std::vector<std::string>& volume_paths,
                                         const WorkspaceRequest& request);

}  // namespace hub
