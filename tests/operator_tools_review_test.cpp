// The operator tools (issue 20: hubctl and bus-tap spellings, the console, /metrics),
// reviewed: what a demanding user hits. Each case states the defect it proves.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "console/console_server.h"
#include "console/live_feed.h"
#include "console/prometheus_text.h"
#include "hubctl/log_time.h"
#include "support/prometheus_check.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

PrometheusExposition metrics_of(const TempDir& root) {
  const YAML::Node reply = YAML::Load(admin_api_call(root, R"({"method":"inspect"})"));
  REQUIRE(reply["ok"].as<bool>());
  return check_prometheus_text(prometheus_text(reply["result"]));
}

// The raw HTTP answer to `request` sent on the connected socket `fd` (read until the
// whole body is in, the server closes, or 10 s); `fd` stays open.
std::string raw_http_on(int fd, const std::string& request) {
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, static_cast<size_t>(n));
    if (answer.find("\r\n\r\n") != std::string::npos) {
      // Headers complete: the body is Content-Length long.
      const auto at = answer.find("Content-Length: ");
      if (at == std::string::npos) break;
      const size_t length = std::stoul(answer.substr(at + 16));
      if (answer.size() >= answer.find("\r\n\r\n") + 4 + length) break;
    }
  }
  return answer;
}

// The same on a new connection to 127.0.0.1:`port`, closed after.
std::string raw_http(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::string answer = raw_http_on(fd, request);
  ::close(fd);
  return answer;
}

}  // namespace

// Defect: hub_module_restarts_total and hub_instance_restarts_total are `counter`s, but
// inspect's `restarts` counts from the last start request: `hubctl restart NAME` (or the
// console's restart button) takes them back to 0 while hubd runs, and a dynamic instance
// that goes takes its restarts out of its module's sum. A crash loop is forgotten by the
// next manual restart; Prometheus reads the drop as a counter reset.
TEST_CASE("review: /metrics' restart counters never go down while hubd runs",
          "[review][metrics][hubd]") {
  TempDir root;
  // Exits with 3 the first time, then runs for good.
  add_module(root, "Crashy",
             "command: os/linux/programs/run\n"
             "restart: {policy: on-failure, backoff: {min: 10ms, max: 10ms}}\n");
  add_script(root, "modules/system/Crashy/os/linux/programs/run",
             "if [ -e '" + (root.path() / "crashed").string() +
                 "' ]; then exec sleep 1000; fi\n"
                 "touch '" +
                 (root.path() / "crashed").string() + "'\nexit 3\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Crashy/#"}, /*retained=*/true);
  // Crashy/started is retained: the latest one, then any later, until the one after the crash.
  for (;;) {
    const auto started = next_on(sub, "Crashy/started");
    REQUIRE(started);
    if (json_int(started->payload(), "restarts") == 1) break;
  }
  {
    const PrometheusExposition e = metrics_of(root);
    REQUIRE(e.value("hub_module_restarts_total", {{"module", "Crashy"}}) == 1);
  }
  const YAML::Node restarted =
      YAML::Load(admin_api_call(root, R"({"method":"restart","name":"Crashy"})"));
  REQUIRE(restarted["ok"].as<bool>());
  const PrometheusExposition e = metrics_of(root);
  CHECK(e.value("hub_module_restarts_total", {{"module", "Crashy"}}) == 1);
  CHECK(e.value("hub_instance_restarts_total", {{"module", "Crashy"}, {"instance", "Crashy"}}) ==
        1);
}

// Defect: `hubctl publish -l` reads stdin to its end before publishing anything, so
// `tail -f LOG | hubctl publish -t T -l` (mosquitto_pub -l's use: a line, an event, as it
// comes) never publishes.
TEST_CASE("review: hubctl publish -l publishes each line as it comes", "[review][hubctl][hubd]") {
  TempDir root;
  RunningHub hub(root);
  auto sub = hub.subscribe({"Probe/line"});
  const fs::path fifo = root.path() / "lines";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  ChildProcess publisher(
      "/bin/sh", {"-c", "exec '" + std::string(HUBCTL_PATH) + "' --root '" + root.path().string() +
                            "' publish -t Probe/line -l < '" + fifo.string() + "'"});
  const int writer = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // once hubctl's shell opens it
  REQUIRE(writer >= 0);
  REQUIRE(::write(writer, "first\n", 6) == 6);
  const auto first = next_on(sub, "Probe/line", 10s);  // stdin still open
  CHECK(first);
  if (first) CHECK(first->payload() == "first");
  REQUIRE(::write(writer, "second\n", 7) == 7);
  ::close(writer);
  CHECK(publisher.wait_exit() == 0);
}

// Defect: a POST without a body and without Content-Length (`curl -X POST -H
// "Authorization: Bearer …" URL`, the obvious script) is answered 400 with an empty body
// by the HTTP library before the console sees it: no 401 for a missing token, nothing done
// with a right one, and no word of why.
TEST_CASE("review: the console's POSTs work without a Content-Length", "[review][console]") {
  console::ConsoleConfig config;
  config.port = 0;
  std::vector<std::string> requests;
  std::mutex mu;
  console::ConsoleBackend backend;
  backend.inspect = [] { return Result<std::string>(std::string("{}")); };
  backend.control = [&](const std::string& r) {
    std::lock_guard lock(mu);
    requests.push_back(r);
    return Result<std::string>(std::string("{}"));
  };
  backend.history = [](uint64_t, uint64_t, const std::vector<std::string>&,
                       const std::function<bool(const console::EventView&)>&) {
    return Result<uint64_t>(uint64_t{0});
  };
  backend.log_file = [](const std::string&) { return fs::path("/nonexistent"); };
  backend.tokens = [] { return std::vector<std::string>{"the-right-token-123"}; };
  console::LiveFeed feed;
  console::ConsoleServer server(config, backend, feed);
  REQUIRE(server.bind());
  std::thread serving([&] { server.serve(); });
  const std::string host = "Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n";
  const std::string refused = raw_http(server.port(), "POST /api/modules/Timer/stop HTTP/1.1\r\n" +
                                                          host + "Connection: close\r\n\r\n");
  CHECK_THAT(refused, Catch::StartsWith("HTTP/1.1 401"));
  CHECK_THAT(refused, Catch::Contains("Authorization: Bearer"));
  const std::string done =
      raw_http(server.port(), "POST /api/modules/Timer/restart HTTP/1.1\r\n" + host +
                                  "Authorization: Bearer the-right-token-123\r\n"
                                  "Connection: close\r\n\r\n");
  CHECK_THAT(done, Catch::StartsWith("HTTP/1.1 200"));
  {
    std::lock_guard lock(mu);
    CHECK(requests == std::vector<std::string>{R"({"method":"restart","name":"Timer"})"});
  }
  server.stop();
  serving.join();
}

// Defect: `hubctl logs -o json` gives each line's "time" to the whole second
// ("…02:30:00.000000Z" for a line stamped 02:30:00.250): a time the line does not say.
TEST_CASE("review: hubctl logs -o json keeps the fraction of a line's time",
          "[review][hubctl][hubd]") {
  TempDir root;
  add_module(root, "Stamped", "command: os/linux/programs/run\n");
  add_script(root, "modules/system/Stamped/os/linux/programs/run",
             "echo '2026-12-08T02:30:00.250 info hello'\nexec sleep 1000\n");
  RunningHub hub(root);
  ChildProcess logs(HUBCTL_PATH,
                    {"--root", root.path().string(), "logs", "Stamped", "-f", "-o", "json"});
  const auto line = logs.wait_stdout("hello");
  REQUIRE(line);
  CHECK_THAT(*line, Catch::Contains(R"("time":"2026-12-08T02:30:00.250000Z")"));
}

// Defect: journalctl takes a time of day alone (`--since 09:00`, today, UTC here); hubctl
// logs --since refuses it.
TEST_CASE("review: hubctl logs --since takes a time of day, as journalctl", "[review][hubctl]") {
  const int64_t now = 1796697000;  // 2026-12-08 02:30:00 UTC
  const int64_t midnight = now - 2 * 3600 - 30 * 60;
  CHECK(ctl::parse_since("01:15", now) == midnight + 3600 + 15 * 60);
  CHECK(ctl::parse_since("01:15:30", now) == midnight + 3600 + 15 * 60 + 30);
  CHECK_FALSE(ctl::parse_since("25:00", now));
}

// Defect: the console serves each connection on one of kMaxClients + 8 threads, and a
// keep-alive connection holds its thread while idle (5 s): 8 live views and 8 idle
// connections (two browsers' worth, or a Prometheus scraper and a few tabs) leave every
// other request waiting 5 s; the page and /metrics stall.
TEST_CASE("review: the console answers at once with its live views full and idle connections",
          "[review][console]") {
  console::ConsoleConfig config;
  config.port = 0;
  console::ConsoleBackend backend;
  backend.inspect = [] { return Result<std::string>(std::string("{}")); };
  backend.control = [](const std::string&) { return Result<std::string>(std::string("{}")); };
  backend.history = [](uint64_t, uint64_t, const std::vector<std::string>&,
                       const std::function<bool(const console::EventView&)>&) {
    return Result<uint64_t>(uint64_t{0});
  };
  backend.log_file = [](const std::string&) { return fs::path("/nonexistent"); };
  backend.tokens = [] { return std::vector<std::string>{}; };
  console::LiveFeed feed;
  console::ConsoleServer server(config, backend, feed);
  REQUIRE(server.bind());
  std::thread serving([&] { server.serve(); });
  const std::string host = "Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n";
  const auto connect = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
  };
  const auto send = [](int fd, const std::string& request) {
    REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  };
  std::vector<int> held;
  for (size_t i = 0; i < console::LiveFeed::kMaxClients; ++i) {
    held.push_back(connect());
    send(held.back(), "GET /api/live?pattern=Nothing/%23 HTTP/1.1\r\n" + host + "\r\n");
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (feed.clients() < console::LiveFeed::kMaxClients &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);  // polls a state; bounded
  REQUIRE(feed.clients() == console::LiveFeed::kMaxClients);
  for (int i = 0; i < 8; ++i) {  // answered once, then idle on keep-alive
    held.push_back(connect());
    const std::string one =
        raw_http_on(held.back(), "GET /console.css HTTP/1.1\r\n" + host + "\r\n");
    REQUIRE_THAT(one, Catch::StartsWith("HTTP/1.1 200"));
  }
  const auto asked = std::chrono::steady_clock::now();
  const std::string state =
      raw_http(server.port(), "GET /metrics HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n");
  CHECK_THAT(state, Catch::StartsWith("HTTP/1.1 200"));
  CHECK(std::chrono::steady_clock::now() - asked < 2s);  // not after an idle one's 5 s
  for (int fd : held) ::close(fd);
  server.stop();
  serving.join();
}

// Defect: a live view whose browser went away (a closed tab, a changed filter: the page
// closes its EventSource and opens another) keeps its slot until the console next writes
// to it, which on a quiet bus is its 10 s keep-alive; a user who changes the filter a few
// times is answered 503 ("already 8 live views open"), and EventSource does not retry a
// 503: the live view stays dead.
TEST_CASE("review: a live view's slot is free soon after its browser leaves", "[review][console]") {
  console::ConsoleConfig config;
  config.port = 0;
  console::ConsoleBackend backend;
  backend.inspect = [] { return Result<std::string>(std::string("{}")); };
  backend.control = [](const std::string&) { return Result<std::string>(std::string("{}")); };
  backend.history = [](uint64_t, uint64_t, const std::vector<std::string>&,
                       const std::function<bool(const console::EventView&)>&) {
    return Result<uint64_t>(uint64_t{0});
  };
  backend.log_file = [](const std::string&) { return fs::path("/nonexistent"); };
  backend.tokens = [] { return std::vector<std::string>{}; };
  console::LiveFeed feed;
  console::ConsoleServer server(config, backend, feed);
  REQUIRE(server.bind());
  std::thread serving([&] { server.serve(); });
  const std::string host = "Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n";
  std::vector<int> views;
  for (size_t i = 0; i < console::LiveFeed::kMaxClients; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string request = "GET /api/live?pattern=Quiet/%23 HTTP/1.1\r\n" + host + "\r\n";
    REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    views.push_back(fd);
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (feed.clients() < console::LiveFeed::kMaxClients &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);  // polls a state; bounded
  REQUIRE(feed.clients() == console::LiveFeed::kMaxClients);
  for (int fd : views) ::close(fd);  // every browser left
  deadline = std::chrono::steady_clock::now() + 4s;
  while (feed.clients() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);  // polls a state; bounded
  CHECK(feed.clients() == 0);
  server.stop();
  serving.join();
}

// Defect: `hubctl tail NAME` is there "as supervisorctl's users type it", but they type
// `tail -100 NAME` and `tail NAME stderr`: both refused as unexpected.
TEST_CASE("review: hubctl tail takes supervisorctl's -N and stdout/stderr",
          "[review][hubctl][hubd]") {
  TempDir root;
  add_module(root, "Talky", "command: os/linux/programs/run\n");
  add_script(root, "modules/system/Talky/os/linux/programs/run",
             "echo one\necho two\necho three >&2\nexec sleep 1000\n");
  RunningHub hub(root);
  {  // the three lines are in the log
    ChildProcess follow(HUBCTL_PATH, {"--root", root.path().string(), "logs", "Talky", "-f"});
    REQUIRE(follow.wait_stdout("three"));
  }
  ChildProcess last(HUBCTL_PATH, {"--root", root.path().string(), "tail", "-2", "Talky"});
  CHECK(last.wait_exit() == 0);
  CHECK(last.stdout_lines().size() == 2);
  ChildProcess err(HUBCTL_PATH, {"--root", root.path().string(), "tail", "Talky", "stderr"});
  CHECK(err.wait_exit() == 0);
  CHECK(err.stdout_lines().size() == 3);  // one log holds both streams
}

// Defect: HTTP's authentication scheme is case-insensitive (RFC 9110, 11.1), but the
// console refuses `Authorization: bearer TOKEN` (401, "needs Authorization: Bearer").
TEST_CASE("review: the console takes the Bearer scheme in any case", "[review][console]") {
  console::ConsoleConfig config;
  config.port = 0;
  std::atomic<int> calls{0};
  console::ConsoleBackend backend;
  backend.inspect = [] { return Result<std::string>(std::string("{}")); };
  backend.control = [&](const std::string&) {
    ++calls;
    return Result<std::string>(std::string("{}"));
  };
  backend.history = [](uint64_t, uint64_t, const std::vector<std::string>&,
                       const std::function<bool(const console::EventView&)>&) {
    return Result<uint64_t>(uint64_t{0});
  };
  backend.log_file = [](const std::string&) { return fs::path("/nonexistent"); };
  backend.tokens = [] { return std::vector<std::string>{"the-right-token-123"}; };
  console::LiveFeed feed;
  console::ConsoleServer server(config, backend, feed);
  REQUIRE(server.bind());
  std::thread serving([&] { server.serve(); });
  const std::string answer =
      raw_http(server.port(), "POST /api/modules/Timer/restart HTTP/1.1\r\nHost: 127.0.0.1:" +
                                  std::to_string(server.port()) +
                                  "\r\nAuthorization: bearer the-right-token-123\r\n"
                                  "Content-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 200"));
  CHECK(calls == 1);
  server.stop();
  serving.join();
}

// Defect: a token_file whose token is shorter than 16 characters (or that cannot be read)
// is ignored without a word: the operator's token is answered 403 and nothing says why.
TEST_CASE("review: an unusable console token file is named with why", "[review][console]") {
  TempDir dir;
  const fs::path short_one = dir.write("short.token", "secret\n");
  const auto refused = console::read_token_file(short_one);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains(short_one.string()) && Catch::Contains("16"));
  CHECK_FALSE(console::read_token_file(dir.path() / "none.token"));
  const auto good = console::read_token_file(dir.write("good.token", "0123456789abcdef \r\n"));
  REQUIRE(good);
  CHECK(*good == "0123456789abcdef");
}
