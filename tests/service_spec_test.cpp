#include <catch2/catch.hpp>

#include "core/config/hub_config.h"
#include "core/modules/module_loader.h"
#include "core/services/service_spec.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kLevels = {"system", "customer", "site"};
const std::string kModuleFile = "modules/system/Foo/service.yml";

// The service of module Foo, whose own directory is modules/system/Foo.
Result<std::optional<ServiceSpec>> load_foo(const TempDir& root) {
  return load_service_spec(root.path(), kLevels, root.path() / "modules/system/Foo", "Foo");
}

// Foo's service, which must load and exist.
ServiceSpec foo_service(const TempDir& root) {
  auto spec = load_foo(root);
  INFO((spec ? std::string() : spec.error()));
  REQUIRE(spec);
  REQUIRE(spec->has_value());
  return **spec;
}

// Why Foo's service is refused; it must be.
std::string foo_problems(const TempDir& root) {
  auto spec = load_foo(root);
  REQUIRE_FALSE(spec);
  return spec.error();
}

// Foo's service with `service_yml` as its only file.
std::string problems_of(const std::string& service_yml) {
  TempDir root;
  root.write(kModuleFile, service_yml);
  return foo_problems(root);
}

// Writes modules/LEVEL/NAME/info/{version,depends}.txt.
void add_module(const TempDir& root, const std::string& level, const std::string& name) {
  root.write("modules/" + level + "/" + name + "/info/version.txt", "1.0.0\n");
  root.write("modules/" + level + "/" + name + "/info/depends.txt", "");
}

}  // namespace

// ---- service.yml ---------------------------------------------------------------------

TEST_CASE("a service.yml with every key is read into the service definition", "[service]") {
  TempDir root;
  root.write(kModuleFile,
             "command: bin/serve\n"
             "args: [--port, '8080']\n"
             "env:\n  MODE: fast\n  DEPTH: 3\n"
             "restart:\n"
             "  policy: always\n"
             "  backoff: {min: 500ms, max: 2m, factor: 1.5}\n"
             "  reset_after: 1h\n"
             "  retries: unlimited\n"
             "stop:\n  grace: 3s\n"
             "ready:\n  notify: true\n  timeout: 45s\n"
             "limits:\n"
             "  address_space: 256MiB\n  open_files: 1024\n  processes: 64\n"
             "  cpu_seconds: 3600\n  nice: 10\n"
             "volumes:\n"
             "  - {source: data/shared, target: shared}\n"
             "  - {source: /srv/media, target: media/in}\n"
             "log:\n  to: journal\n  max_size: 1MiB\n  keep: 2\n");
  const ServiceSpec spec = foo_service(root);
  CHECK(spec.command == "bin/serve");
  CHECK(spec.args == std::vector<std::string>{"--port", "8080"});
  using Env = std::vector<std::pair<std::string, std::string>>;
  CHECK(spec.env == Env{{"MODE", "fast"}, {"DEPTH", "3"}});
  CHECK(spec.restart.mode == RestartMode::kAlways);
  CHECK(spec.restart.backoff_min == milliseconds(500));
  CHECK(spec.restart.backoff_max == milliseconds(120'000));
  CHECK(spec.restart.backoff_factor == 1.5);
  CHECK(spec.restart.reset_after == milliseconds(3'600'000));
  CHECK(spec.restart.retries == -1);
  CHECK(spec.stop_grace == milliseconds(3000));
  CHECK(spec.ready_notify);
  CHECK(spec.ready_timeout == milliseconds(45'000));
  CHECK(spec.limits.address_space == uint64_t{256} << 20);
  CHECK(spec.limits.open_files == uint64_t{1024});
  CHECK(spec.limits.processes == uint64_t{64});
  CHECK(spec.limits.cpu_seconds == uint64_t{3600});
  CHECK(spec.limits.nice == 10);
  REQUIRE(spec.volumes.size() == 2);
  CHECK(spec.volumes[0].source == "data/shared");
  CHECK(spec.volumes[0].target == "shared");
  CHECK(spec.volumes[1].source == "/srv/media");
  CHECK(spec.volumes[1].target == "media/in");
  CHECK(spec.log_max_size == uint64_t{1} << 20);
  CHECK(spec.log_keep == 2);
  CHECK(spec.log_to == ServiceSpec::LogTo::kJournal);
}

TEST_CASE("a service.yml with only a command gets the documented defaults", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\n");
  const ServiceSpec spec = foo_service(root);
  CHECK(spec.command == "serve");
  CHECK(spec.args.empty());
  CHECK(spec.env.empty());
  CHECK(spec.restart.mode == RestartMode::kOnFailure);
  CHECK(spec.restart.backoff_min == milliseconds(1000));
  CHECK(spec.restart.backoff_max == milliseconds(60'000));
  CHECK(spec.restart.backoff_factor == 2.0);
  CHECK(spec.restart.reset_after == milliseconds(30'000));
  CHECK(spec.restart.retries == 5);
  CHECK(spec.stop_grace == milliseconds(10'000));
  CHECK_FALSE(spec.ready_notify);
  CHECK(spec.ready_timeout == milliseconds(30'000));
  CHECK_FALSE(spec.limits.address_space);
  CHECK_FALSE(spec.limits.open_files);
  CHECK_FALSE(spec.limits.processes);
  CHECK_FALSE(spec.limits.cpu_seconds);
  CHECK_FALSE(spec.limits.nice);
  CHECK(spec.volumes.empty());
  CHECK_FALSE(spec.log_max_size);  // hub.yml's services.log applies
  CHECK_FALSE(spec.log_keep);
  CHECK(spec.log_to == ServiceSpec::LogTo::kFile);
}

TEST_CASE("service.yml log.to is file or journal", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\nlog: {to: file}\n");
  CHECK(foo_service(root).log_to == ServiceSpec::LogTo::kFile);
  CHECK_THAT(problems_of("command: serve\nlog: {to: syslog}\n"),
             Catch::Contains("log.to: expected file or journal"));
}

TEST_CASE("service.yml ports: names the ports hubd picks for it, strictly", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\nports: [http, admin_2]\n");
  CHECK(foo_service(root).ports == std::vector<std::string>{"http", "admin_2"});
  CHECK(port_variable("admin_2") == "HUB_PORT_ADMIN_2");
  // An override's list replaces the module's, as every list does.
  root.write("config/site/modules/Foo/service.yml", "ports: [metrics]\n");
  CHECK(foo_service(root).ports == std::vector<std::string>{"metrics"});

  CHECK_THAT(problems_of("command: serve\nports: [http, Admin]\n"),
             Catch::Contains("service.yml:2:15: ports[1]: expected a port name (a lower-case "
                             "letter, then lower-case letters, digits and '_', at most 32 "
                             "characters), got 'Admin'"));
  CHECK_THAT(problems_of("command: serve\nports: [http, http]\n"),
             Catch::Contains("ports[1]: 'http' is asked for twice"));
  CHECK_THAT(problems_of("command: serve\nports: {http: 8080}\n"),
             Catch::Contains("ports: expected a list of port names, such as [http, admin]"));
  CHECK_THAT(problems_of("command: serve\nports: http\n"),
             Catch::Contains("ports: expected a list of port names"));
  for (const char* bad : {"''", "1http", "_x", "a-b", "a.b", "\"h p\"", "[a]", "{a: 1}"}) {
    INFO(bad);
    CHECK_THAT(problems_of(std::string("command: serve\nports: [") + bad + "]\n"),
               Catch::Contains("ports[0]: expected a port name"));
  }
  CHECK_THAT(problems_of("command: serve\nports: [" + std::string(33, 'a') + "]\n"),
             Catch::Contains("ports[0]: expected a port name"));
  std::string many = "command: serve\nports: [p0";
  for (int i = 1; i <= 32; ++i) many += ", p" + std::to_string(i);
  CHECK_THAT(problems_of(many + "]\n"), Catch::Contains("ports: expected at most 32 ports"));
}

TEST_CASE("service.yml subscribe: lists patterns of what the module may read", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\nsubscribe: [\"Timer/#\", \"+/alarm\"]\n");
  CHECK(foo_service(root).subscribe == std::vector<std::string>{"Timer/#", "+/alarm"});
  CHECK_THAT(problems_of("command: serve\nsubscribe: [\"Timer/#/x\"]\n"),
             Catch::Contains("subscribe: '#' may only be the last level"));
  CHECK_THAT(problems_of("command: serve\nsubscribe: Timer/#\n"), Catch::Contains("subscribe"));
}

TEST_CASE("a module without any service.yml runs no service", "[service]") {
  TempDir root;
  root.write("config/site/modules/Foo/settings.yml", "colour: red\n");
  auto spec = load_foo(root);
  REQUIRE(spec);
  CHECK_FALSE(spec->has_value());
}

TEST_CASE("each restart policy word selects its mode, and retries may be a count", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\nrestart: {policy: no, retries: 0}\n");
  CHECK(foo_service(root).restart.mode == RestartMode::kNever);
  CHECK(foo_service(root).restart.retries == 0);
  root.write(kModuleFile, "command: serve\nrestart: {policy: on-failure, retries: 7}\n");
  CHECK(foo_service(root).restart.mode == RestartMode::kOnFailure);
  CHECK(foo_service(root).restart.retries == 7);
}

// ---- overrides from config levels ----------------------------------------------------

TEST_CASE("config-level service.yml files merge deeply onto the module's, higher level winning",
          "[service]") {
  TempDir root;
  root.write(kModuleFile,
             "command: serve\n"
             "args: [a, b]\n"
             "env: {A: module, B: module}\n"
             "restart:\n  policy: always\n  backoff: {min: 1s, max: 10s}\n");
  root.write("config/customer/modules/Foo/service.yml",
             "env: {B: customer}\nrestart: {backoff: {max: 20s}}\nstop: {grace: 2s}\n");
  root.write("config/site/modules/Foo/service.yml", "args: [c]\nrestart: {backoff: {max: 30s}}\n");
  const ServiceSpec spec = foo_service(root);
  CHECK(spec.command == "serve");
  CHECK(spec.args == std::vector<std::string>{"c"});  // lists replace
  using Env = std::vector<std::pair<std::string, std::string>>;
  CHECK(spec.env == Env{{"A", "module"}, {"B", "customer"}});
  CHECK(spec.restart.mode == RestartMode::kAlways);
  CHECK(spec.restart.backoff_min == milliseconds(1000));
  CHECK(spec.restart.backoff_max == milliseconds(30'000));
  CHECK(spec.stop_grace == milliseconds(2000));
}

TEST_CASE("an empty override changes nothing", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\n");
  const std::string before = foo_service(root).text;
  root.write("config/site/modules/Foo/service.yml", "# nothing to change\n");
  CHECK(foo_service(root).text == before);
}

TEST_CASE("a config-level service.yml alone gives a module a service, and stays out of its config",
          "[service]") {
  TempDir root;
  add_module(root, "system", "Foo");
  root.write("config/site/modules/Foo/service.yml", "command: /usr/bin/foo-daemon\n");
  root.write("config/site/modules/Foo/settings.yml", "colour: red\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  INFO((tree.rejected.empty() ? std::string() : tree.rejected[0].reason));
  REQUIRE(tree.loaded.size() == 1);
  const Module& foo = tree.loaded[0];
  REQUIRE(foo.service);
  CHECK(foo.service->command == "/usr/bin/foo-daemon");
  CHECK(foo.config["colour"].as<std::string>() == "red");
  CHECK_FALSE(foo.config["command"]);
}

// ---- problems: where they are and what was expected ----------------------------------

TEST_CASE("unknown keys and wrong types name the file, line, column and dotted key", "[service]") {
  TempDir root;
  const auto file = root.write(kModuleFile,
                               "command: serve\n"
                               "restart:\n"
                               "  policy: always\n"
                               "  backof: {min: 1s}\n"
                               "limits:\n"
                               "  open_files: many\n"
                               "stop: 5s\n"
                               "ready: {notify: maybe}\n"
                               "args: serve\n"
                               "nice: 5\n");
  const std::string e = foo_problems(root);
  const std::string f = file.string();
  CHECK_THAT(e, Catch::Contains(f + ":4:3: restart.backof: unknown key (expected one of: "
                                    "policy, backoff, reset_after, retries)"));
  CHECK_THAT(e, Catch::Contains(f + ":6:15: limits.open_files: expected an integer"));
  CHECK_THAT(e, Catch::Contains(f + ":7:7: stop: expected a map, got '5s'"));
  CHECK_THAT(e, Catch::Contains(f + ":8:17: ready.notify: expected true or false, got 'maybe'"));
  CHECK_THAT(e, Catch::Contains(f + ":9:7: args: expected a list of strings, got 'serve'"));
  CHECK_THAT(e, Catch::Contains(f + ":10:1: nice: unknown key (expected one of: command,"));
}

TEST_CASE("a problem in a config-level override names that file, not the module's", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\n");
  const auto override_file =
      root.write("config/customer/modules/Foo/service.yml", "stop:\n  grace: soon\n");
  CHECK_THAT(foo_problems(root),
             Catch::StartsWith(override_file.string() + ":2:10: stop.grace: expected a duration"));
}

TEST_CASE("environment variables named HUB_ are refused, as are names that are not names",
          "[service]") {
  const std::string e = problems_of("command: serve\nenv:\n  HUB_ROOT: /elsewhere\n  1ST: x\n");
  CHECK_THAT(e,
             Catch::Contains(
                 ":3:3: env.HUB_ROOT: HUB_ variables are set by the hub and cannot be overridden"));
  CHECK_THAT(e, Catch::Contains(":4:3: env.1ST: expected a variable name"));
}

TEST_CASE("a restart policy other than always, on-failure or no is refused", "[service]") {
  CHECK_THAT(problems_of("command: serve\nrestart:\n  policy: sometimes\n"),
             Catch::Contains(":3:11: restart.policy: expected always, on-failure or no"));
  CHECK_THAT(problems_of("command: serve\nrestart:\n  policy: [always]\n"),
             Catch::Contains("restart.policy: expected always, on-failure or no"));
}

TEST_CASE("retries that are neither a count nor 'unlimited' are refused", "[service]") {
  CHECK_THAT(problems_of("command: serve\nrestart:\n  retries: forever\n"),
             Catch::Contains(":3:12: restart.retries: expected a number of restarts or "
                             "'unlimited'"));
  CHECK_THAT(problems_of("command: serve\nrestart:\n  retries: -2\n"),
             Catch::Contains("restart.retries: expected a number of restarts or 'unlimited'"));
}

TEST_CASE("a backoff whose min is larger than its max is refused where it is set", "[service]") {
  CHECK_THAT(problems_of("command: serve\n\nrestart:\n  backoff: {min: 10s, max: 5s}\n"),
             Catch::Contains(":4:12: restart.backoff: expected min no larger than max"));
  CHECK_THAT(problems_of("command: serve\nrestart:\n  backoff: {min: 2m}\n"),
             Catch::Contains(":3:12: restart.backoff: expected min no larger than max"));

  // Only the merge makes it wrong: the override that lowered max is named, not the last file.
  TempDir root;
  root.write(kModuleFile, "command: serve\nrestart:\n  backoff: {min: 10s, max: 20s}\n");
  const auto customer =
      root.write("config/customer/modules/Foo/service.yml", "restart:\n  backoff:\n    max: 5s\n");
  root.write("config/site/modules/Foo/service.yml", "stop: {grace: 1s}\nrestart: {retries: 1}\n");
  CHECK(foo_problems(root) ==
        customer.string() + ":3:5: restart.backoff: expected min no larger than max");
}

TEST_CASE("a backoff factor below 1 is refused", "[service]") {
  CHECK_THAT(problems_of("command: serve\nrestart:\n  backoff: {factor: 0.5}\n"),
             Catch::Contains(":3:21: restart.backoff.factor: expected a number from 1 to 100"));
}

TEST_CASE("a service without a command is refused, even when made of overrides only", "[service]") {
  TempDir root;
  const auto file =
      root.write("config/site/modules/Foo/service.yml", "restart: {policy: always}\n");
  CHECK(foo_problems(root) == file.string() + ": command: expected the program to run");
  CHECK_THAT(problems_of("command: ''\n"),
             Catch::Contains(":1:10: command: expected a program, got an empty string"));
}

TEST_CASE("a volume target must be a path inside the workspace", "[service]") {
  const std::string absolute =
      problems_of("command: serve\nvolumes:\n  - {source: data, target: /data}\n");
  CHECK_THAT(absolute, Catch::Contains(":3:28: volumes[0].target: expected a path relative to the "
                                       "workspace, got '/data'"));
  CHECK_THAT(problems_of("command: serve\nvolumes:\n  - {source: data, target: ../up}\n"),
             Catch::Contains("volumes[0].target: '../up' leaves the workspace"));
  CHECK_THAT(problems_of("command: serve\nvolumes:\n  - {source: data, target: a/../..}\n"),
             Catch::Contains("volumes[0].target: 'a/../..' leaves the workspace"));
  CHECK_THAT(problems_of("command: serve\nvolumes:\n  - {source: data, target: .}\n"),
             Catch::Contains("volumes[0].target: '.' leaves the workspace"));
}

TEST_CASE("a volume target may not cover or hide what the hub links in the workspace",
          "[service]") {
  for (const std::string target : {"etc", "etc/hub", "etc/hub/x", "var", "var/db/hub", "var/log",
                                   "var/log/hub/sub", "./etc/hub", "etc/", "var/log/"}) {
    INFO(target);
    CHECK_THAT(
        problems_of("command: serve\nvolumes:\n  - {source: data, target: '" + target + "'}\n"),
        Catch::Contains("volumes[0].target: '" + target + "' overlaps "));
  }
  TempDir root;
  root.write(kModuleFile,
             "command: serve\nvolumes:\n"
             "  - {source: a, target: etc/other}\n  - {source: b, target: var/hubx}\n");
  CHECK(foo_service(root).volumes.size() == 2);
}

TEST_CASE("a volume source containing '..' is refused", "[service]") {
  CHECK_THAT(problems_of("command: serve\nvolumes:\n  - {source: ../outside, target: data}\n"),
             Catch::Contains(":3:14: volumes[0].source: expected a path without '..', got "
                             "'../outside'"));
  CHECK_THAT(problems_of("command: serve\nvolumes:\n  - {source: /srv/a/../b, target: data}\n"),
             Catch::Contains("volumes[0].source: expected a path without '..'"));
}

TEST_CASE("two volumes whose targets overlap are refused", "[service]") {
  CHECK_THAT(problems_of("command: serve\nvolumes:\n"
                         "  - {source: a, target: data}\n"
                         "  - {source: b, target: data/sub}\n"),
             Catch::Contains(":4:25: volumes[1].target: overlaps the volume at data"));
  CHECK_THAT(problems_of("command: serve\nvolumes:\n"
                         "  - {source: a, target: data/}\n"
                         "  - {source: b, target: data/sub}\n"),
             Catch::Contains("volumes[1].target: overlaps the volume at data"));
  TempDir root;
  root.write(kModuleFile,
             "command: serve\nvolumes:\n"
             "  - {source: a, target: data}\n  - {source: b, target: data2}\n");
  CHECK(foo_service(root).volumes.size() == 2);
}

TEST_CASE("a volume without a source or a target is refused", "[service]") {
  CHECK_THAT(problems_of("command: serve\nvolumes:\n  - {target: data}\n"),
             Catch::Contains(":3:5: volumes[0]: expected both source and target"));
}

// ---- the definition's text -----------------------------------------------------------

TEST_CASE("equal definitions have equal text, and a changed value changes it", "[service]") {
  const std::string definition = "command: serve\nrestart: {policy: always}\nargs: [x]\n";
  TempDir one, two;
  one.write(kModuleFile, definition);
  two.write(kModuleFile, definition);
  const std::string text = foo_service(one).text;
  CHECK_FALSE(text.empty());
  CHECK(foo_service(two).text == text);

  two.write("config/site/modules/Foo/service.yml", "restart: {policy: always}\n");
  CHECK(foo_service(two).text == text);  // an override repeating a value changes nothing

  two.write("config/site/modules/Foo/service.yml", "restart: {policy: on-failure}\n");
  CHECK(foo_service(two).text != text);
  one.write(kModuleFile, "command: serve\nrestart: {policy: always}\nargs: [y]\n");
  CHECK(foo_service(one).text != text);
}

// ---- restart_delay --------------------------------------------------------------------

TEST_CASE("the restart delay grows by the factor from min and stops at max", "[service]") {
  RestartPolicy policy;
  policy.backoff_min = milliseconds(1000);
  policy.backoff_max = milliseconds(10'000);
  policy.backoff_factor = 2.0;
  CHECK(restart_delay(policy, 1) == milliseconds(1000));
  CHECK(restart_delay(policy, 2) == milliseconds(2000));
  CHECK(restart_delay(policy, 3) == milliseconds(4000));
  CHECK(restart_delay(policy, 4) == milliseconds(8000));
  CHECK(restart_delay(policy, 5) == milliseconds(10'000));
  CHECK(restart_delay(policy, 100'000) == milliseconds(10'000));  // no overflow

  policy.backoff_min = milliseconds(200);
  policy.backoff_factor = 1.5;
  CHECK(restart_delay(policy, 2) == milliseconds(300));
  CHECK(restart_delay(policy, 3) == milliseconds(450));

  policy.backoff_factor = 1.0;
  CHECK(restart_delay(policy, 50) == milliseconds(200));
}

// ---- resolve_volume_source -----------------------------------------------------------

TEST_CASE("a volume source inside the root resolves to its real path", "[service]") {
  TempDir root;
  fs::create_directories(root.path() / "data/shared");
  auto real = resolve_volume_source(root.path(), {}, Volume{"data/shared", "shared"});
  REQUIRE(real);
  CHECK(*real == fs::canonical(root.path() / "data/shared"));

  const std::string absolute = (root.path() / "data/shared").string();
  auto same = resolve_volume_source(root.path(), {}, Volume{absolute, "shared"});
  REQUIRE(same);
  CHECK(*same == *real);
}

TEST_CASE("a symbolic link out of the root is refused unless hub.yml allows where it points",
          "[service]") {
  TempDir root, outside;
  fs::create_directories(root.path() / "data");
  fs::create_directory_symlink(outside.path(), root.path() / "data/link");
  const Volume volume{"data/link", "media"};

  auto refused = resolve_volume_source(root.path(), {}, volume);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("resolves to " + outside.path().string()));
  CHECK_THAT(refused.error(), Catch::Contains("outside the root"));
  CHECK_THAT(refused.error(), Catch::Contains("services.volume_paths"));

  TempDir elsewhere;
  CHECK_FALSE(resolve_volume_source(root.path(), {elsewhere.path().string()}, volume));

  auto allowed = resolve_volume_source(root.path(), {outside.path().string()}, volume);
  REQUIRE(allowed);
  CHECK(*allowed == fs::canonical(outside.path()));
}

TEST_CASE("a volume may not expose the root itself or anything under var/", "[service]") {
  TempDir root;
  fs::create_directories(root.path() / "var/db/hub");
  fs::create_directories(root.path() / "data");
  fs::create_directory_symlink(root.path() / "var", root.path() / "data/state");
  fs::create_directory_symlink(root.path(), root.path() / "data/everything");
  for (const std::string& source :
       std::vector<std::string>{".", "var", "var/db/hub", "data/state", "data/state/db",
                                "data/everything", root.path().string()}) {
    INFO(source);
    auto real = resolve_volume_source(root.path(), {}, Volume{source, "x"});
    REQUIRE_FALSE(real);
    CHECK_THAT(real.error(), Catch::Contains("would expose the hub's own state"));
  }
  CHECK(resolve_volume_source(root.path(), {}, Volume{"variables", "x"}));
}

// ---- the loader ----------------------------------------------------------------------

TEST_CASE("a module with a bad service.yml is rejected, naming the file and line", "[service]") {
  TempDir root;
  add_module(root, "system", "Foo");
  add_module(root, "system", "Bar");
  const auto file = root.write(kModuleFile, "command: serve\nrestart:\n  policy: sometimes\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  REQUIRE(tree.loaded.size() == 1);
  CHECK(tree.loaded[0].name == "Bar");
  CHECK_FALSE(tree.loaded[0].service);
  REQUIRE(tree.rejected.size() == 1);
  CHECK(tree.rejected[0].name == "Foo");
  CHECK_THAT(tree.rejected[0].reason,
             Catch::StartsWith("bad service definition: " + file.string() +
                               ":3:11: restart.policy: expected always, on-failure or no"));
}

TEST_CASE("a module whose volume leaves the root loads only when hub.yml allows the place",
          "[service]") {
  TempDir root, outside;
  add_module(root, "system", "Foo");
  fs::create_directories(root.path() / "data");
  fs::create_directory_symlink(outside.path(), root.path() / "data/media");
  root.write(kModuleFile, "command: serve\nvolumes:\n  - {source: data/media, target: media}\n");

  const ModuleTree refused = load_module_tree(root.path(), kLevels);
  CHECK(refused.loaded.empty());
  REQUIRE(refused.rejected.size() == 1);
  CHECK_THAT(refused.rejected[0].reason,
             Catch::StartsWith("bad service definition: volume data/media resolves to"));

  const ModuleTree allowed = load_module_tree(root.path(), kLevels, {outside.path().string()});
  REQUIRE(allowed.loaded.size() == 1);
  REQUIRE(allowed.loaded[0].service);
  CHECK(allowed.loaded[0].service->volumes.size() == 1);
}

// ---- hub.yml services: ---------------------------------------------------------------

TEST_CASE("hub.yml services settings override their defaults", "[service]") {
  TempDir dir;
  auto defaults = load_hub_config(dir.write("defaults.yml", "log: {level: debug}\n"));
  REQUIRE(defaults);
  CHECK(defaults->services.volume_paths.empty());
  CHECK(defaults->services.log_max_size == uint64_t{10} << 20);
  CHECK(defaults->services.log_keep == 5);
  CHECK(defaults->services.leftover_grace == milliseconds(5000));

  auto config = load_hub_config(dir.write("hub.yml",
                                          "services:\n"
                                          "  volume_paths: [/srv/media, /mnt/usb]\n"
                                          "  log: {max_size: 2MiB, keep: 0}\n"
                                          "  leftover_grace: 1500ms\n"));
  REQUIRE(config);
  CHECK(config->services.volume_paths == std::vector<std::string>{"/srv/media", "/mnt/usb"});
  CHECK(config->services.log_max_size == uint64_t{2} << 20);
  CHECK(config->services.log_keep == 0);
  CHECK(config->services.leftover_grace == milliseconds(1500));
}

TEST_CASE("hub.yml volume_paths must be absolute and free of '..'", "[service]") {
  TempDir dir;
  const auto file =
      dir.write("hub.yml", "services:\n  volume_paths: [/srv/ok, media, /srv/../etc, '']\n");
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  const std::string& e = config.error();
  const std::string expected = file.string() +
                               ":2:17: services.volume_paths: expected absolute paths without "
                               "'..', got ";
  CHECK_THAT(e, Catch::Contains(expected + "'media'"));
  CHECK_THAT(e, Catch::Contains(expected + "'/srv/../etc'"));
  CHECK_THAT(e, Catch::Contains(expected + "''"));
  CHECK_THAT(e, !Catch::Contains("'/srv/ok'"));
}

TEST_CASE("bad hub.yml services settings name the line and dotted key", "[service]") {
  TempDir dir;
  const auto file = dir.write("hub.yml",
                              "services:\n"
                              "  log:\n    max_size: 0\n    keep: 101\n    colour: red\n"
                              "  leftover_grace: 11m\n"
                              "  volume_path: [/srv]\n");
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  const std::string& e = config.error();
  CHECK_THAT(e, Catch::Contains(":3:15: services.log.max_size: expected from 1 to"));
  CHECK_THAT(e, Catch::Contains(":4:11: services.log.keep: expected an integer from 0 to 100"));
  CHECK_THAT(e, Catch::Contains(":5:5: services.log.colour: unknown key"));
  CHECK_THAT(
      e, Catch::Contains(":6:19: services.leftover_grace: expected at most 600000 ms, got 11m"));
  CHECK_THAT(e, Catch::Contains(":7:3: services.volume_path: unknown key"));
}

// ---- what service.yml may not hold ---------------------------------------------------

TEST_CASE("a key given twice in one map is refused, naming both lines", "[service]") {
  TempDir root;
  const auto file = root.write(kModuleFile,
                               "command: serve\n"
                               "restart:\n"
                               "  policy: always\n"
                               "  policy: 'no'\n"
                               "command: other\n");
  const std::string e = foo_problems(root);
  CHECK_THAT(e, Catch::Contains(file.string() +
                                ":4:3: restart.policy: given twice in one map (first at line 3)"));
  CHECK_THAT(e, Catch::Contains(file.string() + ":5:1: command: given twice in one map (first at "
                                                "line 1)"));
}

TEST_CASE("a NUL in a command, an argument or an environment value is refused", "[service]") {
  const std::string e = problems_of(
      "command: \"serve\\0--evil\"\n"
      "args: [ok, \"a\\0b\"]\n"
      "env:\n"
      "  TZ: \"UTC\\x00+5\"\n"
      "user: \"root\\0\"\n");
  CHECK_THAT(e, Catch::Contains(":1:10: command: holds a NUL character"));
  CHECK_THAT(e, Catch::Contains(":2:12: args[1]: holds a NUL character"));
  CHECK_THAT(e, Catch::Contains(":4:7: env.TZ: holds a NUL character"));
  CHECK_THAT(e, Catch::Contains(":5:7: user: holds a NUL character"));
}

TEST_CASE("restart and readiness durations too short to mean anything are refused", "[service]") {
  const std::string e = problems_of(
      "command: serve\n"
      "restart:\n"
      "  backoff: {min: 1ms, max: 5ms}\n"
      "  reset_after: 0s\n"
      "ready: {timeout: 0s}\n");
  CHECK_THAT(e, Catch::Contains(":3:18: restart.backoff.min: expected at least 10 ms, got 1ms"));
  CHECK_THAT(e, Catch::Contains(":3:28: restart.backoff.max: expected at least 10 ms, got 5ms"));
  CHECK_THAT(e, Catch::Contains(":4:16: restart.reset_after: expected at least 100 ms, got 0s"));
  CHECK_THAT(e, Catch::Contains(":5:18: ready.timeout: expected at least 100 ms, got 0s"));
  // The documented minimums themselves are fine, and stop.grace may be 0 (SIGKILL at once).
  TempDir root;
  root.write(kModuleFile,
             "command: serve\nrestart: {backoff: {min: 10ms, max: 10ms}, reset_after: 100ms}\n"
             "ready: {timeout: 100ms}\nstop: {grace: 0s}\n");
  const ServiceSpec spec = foo_service(root);
  CHECK(spec.restart.backoff_min == milliseconds(10));
  CHECK(spec.stop_grace == milliseconds(0));
}

TEST_CASE("an alias inside the node it names is refused, not followed for ever", "[service]") {
  CHECK_THAT(problems_of("command: serve\nenv: &e\n  A: x\n  B: *e\n"),
             Catch::Contains(":4:6: env.B: an alias inside the node it names (a cycle)"));
}

TEST_CASE("hub.yml scripts and shutdown timeouts of 0 are refused", "[service][config]") {
  TempDir dir;
  const auto file = dir.write("hub.yml",
                              "scripts: {timeout: 0s}\n"
                              "shutdown: {scripts_timeout: 50ms, drain_timeout: 0s}\n"
                              "journal: {sync_interval: 0ms, max_age: 0s}\n");
  auto config = load_hub_config(file);
  REQUIRE_FALSE(config);
  const std::string& e = config.error();
  CHECK_THAT(e, Catch::Contains(file.string() +
                                ":1:20: scripts.timeout: expected at least 100 ms, got 0s"));
  CHECK_THAT(e, Catch::Contains(":2:29: shutdown.scripts_timeout: expected at least 100 ms"));
  CHECK_THAT(e, !Catch::Contains("drain_timeout"));  // 0: do not wait to flush
  CHECK_THAT(e, Catch::Contains(":3:26: journal.sync_interval: expected at least 1 ms, got 0ms"));
  CHECK_THAT(e, Catch::Contains(":3:40: journal.max_age: expected at least 1000 ms, got 0s"));
}

// ---- needs_config and check ----------------------------------------------------------

TEST_CASE("needs_config and check are read, check's timeout defaulting to 10s", "[service]") {
  TempDir root;
  root.write(kModuleFile,
             "command: serve\n"
             "needs_config: broker\n"
             "check: {command: os/linux/tools/check, args: [--strict]}\n");
  ServiceSpec spec = foo_service(root);
  CHECK(spec.needs_config == "broker");
  REQUIRE(spec.check);
  CHECK(spec.check->command == "os/linux/tools/check");
  CHECK(spec.check->args == std::vector<std::string>{"--strict"});
  CHECK(spec.check->timeout == milliseconds(10'000));
  // An override changes one part of the check and keeps the rest.
  root.write("config/site/modules/Foo/service.yml", "check: {timeout: 5m}\n");
  spec = foo_service(root);
  REQUIRE(spec.check);
  CHECK(spec.check->command == "os/linux/tools/check");
  CHECK(spec.check->args == std::vector<std::string>{"--strict"});
  CHECK(spec.check->timeout == milliseconds(300'000));
  // A service without either has neither.
  TempDir plain;
  plain.write(kModuleFile, "command: serve\n");
  const ServiceSpec none = foo_service(plain);
  CHECK(none.needs_config.empty());
  CHECK_FALSE(none.check);
}

TEST_CASE("bad needs_config and check values name the file, line, column and key", "[service]") {
  const std::string e = problems_of(
      "command: serve\n"
      "needs_config: mqtt.broker\n"
      "check:\n"
      "  command: ''\n"
      "  args: --strict\n"
      "  timeout: 50ms\n"
      "  env: {A: b}\n");
  CHECK_THAT(e, Catch::Contains(":2:15: needs_config: expected a top-level key of the module's "
                                "configuration ([A-Za-z0-9_-]+), got 'mqtt.broker'"));
  CHECK_THAT(e, Catch::Contains(":4:12: check.command: expected a program, got an empty string"));
  CHECK_THAT(e, Catch::Contains(":5:9: check.args: expected a list of strings, got '--strict'"));
  CHECK_THAT(e, Catch::Contains(":6:12: check.timeout: expected at least 100 ms, got 50ms"));
  CHECK_THAT(e, Catch::Contains(":7:3: check.env: unknown key (expected one of: command, args, "
                                "timeout)"));
  CHECK_THAT(problems_of("command: serve\nneeds_config: [broker]\n"),
             Catch::Contains(":2:15: needs_config: expected a string"));
  CHECK_THAT(problems_of("command: serve\nneeds_config: ''\n"),
             Catch::Contains(":2:15: needs_config: expected a top-level key"));
  CHECK_THAT(problems_of("command: serve\ncheck: {command: c, timeout: 6m}\n"),
             Catch::Contains(":2:30: check.timeout: expected at most"));
  CHECK_THAT(problems_of("command: serve\ncheck: check-it\n"),
             Catch::Contains(":2:8: check: expected a map, got 'check-it'"));
  // The least and the most allowed are fine.
  TempDir root;
  root.write(kModuleFile, "command: serve\ncheck: {command: c, timeout: 100ms}\n");
  CHECK(foo_service(root).check->timeout == milliseconds(100));
  root.write(kModuleFile, "command: serve\ncheck: {command: c, timeout: 5m}\n");
  CHECK(foo_service(root).check->timeout == milliseconds(300'000));
}

TEST_CASE("a check without a command is refused, even when made of overrides only", "[service]") {
  TempDir root;
  root.write(kModuleFile, "command: serve\n");
  const auto file = root.write("config/site/modules/Foo/service.yml", "check: {timeout: 2s}\n");
  CHECK(foo_problems(root) == file.string() + ": check.command: expected the program to run");
}

// ---- templates -------------------------------------------------------------------------

TEST_CASE("service.yml templates are read with their targets in normal form and octal modes",
          "[service][templates]") {
  TempDir root;
  root.write(kModuleFile,
             "command: serve\n"
             "templates:\n"
             "  - {source: templates/x.conf.st, target: etc/x.conf, mode: 0600}\n"
             "  - {source: templates/sub/y.st, target: ./conf//y.ini, mode: '0o644'}\n"
             "  - {source: templates/z.st, target: z}\n");
  const ServiceSpec spec = foo_service(root);
  REQUIRE(spec.templates.size() == 3);
  CHECK(spec.templates[0].source == "templates/x.conf.st");
  CHECK(spec.templates[0].target == "etc/x.conf");
  CHECK(spec.templates[0].mode == 0600);
  CHECK(spec.templates[1].target == "conf/y.ini");
  CHECK(spec.templates[1].mode == 0644);
  CHECK(spec.templates[2].mode == 0640);  // the default
}

TEST_CASE(
    "a template target must be a file inside the workspace, apart from the hub's own "
    "and from volumes",
    "[service][templates]") {
  const auto with = [](const std::string& entry) {
    return problems_of(
        "command: serve\nvolumes:\n  - {source: data, target: shared}\n"
        "templates:\n  - " +
        entry + "\n");
  };
  CHECK_THAT(with("{source: templates/a.st, target: /etc/a.conf}"),
             Catch::Contains(":5:38: templates[0].target: expected a path relative to the "
                             "workspace, got '/etc/a.conf'"));
  CHECK_THAT(with("{source: templates/a.st, target: conf/../a.conf}"),
             Catch::Contains("templates[0].target: 'conf/../a.conf' has '..'"));
  CHECK_THAT(with("{source: templates/a.st, target: conf/}"),
             Catch::Contains("templates[0].target: expected a file, got the directory 'conf/'"));
  CHECK_THAT(with("{source: templates/a.st, target: etc/hub/service.yml}"),
             Catch::Contains("templates[0].target: 'etc/hub/service.yml' overlaps etc/hub"));
  CHECK_THAT(with("{source: templates/a.st, target: var/db/hub}"),
             Catch::Contains("overlaps var/db/hub"));
  CHECK_THAT(with("{source: templates/a.st, target: shared/a.conf}"),
             Catch::Contains("templates[0].target: overlaps the volume at shared"));
  CHECK_THAT(problems_of("command: serve\ntemplates:\n"
                         "  - {source: templates/a.st, target: a.conf}\n"
                         "  - {source: templates/b.st, target: ./a.conf}\n"),
             Catch::Contains(":4:38: templates[1].target: overlaps the template target a.conf"));
}

TEST_CASE("a template source is a .st file of templates/, and a mode is octal",
          "[service][templates]") {
  for (const std::string source : {"x.conf.st", "/abs/templates/x.st", "templates/../x.st",
                                   "templates/x.conf", "other/x.st"}) {
    INFO(source);
    CHECK_THAT(
        problems_of("command: serve\ntemplates:\n  - {source: '" + source + "', target: x}\n"),
        Catch::Contains("templates[0].source: expected a .st file of the module's "
                        "templates/ (templates/NAME.st), got '" +
                        source + "'"));
  }
  for (const std::string mode : {"640", "0999", "01777", "rw", "'0x1a4'"}) {
    INFO(mode);
    CHECK_THAT(problems_of("command: serve\ntemplates:\n  - {source: templates/x.st, target: x, "
                           "mode: " +
                           mode + "}\n"),
               Catch::Contains("templates[0].mode: expected an octal file mode from 0000 to 0777 "
                               "with its leading 0, such as 0640"));
  }
  CHECK_THAT(problems_of("command: serve\ntemplates: {source: templates/x.st}\n"),
             Catch::Contains("templates: expected a list of {source, target, mode}"));
  CHECK_THAT(problems_of("command: serve\ntemplates:\n  - {source: templates/x.st}\n"),
             Catch::Contains("templates[0]: expected both source and target"));
  CHECK_THAT(problems_of("command: serve\ntemplates:\n  - {source: templates/x.st, target: x, "
                         "owner: me}\n"),
             Catch::Contains("templates[0].owner: unknown key"));
}

TEST_CASE("a service whose template file is missing rejects its module at load",
          "[service][templates]") {
  TempDir root;
  add_module(root, "system", "Foo");
  root.write(kModuleFile,
             "command: serve\ntemplates:\n  - {source: templates/x.conf.st, target: x.conf}\n");
  const ModuleTree tree = load_module_tree(root.path(), kLevels);
  REQUIRE(tree.rejected.size() == 1);
  CHECK(tree.rejected[0].reason ==
        "bad service definition: templates[0].source: " +
            (root.path() / "modules/system/Foo/templates/x.conf.st").string() +
            ": expected a template file of the module, found none");
  root.write("modules/system/Foo/templates/x.conf.st", "port = <port>\n");
  const ModuleTree fixed = load_module_tree(root.path(), kLevels);
  REQUIRE(fixed.loaded.size() == 1);
  CHECK_FALSE(fixed.loaded[0].templates_digest.empty());
}
