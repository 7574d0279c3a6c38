#include "core/config/hub_config.h"

#include <grp.h>

#include <algorithm>
#include <limits>
#include <set>

#include "bus/text.h"
#include "core/config/yaml_reader.h"

namespace hub {
namespace {

bool is_level_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

void check_levels(YamlReader& reader, const YAML::Node& root,
                  const std::vector<std::string>& levels) {
  if (!root["levels"]) return;
  if (levels.empty()) reader.problem(root["levels"], "levels", "expected at least one level");
  std::set<std::string> seen;
  for (const auto& level : levels) {
    if (!is_level_name(level)) {
      reader.problem(root["levels"], "levels",
                     "'" + level + "' is not a level name (letters, digits, '_' and '-')");
    } else if (!seen.insert(level).second) {
      reader.problem(root["levels"], "levels", "'" + level + "' is listed twice");
    }
  }
}

// One of paths:' places: a directory, not empty, without '..' (a relative one is under the
// root, and stays there).
// `dir` as one spelling: "a", "./a/" and "a//" are "a/".
std::string normal_dir(const std::string& dir) {
  return (std::filesystem::path(dir) / "").lexically_normal().string();
}

// A directory of its own: not the root itself ("." or "/": hubd sets the modes of its
// places), and without "..".
bool is_place(const std::string& dir) {
  const std::filesystem::path p(dir);
  const std::string normal = normal_dir(dir);
  return !dir.empty() && normal != "./" && normal != "/" && normal != "." &&
         std::none_of(p.begin(), p.end(), [](const auto& part) { return part == ".."; });
}

// hubd's own places (run, db, log) may not share a directory or lie one inside another:
// a workspace removed with its instance would take the instance's logs along.
void refuse_overlaps(YamlReader& reader, const YAML::Node& paths, const RootPlaces& places) {
  const std::pair<const char*, std::string> own[] = {
      {"run", places.run.string()}, {"db", places.db.string()}, {"log", places.log.string()}};
  for (const auto& [a, dir_a] : own) {
    for (const auto& [b, dir_b] : own) {
      if (a == b || !paths[a] || dir_a.empty() || dir_b.empty()) continue;
      const std::string na = normal_dir(dir_a), nb = normal_dir(dir_b);
      if (nb.rfind(na, 0) != 0) continue;  // b is not a or inside it
      reader.problem(paths[a], join_key("paths", a),
                     "'" + dir_a + "' " + (na == nb ? "is also" : "holds") + " paths." + b + " ('" +
                         dir_b + "'): run, db and log are each a directory of their own");
      return;
    }
  }
}

void read_paths(YamlReader& reader, const YAML::Node& paths, RootPlaces& places) {
  if (!reader.expect_map(paths, "paths",
                         {"config", "modules", "events", "system", "data", "run", "db", "log"}))
    return;
  const auto refuse = [&](const YAML::Node& at, const std::string& key, const std::string& dir) {
    const std::string normal = normal_dir(dir);
    const bool root = normal == "./" || normal == "." || normal == "/";
    reader.problem(at, key,
                   std::string(root ? "expected a directory of its own, not the root itself, "
                                    : "expected a directory, ") +
                       "relative to the root or absolute, without '..', got '" + dir + "'");
  };
  for (const auto& [key, place] : {std::pair{"config", &places.config},
                                   {"events", &places.events},
                                   {"system", &places.system},
                                   {"data", &places.data},
                                   {"run", &places.run},
                                   {"db", &places.db},
                                   {"log", &places.log}}) {
    if (!paths[key]) continue;
    std::string dir;
    const size_t before = reader.problems().size();
    reader.read(paths, "paths", key, dir);
    if (reader.problems().size() != before) continue;
    if (!is_place(dir)) refuse(paths[key], join_key("paths", key), dir);
    *place = dir;
  }
  refuse_overlaps(reader, paths, places);
  std::vector<std::string> trees;
  if (!paths["modules"]) return;
  const size_t before = reader.problems().size();
  reader.read(paths, "paths", "modules", trees);
  if (reader.problems().size() != before) return;
  if (trees.empty())
    reader.problem(paths["modules"], "paths.modules", "expected at least one tree");
  std::set<std::string> seen;
  for (size_t i = 0; i < trees.size(); ++i) {
    const std::string key = "paths.modules[" + std::to_string(i) + "]";
    if (!is_place(trees[i])) {
      refuse(paths["modules"][i], key, trees[i]);
    } else if (!seen.insert((std::filesystem::path(trees[i]) / "").lexically_normal().string())
                    .second) {  // "a", "./a/": one tree
      reader.problem(paths["modules"][i], key, "'" + trees[i] + "' is listed twice");
    }
    places.modules.emplace_back(trees[i]);
  }
}

}  // namespace

Result<HubConfig> load_hub_config(const std::filesystem::path& file) {
  YamlReader reader(file.string());
  const YAML::Node root = reader.load_file(file.string());
  HubConfig config;
  if (!reader.ok()) return reader.status();
  if (root.IsNull()) return config;  // an empty file means all defaults
  if (!reader.expect_map(root, "",
                         {"paths", "levels", "device", "log", "bus", "journal", "scripts",
                          "services", "network", "shutdown"}))
    return reader.status();

  if (const YAML::Node paths = root["paths"]; paths) read_paths(reader, paths, config.paths);
  reader.read(root, "", "levels", config.levels);
  check_levels(reader, root, config.levels);
  reader.read(root, "", "device", config.device);
  if (root["device"] &&
      (config.device.empty() || config.device.size() > 128 ||
       config.device.find_first_of("/+#") != std::string::npos || !is_valid_utf8(config.device))) {
    reader.problem(root["device"], "device",
                   "expected a name of 1 to 128 characters without /, + or # (an MQTT topic "
                   "level), got '" +
                       config.device + "'");
  }

  if (const YAML::Node log = root["log"];
      log && reader.expect_map(log, "log", {"level", "max_size", "keep"})) {
    reader.read(log, "log", "level", config.log.level);
    static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    if (log["level"] && kLevels.count(config.log.level) == 0) {
      reader.problem(log["level"], "log.level",
                     "expected trace, debug, info, warn or error, got '" + config.log.level + "'");
    }
    reader.read_size(log, "log", "max_size", config.log.max_size, uint64_t{1} << 40);
    reader.read(log, "log", "keep", config.log.keep, 0, 100);
  }
  if (const YAML::Node bus = root["bus"];
      bus &&
      reader.expect_map(bus, "bus",
                        {"subscriber_hwm", "max_payload", "max_retained", "max_retained_bytes",
                         "max_retained_per_module", "max_retained_bytes_per_module"})) {
    reader.read(bus, "bus", "subscriber_hwm", config.bus.subscriber_hwm, 1,
                std::numeric_limits<int>::max());
    reader.read_size(bus, "bus", "max_payload", config.bus.max_payload, uint64_t{1} << 30);
    reader.read(bus, "bus", "max_retained", config.bus.max_retained, 0, 1'000'000);
    reader.read_size(bus, "bus", "max_retained_bytes", config.bus.max_retained_bytes,
                     uint64_t{1} << 40);
    reader.read(bus, "bus", "max_retained_per_module", config.bus.max_retained_per_module, 0,
                1'000'000);
    reader.read_size(bus, "bus", "max_retained_bytes_per_module",
                     config.bus.max_retained_bytes_per_module, uint64_t{1} << 40);
  }
  if (const YAML::Node journal = root["journal"];
      journal &&
      reader.expect_map(journal, "journal",
                        {"durability", "sync_interval", "segment_size", "max_size", "max_age"})) {
    reader.read(journal, "journal", "durability", config.journal.durability);
    const std::string& d = config.journal.durability;
    if (journal["durability"] && !durability_named(d)) {
      reader.problem(journal["durability"], "journal.durability",
                     "expected none, batch or every-event, got '" + d + "'");
    }
    reader.read_duration(journal, "journal", "sync_interval", config.journal.sync_interval,
                         std::chrono::milliseconds(1), std::chrono::seconds(60));
    // Floors that keep retention from deleting what was just acknowledged: a segment
    // holds many events, and retention keeps at least two whole ones.
    reader.read_size(journal, "journal", "segment_size", config.journal.segment_size,
                     kMinSegmentSize, uint64_t{1} << 32);
    reader.read_size(journal, "journal", "max_size", config.journal.max_size, kMinSegmentSize * 2,
                     uint64_t{1} << 50);
    if (reader.ok() && config.journal.max_size < 2 * config.journal.segment_size) {
      const char* at = journal["max_size"] ? "max_size" : "segment_size";
      reader.problem(journal[at], std::string("journal.") + at,
                     "expected journal.max_size (" + std::to_string(config.journal.max_size) +
                         " bytes) to be at least twice journal.segment_size (" +
                         std::to_string(config.journal.segment_size) + " bytes)");
    }
    reader.read_duration(journal, "journal", "max_age", config.journal.max_age,
                         std::chrono::seconds(1), std::chrono::hours(24 * 3650));
  }
  if (const YAML::Node scripts = root["scripts"];
      scripts && reader.expect_map(scripts, "scripts",
                                   {"timeout", "output_cap", "parallel", "queue_limit", "resume",
                                    "feedback_limit", "feedback_window"})) {
    reader.read(scripts, "scripts", "resume", config.scripts.resume);
    reader.read_duration(scripts, "scripts", "timeout", config.scripts.timeout, kMinScriptTimeout,
                         std::chrono::hours(24));
    reader.read(scripts, "scripts", "parallel", config.scripts.parallel, 1, 256);
    reader.read(scripts, "scripts", "queue_limit", config.scripts.queue_limit, 1, 10'000'000);
    reader.read_size(scripts, "scripts", "output_cap", config.scripts.output_cap,
                     uint64_t{1} << 30);
    reader.read(scripts, "scripts", "feedback_limit", config.scripts.feedback_limit, 0, 1'000'000);
    reader.read_duration(scripts, "scripts", "feedback_window", config.scripts.feedback_window,
                         std::chrono::milliseconds(0), std::chrono::hours(24));
  }
  if (const YAML::Node services = root["services"];
      services &&
      reader.expect_map(services, "services", {"volume_paths", "log", "leftover_grace", "group"})) {
    reader.read(services, "services", "group", config.services.group);
    if (!config.services.group.empty() && ::getgrnam(config.services.group.c_str()) == nullptr) {
      reader.problem(services["group"], "services.group",
                     "expected a group of this system, got '" + config.services.group + "'");
    }
    reader.read(services, "services", "volume_paths", config.services.volume_paths);
    for (const auto& path : config.services.volume_paths) {
      const auto parts = std::filesystem::path(path);
      const bool dot_dot =
          std::any_of(parts.begin(), parts.end(), [](const auto& part) { return part == ".."; });
      if (path.empty() || path[0] != '/' || dot_dot) {
        reader.problem(services["volume_paths"], "services.volume_paths",
                       "expected absolute paths without '..', got '" + path + "'");
      }
    }
    if (const YAML::Node log = services["log"];
        log && reader.expect_map(log, "services.log", {"max_size", "keep"})) {
      reader.read_size(log, "services.log", "max_size", config.services.log_max_size,
                       uint64_t{1} << 40);
      reader.read(log, "services.log", "keep", config.services.log_keep, 0, 100);
    }
    reader.read_duration(services, "services", "leftover_grace", config.services.leftover_grace,
                         std::chrono::milliseconds(0), std::chrono::minutes(10));
  }
  if (const YAML::Node network = root["network"];
      network &&
      reader.expect_map(network, "network",
                        {"ingest", "events", "replay", "api", "server_key", "clients"})) {
    HubConfig::Network& n = config.network;
    for (const auto& [key, value] : {std::pair{"ingest", &n.ingest},
                                     {"events", &n.events},
                                     {"replay", &n.replay},
                                     {"api", &n.api}}) {
      reader.read(network, "network", key, *value);
      if (!value->empty() && value->rfind("tcp://", 0) != 0) {
        reader.problem(network[key], std::string("network.") + key,
                       "expected a tcp://HOST:PORT endpoint, got '" + *value + "'");
      }
    }
    reader.read(network, "network", "server_key", n.server_key);
    reader.read(network, "network", "clients", n.clients);
    if (n.any() && (n.server_key.empty() || n.clients.empty())) {
      reader.problem(network, "network",
                     "tcp is served with CURVE only: set network.server_key (this hub's secret "
                     "key file) and network.clients (the clients' public keys)");
    }
  }
  if (const YAML::Node shutdown = root["shutdown"];
      shutdown && reader.expect_map(shutdown, "shutdown", {"drain_timeout", "scripts_timeout"})) {
    reader.read_duration(shutdown, "shutdown", "scripts_timeout", config.shutdown.scripts_timeout,
                         kMinScriptTimeout, std::chrono::hours(1));
    reader.read_duration(shutdown, "shutdown", "drain_timeout", config.shutdown.drain_timeout,
                         std::chrono::milliseconds(0), std::chrono::hours(1));
  }
  if (!reader.ok()) return reader.status();
  return config;
}

}  // namespace hub
