// Subscribe permissions, reviewed: a refused subscription's ban, and what it may not
// outlive.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bus/bus_paths.h"
#include "bus/publisher.h"
#include "bus/root_layout.h"
#include "bus/zap_handler.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;

// Defect: a peer ban (a refused live subscription) is kept by address and identity for as
// long as hubd runs: a new credential of that identity from the same address (the
// instance restarted and its pid was reused) is refused too.
TEST_CASE("review: a peer ban does not outlive the credential it was earned with",
          "[review][permissions][zap]") {
  zmq::context_t ctx(1);
  CredentialStore store;
  store.add(Credential{"Foo", "old-secret"});
  ZapHandler zap(ctx, store);
  zmq::socket_t client(ctx, zmq::socket_type::req);
  client.set(zmq::sockopt::linger, 0);
  client.connect("inproc://zeromq.zap.01");
  const auto ask = [&](const std::string& secret) {
    const std::vector<std::string> request = {"1.0", "1",     kZapDomain, ":1000:1000:4242",
                                              "",    "PLAIN", "Foo",      secret};
    for (size_t i = 0; i < request.size(); ++i) {
      client.send(zmq::buffer(request[i]),
                  i + 1 < request.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    zmq::pollitem_t item{zap.socket().handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(5000));
    zap.serve_pending();
    std::vector<zmq::message_t> reply;
    REQUIRE(zmq::recv_multipart(client, std::back_inserter(reply)));
    return reply.at(2).to_string();
  };
  CHECK(ask("old-secret") == "200");
  zap.ban_peer(":1000:1000:4242", "Foo", *store.verify("Foo", "old-secret"));
  CHECK(ask("old-secret") == "400");
  store.add(Credential{"Foo", "new-secret"});  // the instance restarted
  CHECK(ask("new-secret") == "200");
}
