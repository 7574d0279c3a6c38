// The API never waits on a start or a stop (docs/API.md, "Transport"): modules start,
// stop and reload on hubd's control thread while the API answers; a caller that waits for
// an operation is answered when it ends, or by its deadline at the latest.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// A FIFO the test reads and a service writes a line to: waiting on it is waiting on the
// service, with no polling. Made before hubd prepares the module's data directory.
class Signal {
 public:
  explicit Signal(const fs::path& fifo) {
    fs::create_directories(fifo.parent_path());
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    fd_ = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // no writer needed
    REQUIRE(fd_ >= 0);
  }
  ~Signal() { ::close(fd_); }
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  // True once a line was written (a FIFO never written to reports nothing on Linux).
  bool wait(std::chrono::milliseconds timeout = 20s) {
    pollfd item{fd_, POLLIN, 0};
    return ::poll(&item, 1, static_cast<int>(timeout.count())) == 1;
  }

 private:
  int fd_ = -1;
};

// A module whose service says ready once the file `go` exists in its data directory (never,
// unless a test creates it), after writing a line to the FIFO `running` there (Signal).
void add_slow_module(const TempDir& root, const std::string& name) {
  add_module(root, name, "command: os/linux/programs/run\nready: {notify: true, timeout: 20s}\n");
  add_script(root, "modules/system/" + name + "/os/linux/programs/run",
             "echo running > \"$HUB_DATA_DIR/running\"\n"
             "while [ ! -e \"$HUB_DATA_DIR/go\" ]; do sleep 0.05; done\n"
             "echo ready >&3\nexec sleep 1000\n");
}

struct Run {
  int exit = -1;
  std::string out;
  std::chrono::milliseconds took{0};
};

Run hubctl(const TempDir& root, std::vector<std::string> args) {
  args.insert(args.begin(), {"--root", root.path().string(), "--timeout", "5"});
  const auto began = Clock::now();
  ChildProcess p(HUBCTL_PATH, args);
  Run r;
  r.exit = p.wait_exit(30s).value_or(-1);
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
  for (const auto& line : p.stdout_lines()) r.out += line + "\n";
  return r;
}

// A request on a DEALER of its own, as the administrator; reply() waits for its answer.
class RawCall {
 public:
  RawCall(zmq::context_t& ctx, const TempDir& root, const std::string& request)
      : socket_(ctx, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    set_plain_credential(socket_, admin_credential(root));
    socket_.connect(ipc_endpoint(BusPaths::for_root(root.path()).api_socket));
    (void)socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
    (void)socket_.send(zmq::buffer(request), zmq::send_flags::none);
  }
  // The reply's text; empty when none came within `timeout`.
  std::string reply(std::chrono::milliseconds timeout = 20s) {
    socket_.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    zmq::message_t part;
    do {
      if (!socket_.recv(part, zmq::recv_flags::none)) return "";
    } while (part.size() == 0 && part.more());  // the delimiter
    return part.to_string();
  }

 private:
  zmq::socket_t socket_;
};

// "deadline_ms": now + `in`.
std::string deadline_in(std::chrono::milliseconds in) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            (std::chrono::system_clock::now() + in).time_since_epoch())
                            .count());
}

}  // namespace

TEST_CASE("hubctl status answers at once while a service's start waits for its readiness",
          "[hubd][api][control]") {
  TempDir root;
  add_slow_module(root, "Slow");
  Signal running(root.path() / "data/Slow/running");
  ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
  REQUIRE(running.wait());  // the start waits now

  const Run status = hubctl(root, {"status"});
  CHECK(status.exit == 1);  // answered: not everything runs yet
  CHECK(status.took < 1500ms);
  CHECK_THAT(status.out, Catch::Contains("Slow") && Catch::Contains("STARTING"));
  const Run inspect = hubctl(root, {"inspect", "--json"});
  CHECK(inspect.exit == 0);
  CHECK_THAT(inspect.out, Catch::Contains(R"("name":"Slow","level":"system","version":)") &&
                              Catch::Contains(R"("state":"starting")"));

  // A stop cuts the waiting start short, as before there was a control thread.
  const auto began = Clock::now();
  hubd.signal(SIGTERM);
  CHECK(hubd.wait_exit(20s) == 0);
  CHECK(Clock::now() - began < 10s);
  CHECK_FALSE(hubd.stderr_text().find("hub is up") != std::string::npos);
}

TEST_CASE(
    "a start is answered when it ends, by its deadline at the latest, and what waited "
    "past its deadline is not done",
    "[hubd][api][control]") {
  TempDir root;
  add_module(root, "Other", "command: /bin/sleep\nargs: ['1000']\n");
  RunningHub hub(root);
  add_slow_module(root, "Late");
  Signal running(root.path() / "data/Late/running");
  auto events = hub.subscribe({"Late/#", "Other/#", "Hub/reload"});
  zmq::context_t ctx(1);
  {  // the reload that starts Late waits for its readiness; the API goes on answering
    RawCall reload(ctx, root, R"({"method":"reload"})");
    REQUIRE(running.wait());
    const auto began = Clock::now();
    CHECK_THAT(RawCall(ctx, root, R"({"method":"inspect"})").reply(2s),
               Catch::StartsWith(R"({"ok":true,)"));
    CHECK(Clock::now() - began < 1500ms);

    // Queued behind the reload: answered by its deadline, and never carried out.
    RawCall stop(ctx, root,
                 R"({"method":"stop","name":"Other","deadline_ms":)" + deadline_in(500ms) + "}");
    const std::string stopped = stop.reply(5s);
    CHECK_THAT(stopped, Catch::StartsWith(R"({"ok":false,"error":{"code":"timeout")"));
    CHECK(reload.reply(100ms).empty());  // still under way

    std::ofstream(root.path() / "data/Late/go").close();
    CHECK_THAT(reload.reply(), Catch::Contains(R"("added":["Late"])"));
  }
  CHECK(next_on(events, "Late/ready"));
  CHECK(next_on(events, "Hub/reload"));
  // The stop that waited past its deadline was not done (nothing of Other was published).
  const std::string inspect = RawCall(ctx, root, R"({"method":"inspect"})").reply();
  CHECK_THAT(inspect,
             Catch::Contains(R"("name":"Other","level":"system","version":"1.0.0","state":"up")"));
  CHECK(next_line(events, 300ms).empty());
}
