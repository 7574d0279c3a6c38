// A service on the SDK that exercises every Context call and says what it saw on the bus,
// for sdk_test.cpp. It subscribes, says it is ready, and then, as instance NAME:
//   on Probe/check publishes Probe/facts (its ServiceConfig and load_config), Probe/confirmed
//   and Probe/confirmed-seq (the seq publish_confirmed returned), Probe/api (inspect, port
//   and report outcomes);
//   answers +/ping with Probe/pong {topic, seq}; throws a std::runtime_error on
//   Probe/throw, an int on Probe/throw-other;
//   on Probe/spawn starts dynamic instance NAME.w1 (config role=worker), on Probe/unspawn
//   stops it, publishing Probe/spawned and Probe/unspawned with the outcome;
//   answers every Durable/# event, durably (subscribe_durable "main"), with
//   Probe/durable-seen {seq}, including those published while it was stopped, and throws
//   (after answering) on Durable/throw, and an int on Durable/throw-other;
//   on SIGTERM publishes Probe/bye and exits 0.
// A dynamic instance (config role: worker) only says ready and waits.
#include <string>

#include <hub/sdk.h>

#include "bus/text.h"

using hub::JsonObject;

namespace {

void check(hub::sdk::Context& ctx, const YAML::Node& config) {
  const auto& c = ctx.config();
  (void)ctx.publish("facts", JsonObject()
                                 .add("instance", c.instance)
                                 .add("service", c.service)
                                 .add("mode", c.mode)
                                 .add("native", ctx.is_native())
                                 .add("colour", config["colour"].as<std::string>("none"))
                                 .add("workspace", c.workspace)
                                 .str());
  auto seq = ctx.publish_confirmed("confirmed", "{}");
  (void)ctx.publish("confirmed-seq",
                    JsonObject().add("seq", static_cast<int64_t>(seq ? *seq : 0)).str());
  auto inspect = ctx.inspect_system();
  auto port = ctx.available_port();
  const hub::Status reported = ctx.report_instance("{\"requests\":7,\"healthy\":true}");
  (void)ctx.publish("api", JsonObject()
                               .add("inspect", inspect ? (inspect->find("\"instance\":\"Probe\"") !=
                                                                  std::string::npos
                                                              ? "ok"
                                                              : *inspect)
                                                       : inspect.error())
                               .add("port", static_cast<int64_t>(port ? *port : -1))
                               .add("report", reported ? "ok" : reported.message())
                               .str());
}

}  // namespace

int main() {
  return hub::sdk::run([](hub::sdk::Context& ctx) -> hub::Status {
    auto config = ctx.load_config();
    if (!config) return config.status();
    if ((*config)["role"] && (*config)["role"].as<std::string>() == "worker") {
      ctx.notify_ready();
      ctx.wait();
      return hub::Status::ok();
    }
    hub::Status s = ctx.subscribe({"+/ping"}, [&](const hub::sdk::Event& e) {
      (void)ctx.publish(
          "pong",
          JsonObject().add("topic", e.topic()).add("seq", static_cast<int64_t>(e.seq)).str());
    });
    if (!s) return s;
    s = ctx.subscribe(
        {"Probe/check", "Probe/throw", "Probe/throw-other", "Probe/spawn", "Probe/unspawn"},
        [&](const hub::sdk::Event& e) {
          if (e.topic() == "Probe/check") return check(ctx, *config);
          if (e.topic() == "Probe/throw") throw std::runtime_error("asked to throw");
          if (e.topic() == "Probe/throw-other") throw 42;  // not a std::exception
          const bool spawn = e.topic() == "Probe/spawn";
          const std::string name = ctx.config().module;
          const hub::Status r = spawn ? ctx.start_instance(name, "w1", {{"role", "worker"}})
                                      : ctx.stop_instance(name, "w1");
          (void)ctx.publish(spawn ? "spawned" : "unspawned",
                            JsonObject().add("result", r ? "ok" : r.message()).str());
        });
    if (!s) return s;
    // A durable subscription: what comes while the probe is stopped reaches it on restart.
    s = ctx.subscribe_durable("main", {"Durable/#"}, [&](const hub::sdk::Event& e) {
      (void)ctx.publish("durable-seen", JsonObject().add("seq", static_cast<int64_t>(e.seq)).str());
      if (e.topic() == "Durable/throw") throw std::runtime_error("durable asked to throw");
      if (e.topic() == "Durable/throw-other") throw 42;
    });
    if (!s) return s;
    ctx.log().info("probe ready");
    ctx.notify_ready();
    ctx.wait();
    (void)ctx.publish_confirmed("bye", "{}");
    return hub::Status::ok();
  });
}
