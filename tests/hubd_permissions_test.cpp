// Subscribe permissions on a real hubd: what a module's identities may read live, in a
// retained snapshot and from the journal, and how a refusal is told and counted.
#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "bus/bus_paths.h"
#include "bus/replay_client.h"
#include "bus/root_layout.h"
#include "bus/subscribe_rules.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;

namespace {

// The credential hubd gave the event scripts of module `name` (NAME@scripts).
Credential scripts_credential(const TempDir& root, const std::string& name) {
  auto c = read_credential_file(RootLayout(root.path()).script_credential_file(name));
  REQUIRE(c);
  return *c;
}

std::string inspect_json(const TempDir& root) {
  ChildProcess inspect(HUBCTL_PATH, {"--root", root.path(), "inspect", "--json"});
  REQUIRE(inspect.wait_exit() == 0);
  std::string out;
  for (const auto& line : inspect.stdout_lines()) out += line;
  return out;
}

void publish(const TempDir& root, const std::string& topic) {
  ChildProcess p(HUBCTL_PATH, {"--root", root.path(), "publish", "--retain", topic, "{}"});
  REQUIRE(p.wait_exit() == 0);
}

SubscriberOptions joining(const TempDir& root, std::vector<std::string> patterns) {
  SubscriberOptions o = recovering(root, std::move(patterns));
  o.recover = false;
  o.retained = true;
  return o;
}

}  // namespace

TEST_CASE("subscribe rules: own topics, Hub/#, lifecycle events by name, and what is declared",
          "[bus][permissions]") {
  const std::vector<std::string> none;
  CHECK_FALSE(subscribe_refusal("Foo.x", "Foo/", none));
  CHECK_FALSE(subscribe_refusal("Foo@scripts", "Foo/alarm", none));
  CHECK_FALSE(subscribe_refusal("Foo", "Hub/", none));
  CHECK_FALSE(subscribe_refusal("Foo", "Timer/started", none));
  CHECK_FALSE(subscribe_refusal("admin", "", none));
  CHECK_FALSE(subscribe_refusal("Hub", "", none));
  CHECK(subscribe_refusal("Foo", "", none));
  CHECK(subscribe_refusal("Foo", "Fo", none));
  CHECK(subscribe_refusal("Foo", "Foo", none));  // also lets Foobar/ through
  CHECK(subscribe_refusal("Foo", "Timer/", none));
  CHECK(subscribe_refusal("Foo", "Timer/tick", none));
  CHECK(subscribe_refusal("Foo", "Timer/started/x", none));
  CHECK(subscribe_refusal("Hub.x", "Timer/", none));  // not the Hub
  CHECK_THAT(*subscribe_refusal("Foo", "", none), Catch::Contains("everything"));

  const std::vector<std::string> timer = {"Timer/#"};
  CHECK_FALSE(subscribe_refusal("Foo", "Timer/", timer));
  CHECK_FALSE(subscribe_refusal("Foo", "Timer/tick", timer));
  CHECK(subscribe_refusal("Foo", "Timer", timer));
  CHECK(subscribe_refusal("Foo", "Probe/", timer));
  const std::vector<std::string> tick = {"Timer/tick", "+/alarm"};
  CHECK_FALSE(subscribe_refusal("Foo", "Timer/tick", tick));
  CHECK_FALSE(subscribe_refusal("Foo", "Probe/alarm", tick));
  CHECK(subscribe_refusal("Foo", "Timer/", tick));
  CHECK(subscribe_refusal("Foo", "", tick));
  CHECK_FALSE(subscribe_refusal("Bridge", "", {"#"}));
}

TEST_CASE("a module reads its own topics, the Hub's and lifecycle events, not another's",
          "[hubd][permissions]") {
  TempDir root;
  add_module(root, "Nosy", "");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const Credential nosy = scripts_credential(root, "Nosy");
  publish(root, "Secret/key");
  publish(root, "Nosy/note");

  // A retained join of another module's topics is refused, naming what and why.
  auto refused = Subscriber::open(ctx, nosy, joining(root, {"Secret/#"}));
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("Nosy@scripts may not subscribe to 'Secret/'"));
  CHECK_FALSE(Subscriber::open(ctx, nosy, joining(root, {"#"})));
  CHECK_FALSE(Subscriber::open(ctx, nosy, joining(root, {"+/key"})));

  // So is a replay of the journal.
  ReplayRequest replay;
  replay.endpoint = joining(root, {}).replay_endpoint;
  replay.patterns = {"Secret/key"};
  auto replayed = hub::replay(ctx, nosy, replay, [](const Event&) { return true; });
  REQUIRE_FALSE(replayed);
  CHECK_THAT(replayed.error(), Catch::Contains("may not subscribe"));
  replay.patterns = {"Nosy/#", "Hub/#"};
  CHECK(hub::replay(ctx, nosy, replay, [](const Event&) { return true; }));

  // Its own, the Hub's and lifecycle events are its to read.
  auto own = Subscriber::open(ctx, nosy, joining(root, {"Nosy/#", "Hub/#", "Nosy/loaded"}));
  REQUIRE(own);
  CHECK(next_on(*own, "Nosy/note"));

  const std::string inspect = inspect_json(root);
  CHECK_THAT(inspect, Catch::Contains("\"subscribe_forbidden\":4"));
  CHECK_THAT(inspect, Catch::Contains("\"subscribe_forbidden_by\":{\"Nosy@scripts\":4}"));
}

TEST_CASE("what service.yml declares under subscribe: may be read", "[hubd][permissions]") {
  TempDir root;
  add_module(root, "Reader",
             "command: /usr/bin/tail\nargs: [-f, /dev/null]\nsubscribe: [\"Secret/#\"]\n");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const Credential reader = scripts_credential(root, "Reader");
  publish(root, "Secret/key");
  auto sub = Subscriber::open(ctx, reader, joining(root, {"Secret/#"}));
  REQUIRE(sub);
  CHECK(next_on(*sub, "Secret/key"));
  CHECK_FALSE(Subscriber::open(ctx, reader, joining(root, {"Other/#"})));
}

TEST_CASE("a live subscription the rules refuse cuts its connection; the SDK asks first",
          "[hubd][permissions]") {
  TempDir root;
  add_module(root, "Nosy", "");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const Credential nosy = scripts_credential(root, "Nosy");
  // A recovering subscription across modules receives every event (lossless): it needs
  // "#", and says so before subscribing anything live.
  auto across = Subscriber::open(ctx, nosy, recovering(root, {"Nosy/#", "Hub/#"}));
  REQUIRE_FALSE(across);
  CHECK_THAT(across.error(), Catch::Contains("refused the subscription"));
  CHECK_THAT(across.error(), Catch::Contains("everything (#)"));
  // One to a module it may read whole is fine.
  CHECK(Subscriber::open(ctx, nosy, recovering(root, {"Nosy/alarm"})));
  const BusPaths paths = BusPaths::for_root(root.path());
  zmq::socket_t raw(ctx, zmq::socket_type::sub);
  raw.set(zmq::sockopt::linger, 0);
  set_plain_credential(raw, nosy);
  raw.connect(ipc_endpoint(paths.events_socket));
  raw.set(zmq::sockopt::subscribe, "Secret/");
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);;) {
    if (inspect_json(root).find("\"subscribe_forbidden_by\":{\"Nosy@scripts\":2}") !=
        std::string::npos) {
      break;
    }
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  // Its connections were cut, and that process may not come back as Nosy@scripts: what
  // the administrator's subscriber receives, the refused one does not.
  auto admin = Subscriber::open(ctx, admin_credential(root), recovering(root, {"Secret/#"}));
  REQUIRE(admin);
  publish(root, "Secret/key");
  REQUIRE(next_on(*admin, "Secret/key"));
  zmq::message_t msg;
  raw.set(zmq::sockopt::rcvtimeo, 200);
  CHECK_FALSE(raw.recv(msg));
}
