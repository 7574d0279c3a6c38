#include "core/hub/hub_options.h"

#include <unistd.h>

#include <filesystem>

#include "core/modules/module_environment.h"

namespace hub {
namespace fs = std::filesystem;

fs::path hub_yml_file(const fs::path& root, const fs::path& config_file) {
  return config_file.empty() ? RootLayout(root).config_file() : config_file;
}

Result<HubConfig> read_hub_yml(const fs::path& root, const fs::path& config_file) {
  const fs::path file = hub_yml_file(root, config_file);
  std::error_code missing;  // a dangling link is no file, but is not nothing either
  if (config_file.empty() && !fs::exists(fs::symlink_status(file, missing))) return HubConfig();
  return load_hub_config(file);
}

void export_hub_environment(const HubConfig& config, const fs::path& file) {
  std::string device = config.device;
  if (device.empty()) {
    char host[256] = {};
    device = ::gethostname(host, sizeof host - 1) == 0 && *host ? host : "device";
  }
  // HUB_YML: the hub.yml whose paths: the tools read to find this hub (bus_paths.h).
  set_hub_environment({{"HUB_DEVICE", device}, {"HUB_YML", fs::absolute(file).string()}});
}

RootLayout root_layout(const HubConfig& config, const fs::path& root) {
  return RootLayout(root, config.paths);
}

JournalOptions journal_options(const HubConfig& config, const RootLayout& layout) {
  JournalOptions journal;
  journal.dir = layout.journal_dir();
  // load_hub_config accepts only the three names.
  journal.durability = durability_named(config.journal.durability).value_or(kDefaultDurability);
  journal.sync_interval = config.journal.sync_interval;
  journal.segment_size = config.journal.segment_size;
  journal.max_bytes = config.journal.max_size;
  journal.max_age = std::chrono::duration_cast<std::chrono::seconds>(config.journal.max_age);
  return journal;
}

BrokerOptions broker_options(const HubConfig& config, const BusPaths& paths, bool on_tcp) {
  BrokerOptions options;
  options.ingest_endpoint = ipc_endpoint(paths.ingest_socket);
  options.events_endpoint = ipc_endpoint(paths.events_socket);
  options.replay_endpoint = ipc_endpoint(paths.replay_socket);
  options.subscriber_hwm = static_cast<int>(config.bus.subscriber_hwm);
  options.max_payload = config.bus.max_payload;
  options.max_retained = static_cast<size_t>(config.bus.max_retained);
  options.max_retained_bytes = config.bus.max_retained_bytes;
  options.max_retained_per_module = static_cast<size_t>(config.bus.max_retained_per_module);
  options.max_retained_bytes_per_module = config.bus.max_retained_bytes_per_module;
  options.drain_timeout = config.shutdown.drain_timeout;
  if (on_tcp) {
    options.ingest_tcp = config.network.ingest;
    options.events_tcp = config.network.events;
    options.replay_tcp = config.network.replay;
  }
  return options;
}

SupervisorOptions supervisor_options(const HubConfig& config, const RootLayout& layout) {
  const BusPaths paths = layout.bus();
  SupervisorOptions supervise;
  supervise.layout = layout;
  supervise.volume_paths = config.services.volume_paths;
  supervise.log_max_size = config.services.log_max_size;
  supervise.log_keep = config.services.log_keep;
  supervise.hub_env = {{"HUB_BUS_INGEST", ipc_endpoint(fs::absolute(paths.ingest_socket))},
                       {"HUB_BUS_EVENTS", ipc_endpoint(fs::absolute(paths.events_socket))},
                       {"HUB_BUS_REPLAY", ipc_endpoint(fs::absolute(paths.replay_socket))},
                       {"HUB_API_ENDPOINT", ipc_endpoint(fs::absolute(paths.api_socket))}};
  return supervise;
}

ModuleManagerOptions module_manager_options(const HubConfig& config, const RootLayout& layout) {
  ModuleManagerOptions modules;
  modules.layout = layout;
  modules.levels = config.levels;
  modules.volume_paths = config.services.volume_paths;
  modules.script_timeout = config.scripts.timeout;
  modules.script_output_cap = config.scripts.output_cap;
  return modules;
}

DispatcherOptions dispatcher_options(const HubConfig& config, const RootLayout& layout) {
  DispatcherOptions dispatch;
  dispatch.layout = layout;
  dispatch.timeout = config.scripts.timeout;
  dispatch.output_cap = config.scripts.output_cap;
  dispatch.parallel = static_cast<int>(config.scripts.parallel);
  dispatch.queue_limit = static_cast<size_t>(config.scripts.queue_limit);
  dispatch.feedback_limit = static_cast<uint64_t>(config.scripts.feedback_limit);
  dispatch.feedback_window = config.scripts.feedback_window;
  dispatch.mark_file = layout.consumer_mark_file("scripts");
  dispatch.resume = config.scripts.resume;
  return dispatch;
}

SubscriberOptions dispatcher_subscriber_options(const BusPaths& paths) {
  SubscriberOptions bus;
  bus.events_endpoint = ipc_endpoint(paths.events_socket);
  bus.replay_endpoint = ipc_endpoint(paths.replay_socket);
  return bus;
}

ApiEndpoints api_endpoints(const HubConfig& config, const BusPaths& paths) {
  return {ipc_endpoint(paths.api_socket), config.network.api};
}

}  // namespace hub
