#include "core/module_manager.h"

#include <poll.h>

#include <algorithm>
#include <fstream>

#include <spdlog/spdlog.h>

#include "bus/text.h"
#include "core/files.h"
#include "core/module_environment.h"
#include "core/script_runner.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string first_line(const std::string& text) {
  const std::string line = text.substr(0, text.find('\n'));
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

Status write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::error(file.string() + ": cannot be written");
  return Status::ok();
}

std::string dependencies_json(const Module& m) {
  std::vector<std::string> reqs;
  for (const auto& d : m.depends) reqs.push_back(d.requirement());
  return json_string_array(reqs);
}

}  // namespace

void ModuleManager::load() {
  tree_ = load_module_tree(options_.root, options_.levels);
  std::error_code ec;
  fs::create_directories(script_log_file(options_.root, "").parent_path(), ec);
  for (const auto& m : tree_.loaded) {
    Status prepared = make_private_dir(options_.root / "data" / m.name, 0750);
    if (prepared) prepared = make_private_dir(module_run_dir(options_.root, m.name), 0750);
    if (prepared) {
      YAML::Emitter yaml;
      yaml << m.config;
      prepared =
          write_file(module_config_file(options_.root, m.name), std::string(yaml.c_str()) + "\n");
    }
    if (!prepared)
      unprepared_.emplace_back(m.name, "cannot prepare the module: " + prepared.message());
  }
}

void ModuleManager::announce() {
  for (const auto& problem : tree_.problems) {
    spdlog::error("modules: {}", problem);
    publish_("Hub/rejected", JsonObject().add("reason", problem).str(), false);
  }
  // One event per name, listing every shadowed copy (one retained topic per name).
  for (size_t i = 0; i < tree_.shadowed.size();) {
    const ShadowedModule& first = tree_.shadowed[i];
    std::string copies = "[";
    for (; i < tree_.shadowed.size() && tree_.shadowed[i].name == first.name; ++i) {
      const ShadowedModule& s = tree_.shadowed[i];
      spdlog::info("module {} at level {} is shadowed by level {}", s.name, s.level, s.by_level);
      copies += (copies.size() > 1 ? "," : "") +
                JsonObject().add("level", s.level).add("path", s.dir.string()).str();
    }
    publish_(first.name + "/shadowed",
             JsonObject()
                 .add("name", first.name)
                 .add("by_level", first.by_level)
                 .add_raw("shadowed", copies + "]")
                 .str(),
             true);
  }
  for (const auto& r : tree_.rejected) {
    spdlog::warn("module {} rejected: {}", r.name, r.reason);
    JsonObject payload;
    payload.add("name", r.name)
        .add("level", r.level)
        .add("path", r.dir.string())
        .add("reason", r.reason);
    if (!r.file.empty()) payload.add("file", r.file.string());
    if (r.line > 0) payload.add("line", static_cast<int64_t>(r.line));
    // A name unsafe in topics cannot have its own topic; the hub reports it instead.
    const bool own_topic = !module_name_problem(r.name);
    publish_(own_topic ? r.name + "/rejected" : "Hub/rejected", payload.str(), own_topic);
  }
  for (const auto& m : tree_.loaded) {
    spdlog::info("module {} {} loaded from level {}", m.name, m.version.str(), m.level);
    publish_(m.name + "/loaded",
             JsonObject()
                 .add("name", m.name)
                 .add("level", m.level)
                 .add("version", m.version.str())
                 .add("path", m.dir.string())
                 .add_raw("depends", dependencies_json(m))
                 .add("build", m.build_info)
                 .str(),
             true);
  }
  for (const auto& [name, why] : unprepared_) {
    fail(*std::find_if(tree_.loaded.begin(), tree_.loaded.end(),
                       [&](const Module& m) { return m.name == name; }),
         why);
  }
}

void ModuleManager::fail(const Module& m, const std::string& reason) {
  spdlog::error("module {} failed: {}", m.name, reason);
  not_startable_.push_back(m.name);
  publish_(m.name + "/failed", JsonObject().add("name", m.name).add("reason", reason).str(), true);
}

std::string ModuleManager::run_control_scripts(const Module& m, const std::string& phase,
                                               bool stop_at_failure) {
  const ScriptSelection selection = select_scripts(m.dir / "control" / phase);
  for (const auto& warning : selection.warnings) spdlog::warn("module {}: {}", m.name, warning);
  std::string failure = selection.error;
  if (!failure.empty() && stop_at_failure) return failure;
  for (const auto& script : selection.scripts) {
    ScriptRequest request;
    request.script = script;
    request.args = {m.name, phase};
    request.env = module_environment(options_.root, m, {{"HUB_CONTROL_PHASE", phase}});
    request.cwd = m.dir;
    request.timeout = m.script_timeout.value_or(options_.script_timeout);
    request.output_cap = options_.script_output_cap;
    if (phase == "startup") request.cancel_fd = options_.cancel_fd;  // shutdown runs to the end
    const ScriptOutcome outcome = run_script(request);
    append_run_log(script_log_file(options_.root, m.name), "control/" + phase, script, outcome);
    if (outcome.ok()) continue;
    std::string reason = fs::relative(script, m.dir).string() + " " + outcome.describe();
    if (!outcome.err.empty()) reason += ": " + first_line(outcome.err);
    spdlog::error("module {}: {}", m.name, reason);
    if (failure.empty()) failure = reason;
    if (stop_at_failure) break;
  }
  return failure;
}

bool ModuleManager::start_all() {
  const auto cancelled = [&] {
    pollfd item{options_.cancel_fd, POLLIN, 0};
    return options_.cancel_fd >= 0 && ::poll(&item, 1, 0) == 1;
  };
  for (const auto& m : tree_.loaded) {
    if (cancelled()) {
      spdlog::warn("the hub is stopping: modules from {} on are not started", m.name);
      return false;
    }
    if (contains(not_startable_, m.name) || contains(started_, m.name)) continue;
    const auto blocked = std::find_if(m.depends.begin(), m.depends.end(), [&](const Dependency& d) {
      return !contains(started_, d.name);
    });
    if (blocked != m.depends.end()) {
      fail(m, "dependency " + blocked->name + " did not start");
      continue;
    }
    publish_(m.name + "/starting", JsonObject().add("name", m.name).str(), false);
    const auto began = std::chrono::steady_clock::now();
    const std::string failure = run_control_scripts(m, "startup", /*stop_at_failure=*/true);
    if (!failure.empty()) {
      fail(m, failure);
      continue;
    }
    started_.push_back(m.name);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    spdlog::info("module {} started", m.name);
    publish_(m.name + "/started",
             JsonObject()
                 .add("name", m.name)
                 .add("duration_ms", static_cast<int64_t>(took.count()))
                 .str(),
             true);
  }
  return true;
}

void ModuleManager::stop_all() {
  while (!started_.empty()) {
    const std::string name = started_.back();
    started_.pop_back();
    const auto m = std::find_if(tree_.loaded.begin(), tree_.loaded.end(),
                                [&](const Module& x) { return x.name == name; });
    publish_(name + "/stopping", JsonObject().add("name", name).str(), false);
    const std::string failure = run_control_scripts(*m, "shutdown", /*stop_at_failure=*/false);
    JsonObject stopped;
    stopped.add("name", name);
    if (!failure.empty()) stopped.add("shutdown_failure", failure);
    spdlog::info("module {} stopped", name);
    publish_(name + "/stopped", stopped.str(), true);
  }
}

}  // namespace hub
