// Where the template renderer and its users differ from StringTemplate 4 (4.0.8, the
// reference) or let a hostile module do what it should not. Each expectation is what ST4
// renders for the same template and attributes.
#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/modules/module_environment.h"
#include "core/services/service_spec.h"
#include "core/services/template_files.h"
#include "core/templates/template_render.h"
#include "support/temp_dir.h"

using namespace hub;
using hub::test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* const kAttributes = R"(
name: gateway
empties: ["", a, "", b]
nulls: [~, a, ~, b]
modes: {fast: 1, safe: 2, slow: 3}
people: [{name: bob, on: false}, {name: ann, on: true}, {name: cy, on: true}]
)";

// The text TEXT renders to, or "ERROR: ..." when it does not render.
std::string render(const std::string& text, const fs::path& file = "review.st") {
  auto r = templates::render_text(text, file, YAML::Load(kAttributes));
  if (!r) return "ERROR: " + r.error();
  return r->text;
}

}  // namespace

TEST_CASE("a separator goes only after an item that wrote something (ST4)", "[review]") {
  // ST4's writeIterator: the separator is written once a value has been written.
  CHECK(render("<empties; separator=\",\">") == "a,,b");
  CHECK(render("<people:{p|<if(p.on)><p.name><endif>}; separator=\", \">") == "ann, cy");
}

TEST_CASE("null= applies to the null items of an iteration; <i> counts the others (ST4)",
          "[review]") {
  CHECK(render("<nulls:{x|<i>=<x>}; separator=\",\", null=\"N\">") == "N,1=a,N,2=b");
  CHECK(render("<nulls:{x|<i>=<x>}; separator=\",\">") == "1=a,2=b");
}

TEST_CASE("backslashes in text are ST4's: \\\\ is one, \\} is }, \\> and \\{ stay", "[review]") {
  CHECK(render("a\\\\b") == "a\\b");
  CHECK(render("\\\\\\\\<name>") == "\\\\gateway");
  CHECK(render("\\} \\{ a\\>b") == "} \\{ a\\>b");
  CHECK(render("C:\\dir\\n") == "C:\\dir\\n");  // a lone backslash stays
}

TEST_CASE("a template that renders without end is refused, not rendered", "[review]") {
  // 2^40 copies of a line: a few lines of group file that would take hubd's memory.
  TempDir dir;
  std::string group = "t0() ::= \"0123456789abcdef\"\n";
  for (int k = 1; k <= 40; ++k)
    group += "t" + std::to_string(k) + "() ::= \"<t" + std::to_string(k - 1) + "()><t" +
             std::to_string(k - 1) + "()>\"\n";
  dir.write("templates/bomb.stg", group);
  const fs::path st = dir.write("templates/x.st", "import \"bomb.stg\"\n<t40()>");
  const auto started = std::chrono::steady_clock::now();
  auto r = templates::render_file(st, YAML::Load(kAttributes));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  REQUIRE(!r);
  CHECK(r.error().find("bomb.stg:") != std::string::npos);
  CHECK(r.error().find("renders more than 64 MiB") != std::string::npos);
}

TEST_CASE("a service's template that links out of its module is not read", "[review]") {
  TempDir dir;
  dir.write("secret", "root-only\n");
  dir.write("Mod/templates/ok.st", "ok");
  fs::create_symlink(dir.path() / "secret", dir.path() / "Mod/templates/x.conf.st");
  auto r = render_templates({{"templates/x.conf.st", "etc/x.conf", 0640}}, dir.path() / "Mod",
                            YAML::Load(kAttributes));
  REQUIRE(!r);
  CHECK(r.error().find("outside") != std::string::npos);
}

TEST_CASE("a group a template imports may not link out of its directory", "[review]") {
  TempDir dir;
  dir.write("elsewhere.stg", "leak() ::= \"outside\"\n");
  const fs::path st = dir.write("Mod/templates/x.st", "import \"common.stg\"\n<leak()>");
  fs::create_symlink(dir.path() / "elsewhere.stg", dir.path() / "Mod/templates/common.stg");
  auto r = templates::render_file(st, YAML::Load(kAttributes));
  REQUIRE(!r);
  CHECK(r.error().find("x.st:1:") != std::string::npos);
}

TEST_CASE("an error's column counts characters, not bytes", "[review]") {
  CHECK(render("\xc3\xa9 <if(x>") ==
        "ERROR: review.st:1:8: expected ')' to close the condition, "
        "found '>'");
}

TEST_CASE("a jar whose name holds ':' does not split CLASSPATH", "[review]") {
  TempDir root;
  Module m;
  m.name = "Foo";
  m.level = "system";
  m.dir = root.path() / "modules/system/Foo";
  root.write("modules/system/Foo/system/jars/a:b.jar", "");
  root.write("modules/system/Foo/system/jars/c.jar", "");
  std::string class_path;
  for (const auto& entry : module_environment(root.path(), m))
    if (entry.rfind("CLASSPATH=", 0) == 0) class_path = entry.substr(10);
  // Java cannot quote a ':' in CLASSPATH: such a jar is left out, not cut in two.
  CHECK(class_path == (m.dir / "system/jars/c.jar").string());
}

TEST_CASE("an error in a <%...%> group template names its own line", "[review]") {
  TempDir dir;
  dir.write("templates/g.stg", "t() ::= <%\n  a\n  <if(x>\n%>\n");
  const fs::path st = dir.write("templates/x.st", "import \"g.stg\"\n<t()>");
  auto r = templates::render_file(st, YAML::Load(kAttributes));
  REQUIRE(!r);
  INFO(r.error());
  CHECK(r.error().find("g.stg:3:8: expected ')'") != std::string::npos);
}

TEST_CASE("first, last, rest, trunc, reverse of a map work on its keys (ST4)", "[review]") {
  CHECK(render("<first(modes)>|<last(modes)>|<rest(modes); separator=\",\">|"
               "<trunc(modes); separator=\",\">|<reverse(modes); separator=\",\">") ==
        "fast|slow|safe,slow|fast,safe|slow,safe,fast");
}

TEST_CASE("instance.ports, documented as the ports a service asked for, can be asked for",
          "[review]") {
  // docs/TEMPLATES.md lists instance.ports; service.yml `ports:` names them, hubd picks them.
  TempDir root;
  root.write("modules/system/Foo/service.yml", "command: /bin/true\nports: [http]\n");
  auto spec = load_service_spec(root.path(), {"system"}, root.path() / "modules/system/Foo", "Foo");
  INFO((spec ? std::string() : spec.error()));
  REQUIRE(spec);
  REQUIRE(spec->has_value());
  CHECK((*spec)->ports == std::vector<std::string>{"http"});
}

TEST_CASE("a template named by a relative path imports the group beside it", "[review]") {
  TempDir dir;
  dir.write("templates/g.stg", "t() ::= \"from the group\"\n");
  dir.write("templates/x.st", "import \"g.stg\"\n<t()>");
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path() / "templates");
  auto r = templates::render_file("x.st", YAML::Load(kAttributes));
  fs::current_path(cwd);
  INFO((r ? std::string() : r.error()));
  REQUIRE(r);
  CHECK(r->text == "from the group");
}

TEST_CASE("an error in a \"...\" group template after an escaped quote names its column",
          "[review]") {
  TempDir dir;
  dir.write("templates/g.stg", "t() ::= \"a\\\"b<if(x>\"\n");  // t() ::= "a\"b<if(x>"
  const fs::path st = dir.write("templates/x.st", "import \"g.stg\"\n<t()>");
  auto r = templates::render_file(st, YAML::Load(kAttributes));
  REQUIRE(!r);
  INFO(r.error());
  CHECK(r.error().find("g.stg:1:19:") != std::string::npos);
}

TEST_CASE("errors in group templates name the group file's line and column in every form",
          "[review]") {
  TempDir dir;
  const fs::path st = dir.write("templates/x.st", "import \"g.stg\"\n<t(name)>");
  const auto error_of = [&](const std::string& group) {
    dir.write("templates/g.stg", group);
    auto r = templates::render_file(st, YAML::Load(kAttributes));
    return r ? std::string("rendered: ") + r->text : r.error();
  };
  const auto names = [](const std::string& error, const std::string& where) {
    INFO(error);
    return error.find(where) != std::string::npos;
  };
  // <<...>>: a later line of the body, after a character of two bytes.
  CHECK(names(
      error_of(
          "u() ::= \"x\"\n\nt(a) ::= <<\nfirst <a>\n  <a>\n  \xc3\xa9<if(a)>ok<elseif(a>\n>>\n"),
      "g.stg:6:22: expected ')'"));
  // "...": escapes \\n and \\t are two characters of the file each.
  CHECK(names(error_of("t(a) ::= \"\xc3\xa9\\n\\tb<if(x>\"\n"), "g.stg:1:22: expected ')'"));
  // <%...%>: the dropped newlines and indentation still count; so do render errors.
  CHECK(names(error_of("t(a) ::= <%\n    <a>\n\n    <nope()>\n%>\n"),
              "g.stg:4:6: no template nope()"));
  // An unclosed <if> at the end of a <%...%> body.
  CHECK(names(error_of("t(a) ::= <%\n  <if(a)>\n  x\n%>\n"), "g.stg:2:3: <if> is never closed"));
}
