// What a module may do on a real hubd, as an attacker would try it: publish what it does
// not own, control what is not its own; and what a flood of garbage does to the broker.
#include <unistd.h>

#include <random>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <zmq_addon.hpp>

#include "bus/broker.h"
#include "bus/bus_paths.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "bus/root_layout.h"
#include "hub/api_client.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

// A module whose service runs `body` (sh), then stays up.
void add_shell_module(const TempDir& root, const std::string& name, const std::string& body) {
  add_module(root, name, "command: os/linux/programs/run\n");
  add_script(root, "modules/system/" + name + "/os/linux/programs/run",
             body + "\nexec tail -f /dev/null\n");
}

// The credential hubd gave the running service of module `name`.
Credential credential_of(const TempDir& root, const std::string& name) {
  auto c = read_credential_file(root.path() / "var/run/hub/services" / name / "etc/hub/credential");
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

}  // namespace

TEST_CASE("a module publishes only its own topics, and what it is refused is counted",
          "[hubd][security]") {
  TempDir root;
  const std::string hubctl = std::string(HUBCTL_PATH) + " --root '" + root.path().string() + "'";
  // As its own identity (hubd sets HUB_CREDENTIAL_FILE), it tries to stop the Hub, raise
  // another module's alarm and fake its own lifecycle; then says how each went.
  add_shell_module(root, "Self",
                   hubctl + " publish Hub/shutdown '{}'; a=$?\n" + hubctl +
                       " publish Other/alarm '{}'; b=$?\n" + hubctl +
                       " publish Self/started '{}'; c=$?\n" + hubctl +
                       " publish Self/alarm \"{\\\"exits\\\":[$a,$b,$c]}\"\n");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const Credential admin = admin_credential(root);
  SubscriberOptions o = recovering(root, {"Self/alarm"});
  o.resume_from = 1;  // from the journal: it may have come before this subscribed
  auto sub = Subscriber::open(ctx, admin, o);
  REQUIRE(sub);
  auto alarm = next_on(*sub, "Self/alarm");
  REQUIRE(alarm);
  CHECK(alarm->source == "Self");
  CHECK(alarm->payload() == "{\"exits\":[1,1,1]}");  // hubctl: 1, refused

  const std::string inspect = inspect_json(root);
  CHECK_THAT(inspect, Catch::Contains("\"forbidden\":3"));
  CHECK_THAT(inspect, Catch::Contains("\"forbidden_by\":{\"Self\":3}"));
  // Refused events were neither delivered nor journalled: only the Hub's own Self/started.
  JournalReader journal(root.path() / "var/db/hub/journal", 1);
  while (const JournalRecord* r = journal.next()) {
    const auto header = wire::decode_event_header(r->header);
    REQUIRE(header);
    INFO(r->topic << " from " << header->source);
    CHECK_FALSE((r->topic == "Other/alarm" || r->topic == "Hub/shutdown"));
    if (r->topic == "Self/started") CHECK(header->source == "Hub");
  }
}

TEST_CASE("a module controls only its own dynamic instances through the API", "[hubd][security]") {
  TempDir root;
  add_shell_module(root, "Self", "");
  add_shell_module(root, "Other", "");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  ApiClient api(ctx, ipc_endpoint(BusPaths::for_root(root.path()).api_socket),
                credential_of(root, "Self"));
  const auto refused = [&](const std::string& request) {
    INFO(request);
    const auto reply = api.call(request);
    CHECK_FALSE(reply);
    CHECK(reply.code() == Status::Code::kForbidden);
    return reply ? std::string() : reply.error();
  };
  CHECK_THAT(refused(R"({"method":"stop","name":"Other"})"), Catch::Contains("administrator"));
  refused(R"({"method":"reload"})");
  refused(R"({"method":"restart","name":"Self"})");
  CHECK_THAT(refused(R"({"method":"start","name":"Other","instance":"x"})"),
             Catch::Contains("only instances of Self"));
  refused(R"({"method":"stop","instance":"Other.x"})");
  CHECK(api.call(R"({"method":"inspect"})"));
  const auto started =
      api.call(R"({"method":"start","name":"Self","instance":"w"})", std::chrono::seconds(20));
  CHECK(started);
  const auto stopped =
      api.call(R"({"method":"stop","instance":"Self.w"})", std::chrono::seconds(20));
  CHECK(stopped);
  INFO((started ? "" : started.error()) + (stopped ? "" : stopped.error()));
  // Still all there: nothing the module asked for beyond its own happened.
  const std::string inspect = inspect_json(root);
  CHECK_THAT(inspect, Catch::Contains("\"instance\":\"Other\""));
}

TEST_CASE(
    "a million garbage frames from an authenticated peer: refused, counted, and the bus "
    "keeps delivering",
    "[hubd][security]") {
  TempDir root;
  RunningHub hub(root);
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential admin = admin_credential(root);
  zmq::context_t ctx(1);
  auto sub = Subscriber::open(ctx, admin, recovering(root, {"Good/+"}));
  REQUIRE(sub);
  std::thread flood([&] {
    zmq::context_t fctx(1);
    zmq::socket_t dealer(fctx, zmq::socket_type::dealer);
    set_plain_credential(dealer, admin);
    dealer.connect(ipc_endpoint(paths.ingest_socket));
    std::mt19937_64 random(8);
    std::string bytes(300, '\0');
    for (int i = 0; i < 1000000; ++i) {
      const int frames = static_cast<int>(random() % 5) + 1;
      for (int f = 0; f < frames; ++f) {
        const size_t n = random() % bytes.size();
        for (size_t k = 0; k < n; ++k) bytes[k] = static_cast<char>(random());
        // Now and then a well-formed publish header, so topic and payload checks are hit.
        if (f == 1 && n >= 12 && random() % 4 == 0) bytes[0] = 2, bytes[2] = 0, bytes[3] = 0;
        dealer.send(zmq::buffer(bytes.data(), n),
                    f + 1 < frames ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    }
  });
  // Another peer's events get through during the flood, and after it.
  auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), admin);
  REQUIRE(pub);
  for (int i = 0; i < 20; ++i) {
    auto seq = pub->publish_confirmed("Good/n", std::to_string(i), std::chrono::seconds(20));
    REQUIRE(seq);
    auto e = next_on(*sub, "Good/n");
    REQUIRE(e);
    CHECK(e->payload() == std::to_string(i));
  }
  flood.join();
  auto last = pub->publish_confirmed("Good/after", "{}", std::chrono::seconds(20));
  REQUIRE(last);
  REQUIRE(next_on(*sub, "Good/after"));
  const std::string inspect = inspect_json(root);
  INFO(inspect);
  CHECK(hub.process().pid() > 0);
  CHECK_THAT(inspect, !Catch::Contains("\"malformed\":0,"));
  // Each kind of garbage is counted with its reason.
  for (const char* reason : {"frame_count", "header", "topic"}) {
    CHECK_THAT(inspect, !Catch::Contains("\"" + std::string(reason) + "\":0,"));
  }
}

TEST_CASE("a module's event scripts act as the module, the site's as the administrator",
          "[hubd][security][scripts]") {
  TempDir root;
  const std::string hubctl = std::string(HUBCTL_PATH) + " --root '" + root.path().string() + "'";
  add_module(root, "Self", "");
  add_script(root, "modules/system/Self/events/Test/go/act",
             hubctl + " publish Other/alarm '{}'; a=$?\n" + hubctl +
                 " publish Self/done \"{\\\"other\\\":$a}\"\n");
  add_script(root, "events/Test/go/act", hubctl + " publish Other/alarm '{}'\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Self/done", "Other/alarm"});
  ChildProcess go(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/go", "{}"});
  REQUIRE(go.wait_exit() == 0);
  bool done = false, site_alarm = false;
  while (!(done && site_alarm)) {
    auto e = sub.next(std::chrono::seconds(20));
    REQUIRE(e);
    if (e->topic() == "Self/done") {
      done = true;
      CHECK(e->source == "Self@scripts");
      CHECK(e->payload() == "{\"other\":1}");  // refused
    } else {
      site_alarm = true;
      CHECK(e->source == "admin");  // the site's script
    }
  }
}

TEST_CASE("a service and its scripts run as the user service.yml names, without its powers",
          "[hubd][security]") {
  if (::geteuid() != 0) {
    WARN("not root: running services as another user cannot be tried");
    return;
  }
  TempDir root;
  fs::permissions(root.path(), fs::perms(0755));  // the service's user walks to its workspace
  root.write("config/hub.yml", "services: {group: nogroup}\n");
  const std::string hubctl = std::string(HUBCTL_PATH) + " --root '" + root.path().string() + "'";
  const std::string admin_cred = (root.path() / "var/db/hub/admin.cred").string();
  const std::string other_data = (root.path() / "data/Other").string();
  // What it can and cannot do, as itself: its exit codes and ids, published as Low.
  add_module(root, "Low", "command: os/linux/programs/run\nuser: nobody\n");
  add_script(root, "modules/system/Low/os/linux/programs/run",
             "cat '" + admin_cred + "' >/dev/null 2>&1; a=$?\nls '" + other_data +
                 "' >/dev/null 2>&1; o=$?\ncat \"$HUB_CREDENTIAL_FILE\" >/dev/null; c=$?\n"
                 "echo x > \"$HUB_WORKSPACE/var/db/hub/mine\"; d=$?\n" +
                 hubctl +
                 " publish Low/report \"{\\\"uid\\\":$(id -u),\\\"gid\\\":$(id -g),"
                 "\\\"groups\\\":\\\"$(id -G)\\\",\\\"admin\\\":$a,\\\"other\\\":$o,"
                 "\\\"own\\\":$c,\\\"data\\\":$d}\"\nexec tail -f /dev/null\n");
  add_script(root, "modules/system/Low/events/Test/go/act",
             hubctl + " publish Low/script \"{\\\"uid\\\":$(id -u)}\"\n");
  add_module(root, "Other", "command: /usr/bin/tail\nargs: [-f, /dev/null]\n");
  root.write("data/Other/secret", "s3cret\n");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const Credential admin = admin_credential(root);
  SubscriberOptions o = recovering(root, {"Low/+"});
  o.resume_from = 1;
  auto sub = Subscriber::open(ctx, admin, o);
  REQUIRE(sub);
  auto report = next_on(*sub, "Low/report");
  REQUIRE(report);
  INFO(report->payload());
  CHECK(report->source == "Low");
  CHECK(json_int(report->payload(), "uid") == 65534);
  CHECK(json_int(report->payload(), "gid") == 65534);
  CHECK(json_field(report->payload(), "groups") == "65534");  // no supplementary groups
  CHECK(json_int(report->payload(), "admin") != 0);           // the admin credential: no
  CHECK(json_int(report->payload(), "other") != 0);           // another module's data: no
  CHECK(json_int(report->payload(), "own") == 0);             // its own credential: yes
  CHECK(json_int(report->payload(), "data") == 0);            // its own data: yes
  ChildProcess go(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/go", "{}"});
  REQUIRE(go.wait_exit() == 0);
  auto script = next_on(*sub, "Low/script");
  REQUIRE(script);
  CHECK(script->source == "Low@scripts");
  CHECK(json_int(script->payload(), "uid") == 65534);
}

TEST_CASE("a service may not run as another user without services.group", "[hubd][security]") {
  TempDir root;
  add_module(root, "Low", "command: /usr/bin/tail\nargs: [-f, /dev/null]\nuser: nobody\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Low/failed"}, /*retained=*/true);
  auto failed = next_on(sub, "Low/failed");
  REQUIRE(failed);
  CHECK_THAT(std::string(failed->payload()), Catch::Contains("services.group"));
}

TEST_CASE("ten thousand subscriptions from one identity: counted, and the identity cut off",
          "[hubd][security]") {
  TempDir root;
  add_shell_module(root, "Greedy", "");
  RunningHub hub(root);
  const BusPaths paths = BusPaths::for_root(root.path());
  const Credential greedy = credential_of(root, "Greedy");
  zmq::context_t ctx(1);
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::sndhwm, 0);  // or a SUB drops its own subscriptions past 1000 queued
  set_plain_credential(sub, greedy);
  sub.connect(ipc_endpoint(paths.events_socket));
  char prefix[24];
  for (int i = 0; i <= static_cast<int>(kMaxSubscriptionsPerIdentity); ++i) {
    // Its own topics: others' would be refused (and the connection cut) at the first.
    std::snprintf(prefix, sizeof prefix, "Greedy/%05d", i);
    sub.set(zmq::sockopt::subscribe, prefix);
  }
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);;) {
    if (inspect_json(root).find("\"subscriptions_refused\":0,") == std::string::npos) break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  // Greedy may not connect again; everyone else goes on.
  SubscriberOptions o = recovering(root, {"Greedy/+"});
  o.connect_timeout = std::chrono::milliseconds(1000);
  CHECK_FALSE(Subscriber::open(ctx, greedy, o));
  const Credential admin = admin_credential(root);
  auto others = Subscriber::open(ctx, admin, recovering(root, {"Test/+"}));
  REQUIRE(others);
  ChildProcess go(HUBCTL_PATH, {"--root", root.path(), "publish", "Test/after", "{}"});
  REQUIRE(go.wait_exit() == 0);
  CHECK(next_on(*others, "Test/after"));
}

TEST_CASE("names with newlines and escapes cannot forge lines in hubd.log",
          "[hubd][security][log]") {
  TempDir root;
  // A module directory and a PLAIN user name that each carry a whole fake log line, and
  // an escape sequence that would clear an operator's terminal.
  add_module(root, "Evil\n2026-01-01T00:00:00.000 error forged by a module\x1b[2J", "");
  RunningHub hub(root);
  zmq::context_t ctx(1);
  SubscriberOptions o = recovering(root, {"Test/+"});
  o.connect_timeout = std::chrono::milliseconds(500);
  CHECK_FALSE(Subscriber::open(ctx, Credential{"x\r\nFORGED by a user name", "wrong"}, o));
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);;) {
    if (inspect_json(root).find("\"auth_failures\":0,") == std::string::npos) break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
  }
  const std::string log = read_file(root.path() / "var/log/hub/hubd.log");
  INFO(log);
  CHECK_THAT(log, Catch::Contains("Evil\\n2026-01-01T00:00:00.000 error forged"));
  CHECK_THAT(log, Catch::Contains("x\\r\\nFORGED by a user name"));
  CHECK_THAT(log, !Catch::Contains("\n2026-01-01T00:00:00.000 error forged"));
  CHECK_THAT(log, !Catch::Contains("\nFORGED"));
  CHECK_THAT(log, !Catch::Contains("\x1b"));
}

TEST_CASE("a stopped instance's connection may not publish as it any more", "[hubd][security]") {
  TempDir root;
  add_shell_module(root, "Stopped", "");
  RunningHub hub(root);
  const BusPaths paths = BusPaths::for_root(root.path());
  // Someone holding the instance's credential (a child that outlived it, a leaked file)
  // connects while it runs.
  zmq::context_t ctx(1);
  auto pub =
      Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), credential_of(root, "Stopped"));
  REQUIRE(pub);
  REQUIRE(pub->publish_confirmed("Stopped/alive", "{}", std::chrono::seconds(20)));
  ApiClient api(ctx, ipc_endpoint(paths.api_socket), credential_of(root, "Stopped"));
  REQUIRE(api.call(R"({"method":"inspect"})"));
  ChildProcess stop(HUBCTL_PATH, {"--root", root.path(), "stop", "Stopped"});
  REQUIRE(stop.wait_exit() == 0);
  auto after = pub->publish_confirmed("Stopped/alive", "{}", std::chrono::seconds(20));
  REQUIRE_FALSE(after);
  CHECK_THAT(after.error(), Catch::Contains("was revoked"));
  // Nor act as it through the API.
  const auto again = api.call(R"({"method":"start","name":"Stopped","instance":"again"})");
  REQUIRE_FALSE(again);
  CHECK(again.code() == Status::Code::kForbidden);
  CHECK_THAT(again.error(), Catch::Contains("was revoked"));
  const std::string inspect = inspect_json(root);
  CHECK_THAT(inspect, Catch::Contains("\"revoked\":1,"));
  CHECK_THAT(inspect, Catch::Contains("\"forbidden_by\":{\"Stopped\":1}"));
}

TEST_CASE("hubctl publish --retain says when the hub delivered but did not retain",
          "[hubd][security][retained]") {
  TempDir root;
  root.write("config/hub.yml", "bus: {max_retained: 1}\n");  // the Hub's own do not count
  RunningHub hub(root);
  ChildProcess first(HUBCTL_PATH, {"--root", root.path(), "publish", "--retain", "A/x", "{}"});
  REQUIRE(first.wait_exit() == 0);
  ChildProcess second(HUBCTL_PATH, {"--root", root.path(), "publish", "--retain", "B/x", "{}"});
  REQUIRE(second.wait_exit() == 5);
  REQUIRE(second.stdout_lines().size() == 1);  // its seq: it was delivered
  CHECK_THAT(second.stderr_text(), Catch::Contains("was delivered but not retained"));
  CHECK_THAT(second.stderr_text(), Catch::Contains("bus.max_retained"));
  const std::string inspect = inspect_json(root);
  CHECK_THAT(inspect, Catch::Contains("\"retained_refused_by\":{\"admin\":1}"));
  // Lifecycle state of the hub is still there for a late subscriber.
  auto sub = hub.subscribe({"Hub/startup", "A/x", "B/x"}, /*retained=*/true);
  std::set<std::string> topics;
  while (auto e = sub.next(std::chrono::milliseconds(500))) topics.emplace(e->topic());
  CHECK(topics == std::set<std::string>{"Hub/startup", "A/x"});
}

TEST_CASE(
    "a stopped module's scripts may not publish as it, and a start gives them a new credential",
    "[hubd][security]") {
  TempDir root;
  add_shell_module(root, "Quiet", "");
  RunningHub hub(root);
  const BusPaths paths = BusPaths::for_root(root.path());
  const auto file = RootLayout(root.path()).script_credential_file("Quiet");
  // A copy, as a process its scripts left running (setsid) would hold it.
  const auto before = read_credential_file(file);
  REQUIRE(before);
  zmq::context_t ctx(1);
  auto pub = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), *before);
  REQUIRE(pub);
  REQUIRE(pub->publish_confirmed("Quiet/alive", "{}", std::chrono::seconds(20)));

  ChildProcess stop(HUBCTL_PATH, {"--root", root.path(), "stop", "Quiet"});
  REQUIRE(stop.wait_exit() == 0);
  auto refused = pub->publish_confirmed("Quiet/alive", "{}", std::chrono::seconds(20));
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("was revoked"));

  ChildProcess start(HUBCTL_PATH, {"--root", root.path(), "start", "Quiet"});
  REQUIRE(start.wait_exit() == 0);
  const auto after = read_credential_file(file);
  REQUIRE(after);
  CHECK(after->secret != before->secret);
  auto fresh = Publisher::connect(ctx, ipc_endpoint(paths.ingest_socket), *after);
  REQUIRE(fresh);
  CHECK(fresh->publish_confirmed("Quiet/alive", "{}", std::chrono::seconds(20)));
}
