// Templates through a real hub: the API's render (hubctl render) and hubd --check's
// strict report of names a template uses that its configuration does not define.
#include <catch2/catch.hpp>

#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit = -1;
  std::string out;
  std::string err;
};

Run run(const std::string& program, const std::vector<std::string>& args) {
  ChildProcess p(program, args);
  Run r;
  r.exit = p.wait_exit(60s).value_or(-1);
  for (const auto& line : p.stdout_lines()) r.out += line + "\n";
  r.err = p.stderr_text();
  return r;
}

Run hubctl(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.path().string()});
  return run(HUBCTL_PATH, args);
}

// Module Web with a config, a template and a group.
void add_web(const TempDir& root) {
  add_module(root, "Web", "");
  root.write("config/system/modules/Web/web.yml",
             "port: 8080\nupstream.timeout: 5s\nservers: [{host: a, port: 1}, {host: b, port: "
             "2}]\ndebug: false\n");
  root.write("config/site/modules/Web/site.yml", "port: 9090\n");
  root.write("modules/system/Web/templates/common.stg", "header() ::= \"# <module.name>\"\n");
  root.write("modules/system/Web/templates/web.conf.st",
             "import \"common.stg\"\n"
             "<header()>\n"
             "listen <port>;\n"
             "timeout <upstream.timeout>;\n"
             "<servers:{s | server <s.host>:<s.port>;}; separator=\"\\n\">\n"
             "<if(debug)>\n"
             "debug on; # <log_level>\n"
             "<endif>\n");
}

}  // namespace

TEST_CASE("hubctl render prints a module's template with its config and KEY=VALUE on top",
          "[hubd][templates][hubctl]") {
  TempDir root;
  add_web(root);
  RunningHub hub(root);

  const Run plain = hubctl(root, {"render", "Web", "templates/web.conf.st"});
  INFO(plain.err);
  CHECK(plain.exit == 0);
  CHECK(plain.out == "# Web\nlisten 9090;\ntimeout 5s;\nserver a:1;\nserver b:2;\n");
  CHECK(plain.err ==
        "hubctl: templates/web.conf.st uses names that are not defined (rendered empty): "
        "log_level\n");

  const Run set = hubctl(root, {"render", "Web", "templates/web.conf.st", "debug=true",
                                "log_level=warn", "upstream.timeout=1s", "servers=[]"});
  CHECK(set.exit == 0);
  CHECK(set.out == "# Web\nlisten 9090;\ntimeout 1s;\n\ndebug on; # warn\n");
  CHECK(set.err.empty());

  CHECK(hubctl(root, {"render", "--strict", "Web", "templates/web.conf.st"}).exit == 1);
  CHECK(hubctl(root, {"render", "--strict", "Web", "templates/web.conf.st", "log_level=x"}).exit ==
        0);
  // --strict anywhere among the arguments; after "--" every argument is positional.
  CHECK(hubctl(root, {"render", "Web", "--strict", "templates/web.conf.st"}).exit == 1);
  CHECK(hubctl(root, {"render", "Web", "templates/web.conf.st", "--strict"}).exit == 1);
  CHECK(hubctl(root, {"render", "Web", "templates/web.conf.st", "log_level=x", "--strict"}).exit ==
        0);
  CHECK(hubctl(root, {"--json", "render", "Web", "templates/web.conf.st", "--strict"}).exit == 1);
  CHECK(hubctl(root, {"render", "Web", "--strict", "--", "templates/web.conf.st"}).exit == 1);
  const Run late = hubctl(root, {"render", "--", "Web", "templates/web.conf.st", "--strict"});
  CHECK(late.exit == 2);
  CHECK(late.err.find("expected KEY=VALUE, not '--strict'") != std::string::npos);
  const Run unknown = hubctl(root, {"render", "Web", "templates/web.conf.st", "--strcit"});
  CHECK(unknown.exit == 2);
  CHECK(unknown.err.find("unknown option '--strcit'") != std::string::npos);

  const Run missing = hubctl(root, {"render", "Web", "templates/nope.st"});
  CHECK(missing.exit == 4);
  CHECK(missing.err == "hubctl: module Web has no template templates/nope.st\n");
  CHECK(hubctl(root, {"render", "Nope", "templates/web.conf.st"}).exit == 4);
  const Run outside = hubctl(root, {"render", "Web", "../../../config/hub.yml"});
  CHECK(outside.exit == 1);
  CHECK(outside.err ==
        "hubctl: template '../../../config/hub.yml': expected a path inside module Web (as "
        "templates/NAME.st)\n");
  CHECK(hubctl(root, {"render", "Web"}).exit == 2);
  const Run help = hubctl(root, {"render", "--help"});
  CHECK(help.exit == 0);
  CHECK_THAT(help.out, Catch::StartsWith("usage: hubctl render [--strict] MODULE TEMPLATE"));
  CHECK(hubctl(root, {"render", "Web", "templates/web.conf.st", "novalue"}).exit == 2);

  root.write("modules/system/Web/templates/broken.st", "line\n<if(port)>\n");
  const Run broken = hubctl(root, {"render", "Web", "templates/broken.st"});
  CHECK(broken.exit == 1);
  CHECK(broken.err ==
        "hubctl: " + (root.path() / "modules/system/Web/templates/broken.st").string() +
            ":2:1: <if> is never closed: expected <endif> before the end of the file\n");
}

TEST_CASE("a module may render its own templates only: its config may hold secrets",
          "[hubd][templates][hubctl]") {
  TempDir root;
  add_web(root);
  add_module(root, "Other", "");
  RunningHub hub(root);
  const std::string web = RootLayout(root.path()).script_credential_file("Web").string();
  const std::string other = RootLayout(root.path()).script_credential_file("Other").string();
  const Run own = hubctl(root, {"--credential", web, "render", "Web", "templates/web.conf.st"});
  CHECK(own.exit == 0);
  CHECK_THAT(own.out, Catch::StartsWith("# Web\nlisten 9090;\n"));
  const Run foreign =
      hubctl(root, {"--credential", other, "render", "Web", "templates/web.conf.st"});
  CHECK(foreign.exit == 1);
  CHECK(foreign.err ==
        "hubctl: Other@scripts may render only the templates of Other, not of Web\n");
}

TEST_CASE("hubd --check reports every template name the configuration does not define",
          "[hubd][templates][check]") {
  TempDir root;
  add_web(root);
  add_module(root, "Fine", "");
  root.write("modules/system/Fine/templates/a.st", "<hub.version> <hub.levels> <module.dir>\n");
  const Run bad = run(HUBD_PATH, {"--root", root.path().string(), "--check"});
  INFO(bad.out << bad.err);
  CHECK(bad.exit == 3);
  CHECK_THAT(bad.out,
             Catch::Contains("problem   Web: " +
                             (root.path() / "modules/system/Web/templates/web.conf.st").string() +
                             ": uses names its configuration does not define: log_level"));
  CHECK_THAT(bad.out, !Catch::Contains("problem   Fine"));
  CHECK_THAT(bad.out, Catch::Contains("1 other problem"));

  root.write("config/site/modules/Web/more.yml", "log_level: info\n");
  const Run good = run(HUBD_PATH, {"--root", root.path().string(), "--check"});
  INFO(good.out << good.err);
  CHECK(good.exit == 0);
}

TEST_CASE("hubd --check knows the ports a service asks for, and only those",
          "[hubd][templates][check][ports]") {
  TempDir root;
  add_module(root, "Srv", "command: /bin/sleep\nports: [http]\n");
  root.write("modules/system/Srv/templates/a.st", "<instance.ports.http> <instance.ports.admin>\n");
  const Run r = run(HUBD_PATH, {"--root", root.path().string(), "--check"});
  INFO(r.out << r.err);
  CHECK(r.exit == 3);
  CHECK_THAT(r.out, Catch::Contains("uses names its configuration does not define: "
                                    "instance.ports.admin\n"));
}
