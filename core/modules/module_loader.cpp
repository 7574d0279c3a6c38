#include "core/modules/module_loader.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "bus/root_layout.h"
#include "core/modules/module_check.h"
#include "core/modules/module_config.h"
#include "core/modules/module_parts.h"
#include "core/system/files.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxInfoFile = 64 * 1024;
constexpr size_t kMaxBuildInfo = 4 * 1024;

// A module found on disk: parsed, or rejected while reading it.
struct Candidate {
  Module module;
  std::optional<RejectedModule> rejected;
};

RejectedModule rejection(const Module& m, std::string reason, fs::path file = {}, int line = 0) {
  RejectedModule r{m.name, m.level, m.dir, reason, std::move(file), line, {}};
  r.root_cause = m.name + ": " + reason;
  return r;
}

// Reads info/ of the module at `m.dir`; returns why it cannot load, if it cannot.
std::optional<RejectedModule> read_info(Module& m) {
  const fs::path version_file = m.dir / "info/version.txt";
  const fs::path depends_file = m.dir / "info/depends.txt";
  auto version_text = read_small_file(version_file, kMaxInfoFile);
  if (!version_text) {
    return rejection(
        m, version_text.error() + " (a module needs info/version.txt and info/depends.txt)",
        version_file);
  }
  auto version = parse_version(*version_text);
  if (!version)
    return rejection(m, version_file.string() + ":1: " + version.error(), version_file, 1);
  m.version = *version;

  auto depends_text = read_small_file(depends_file, kMaxInfoFile);
  if (!depends_text) {
    return rejection(m, depends_text.error() + " (it may be empty, but must exist)", depends_file);
  }
  DependsProblem problem;
  auto depends = parse_depends(*depends_text, &problem);
  if (!depends) {
    return rejection(
        m, depends_file.string() + ":" + std::to_string(problem.line) + ": " + problem.message,
        depends_file, problem.line);
  }
  m.depends = std::move(*depends);

  const fs::path build_file = m.dir / "info/build.txt";
  std::error_code ec;
  if (fs::exists(fs::symlink_status(build_file, ec))) {  // optional, but not half there
    auto build = read_small_file(build_file, kMaxInfoFile);
    if (!build) return rejection(m, build.error() + " (info/build.txt is optional)", build_file);
    m.build_info = build->substr(0, kMaxBuildInfo);
    while (!m.build_info.empty() && std::isspace(static_cast<unsigned char>(m.build_info.back()))) {
      m.build_info.pop_back();
    }
  }
  return std::nullopt;
}

Candidate examine(const fs::path& dir, const std::string& level) {
  Candidate c;
  c.module.name = dir.filename().string();
  c.module.level = level;
  c.module.dir = dir;
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (ec) {
    c.rejected = rejection(c.module, dir.string() + ": " + ec.message(), dir);
  } else if (!fs::is_directory(st)) {
    c.rejected =
        rejection(c.module, dir.string() + ": expected a module directory, found a file", dir);
  } else if (auto bad = module_name_problem(c.module.name)) {
    c.rejected = rejection(c.module, dir.string() + ": unsafe module name: " + *bad, dir);
  } else if (c.module.name == "all") {  // `hubctl stop all` could never name it
    c.rejected = rejection(
        c.module, dir.string() + ": 'all' is reserved (hubctl start|stop|restart all)", dir);
  } else {
    c.rejected = read_info(c.module);
    for (const auto& app : unprefixed_apps(dir, c.module.name)) {
      c.module.warnings.push_back("system/apps/" + app + " is not named after its module (" +
                                  c.module.name + "-..., the convention that keeps every " +
                                  "module's apps apart on PATH); loaded anyway");
    }
  }
  return c;
}

Candidate examine_guarded(const fs::path& dir, const std::string& level) {
  try {
    return examine(dir, level);
  } catch (const std::exception& e) {  // a library's surprise rejects this module only
    Candidate c;
    c.module.name = dir.filename().string();
    c.module.level = level;
    c.module.dir = dir;
    c.rejected = rejection(c.module, dir.string() + ": cannot be read: " + e.what(), dir);
    return c;
  }
}

// True when the merged configuration has top-level `key`, not null.
bool has_setting(const YAML::Node& config, const std::string& key) {
  if (!config.IsMap()) return false;
  for (const auto& entry : config) {  // const lookup: operator[] would add the key
    if (entry.first.Scalar() == key) return !entry.second.IsNull();
  }
  return false;
}

// Runs the module's configuration check (module_check.h); returns why it failed, if it did.
std::optional<RejectedModule> check_settings(const Module& m, const RootLayout& layout,
                                             const std::vector<std::string>& levels,
                                             const CheckOptions& checks) {
  FileFault fault;
  auto files = module_config_files(layout, levels, m.name, &fault);
  if (!files) return rejection(m, "bad configuration: " + files.error(), fault.file, fault.line);
  const auto failure = run_config_check(layout, m, *files, checks);
  if (!failure) return std::nullopt;
  RejectedModule r = rejection(m, failure->reason, failure->file, failure->line);
  r.unjudged = failure->cancelled;
  return r;
}

// Why a template the service declares cannot be rendered from the module, if it cannot.
std::optional<std::string> missing_template(const ServiceSpec& service, const fs::path& dir) {
  for (size_t i = 0; i < service.templates.size(); ++i) {
    const fs::path source = dir / service.templates[i].source;
    std::error_code ec;
    if (!fs::is_regular_file(source, ec)) {
      return "bad service definition: templates[" + std::to_string(i) +
             "].source: " + source.string() +
             ": expected a template file of the module, found none";
    }
  }
  return std::nullopt;
}

// Reads the module's configuration and service definition into `m`, and runs its
// configuration check; returns why it cannot load, if it cannot.
std::optional<RejectedModule> read_settings(Module& m, const RootLayout& layout,
                                            const std::vector<std::string>& levels,
                                            const std::vector<std::string>& volume_paths,
                                            const CheckOptions& checks) {
  FileFault fault;
  auto config = merge_module_config(layout, levels, m.name, &fault);
  if (!config) return rejection(m, "bad configuration: " + config.error(), fault.file, fault.line);
  m.config = std::move(config->merged);
  m.script_timeout = config->script_timeout;
  auto service = load_service_spec(layout, levels, m.dir, m.name, &fault);
  if (!service) {
    return rejection(m, "bad service definition: " + service.error(), fault.file, fault.line);
  }
  for (const auto& volume : (*service) ? (*service)->volumes : std::vector<Volume>{}) {
    if (auto source = resolve_volume_source(layout, volume_paths, volume); !source)
      return rejection(m, "bad service definition: " + source.error());
  }
  m.service = std::move(*service);
  if (!m.service) return std::nullopt;
  if (auto missing = missing_template(*m.service, m.dir)) return rejection(m, *missing);
  m.templates_digest = templates_digest(m.dir);
  const std::string& needed = m.service->needs_config;
  if (!needed.empty() && !has_setting(m.config, needed)) {
    m.service_off =
        "its configuration has no `" + needed + "` (config/LEVEL/modules/" + m.name + "/*.yml)";
    return std::nullopt;
  }
  if (m.service->check) return check_settings(m, layout, levels, checks);
  return std::nullopt;
}

// Resolution over the candidates that won their name. Fills tree.loaded and rejected.
class Resolver {
 public:
  Resolver(std::map<std::string, Candidate>& winners, const std::vector<ShadowedModule>& shadowed,
           const std::map<fs::path, Version>& shadowed_versions)
      : winners_(winners), shadowed_(shadowed), shadowed_versions_(shadowed_versions) {}

  void run(ModuleTree& tree) {
    check_direct_dependencies();
    reject_cycles();
    propagate_rejections();
    for (auto& [name, c] : winners_) {
      if (c.rejected) tree.rejected.push_back(*c.rejected);
    }
    order(tree);
  }

 private:
  bool ok(const std::string& name) const {
    auto it = winners_.find(name);
    return it != winners_.end() && !it->second.rejected;
  }

  std::string shadow_note(const Dependency& dep) const {
    std::string note;
    for (const auto& s : shadowed_) {
      if (s.name != dep.name) continue;
      auto v = shadowed_versions_.find(s.dir);
      if (v != shadowed_versions_.end() && dep.accepts(v->second)) {
        note += "; " + s.name + " " + v->second.str() + " at level " + s.level +
                " would match but is shadowed by " +
                (s.by_level != s.level ? "level " + s.by_level : s.by_dir.string());
      }
    }
    return note;
  }

  void check_direct_dependencies() {
    // Versions are checked against what read fine, decided before this loop, so the
    // message never depends on the order modules are looked at.
    std::set<std::string> unreadable;
    for (const auto& [name, c] : winners_) {
      if (c.rejected) unreadable.insert(name);
    }
    for (auto& [name, c] : winners_) {
      if (c.rejected) continue;
      const fs::path file = c.module.dir / "info/depends.txt";
      for (const auto& dep : c.module.depends) {
        const std::string where = file.string() + ":" + std::to_string(dep.line) + ": ";
        if (dep.name == name) {
          c.rejected =
              rejection(c.module, where + "a module cannot depend on itself", file, dep.line);
          break;
        }
        auto it = winners_.find(dep.name);
        if (it == winners_.end()) {
          c.rejected =
              rejection(c.module, where + "missing dependency " + dep.name, file, dep.line);
          break;
        }
        const Module& found = it->second.module;
        if (!unreadable.count(dep.name) && !dep.accepts(found.version)) {
          c.rejected =
              rejection(c.module,
                        where + "wants " + dep.requirement() + ", found " + found.name + " " +
                            found.version.str() + " (level " + found.level + ")" + shadow_note(dep),
                        file, dep.line);
          break;
        }
      }
    }
  }

  // Tarjan's strongly connected components over the modules still standing; every
  // member of a component with a cycle is rejected, naming the cycle.
  void reject_cycles() {
    std::map<std::string, int> index, low;
    std::vector<std::string> stack;
    std::set<std::string> on_stack;
    int next = 0;
    std::vector<std::vector<std::string>> cycles;
    std::function<void(const std::string&)> visit = [&](const std::string& v) {
      index[v] = low[v] = next++;
      stack.push_back(v);
      on_stack.insert(v);
      for (const auto& dep : winners_.at(v).module.depends) {
        if (!ok(dep.name)) continue;
        if (!index.count(dep.name)) {
          visit(dep.name);
          low[v] = std::min(low[v], low[dep.name]);
        } else if (on_stack.count(dep.name)) {
          low[v] = std::min(low[v], index[dep.name]);
        }
      }
      if (low[v] != index[v]) return;
      std::vector<std::string> component;
      std::string w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack.erase(w);
        component.push_back(w);
      } while (w != v);
      const bool self_loop =
          std::any_of(winners_.at(v).module.depends.begin(), winners_.at(v).module.depends.end(),
                      [&](const Dependency& d) { return d.name == v; });
      if (component.size() > 1 || self_loop) cycles.push_back(component);
    };
    for (auto& [name, c] : winners_) {
      if (!c.rejected && !index.count(name)) visit(name);
    }
    for (auto& component : cycles) {
      const std::set<std::string> members(component.begin(), component.end());
      for (const auto& name : component) {
        Candidate& c = winners_.at(name);
        c.rejected = rejection(c.module, "dependency cycle: " + describe_cycle(name, members),
                               c.module.dir / "info/depends.txt");
      }
    }
  }

  // "B -> C -> A -> B": the shortest way from `start` back to itself within `members`,
  // taking dependencies in depends.txt order, so the message is the same on every run.
  std::string describe_cycle(const std::string& start, const std::set<std::string>& members) const {
    std::map<std::string, std::string> parent;
    std::vector<std::string> frontier = {start};
    for (size_t i = 0; i < frontier.size(); ++i) {
      const std::string at = frontier[i];
      for (const auto& d : winners_.at(at).module.depends) {
        if (!members.count(d.name)) continue;
        if (d.name == start) {
          std::vector<std::string> chain;  // at, its parent, ... back to start's successor
          for (std::string p = at; p != start; p = parent.at(p)) chain.push_back(p);
          std::string text = start;
          for (auto it = chain.rbegin(); it != chain.rend(); ++it) text += " -> " + *it;
          return text + " -> " + start;
        }
        if (!parent.count(d.name)) {
          parent[d.name] = at;
          frontier.push_back(d.name);
        }
      }
    }
    return start;  // unreachable for a strongly connected component
  }

  void propagate_rejections() {
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& [name, c] : winners_) {
        if (c.rejected) continue;
        for (const auto& dep : c.module.depends) {
          if (ok(dep.name)) continue;
          const fs::path file = c.module.dir / "info/depends.txt";
          // Only the root cause travels: a long chain must not nest every reason in the next.
          const std::string root_cause = winners_.at(dep.name).rejected->root_cause;
          c.rejected = rejection(c.module,
                                 file.string() + ":" + std::to_string(dep.line) + ": depends on " +
                                     dep.name + ", which was rejected (" + root_cause + ")",
                                 file, dep.line);
          c.rejected->root_cause = root_cause;
          changed = true;
          break;
        }
      }
    }
  }

  // Kahn's algorithm; among the modules whose dependencies are all placed, the smallest
  // name goes first, so the order is the same on every run.
  void order(ModuleTree& tree) {
    std::map<std::string, int> waiting;  // name -> dependencies not yet placed
    std::map<std::string, std::vector<std::string>> dependents;
    std::set<std::string> ready;
    for (auto& [name, c] : winners_) {
      if (c.rejected) continue;
      std::set<std::string> deps;
      for (const auto& d : c.module.depends) deps.insert(d.name);
      waiting[name] = static_cast<int>(deps.size());
      for (const auto& d : deps) dependents[d].push_back(name);
      if (deps.empty()) ready.insert(name);
    }
    while (!ready.empty()) {
      const std::string name = *ready.begin();
      ready.erase(ready.begin());
      tree.loaded.push_back(winners_.at(name).module);
      for (const auto& d : dependents[name]) {
        if (--waiting[d] == 0) ready.insert(d);
      }
    }
  }

  std::map<std::string, Candidate>& winners_;
  const std::vector<ShadowedModule>& shadowed_;
  const std::map<fs::path, Version>& shadowed_versions_;  // by directory
};

}  // namespace

std::vector<std::string> default_config_levels() { return {"system", "customer", "site"}; }

ModuleTree load_module_tree(const RootLayout& layout, const std::vector<std::string>& levels,
                            const std::vector<std::string>& volume_paths,
                            const CheckOptions& checks) {
  ModuleTree tree;
  std::map<std::string, Candidate> winners;
  std::map<fs::path, Version> shadowed_versions;
  // Lowest first, level by level, and within a level tree by tree: what comes later
  // shadows what came before.
  for (const auto& level : levels) {
    for (const auto& level_dir : layout.modules_dirs(level)) {
      std::error_code error;
      const auto entries = visible_entries(level_dir, error);
      if (error) {
        tree.problems.push_back(level_dir.string() + ": cannot be read: " + error.message());
      }
      for (const auto& dir : entries) {
        Candidate c = examine_guarded(dir, level);
        auto it = winners.find(c.module.name);
        if (it != winners.end()) {
          const Module& lower = it->second.module;
          tree.shadowed.push_back({lower.name, lower.level, lower.dir, level, dir});
          if (!it->second.rejected) shadowed_versions[lower.dir] = lower.version;
          it->second = std::move(c);
        } else {
          const std::string name = c.module.name;
          winners.emplace(name, std::move(c));
        }
      }
    }
  }
  // Only the copy that wins its name gets its configuration read.
  for (auto& [name, c] : winners) {
    if (c.rejected) continue;
    try {
      c.rejected = read_settings(c.module, layout, levels, volume_paths, checks);
    } catch (const std::exception& e) {  // a library's surprise rejects this module only
      c.rejected = rejection(c.module, "its settings cannot be read: " + std::string(e.what()));
    }
  }
  // A module shadowed twice names the copy that finally wins.
  for (auto& s : tree.shadowed) {
    s.by_level = winners.at(s.name).module.level;
    s.by_dir = winners.at(s.name).module.dir;
  }
  Resolver(winners, tree.shadowed, shadowed_versions).run(tree);
  // By name; copies of one name stay in search order (lowest precedence first).
  std::stable_sort(
      tree.shadowed.begin(), tree.shadowed.end(),
      [](const ShadowedModule& a, const ShadowedModule& b) { return a.name < b.name; });
  return tree;
}

}  // namespace hub
