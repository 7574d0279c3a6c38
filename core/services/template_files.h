// The files a service declares in service.yml `templates:`, rendered into its workspace
// at every start (docs/SERVICES.md, "Templates"). Rendering comes first and touches
// nothing, so a template that cannot be rendered fails the start with the workspace as
// the last run left it; writing replaces each file whole (a temporary file beside it,
// renamed over it), so no reader ever sees half of one. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"
#include "core/services/service_spec.h"
#include "core/system/accounts.h"

namespace hub {

struct RenderedFile {
  std::filesystem::path target;  // relative to the workspace
  std::string text;
  mode_t mode = 0640;
  std::string source;                  // as service.yml names it
  std::vector<std::string> undefined;  // attribute names it uses that are not defined
};

// Renders each of `templates` (sources relative to `module_dir`) with `attributes`
// (core/templates/template_attributes.h). Fails at the first that cannot be rendered:
// "templates[0] (etc/x.conf): MODULE_DIR/templates/x.conf.st:3:7: what was expected".
Result<std::vector<RenderedFile>> render_templates(const std::vector<TemplateFile>& templates,
                                                   const std::filesystem::path& module_dir,
                                                   const YAML::Node& attributes);

// Writes `files` under `workspace` (replace_file, not durable: a workspace never outlives
// a start, so after a crash or a power cut the next start renders them again, and an
// fsync per file would cost a start more than the rendering), creating the directories
// on their way (mode 0750), and gives each file and directory it made to `owner`.
Status write_rendered(const std::filesystem::path& workspace,
                      const std::vector<RenderedFile>& files,
                      const std::optional<Account>& owner = std::nullopt);

// Writes `text` to `file` as a whole: a temporary file in the same directory (never
// through a link) with `mode`, renamed over `file`. `durable`: the file is fsynced before
// the rename and the directory after it, so a power cut leaves the old file or the new.
Status replace_file(const std::filesystem::path& file, const std::string& text, mode_t mode,
                    bool durable = true);

}  // namespace hub
