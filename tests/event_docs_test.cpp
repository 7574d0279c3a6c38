// The README's table of the events hubd publishes ("Events hubd publishes") against what a
// real hubd publishes: every event the daemon sends has a row, every field it sends is
// named there, every field named there is sent in the scenario below (or is listed here as
// one the scenario cannot produce), and PROTOCOL.md's list of the Hub's own events names
// the same topics. A field added to an event without its documentation fails here.
#include <signal.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "bus/event.h"
#include "bus/journal.h"
#include "support/running_hub.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
using namespace hub;
using namespace hub::test;

namespace {

// A table row's topic as written (`NAME/started`, `Hub/startup`) -> the fields its
// payload column names: backquoted words outside parentheses (inside them are values and
// the fields of list items).
using DocumentedEvents = std::map<std::string, std::set<std::string>>;

std::string section_of(const std::string& text, const std::string& heading) {
  const size_t start = text.find(heading);
  if (start == std::string::npos) return "";
  const size_t end = text.find("\n#", start + heading.size());
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The cells of a markdown table row, trimmed ("| a | b |" -> {"a", "b"}).
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(row.substr(1));
  while (std::getline(in, cell, '|')) {
    const size_t b = cell.find_first_not_of(' ');
    const size_t e = cell.find_last_not_of(' ');
    out.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
  }
  return out;
}

std::set<std::string> named_fields(const std::string& column) {
  std::set<std::string> fields;
  int depth = 0;
  static const std::regex field("^[a-z_]+$");
  for (size_t i = 0; i < column.size(); ++i) {
    if (column[i] == '(') ++depth;
    if (column[i] == ')') --depth;
    if (column[i] != '`') continue;
    const size_t close = column.find('`', i + 1);
    if (close == std::string::npos) break;
    const std::string word = column.substr(i + 1, close - i - 1);
    if (depth == 0 && std::regex_match(word, field)) fields.insert(word);
    i = close;
  }
  return fields;
}

// Rows of the first table in `section` whose first cell is a backquoted topic: topic ->
// the fields named in column `payload_column`.
DocumentedEvents table_rows(const std::string& section, size_t payload_column) {
  DocumentedEvents rows;
  std::istringstream lines(section);
  static const std::regex topic_cell("^`([A-Za-z]+/[a-z-]+)`$");
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const auto row = cells(line);
    if (row.size() <= payload_column || !std::regex_match(row[0], m, topic_cell)) continue;
    rows[m[1]] = named_fields(row[payload_column]);
  }
  return rows;
}

// The row an event's topic falls under: `Hub/x` as it is, a module's `M/x` as `NAME/x`.
std::string row_of(const std::string& topic) {
  const size_t slash = topic.find('/');
  return topic.compare(0, slash, "Hub") == 0 ? topic : "NAME" + topic.substr(slash);
}

// Topic (row) -> every top-level field seen in its payloads, from every event with source
// Hub in the journal of the hub on `root`.
DocumentedEvents published_by_hub(const TempDir& root) {
  DocumentedEvents seen;
  JournalReader reader(root.path() / "var/db/hub/journal", 1);
  while (const JournalRecord* r = reader.next()) {
    zmq::message_t topic(r->topic.data(), r->topic.size());
    zmq::message_t payload(r->payload.data(), r->payload.size());
    const auto event = Event::decode(std::move(topic), r->header, std::move(payload));
    REQUIRE(event);
    if (event->source != "Hub") continue;
    const std::string row = row_of(std::string(event->topic()));
    auto& fields = seen[row];
    const YAML::Node json = YAML::Load(std::string(event->payload()));
    INFO(row << " " << event->payload());
    REQUIRE(json.IsMap());
    for (const auto& kv : json) fields.insert(kv.first.as<std::string>());
  }
  return seen;
}

// A root whose modules make hubd publish nearly every kind of event it has.
void build_scenario(const TempDir& root) {
  add_module(root, "Steady", "command: os/linux/programs/run\nready: {notify: true}\n");
  add_script(root, "modules/system/Steady/os/linux/programs/run",
             "echo ready >&3\nexec sleep 1000\n");
  add_module(root, "Flaky",
             "command: os/linux/programs/run\n"
             "restart: {policy: on-failure, retries: 1, backoff: {min: 10ms, max: 10ms}}\n");
  add_script(root, "modules/system/Flaky/os/linux/programs/run", "exit 3\n");
  add_module(root, "Plain", "");
  add_script(root, "modules/system/Plain/control/startup/10-ok", "exit 0\n");
  add_script(root, "modules/system/Plain/control/shutdown/10-fail", "exit 1\n");
  add_script(root, "modules/system/Plain/system/apps/helper", "exit 0\n");  // loaded, warned
  add_module(root, "Broken", "");
  add_script(root, "modules/system/Broken/control/startup/10-fail", "exit 2\n");
  add_module(root, "Needy", "", "Broken");
  add_module(root, "Later", "command: os/linux/programs/run\nneeds_config: broker\n");
  add_script(root, "modules/system/Later/os/linux/programs/run", "exec sleep 1000\n");
  add_module(root, "Base", "");
  add_module(root, "Follower", "", "Base");  // stopped with Base, and why
  add_module(root, "Twin", "");
  add_module(root, "Twin", "", "", "customer");
  add_module(root, "Bad", "command: run\nrestart: {policy: sometimes}\n");
  fs::create_directories(root.path() / "modules/system/bad name");
  add_script(root, "events/Probe/poke/10-fail", "echo oops >&2\nexit 3\n");
  add_script(root, "events/Probe/poke/20-signal", "kill -TERM $$\n");
}

}  // namespace

TEST_CASE("the README's event table names every event and field hubd publishes, and no more",
          "[docs]") {
  TempDir root;
  build_scenario(root);
  {
    RunningHub hub(root);
    auto sub = hub.subscribe({"#"}, /*retained=*/true);
    std::set<std::string> waiting = {"Flaky/failed", "Steady/ready"};  // in either order
    while (!waiting.empty()) {
      const auto event = sub.next(std::chrono::seconds(20));
      REQUIRE(event);
      waiting.erase(std::string(event->topic()));
    }
    ChildProcess poke(HUBCTL_PATH, {"--root", root.path(), "publish", "Probe/poke", "{}"});
    REQUIRE(poke.wait_exit() == 0);
    REQUIRE(next_on(sub, "Hub/scripts-done"));
    ChildProcess stop(HUBCTL_PATH, {"--root", root.path(), "stop", "Base"});
    REQUIRE(stop.wait_exit() == 0);
    // A reload that rejects the running Steady's new definition keeps the old one running.
    root.write("modules/system/Steady/service.yml", "command: [\n");
    fs::remove_all(root.path() / "modules/system/Later");   // NAME/removed
    fs::remove_all(root.path() / "modules/customer/Twin");  // Twin shadows nothing now
    hub.process().signal(SIGHUP);
    REQUIRE(next_on(sub, "Hub/reload"));
    REQUIRE(hub.stop() == 0);
  }
  const std::string readme = read_file(fs::path(HUB_SOURCE_DIR) / "README.md");
  const DocumentedEvents documented =
      table_rows(section_of(readme, "### Events hubd publishes"), 2);
  REQUIRE(documented.size() > 10);
  const DocumentedEvents published = published_by_hub(root);

  for (const auto& [row, fields] : published) {
    INFO("published " << row);
    const auto doc = documented.find(row);
    REQUIRE(doc != documented.end());
    for (const auto& field : fields) {
      INFO("field " << field);
      CHECK(doc->second.count(field) == 1);
    }
  }
  // What this scenario cannot make hubd publish: faults of the journal, kernel OOM kills,
  // core dumps, the script brake, a module tree that cannot be scanned at all.
  const std::set<std::string> not_produced_rows = {"Hub/recovered", "Hub/journal-failed",
                                                   "Hub/scripts-skipped"};
  const std::set<std::string> not_produced_fields = {
      "NAME/exited core_dumped",     "NAME/exited oom_kills", "NAME/exited reason",
      "Hub/script-failed cancelled", "Hub/reload error",      "Hub/rejected line"};
  for (const auto& [row, fields] : documented) {
    INFO("documented " << row);
    if (not_produced_rows.count(row)) continue;
    const auto seen = published.find(row);
    REQUIRE(seen != published.end());
    for (const auto& field : fields) {
      INFO("field " << field);
      CHECK((seen->second.count(field) == 1 || not_produced_fields.count(row + " " + field)));
    }
  }

  // PROTOCOL.md lists the Hub's own events with the same topics.
  const std::string protocol = read_file(fs::path(HUB_SOURCE_DIR) / "docs/PROTOCOL.md");
  const DocumentedEvents protocol_rows =
      table_rows(section_of(protocol, "## 9. The hub's own events"), 0);
  std::set<std::string> readme_hub_topics, protocol_hub_topics;
  for (const auto& [row, fields] : documented) {
    if (row.rfind("Hub/", 0) == 0) readme_hub_topics.insert(row);
  }
  for (const auto& [row, fields] : protocol_rows) {
    if (row.rfind("Hub/", 0) == 0) protocol_hub_topics.insert(row);
  }
  CHECK(protocol_hub_topics == readme_hub_topics);
}
