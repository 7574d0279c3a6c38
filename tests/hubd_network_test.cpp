// The bus on tcp: CURVE only, keys from owner-only files, a client's key standing for its
// identity (ownership applies as over ipc); anything else gets nothing.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <zmq_addon.hpp>

#include "bus/bus_paths.h"
#include "bus/curve.h"
#include "bus/wire.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;

namespace {

struct Keys {
  std::pair<std::string, std::string> server = curve_keypair(), client = curve_keypair();
};

// hub.yml with the bus's ingest on tcp (a port the system picks), and the key files.
void serve_on_tcp(const TempDir& root, const Keys& keys, mode_t key_mode = 0600) {
  root.write("config/hub.yml",
             "network:\n  ingest: tcp://127.0.0.1:*\n  api: tcp://127.0.0.1:*\n"
             "  server_key: etc/keys/server.key\n  clients: etc/keys/clients\n");
  ::chmod(root.write("etc/keys/server.key", keys.server.second + "\n").c_str(), key_mode);
  ::chmod(root.write("etc/keys/clients", "# who may connect\nRemote " + keys.client.first + "\n")
              .c_str(),
          0600);
}

// A DEALER on `endpoint` as a CURVE client with `client` keys (or as a PLAIN one).
zmq::socket_t dealer(zmq::context_t& ctx, const std::string& endpoint, const std::string& server,
                     const std::pair<std::string, std::string>* client) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  if (client != nullptr) {
    s.set(zmq::sockopt::curve_serverkey, server);
    s.set(zmq::sockopt::curve_publickey, client->first);
    s.set(zmq::sockopt::curve_secretkey, client->second);
  } else {
    s.set(zmq::sockopt::plain_username, "admin");
    s.set(zmq::sockopt::plain_password, "a-guess");
  }
  s.connect(endpoint);
  return s;
}

// Publishes with CONFIRM and returns the ack, or nullopt when none comes in `wait`.
std::optional<wire::Ack> publish(zmq::socket_t& s, const std::string& topic,
                                 std::chrono::milliseconds wait) {
  std::string header;
  wire::encode(wire::PublishHeader{wire::kFlagConfirm, 1, "application/json"}, header);
  s.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  s.send(zmq::buffer(header), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  s.send(zmq::str_buffer("{}"), zmq::send_flags::dontwait);
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, wait) == 0) return std::nullopt;
  std::vector<zmq::message_t> reply;
  (void)zmq::recv_multipart(s, std::back_inserter(reply));
  return reply.empty() ? std::nullopt : wire::decode_ack(reply[0].to_string_view());
}

std::string tcp_endpoint(ChildProcess& hubd, const std::string& what) {
  const auto line = hubd.wait_stderr(what + " also on ");
  REQUIRE(line);
  const size_t at = line->find("tcp://");
  return line->substr(at, line->find(' ', at) - at);
}

}  // namespace

TEST_CASE("tcp without CURVE, or with a key file others may read, refuses to start",
          "[hubd][security][network]") {
  TempDir root;
  SECTION("no keys") {
    root.write("config/hub.yml", "network: {ingest: 'tcp://127.0.0.1:*'}\n");
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    CHECK(hubd.wait_exit() != 0);
    CHECK_THAT(hubd.stderr_text(), Catch::Contains("CURVE only"));
  }
  SECTION("a secret key readable by others") {
    serve_on_tcp(root, Keys{}, 0644);
    ChildProcess hubd(HUBD_PATH, {"--root", root.path()});
    CHECK(hubd.wait_exit() != 0);
    CHECK_THAT(hubd.stderr_text(), Catch::Contains("chmod 600"));
  }
}

TEST_CASE("over tcp, a known CURVE key publishes as its identity, and nothing else gets in",
          "[hubd][security][network]") {
  TempDir root;
  const Keys keys;
  serve_on_tcp(root, keys);
  RunningHub hub(root);
  const std::string ingest = tcp_endpoint(hub.process(), "bus: ingest");
  const std::string api = tcp_endpoint(hub.process(), "api:");
  auto sub = hub.subscribe({"Remote/+", "Other/+"});
  zmq::context_t ctx(1);

  auto known = dealer(ctx, ingest, keys.server.first, &keys.client);
  auto ack = publish(known, "Remote/hello", std::chrono::seconds(10));
  REQUIRE(ack);
  CHECK(ack->status == wire::AckStatus::kAccepted);
  auto hello = next_on(sub, "Remote/hello");
  REQUIRE(hello);
  CHECK(hello->source == "Remote");
  ack = publish(known, "Other/alarm", std::chrono::seconds(10));  // ownership, as over ipc
  REQUIRE(ack);
  CHECK(ack->status == wire::AckStatus::kForbidden);

  const auto stranger_keys = curve_keypair();
  auto stranger = dealer(ctx, ingest, keys.server.first, &stranger_keys);
  CHECK_FALSE(publish(stranger, "Remote/stranger", std::chrono::milliseconds(500)));
  auto plain = dealer(ctx, ingest, keys.server.first, nullptr);
  CHECK_FALSE(publish(plain, "Remote/plain", std::chrono::milliseconds(500)));
  // The API on tcp: the same key is the same identity there.
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.set(zmq::sockopt::curve_serverkey, keys.server.first);
  req.set(zmq::sockopt::curve_publickey, keys.client.first);
  req.set(zmq::sockopt::curve_secretkey, keys.client.second);
  req.connect(api);
  req.send(zmq::str_buffer(R"({"method":"reload"})"), zmq::send_flags::none);
  zmq::message_t answer;
  zmq::pollitem_t item{req.handle(), 0, ZMQ_POLLIN, 0};
  REQUIRE(zmq::poll(&item, 1, std::chrono::seconds(10)) == 1);
  (void)req.recv(answer);
  CHECK_THAT(answer.to_string(), Catch::Contains("\"forbidden\""));

  ack = publish(known, "Remote/marker", std::chrono::seconds(10));
  REQUIRE(ack);
  auto next = sub.next(std::chrono::seconds(10));
  REQUIRE(next);
  CHECK(next->topic() == "Remote/marker");  // nothing from the stranger or the PLAIN peer
  ChildProcess inspect(HUBCTL_PATH, {"--root", root.path(), "inspect", "--json"});
  REQUIRE(inspect.wait_exit() == 0);
  CHECK_THAT(inspect.stdout_lines().at(0), !Catch::Contains("\"auth_failures\":0,"));
}
