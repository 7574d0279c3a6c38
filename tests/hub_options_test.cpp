// hub.yml turned into each component's options (core/hub/hub_options.h).
#include <catch2/catch.hpp>

#include "core/hub/hub_options.h"

using namespace hub;

TEST_CASE("hub.yml's defaults are the components' own", "[config]") {
  const HubConfig defaults;
  const RootLayout layout("/r");

  const JournalOptions journal = journal_options(defaults, layout);
  const JournalOptions journal_own;
  CHECK(journal.durability == journal_own.durability);
  CHECK(journal.sync_interval == journal_own.sync_interval);
  CHECK(journal.segment_size == journal_own.segment_size);
  CHECK(journal.max_bytes == journal_own.max_bytes);
  CHECK(journal.max_age == journal_own.max_age);

  const BrokerOptions broker = broker_options(defaults, layout.bus(), false);
  const BrokerOptions broker_own;
  CHECK(broker.subscriber_hwm == broker_own.subscriber_hwm);
  CHECK(broker.max_payload == broker_own.max_payload);
  CHECK(broker.max_retained == broker_own.max_retained);
  CHECK(broker.max_retained_bytes == broker_own.max_retained_bytes);
  CHECK(broker.max_retained_per_module == broker_own.max_retained_per_module);
  CHECK(broker.max_retained_bytes_per_module == broker_own.max_retained_bytes_per_module);
  CHECK(broker.drain_timeout == broker_own.drain_timeout);

  const SupervisorOptions supervise = supervisor_options(defaults, layout);
  CHECK(supervise.log_max_size == SupervisorOptions().log_max_size);
  CHECK(supervise.log_keep == SupervisorOptions().log_keep);

  const ModuleManagerOptions modules = module_manager_options(defaults, layout);
  const ModuleManagerOptions modules_own;
  CHECK(modules.levels == modules_own.levels);
  CHECK(modules.levels == std::vector<std::string>{"system", "customer", "site"});
  CHECK(modules.script_timeout == modules_own.script_timeout);
  CHECK(modules.script_output_cap == modules_own.script_output_cap);
  CHECK(modules.script_timeout == ScriptRequest().timeout);
  CHECK(modules.script_output_cap == ScriptRequest().output_cap);

  const DispatcherOptions dispatch = dispatcher_options(defaults, layout);
  const DispatcherOptions dispatch_own;
  CHECK(dispatch.timeout == dispatch_own.timeout);
  CHECK(dispatch.output_cap == dispatch_own.output_cap);
  CHECK(dispatch.parallel == dispatch_own.parallel);
  CHECK(dispatch.queue_limit == dispatch_own.queue_limit);
  CHECK(dispatch.feedback_limit == dispatch_own.feedback_limit);
  CHECK(dispatch.feedback_window == dispatch_own.feedback_window);
  CHECK(dispatch.resume == dispatch_own.resume);
}

TEST_CASE("each component's options come from its hub.yml section and the root", "[config]") {
  HubConfig config;
  config.levels = {"base", "site"};
  config.journal.durability = "every-event";
  config.journal.max_age = std::chrono::hours(2);
  config.bus.subscriber_hwm = 7;
  config.shutdown.drain_timeout = std::chrono::milliseconds(5);
  config.network.ingest = "tcp://127.0.0.1:*";
  config.network.api = "tcp://127.0.0.1:7000";
  config.scripts.timeout = std::chrono::milliseconds(1234);
  config.scripts.output_cap = 99;
  config.scripts.parallel = 2;
  config.scripts.resume = false;
  config.services.volume_paths = {"/srv"};
  config.services.log_keep = 1;
  const RootLayout layout("/r");

  const JournalOptions journal = journal_options(config, layout);
  CHECK(journal.dir == "/r/var/db/hub/journal");
  CHECK(journal.durability == Durability::kEveryEvent);
  CHECK(journal.max_age == std::chrono::seconds(7200));

  const BrokerOptions local = broker_options(config, layout.bus(), false);
  CHECK(local.ingest_endpoint == "ipc:///r/var/run/hub/ingest.sock");
  CHECK(local.events_endpoint == "ipc:///r/var/run/hub/events.sock");
  CHECK(local.replay_endpoint == "ipc:///r/var/run/hub/replay.sock");
  CHECK(local.subscriber_hwm == 7);
  CHECK(local.drain_timeout == std::chrono::milliseconds(5));
  CHECK(local.ingest_tcp.empty());  // no CURVE, no tcp
  CHECK(broker_options(config, layout.bus(), true).ingest_tcp == "tcp://127.0.0.1:*");

  const SupervisorOptions supervise = supervisor_options(config, layout);
  CHECK(supervise.layout.root() == "/r");
  CHECK(supervise.volume_paths == std::vector<std::string>{"/srv"});
  CHECK(supervise.log_keep == 1);
  REQUIRE(supervise.hub_env.size() == 4);
  CHECK(supervise.hub_env[0] ==
        std::pair<std::string, std::string>{"HUB_BUS_INGEST", "ipc:///r/var/run/hub/ingest.sock"});
  CHECK(supervise.hub_env[3] ==
        std::pair<std::string, std::string>{"HUB_API_ENDPOINT", "ipc:///r/var/run/hub/api.sock"});

  const ModuleManagerOptions modules = module_manager_options(config, layout);
  CHECK(modules.layout.root() == "/r");
  CHECK(modules.levels == config.levels);
  CHECK(modules.volume_paths == config.services.volume_paths);
  CHECK(modules.script_timeout == std::chrono::milliseconds(1234));
  CHECK(modules.script_output_cap == 99);

  const DispatcherOptions dispatch = dispatcher_options(config, layout);
  CHECK(dispatch.layout.root() == "/r");
  CHECK(dispatch.timeout == std::chrono::milliseconds(1234));
  CHECK(dispatch.output_cap == 99);
  CHECK(dispatch.parallel == 2);
  CHECK_FALSE(dispatch.resume);
  CHECK(dispatch.mark_file == "/r/var/db/hub/consumers/scripts");

  const SubscriberOptions bus = dispatcher_subscriber_options(layout.bus());
  CHECK(bus.events_endpoint == "ipc:///r/var/run/hub/events.sock");
  CHECK(bus.replay_endpoint == "ipc:///r/var/run/hub/replay.sock");

  const ApiEndpoints api = api_endpoints(config, layout.bus());
  CHECK(api.ipc == "ipc:///r/var/run/hub/api.sock");
  CHECK(api.tcp == "tcp://127.0.0.1:7000");
}

TEST_CASE("journal durability names are hub.yml's", "[config]") {
  for (Durability d : {Durability::kNone, Durability::kBatch, Durability::kEveryEvent}) {
    CHECK(durability_named(durability_name(d)) == d);
  }
  CHECK(std::string(durability_name(Durability::kEveryEvent)) == "every-event");
  CHECK_FALSE(durability_named("always"));
  CHECK(HubConfig().journal.durability == "batch");
}
