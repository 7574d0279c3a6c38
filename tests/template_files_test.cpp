// Templates rendered into a workspace (core/services/template_files.h): every file whole,
// with its mode, nothing written when one cannot be rendered.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "core/services/template_files.h"
#include "support/running_hub.h"
#include "support/temp_dir.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

mode_t mode_of(const fs::path& file) {
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

RenderedFile file(const std::string& target, const std::string& text, mode_t mode) {
  RenderedFile f;
  f.target = target;
  f.text = text;
  f.mode = mode;
  return f;
}

YAML::Node attributes() { return YAML::Load("{port: 8080, db: {host: a.example}}"); }

}  // namespace

TEST_CASE("templates render with the attributes, in order, and fail naming the template",
          "[templates][workspace]") {
  TempDir module;
  module.write("templates/a.st", "port=<port>\n");
  module.write("templates/b.st", "host=<db.host> user=<db.user>\n");
  module.write("templates/broken.st", "ok\nport=<endif>\n");
  const std::vector<TemplateFile> good = {{"templates/a.st", "etc/a.conf", 0600},
                                          {"templates/b.st", "b.ini", 0640}};
  auto files = render_templates(good, module.path(), attributes());
  REQUIRE(files);
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].text == "port=8080\n");
  CHECK((*files)[0].target == "etc/a.conf");
  CHECK((*files)[1].text == "host=a.example user=\n");  // what is missing renders empty
  CHECK((*files)[0].undefined.empty());
  CHECK((*files)[1].undefined == std::vector<std::string>{"db.user"});
  CHECK((*files)[1].source == "templates/b.st");

  const std::vector<TemplateFile> bad = {{"templates/a.st", "a", 0640},
                                         {"templates/broken.st", "etc/broken.conf", 0640}};
  auto failed = render_templates(bad, module.path(), attributes());
  REQUIRE_FALSE(failed);
  CHECK(failed.error() ==
        "templates[1] (etc/broken.conf): " + (module.path() / "templates/broken.st").string() +
            ":2:6: <endif> without an open <if>");
}

TEST_CASE("rendered files are written whole, with their modes, in directories made for them",
          "[templates][workspace]") {
  TempDir ws;
  fs::create_directories(ws.path() / "etc");
  REQUIRE(write_rendered(
      ws.path(), {file("etc/a.conf", "one\n", 0600), file("conf/deep/b.ini", "two", 0644)}));
  CHECK(read_file(ws.path() / "etc/a.conf") == "one\n");
  CHECK(mode_of(ws.path() / "etc/a.conf") == 0600);
  CHECK(read_file(ws.path() / "conf/deep/b.ini") == "two");
  CHECK(mode_of(ws.path() / "conf/deep/b.ini") == 0644);
  CHECK(mode_of(ws.path() / "conf") == 0750);

  // Replaced, never rewritten in place: a reader holding the old file keeps the old text.
  struct stat before {};
  REQUIRE(::stat((ws.path() / "etc/a.conf").c_str(), &before) == 0);
  REQUIRE(write_rendered(ws.path(), {file("etc/a.conf", "three\n", 0600)}));
  struct stat after {};
  REQUIRE(::stat((ws.path() / "etc/a.conf").c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);
  CHECK(read_file(ws.path() / "etc/a.conf") == "three\n");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(ws.path() / "etc"))
    names.push_back(entry.path().filename().string());
  CHECK(names == std::vector<std::string>{"a.conf"});  // no temporary file left behind
}

TEST_CASE("a rendered file is never written through a link", "[templates][workspace]") {
  TempDir ws, elsewhere;
  fs::create_directory_symlink(elsewhere.path(), ws.path() / "linked");
  const Status s = write_rendered(ws.path(), {file("linked/a.conf", "x", 0640)});
  REQUIRE_FALSE(s);
  CHECK_THAT(s.message(), Catch::Contains("a link; a template is never written through one"));
  CHECK(fs::is_empty(elsewhere.path()));
}
