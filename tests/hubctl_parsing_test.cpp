// hubctl's parsers on their own: the global options wherever they stand, publish's
// spellings and content types, and the times logs --since takes.
#include <fstream>

#include <catch2/catch.hpp>

#include "hubctl/command_line.h"
#include "hubctl/log_time.h"
#include "hubctl/publish_command.h"
#include "support/temp_dir.h"

using namespace hub::ctl;

namespace {

CommandLine parsed(const std::vector<std::string>& argv) {
  std::string error;
  auto line = parse_command_line(argv, error);
  INFO(error);
  REQUIRE(line);
  return *line;
}

std::string refused(const std::vector<std::string>& argv) {
  std::string error;
  CHECK_FALSE(parse_command_line(argv, error));
  return error;
}

PublishLine publish_line(const std::vector<std::string>& args) {
  std::string error;
  bool unreadable = false;
  auto line = parse_publish(args, error, unreadable);
  INFO(error);
  REQUIRE(line);
  return *line;
}

std::string publish_refused(const std::vector<std::string>& args) {
  std::string error;
  bool unreadable = false;
  CHECK_FALSE(parse_publish(args, error, unreadable));
  return error;
}

}  // namespace

TEST_CASE("hubctl takes its global options before, after and between a command's arguments",
          "[hubctl]") {
  const CommandLine before = parsed({"--root", "/r", "status", "A"});
  CHECK(before.root == "/r");
  CHECK(before.command == "status");
  CHECK(before.args == std::vector<std::string>{"A"});
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"status", "--root", "/r", "A", "--json"},
           {"status", "A", "--root=/r", "-o", "json"},
           {"--json", "status", "-r", "/r", "A"},
           {"status", "-c", "/cred", "A", "--root", "/r", "--output=json"}}) {
    const CommandLine line = parsed(argv);
    CHECK(line.root == "/r");
    CHECK(line.json);
    CHECK(line.command == "status");
    CHECK(line.args == std::vector<std::string>{"A"});
  }
  CHECK(parsed({"status", "-c", "/cred"}).credential == "/cred");
  CHECK(parsed({"logs", "X", "--timeout", "2.5"}).timeout == std::chrono::milliseconds(2500));
  CHECK(parsed({"pid", "--version"}).version);
  CHECK(parsed({"--help"}).help);
  // After the command, --help is the command's; -r is publish's own (retain).
  CHECK(parsed({"start", "--help"}).args == std::vector<std::string>{"--help"});
  const CommandLine publish = parsed({"publish", "-r", "-t", "A/b", "--root", "/r"});
  CHECK(publish.root == "/r");
  CHECK(publish.args == std::vector<std::string>{"-r", "-t", "A/b"});
  // "--" ends the options: what follows is the command's as it is.
  CHECK(parsed({"publish", "A/b", "--", "--json"}).args ==
        std::vector<std::string>{"A/b", "--", "--json"});
  CHECK_FALSE(parsed({"publish", "A/b", "--", "--json"}).json);
  // A publish option's value is the payload, topic or file, never a global option.
  const CommandLine message = parsed({"publish", "-t", "A/b", "-m", "--json", "-c", "/cred"});
  CHECK_FALSE(message.json);
  CHECK(message.credential == "/cred");
  CHECK(message.args == std::vector<std::string>{"-t", "A/b", "-m", "--json"});
  CHECK(parsed({"publish", "-m", "--version", "-t", "--root"}).args ==
        std::vector<std::string>{"-m", "--version", "-t", "--root"});
  CHECK(parsed({"logs", "X", "-n", "5", "--since", "-10m"}).args ==
        std::vector<std::string>{"X", "-n", "5", "--since", "-10m"});

  CHECK(refused({"status", "--root"}) == "--root needs a value");
  CHECK(refused({"--timeout", "soon", "status"}) ==
        "--timeout takes seconds (0 to 86400), not 'soon'");
  CHECK(refused({"status", "-o", "yaml"}) == "-o takes json or text, not 'yaml'");
  CHECK(refused({"--bogus", "status"}) == "unknown option --bogus");
  CHECK(refused({"status", "--json=yes"}) == "--json takes no value");
}

TEST_CASE("hubctl publish reads mosquitto_pub's spellings", "[hubctl]") {
  const PublishLine positional = publish_line({"A/b", "{\"x\":1}"});
  CHECK(positional.topic == "A/b");
  CHECK(positional.payloads == std::vector<std::string>{"{\"x\":1}"});
  CHECK_FALSE(positional.retain);
  CHECK(publish_line({"A/b"}).payloads == std::vector<std::string>{"{}"});

  const PublishLine flags = publish_line({"-t", "A/b", "-m", "hello", "-r"});
  CHECK(flags.topic == "A/b");
  CHECK(flags.payloads == std::vector<std::string>{"hello"});
  CHECK(flags.retain);
  CHECK(publish_line({"--topic", "A/b", "--message", "m", "--retain"}).retain);
  CHECK(publish_line({"-t", "A/b", "-n"}).payloads == std::vector<std::string>{""});
  CHECK(publish_line({"-t", "A/b", "-m", "x", "--content-type", "text/csv"}).content_type ==
        "text/csv");
  CHECK(publish_line({"A/b", "--", "-5"}).payloads == std::vector<std::string>{"-5"});

  hub::test::TempDir dir;
  const auto file = dir.write("payload.bin", std::string("\x00\xff\x01", 3));
  CHECK(publish_line({"-t", "A/b", "-f", file.string()}).payloads ==
        std::vector<std::string>{std::string("\x00\xff\x01", 3)});
  std::string error;
  bool unreadable = false;
  CHECK_FALSE(
      parse_publish({"-t", "A/b", "-f", (dir.path() / "none").string()}, error, unreadable));
  CHECK(unreadable);

  CHECK(publish_refused({}) == "publish needs a TOPIC (-t TOPIC or the first argument)");
  CHECK(publish_refused({"-t", "A/b", "-m", "x", "-n"}) == "-n and -m both give the payload");
  CHECK(publish_refused({"-t", "A/b", "-m", "x", "y"}) == "PAYLOAD and -m both give the payload");
  CHECK(publish_refused({"A/b", "x", "y"}) == "unexpected 'y'");
  CHECK(publish_refused({"-t", "A/b", "-t", "C/d"}) == "publish takes one topic");
  CHECK(publish_refused({"A/b", "-q", "1"}) == "unexpected '-q'");
}

TEST_CASE("hubctl publish says JSON only of a payload that parses as JSON", "[hubctl]") {
  CHECK(content_type_of("{\"a\":1}") == "application/json");
  CHECK(content_type_of("[1,2]") == "application/json");
  CHECK(content_type_of("42") == "application/json");
  CHECK(content_type_of("\"quoted\"") == "application/json");
  CHECK(content_type_of("hello") == "text/plain; charset=utf-8");
  CHECK(content_type_of("{not json") == "text/plain; charset=utf-8");
  CHECK(content_type_of("") == "text/plain; charset=utf-8");
  CHECK(content_type_of(std::string("\xff\x00", 2)) == "application/octet-stream");
}

TEST_CASE("hubctl logs --since takes journalctl's times, in UTC", "[hubctl]") {
  const int64_t now = 1796697000;  // 2026-12-08T02:30:00Z
  const int64_t midnight = 1796688000;
  CHECK(parse_since("2026-12-08T02:30:00Z", now) == now);
  CHECK(parse_since("2026-12-08 02:30:00", now) == now);
  CHECK(parse_since("2026-12-08 02:30", now) == now);
  CHECK(parse_since("2026-12-08T02:30:00.5Z", now) == now);
  CHECK(parse_since("2026-12-08", now) == midnight);
  CHECK(parse_since("today", now) == midnight);
  CHECK(parse_since("yesterday", now) == midnight - 86400);
  CHECK(parse_since("now", now) == now);
  CHECK(parse_since("-30s", now) == now - 30);
  CHECK(parse_since("-10m", now) == now - 600);
  CHECK(parse_since("-2h", now) == now - 7200);
  CHECK(parse_since("-1d", now) == now - 86400);
  CHECK(parse_since("10m ago", now) == now - 600);
  CHECK(parse_since("2 hours ago", now) == now - 7200);
  CHECK(parse_since("1 week ago", now) == now - 7 * 86400);
  for (const char* bad : {"", "soon", "-", "-10", "-10x", "ago", "2026-13-01", "2026-12-08 25:00",
                          "2026-12-08 02:30 trailing", "10 parsecs ago"}) {
    INFO(bad);
    CHECK_FALSE(parse_since(bad, now));
  }
  CHECK(line_time("2026-12-08T02:30:00.123456Z events/x: run.sh exited 0") == now);
  CHECK(line_time("2026-12-08 02:30:00 service says") == now);
  CHECK_FALSE(line_time("  | output of a script"));
  CHECK_FALSE(line_time("2026-12-08 is a date alone"));
  CHECK_FALSE(line_time(""));
}
