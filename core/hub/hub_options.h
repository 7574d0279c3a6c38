// hub.yml (HubConfig) turned into each component's options: one function per component,
// each taking only what it needs. What is known only once hubd runs (the bus's last seq,
// credentials granted by the running bus, the services group's id, callbacks between
// components) is left for hubd to fill in.
#pragma once

#include <filesystem>
#include <string>

#include "bus/broker.h"
#include "bus/bus_paths.h"
#include "bus/journal.h"
#include "bus/root_layout.h"
#include "bus/subscriber.h"
#include "core/config/hub_config.h"
#include "core/modules/module_manager.h"
#include "core/scripts/script_dispatcher.h"
#include "core/services/supervisor.h"

namespace hub {

// The hub.yml hubd reads: `config_file` (--config), else ROOT/config/hub.yml.
std::filesystem::path hub_yml_file(const std::filesystem::path& root,
                                   const std::filesystem::path& config_file);
// Reads it; a ROOT/config/hub.yml that does not exist means the built-in defaults (a
// --config file must exist).
Result<HubConfig> read_hub_yml(const std::filesystem::path& root,
                               const std::filesystem::path& config_file);
// What every child of hubd finds in its environment about the hub (module_environment.h):
// HUB_DEVICE (hub.yml device, else the host name) and HUB_YML (`file`, absolute).
void export_hub_environment(const HubConfig& config, const std::filesystem::path& file);

// The root's layout: its places where hub.yml paths: puts them (README, "Layout").
RootLayout root_layout(const HubConfig& config, const std::filesystem::path& root);

// journal: in var/db/hub/journal/ (paths.db).
JournalOptions journal_options(const HubConfig& config, const RootLayout& layout);

// bus: and shutdown.drain_timeout, on the root's ipc sockets; with `on_tcp` (CURVE is
// loaded), also network.ingest, events and replay. The journal, the last seq and the
// CURVE keys are the running bus's.
BrokerOptions broker_options(const HubConfig& config, const BusPaths& paths, bool on_tcp);

// services: and the bus and API endpoints services are given (HUB_BUS_*, HUB_API_ENDPOINT).
SupervisorOptions supervisor_options(const HubConfig& config, const RootLayout& layout);

// levels, services.volume_paths, and scripts.timeout and output_cap for control scripts.
ModuleManagerOptions module_manager_options(const HubConfig& config, const RootLayout& layout);

// scripts:, with the dispatcher's mark in var/db/hub/consumers/scripts.
DispatcherOptions dispatcher_options(const HubConfig& config, const RootLayout& layout);

// How the dispatcher reaches the bus it subscribes to: the root's events and replay sockets.
SubscriberOptions dispatcher_subscriber_options(const BusPaths& paths);

// Where the Hub API listens: the root's ipc socket and, when set, network.api (CURVE).
struct ApiEndpoints {
  std::string ipc;
  std::string tcp;
};
ApiEndpoints api_endpoints(const HubConfig& config, const BusPaths& paths);

}  // namespace hub
