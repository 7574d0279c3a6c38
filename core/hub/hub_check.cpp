#include "core/hub/hub_check.h"

#include <grp.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <ostream>

#include "bus/curve.h"
#include "core/hub/hub_options.h"
#include "core/templates/module_templates.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

void print_places(const RootLayout& layout, std::ostream& out) {
  const RootPlaces& p = layout.places();
  std::string trees;
  for (const auto& tree : p.modules) trees += (trees.empty() ? "" : ", ") + tree.string();
  out << "places:\n"
      << "  config   " << p.config.string() << "\n"
      << "  modules  " << trees
      << (p.modules.size() > 1 ? " (at one level, a later tree wins a name)\n" : "\n")
      << "  events   " << p.events.string() << "\n"
      << "  system   " << p.system.string() << "\n"
      << "  data     " << p.data.string() << "\n"
      << "  run      " << p.run.string() << "\n"
      << "  db       " << p.db.string() << "\n"
      << "  log      " << p.log.string() << "\n";
}

// The places hubd writes (run, db, log): each a directory it may write, or one it could
// create (the nearest existing directory above it is writable). Nothing is created.
int check_places(const RootLayout& layout, std::ostream& out) {
  int problems = 0;
  for (const auto& dir : layout.state_dirs()) {
    fs::path at = fs::absolute(dir);
    std::error_code ec;
    while (!fs::exists(at, ec) && at.has_relative_path()) at = at.parent_path();
    const bool is_dir = fs::is_directory(at, ec);
    if (!is_dir || ::access(at.c_str(), W_OK | X_OK) != 0) {
      out << "problem   " << dir.string() << ": "
          << (is_dir ? at.string() + " is not writable by this user"
                     : at.string() + " is not a directory")
          << "\n";
      ++problems;
    }
  }
  return problems;
}

// The problems hubd would meet before loading a module: network keys that do not load.
int check_network(const HubConfig& config, const fs::path& root, std::ostream& out) {
  if (!config.network.any()) return 0;
  auto curve = load_curve_server(root / config.network.server_key, root / config.network.clients);
  if (curve) return 0;
  out << "problem   network: " << curve.error() << "\n";
  return 1;
}

void print_tree(const ModuleTree& tree, std::ostream& out) {
  for (const auto& m : tree.loaded) {
    out << "loaded    " << m.name << " " << m.version.str() << " (level " << m.level << ", "
        << m.dir.string() << ")";
    if (!m.service_off.empty()) out << "; its service does not run: " << m.service_off;
    out << "\n";
  }
  for (const auto& s : tree.shadowed) {
    out << "shadowed  " << s.name << " (level " << s.level << ", " << s.dir.string() << ") by "
        << s.by_dir.string() << " (level " << s.by_level << ")\n";
  }
  for (const auto& r : tree.rejected) {
    out << "rejected  " << r.name << " (level " << r.level << ", " << r.dir.string()
        << "): " << r.reason << "\n";
  }
  for (const auto& problem : tree.problems) out << "problem   " << problem << "\n";
}

// Strict: every template of every loaded module renders, and defines every name it uses
// (its service's instance facts given as at a start; each port it asks for as 0, since
// hubd picks the ports only when it starts the service).
int check_templates(const ModuleTree& tree, const fs::path& root,
                    const std::vector<std::string>& levels, std::ostream& out) {
  int problems = 0;
  const templates::HubFacts hub{root, levels, HUB_VERSION};
  for (const auto& m : tree.loaded) {
    YAML::Node ports(YAML::NodeType::Map);
    if (m.service) {
      for (const auto& name : m.service->ports) ports[name] = 0;
    }
    const templates::InstanceFacts instance{m.name, {}, ports};
    for (const auto& relative : templates::module_template_files(m)) {
      const fs::path file = m.dir / relative;
      auto attributes =
          templates::template_attributes(m, m.config, hub, m.runs_service() ? &instance : nullptr);
      auto rendered = templates::render_file(file, attributes);
      if (!rendered) {
        out << "problem   " << m.name << ": " << rendered.error() << "\n";
        ++problems;
        continue;
      }
      if (rendered->undefined.empty()) continue;
      std::string names;
      for (const auto& n : rendered->undefined) names += (names.empty() ? "" : ", ") + n;
      out << "problem   " << m.name << ": " << file.string()
          << ": uses names its configuration does not define: " << names << "\n";
      ++problems;
    }
  }
  return problems;
}

}  // namespace

int check_hub(const HubdOptions& options, std::ostream& out) {
  const fs::path file = hub_yml_file(options.root, options.config_file);
  auto config = read_hub_yml(options.root, options.config_file);
  if (!config) {
    out << "hub.yml " << file.string() << ": invalid\n" << config.error() << "\n";
    return kExitConfig;
  }
  out << "hub.yml " << file.string()
      << (fs::exists(file) ? ": valid\n" : ": absent, built-in defaults\n");
  export_hub_environment(*config, file);  // the checks see what hubd's children see
  const RootLayout layout = root_layout(*config, options.root);
  print_places(layout, out);
  // Besides rejected modules:
  int problems = check_places(layout, out) + check_network(*config, options.root, out);

  // A check running when the user presses Ctrl-C is cut short (its module rejected).
  const sigset_t stop = stop_signals();
  const int cancel_fd = ::signalfd(-1, &stop, SFD_CLOEXEC);
  CheckOptions checks;
  checks.cancel_fd = cancel_fd;  // no record_dir: nothing is written in the run directory
  if (!config->services.group.empty()) {
    if (const group* g = ::getgrnam(config->services.group.c_str()))
      checks.services_group = g->gr_gid;
  }
  const ModuleTree tree =
      load_module_tree(layout, config->levels, config->services.volume_paths, checks);
  if (cancel_fd >= 0) ::close(cancel_fd);
  print_tree(tree, out);
  problems += static_cast<int>(tree.problems.size());
  problems += check_templates(tree, options.root, config->levels, out);
  out << "hubd --check: " << tree.loaded.size() << " loaded, " << tree.shadowed.size()
      << " shadowed, " << tree.rejected.size() << " rejected, " << problems << " other problem"
      << (problems == 1 ? "" : "s") << "\n";
  return problems == 0 && tree.rejected.empty() ? kExitOk : kExitConfig;
}

}  // namespace hub
