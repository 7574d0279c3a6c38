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
// With `acked: {save_every: N, window: W}` in its config, also a durable subscription
// "acked" to Acked/# acknowledged explicitly (DurableOptions: explicit_ack, save_every N),
// like a bridge to a broker that confirms later: each event is answered with
// Probe/acked-seen {seq, pid}, then
//   Acked/hold is never acknowledged;
//   Acked/ahead is acknowledged at once, in the handler, as seq + 1000, answered with
//   Probe/acked {seq, mark} (the mark acknowledge returned);
//   any other is queued for a thread of its own that acknowledges it and answers
//   Probe/acked {seq, mark}, the handler waiting while W are queued (its window);
// and events lost to the journal's retention are told as Probe/lost {first, last}. At
// start it publishes, retained, Probe/acked-ready {unknown, implicit}: the errors of
// acknowledging a subscription that does not exist and one not acknowledged explicitly.
// A dynamic instance (config role: worker) only says ready and waits.
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

// The "acked" subscription and the thread that acknowledges its events. Shared with the
// subscription's handler, which may outlive stop() (until the Context goes).
class Acker : public std::enable_shared_from_this<Acker> {
 public:
  Acker(hub::sdk::Context& ctx, size_t window) : ctx_(ctx), window_(window) {}
  ~Acker() { stop(); }

  // Ends the thread; the handler no longer waits.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  hub::Status start(uint64_t save_every) {
    hub::sdk::DurableOptions options;
    options.explicit_ack = true;
    options.save_every = save_every;
    options.on_lost = [self = shared_from_this()](uint64_t first, uint64_t last) {
      (void)self->ctx_.publish("lost", JsonObject()
                                           .add("first", static_cast<int64_t>(first))
                                           .add("last", static_cast<int64_t>(last))
                                           .str());
    };
    thread_ = std::thread([this] { run(); });
    return ctx_.subscribe_durable(
        "acked", {"Acked/#"}, [this](const hub::sdk::Event& e) { handle(e); }, options);
  }

 private:
  void handle(const hub::sdk::Event& e) {
    (void)ctx_.publish("acked-seen", JsonObject()
                                         .add("seq", static_cast<int64_t>(e.seq))
                                         .add("pid", static_cast<int64_t>(::getpid()))
                                         .str());
    if (e.topic() == "Acked/hold") return;
    if (e.topic() == "Acked/ahead") return acknowledge(e.seq, e.seq + 1000);
    std::unique_lock lock(mu_);
    queue_.push_back(e.seq);
    changed_.notify_all();
    changed_.wait(lock, [&] { return queue_.size() < window_ || stopping_; });
  }

  void run() {
    std::unique_lock lock(mu_);
    while (true) {
      changed_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      const uint64_t seq = queue_.front();
      queue_.pop_front();
      changed_.notify_all();
      lock.unlock();
      acknowledge(seq, seq);
      lock.lock();
    }
  }

  void acknowledge(uint64_t seq, uint64_t up_to) {
    auto mark = ctx_.acknowledge("acked", up_to);
    (void)ctx_.publish("acked", JsonObject()
                                    .add("seq", static_cast<int64_t>(seq))
                                    .add("mark", static_cast<int64_t>(mark ? *mark : 0))
                                    .add("error", mark ? "" : mark.error())
                                    .str());
  }

  hub::sdk::Context& ctx_;
  const size_t window_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<uint64_t> queue_;  // handed out, to acknowledge
  bool stopping_ = false;
  std::thread thread_;
};

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
    std::shared_ptr<Acker> acker;
    if (const YAML::Node acked = (*config)["acked"]) {
      acker = std::make_shared<Acker>(ctx, acked["window"].as<size_t>(4));
      s = acker->start(acked["save_every"].as<uint64_t>(0));
      if (!s) return s;
      auto unknown = ctx.acknowledge("nothing", 1);
      auto implicit = ctx.acknowledge("main", 1);
      (void)ctx.publish("acked-ready",
                        JsonObject()
                            .add("unknown", unknown ? "no error" : unknown.error())
                            .add("implicit", implicit ? "no error" : implicit.error())
                            .str(),
                        true);
    }
    ctx.log().info("probe ready");
    ctx.notify_ready();
    ctx.wait();
    if (acker) acker->stop();
    (void)ctx.publish_confirmed("bye", "{}");
    return hub::Status::ok();
  });
}
