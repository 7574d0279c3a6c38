#include "bus/root_layout.h"

#include <yaml-cpp/yaml.h>

#include "bus/small_file.h"
#include "bus/yaml_document.h"

namespace hub {

using path = RootLayout::path;

namespace {

// `place` resolved against `root`; `fallback` (under the root) when empty.
path resolve(const path& root, const path& place, const char* fallback) {
  if (place.empty()) return root / fallback;
  return place.is_absolute() ? place : root / place;
}

}  // namespace

RootLayout::RootLayout(path root) : RootLayout(std::move(root), RootPlaces{}) {}

RootLayout::RootLayout(path root, const RootPlaces& places) : root_(std::move(root)) {
  places_.config = resolve(root_, places.config, "config");
  for (const auto& tree : places.modules) places_.modules.push_back(resolve(root_, tree, ""));
  if (places_.modules.empty()) places_.modules.push_back(root_ / "modules");
  places_.events = resolve(root_, places.events, "events");
  places_.system = resolve(root_, places.system, "system");
  places_.data = resolve(root_, places.data, "data");
  places_.run = resolve(root_, places.run, "var/run/hub");
  places_.db = resolve(root_, places.db, "var/db/hub");
  places_.log = resolve(root_, places.log, "var/log/hub");
}

path RootLayout::config_file() const {
  const path checkout = root_ / "config/hub.yml";
  const path installed = root_ / "etc/hub/hub.yml";
  std::error_code ec;
  if (!std::filesystem::exists(checkout, ec) && std::filesystem::exists(installed, ec))
    return installed;
  return checkout;
}

path RootLayout::module_config_dir(const std::string& level, const std::string& module) const {
  return places_.config / level / "modules" / module;
}

std::vector<path> RootLayout::modules_dirs(const std::string& level) const {
  std::vector<path> dirs;
  for (const auto& tree : places_.modules) dirs.push_back(tree / level);
  return dirs;
}

path RootLayout::module_data_dir(const std::string& module) const { return places_.data / module; }

path RootLayout::lock_file() const { return run_dir() / "hubd.lock"; }

BusPaths RootLayout::bus() const {
  BusPaths p;
  p.run_dir = run_dir();
  p.ingest_socket = p.run_dir / "ingest.sock";
  p.events_socket = p.run_dir / "events.sock";
  p.replay_socket = p.run_dir / "replay.sock";
  p.api_socket = p.run_dir / "api.sock";
  p.admin_credential = admin_credential();
  return p;
}

path RootLayout::module_run_dir(const std::string& module) const {
  return run_dir() / "modules" / module;
}

path RootLayout::module_config_file(const std::string& module) const {
  return module_run_dir(module) / "config.yml";
}

path RootLayout::script_credential_file(const std::string& module) const {
  return module_run_dir(module) / "credential";
}

path RootLayout::workspace_dir(const std::string& instance) const {
  return run_dir() / "services" / instance;
}

path RootLayout::instance_records_dir() const { return run_dir() / "instances"; }

path RootLayout::script_records_dir() const { return run_dir() / "scripts"; }

path RootLayout::admin_credential() const { return db_dir() / "admin.cred"; }

path RootLayout::journal_dir() const { return db_dir() / "journal"; }

path RootLayout::consumer_mark_file(const std::string& consumer) const {
  return db_dir() / "consumers" / consumer;
}

path RootLayout::hubd_log() const { return log_dir() / "hubd.log"; }

path RootLayout::instance_log(const std::string& instance) const {
  return log_dir() / (instance + ".log");
}

path RootLayout::instance_log_dir(const std::string& instance) const {
  return log_dir() / "services" / instance;
}

path RootLayout::script_logs_dir() const { return log_dir() / "scripts"; }

path RootLayout::script_log(const std::string& owner) const {
  return script_logs_dir() / ((owner.empty() ? std::string("_site") : owner) + ".log");
}

Result<RootLayout> read_root_layout(const path& root, const path& hub_yml) {
  std::error_code ec;
  if (!std::filesystem::exists(hub_yml, ec)) return RootLayout(root);
  const auto refused = [&](const std::string& why) {
    return Status::error(hub_yml.string() + ": paths: " + why + " (`hubd --check` says more)");
  };
  RootPlaces places;
  try {
    // As hubd reads it (yaml_document.h): a key given twice is an error, not a guess.
    const auto text = read_small_file(hub_yml, YamlLimits{}.max_bytes);
    if (!text) return Status::error(text.error());
    const auto parsed = parse_yaml(*text, hub_yml.string());
    if (!parsed) return Status::error(parsed.error());
    const YAML::Node& file = *parsed;
    const YAML::Node paths = file.IsMap() ? file["paths"] : YAML::Node();
    if (!paths || paths.IsNull()) return RootLayout(root);
    if (!paths.IsMap()) return refused("expected a map");
    for (const auto& [key, place] : {std::pair{"config", &places.config},
                                     {"events", &places.events},
                                     {"system", &places.system},
                                     {"data", &places.data},
                                     {"run", &places.run},
                                     {"db", &places.db},
                                     {"log", &places.log}}) {
      const YAML::Node value = paths[key];
      if (!value) continue;
      if (!value.IsScalar()) return refused(std::string(key) + ": expected a directory");
      *place = value.Scalar();
    }
    if (const YAML::Node trees = paths["modules"]; trees) {
      if (!trees.IsSequence()) return refused("modules: expected a list of directories");
      for (const auto& tree : trees) {
        if (!tree.IsScalar()) return refused("modules: expected a list of directories");
        places.modules.emplace_back(tree.Scalar());
      }
    }
  } catch (const std::exception& e) {  // unreadable, or not YAML
    return Status::error(hub_yml.string() + ": " + e.what());
  }
  return RootLayout(root, places);
}

Result<RootLayout> find_hub_layout(const path& root) {
  const HubLocation hub =
      root.empty() ? locate_hub() : HubLocation{root, RootLayout(root).config_file()};
  return read_root_layout(hub.root, hub.config_file);
}

}  // namespace hub
