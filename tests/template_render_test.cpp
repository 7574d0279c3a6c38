#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/templates/template_attributes.h"
#include "core/templates/template_render.h"
#include "support/temp_dir.h"

using namespace hub;
using namespace hub::templates;
using hub::test::TempDir;

namespace {

const char* const kAttributes = R"(
name: gateway
port: 8080
debug: false
verbose: true
empty: ""
nothing:
db: {host: db.local, port: 5432, auth: {user: hub}}
names: [ann, bob, cy]
none: []
servers:
  - {host: a.local, port: 1}
  - {host: b.local, port: 2}
with_null: [x, ~, y]
modes: {fast: 1, safe: 2}
key: fast
)";

struct Case {
  const char* what;
  const char* text;
  const char* expected;
};

// One construct (or a mix) per row; rendered with kAttributes.
const Case kCases[] = {
    {"plain text", "listen 80;\n", "listen 80;\n"},
    {"attribute", "server <name>:<port>", "server gateway:8080"},
    {"missing attribute is empty", "[<missing>]", "[]"},
    {"nested keys", "<db.host>:<db.port> as <db.auth.user>", "db.local:5432 as hub"},
    {"missing nested key", "[<db.nope.deeper>]", "[]"},
    {"indirect property", "<modes.(key)>", "1"},
    {"string literal", "<\"text\">", "text"},
    {"if true", "<if(verbose)>v<endif>", "v"},
    {"if false", "<if(debug)>d<endif>", ""},
    {"if missing", "<if(missing)>m<else>no<endif>", "no"},
    {"if null", "<if(nothing)>m<else>no<endif>", "no"},
    {"if empty string is true (ST)", "<if(empty)>e<endif>", "e"},
    {"if empty list is false", "<if(none)>l<else>empty<endif>", "empty"},
    {"if map", "<if(db)>yes<endif>", "yes"},
    {"not", "<if(!debug)>on<endif>", "on"},
    {"and", "<if(verbose && debug)>a<else>b<endif>", "b"},
    {"or", "<if(debug || verbose)>a<else>b<endif>", "a"},
    {"grouping", "<if(!(debug || missing) && verbose)>g<endif>", "g"},
    {"elseif", "<if(debug)>1<elseif(missing)>2<elseif(port)>3<else>4<endif>", "3"},
    {"nested if", "<if(verbose)>[<if(debug)>d<else>nd<endif>]<endif>", "[nd]"},
    {"list with separator", "<names; separator=\", \">", "ann, bob, cy"},
    {"list without separator", "<names>", "annbobcy"},
    {"nulls skipped", "<with_null; separator=\",\">", "x,y"},
    {"null option", "<with_null; null=\"-\", separator=\",\">", "x,-,y"},
    {"iteration", "<names:{n | <n>!}; separator=\" \">", "ann! bob! cy!"},
    {"iteration index", "<names:{n | <i>.<n>/<i0>}; separator=\" \">", "1.ann/0 2.bob/1 3.cy/2"},
    {"iteration over maps", "<servers:{s | <s.host>:<s.port>}; separator=\",\">",
     "a.local:1,b.local:2"},
    {"it", "<names:{[<it>]}>", "[ann][bob][cy]"},
    {"nested iteration sees outer names",
     "<servers:{s | <names:{n | <n>@<s.host>}; separator=\",\">}; separator=\";\">",
     "ann@a.local,bob@a.local,cy@a.local;ann@b.local,bob@b.local,cy@b.local"},
    {"map keys", "<modes:{k | <k>=<modes.(k)>}; separator=\" \">", "fast=1 safe=2"},
    {"empty list iteration", "[<none:{x | <x>}; separator=\",\">]", "[]"},
    {"separator newline escape", "<names; separator=\"\\n\">", "ann\nbob\ncy"},
    {"comment", "a<! a comment <name> !>b", "ab"},
    {"comment line dropped", "a\n  <! only a comment !>\nb\n", "a\nb\n"},
    {"escaped delimiter", "a \\<b> \\< <name>", "a <b> < gateway"},
    {"escaped backslash before expression", "\\\\<name>", "\\gateway"},
    {"other backslashes kept", "C:\\dir\\n", "C:\\dir\\n"},
    {"newline escape", "a<\\n>b<\\t>c<\\ >d", "a\nb\tc d"},
    {"unicode escape", "<\\u00e9>", "\xc3\xa9"},
    {"if lines dropped", "begin\n  <if(verbose)>\n  on\n  <else>\n  off\n  <endif>\nend\n",
     "begin\n  on\nend\n"},
    {"consecutive if lines dropped",
     "<if(verbose)>\nv\n<endif>\n<if(debug)>\nd\n<elseif(port)>\np\n<endif>\n  <! c !>\nend",
     "v\np\nend"},
    {"if lines dropped in a subtemplate", "<names:{n |\n<if(verbose)>\n  - <n>\n<endif>\n}>",
     "  - ann\n  - bob\n  - cy\n"},
    {"crlf line endings", "a\r\n<if(verbose)>\r\nb\r\n<endif>\r\nc", "a\r\nb\r\nc"},
    {"if inline kept", "a <if(verbose)>b<endif> c\n", "a b c\n"},
    {"auto indentation",
     "servers {\n  <servers:{s | server <s.host>;\nport <s.port>;}; separator=\"\\n\">\n}\n",
     "servers {\n  server a.local;\n  port 1;\n  server b.local;\n  port 2;\n}\n"},
    {"builtins", "<first(names)> <last(names)> <rest(names); separator=\",\"> <length(names)>",
     "ann cy bob,cy 3"},
    {"more builtins", "<reverse(names)> <trunc(names)> <strlen(name)> [<trim(\"  x  \")>]",
     "cybobann annbob 7 [x]"},
    {"strip", "<strip(with_null); null=\"-\">", "xy"},
    {"true literal", "<if(true)>t<endif><if(false)>f<endif>", "t"},
};

YAML::Node attributes() { return YAML::Load(kAttributes); }

std::string render(const std::string& text) {
  auto r = render_text(text, "t.st", attributes());
  if (!r) FAIL_CHECK(r.error());
  return r ? r->text : std::string();
}

std::string error_of(const std::string& text, const std::string& file = "t.st") {
  auto r = render_text(text, file, attributes());
  return r ? std::string("(rendered: ") + r->text + ")" : r.error();
}

}  // namespace

TEST_CASE("templates render every construct of ST's common core", "[templates]") {
  for (const Case& c : kCases) {
    INFO(c.what << ": " << c.text);
    CHECK(render(c.text) == c.expected);
  }
}

TEST_CASE("templates: dollar delimiters keep < and > as text", "[templates]") {
  CHECK(render("delimiters \"$\", \"$\"\n<a href=\"$name$\">$if(verbose)$v$endif$</a>\n") ==
        "<a href=\"gateway\">v</a>\n");
  CHECK(render("delimiters \"$\", \"$\"\n$names:{n | <$n$>}$ \\$ $! c !$") == "<ann><bob><cy> $ ");
  // Errors keep the file's own line numbers past the directive.
  CHECK(error_of("delimiters \"$\", \"$\"\nline\n$if(x$\n") ==
        "t.st:3:6: expected ')' to close the condition, found '$'");
  CHECK(error_of("delimiters \"$$\", \"$\"\n") ==
        "t.st:1:1: delimiters must be single characters, as in delimiters \"$\", \"$\"");
}

TEST_CASE("templates: named templates of an imported group", "[templates]") {
  TempDir dir;
  dir.write("common.stg",
            "// a group\n"
            "header() ::= <<\n"
            "# <name> (generated)\n"
            ">>\n"
            "row(s, sep=\";\") ::= \"<s.host> <s.port><sep>\"\n"
            "/* compact: */\n"
            "list(items) ::= <%\n"
            "  <items:{x | <x>}; separator=\",\">\n"
            "%>\n"
            "import \"more.stg\"\n");
  dir.write("more.stg", "delimiters \"$\", \"$\"\nshout(x) ::= \"<$x$>\"\nrow(s) ::= \"hidden\"\n");
  const auto file = dir.write("x.conf.st",
                              "import \"common.stg\"\n"
                              "<header()>\n"
                              "<servers:row(); separator=\"\\n\">\n"
                              "<row(first(servers), sep=\"!\")>\n"
                              "<list(names)> <shout(name)> <list(items=names)>\n");
  auto r = render_file(file, attributes());
  REQUIRE(r);
  CHECK(r->text ==
        "# gateway (generated)\n"
        "a.local 1;\nb.local 2;\n"
        "a.local 1!\n"
        "ann,bob,cy <gateway> ann,bob,cy\n");
  CHECK(r->undefined.empty());
}

TEST_CASE("templates: group errors name the group's file, line and column", "[templates]") {
  TempDir dir;
  dir.write("bad.stg", "ok() ::= \"x\"\n\nbroken(a) ::= <<\n  <if(a)>\n>>\n");
  dir.write("twice.stg", "a() ::= \"1\"\na() ::= \"2\"\n");
  dir.write("dict.stg", "map ::= [\"a\":\"b\"]\n");
  const std::string d = dir.path().string() + "/";
  CHECK(error_of("import \"bad.stg\"\n<ok()>", d + "t.st") ==
        d + "bad.stg:4:3: <if> is never closed: expected <endif> before the end of the file");
  CHECK(error_of("import \"twice.stg\"\n", d + "t.st") ==
        d + "twice.stg:2:1: template a is defined twice");
  CHECK(error_of("import \"dict.stg\"\n", d + "t.st") ==
        d + "dict.stg:1:5: expected '(' after the template name map (dictionaries and aliases "
            "are not supported)");
  CHECK(error_of("import \"gone.stg\"\n", d + "t.st")
            .rfind(d + "t.st:1:8: cannot import gone.stg: " + d + "gone.stg: missing", 0) == 0);
  CHECK(error_of("<nope()>") ==
        "t.st:1:2: no template nope(): expected one defined in an imported group (import "
        "\"NAME.stg\") or a built-in (first, last, rest, trunc, reverse, length, strlen, trim, "
        "strip)");
  dir.write("one.stg", "one(x) ::= \"<x>\"\nself(x) ::= \"<self(x)>\"\n");
  CHECK(error_of("import \"one.stg\"\n\n  <one(name, port)>", d + "t.st") ==
        d + "t.st:3:4: one() takes 1 argument, given 2");
  CHECK(error_of("import \"one.stg\"\n<one(y=name)>", d + "t.st") ==
        d + "t.st:2:8: one() has no parameter y");
  CHECK(error_of("import \"one.stg\"\n<self(name)>", d + "t.st")
            .find("one.stg:2:15: templates call each other more than 100 deep") !=
        std::string::npos);
}

TEST_CASE("templates: syntax errors say where and what was expected", "[templates]") {
  const Case kErrors[] = {
      {"unclosed expression", "a\nb <name",
       "t.st:2:8: expected '>' to end the expression, found end of file"},
      {"unclosed if", "<if(x)>\nyes\n",
       "t.st:1:1: <if> is never closed: expected <endif> before the end of the file"},
      {"stray endif", "x\n <endif>", "t.st:2:2: <endif> without an open <if>"},
      {"stray else", "<else>", "t.st:1:1: <else> without an open <if>"},
      {"elseif after else", "<if(a)><else><elseif(b)><endif>",
       "t.st:1:14: <elseif> after <else>: expected <endif>"},
      {"missing paren", "<if x>", "t.st:1:5: expected '(' after if, found 'x'"},
      {"unclosed comment", "<! x", "t.st:1:1: unterminated comment: expected '!>'"},
      {"unclosed subtemplate", "<names:{n | <n>",
       "t.st:1:8: anonymous template is never closed: expected '}'"},
      {"bad option", "<names; sep=\",\">",
       "t.st:1:9: unknown option 'sep': expected separator or null"},
      {"unclosed string", "<names; separator=\", >",
       "t.st:1:23: expected '\"' to end the string, found end of file"},
      {"bad escape", "<\\q>",
       "t.st:1:2: unknown escape: expected \\n, \\t, \\r, \\ (space), \\\\ or \\uXXXX"},
      {"bad start", "<,>", "t.st:1:2: expected an attribute name, a string, '{' or '(', found ','"},
      {"bad property", "<a.>", "t.st:1:4: expected a property name or '(' after '.', found '>'"},
      {"map target", "<names:x>", "t.st:1:9: expected '(' after the template name x, found '>'"},
  };
  for (const Case& c : kErrors) {
    INFO(c.what);
    CHECK(error_of(c.text) == c.expected);
  }
}

TEST_CASE("templates report every name used but not defined, rendered or not", "[templates]") {
  auto r = render_text(
      "<name> <missing> <db.host> <db.nope> <db.auth.user> <db.auth.pw>\n"
      "<if(debug)><in_false_branch><else><in_else><endif>\n"
      "<servers:{s | <s.anything> <i> <outer>}> <names:{<it>}>\n"
      "<modes.(dyn_key)> <missing> <port.sub>",
      "t.st", attributes());
  REQUIRE(r);
  CHECK(r->undefined == std::vector<std::string>{"db.auth.pw", "db.nope", "dyn_key", "in_else",
                                                 "in_false_branch", "missing", "outer",
                                                 "port.sub"});
}

TEST_CASE("templates: group templates see their parameters and their callers' names",
          "[templates]") {
  TempDir dir;
  dir.write("g.stg", "item(x) ::= \"<x>=<value>;<global_missing>\"\n");
  const auto file = dir.write("t.st", "import \"g.stg\"\n<names:{value | <item(value)>}>\n");
  auto r = render_file(file, attributes());
  REQUIRE(r);
  CHECK(r->text == "ann=ann;bob=bob;cy=cy;\n");
  CHECK(r->undefined == std::vector<std::string>{"global_missing"});
}

TEST_CASE("template attributes: dotted keys nest, hub and instance facts", "[templates]") {
  Module m;
  m.name = "Web";
  m.level = "system";
  m.version = Version{1, 2, 3};
  m.dir = "/r/modules/system/Web";
  const YAML::Node config =
      YAML::Load("a.b.c: 1\na: {x: 2}\nplain: 3\n'..odd': 4\nhub: overridden\nlist: [{p.q: 5}]\n");
  HubFacts hub{"/r", {"system", "site"}, "0.1.0"};
  InstanceFacts instance{"Web.2", "/r/var/run/Web.2", YAML::Load("{http: 8080}")};
  const YAML::Node attrs = template_attributes(m, config, hub, &instance);
  auto r = render_text(
      "<a.b.c> <a.x> <plain> <list:{l | <l.p.q>}> <hub.root> <hub.levels; separator=\",\"> "
      "<hub.version> <module.name> <module.version> <instance.name> <instance.workspace> "
      "<instance.ports.http>",
      "t.st", attrs);
  REQUIRE(r);
  CHECK(r->text == "1 2 3 5 /r system,site 0.1.0 Web 1.2.3 Web.2 /r/var/run/Web.2 8080");
  CHECK(attrs["..odd"].as<int>() == 4);
  CHECK(config["a.b.c"].as<int>() == 1);  // the config itself is left alone
  const YAML::Node no_instance = template_attributes(m, config, hub);
  CHECK(!no_instance["instance"]);
}
