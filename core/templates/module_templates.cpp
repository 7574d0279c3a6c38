#include "core/templates/module_templates.h"

#include <algorithm>
#include <set>
#include <system_error>

#include "core/modules/module_config.h"

namespace hub::templates {
namespace fs = std::filesystem;

Result<Rendered> render_module_template(const Module& module, const std::string& template_path,
                                        const YAML::Node& set, const HubFacts& hub) {
  const fs::path relative = fs::path(template_path).lexically_normal();
  if (template_path.empty() || relative.is_absolute() || *relative.begin() == "..") {
    return Status::bad_request("template '" + template_path + "': expected a path inside module " +
                               module.name + " (as templates/NAME.st)");
  }
  const fs::path file = module.dir / relative;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return Status::not_found("module " + module.name + " has no template " + relative.string());
  const fs::path real = fs::weakly_canonical(file, ec);
  const fs::path dir = fs::weakly_canonical(module.dir, ec);
  const auto [dir_end, real_it] = std::mismatch(dir.begin(), dir.end(), real.begin(), real.end());
  if (ec || dir_end != dir.end()) {
    return Status::bad_request("template '" + template_path + "' leads outside module " +
                               module.name);
  }
  const YAML::Node config = set && set.IsMap()
                                ? merge_yaml(nest_dotted_keys(module.config), nest_dotted_keys(set))
                                : module.config;
  return render_file(file, template_attributes(module, config, hub));
}

std::vector<std::string> module_template_files(const Module& module) {
  std::set<std::string> files;
  std::error_code ec;
  const fs::path dir = module.dir / "templates";
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".st" && it->is_regular_file(ec))
      files.insert(it->path().lexically_relative(module.dir).string());
  }
  return {files.begin(), files.end()};
}

}  // namespace hub::templates
