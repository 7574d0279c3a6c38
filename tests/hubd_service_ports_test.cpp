// service.yml `ports:` under a real hubd: each port a service asks for is picked free at
// its start, reaches it as HUB_PORT_NAME and its templates as instance.ports.NAME, and
// inspect shows it with the instance.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/unique_fd.h"
#include "hub/api_client.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
using namespace std::chrono_literals;

namespace {

// The number after "KEY=" on a line of `text`, or 0.
int value_of(const std::string& text, const std::string& key) {
  const size_t at = text.find(key + "=");
  if (at == std::string::npos) return 0;
  return std::atoi(text.c_str() + at + key.size() + 1);
}

// True when something on 127.0.0.1 accepts a connection on `port`.
bool listening(int port) {
  unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

TEST_CASE("a service gets the ports it asks for, binds them, and its templates see them",
          "[supervisor][ports]") {
  TempDir root;
  add_module(root, "Web",
             "command: os/linux/programs/run\nports: [http, admin]\nready: {notify: true}\n"
             "stop: {grace: 2s}\nrestart: {backoff: {min: 20ms, max: 20ms}}\n"
             "templates: [{source: templates/web.conf.st, target: etc/web.conf}]\n");
  root.write("modules/system/Web/templates/web.conf.st",
             "listen <instance.ports.http>\nadmin <instance.ports.admin>\n");
  // Listens on both ports (it fails if either cannot be bound), writes what it got, and
  // only then says it is ready.
  add_script(root, "modules/system/Web/os/linux/programs/run", R"(exec perl -MIO::Socket::INET -e '
my @held;
for my $v ("HUB_PORT_HTTP", "HUB_PORT_ADMIN") {
  my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{$v}, Listen => 5)
    or die "cannot bind $v=$ENV{$v}: $!\n";
  push @held, $s;
}
open(my $f, ">", "$ENV{HUB_DATA_DIR}/facts") or die;
print $f "http=$ENV{HUB_PORT_HTTP}\nadmin=$ENV{HUB_PORT_ADMIN}\nbound\n";
close $f;
open(my $n, ">&=", 3) or die;
syswrite $n, "ready\n";
sleep 1000;'
)");
  RunningHub hub(root);  // up once Web is ready: it has bound its ports
  zmq::context_t ctx(1);
  ApiClient client(ctx, ipc_endpoint(BusPaths::for_root(root.path()).api_socket),
                   admin_credential(root));
  // What the running process got, its template and inspect agree on.
  const auto check_run = [&] {
    const std::string facts = read_file(root.path() / "data/Web/facts");
    INFO(facts);
    REQUIRE(facts.find("bound\n") != std::string::npos);
    const int http = value_of(facts, "http");
    const int admin = value_of(facts, "admin");
    CHECK(http > 0);
    CHECK(admin > 0);
    CHECK(http != admin);
    CHECK(listening(http));
    CHECK(listening(admin));
    const std::string conf = read_file(root.path() / "var/run/hub/services/Web/etc/web.conf");
    CHECK(conf == "listen " + std::to_string(http) + "\nadmin " + std::to_string(admin) + "\n");
    auto inspect = client.call(R"({"method":"inspect"})", 30s);
    REQUIRE(inspect);
    CHECK(inspect->find(R"("ports":{"http":)" + std::to_string(http) + R"(,"admin":)" +
                        std::to_string(admin) + "}") != std::string::npos);
  };
  check_run();

  // A restart picks them again, and renders the templates with the new ones.
  auto sub = hub.subscribe({"Web/ready"});
  REQUIRE(client.call(R"({"method":"signal","signal":"KILL","name":"Web"})", 30s));
  REQUIRE(next_on(sub, "Web/ready"));
  check_run();
}
