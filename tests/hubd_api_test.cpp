// The Hub API's replies on the wire, byte for byte, from a real hubd: the envelope and the
// code of each kind of error (docs/API.md), whatever the code that builds them.
#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;

namespace {

// Sends `request` as it is (no deadline added) on a DEALER, as the administrator, and
// returns the reply's text.
std::string raw_call(zmq::context_t& ctx, const TempDir& root, const std::string& request) {
  zmq::socket_t socket(ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, 20000);
  set_plain_credential(socket, admin_credential(root));
  socket.connect(ipc_endpoint(BusPaths::for_root(root.path()).api_socket));
  (void)socket.send(zmq::message_t(), zmq::send_flags::sndmore);
  (void)socket.send(zmq::buffer(request), zmq::send_flags::none);
  zmq::message_t part;
  do {
    REQUIRE(socket.recv(part, zmq::recv_flags::none));
  } while (part.size() == 0 && part.more());  // the delimiter
  return part.to_string();
}

}  // namespace

TEST_CASE("the API's replies keep their documented shape and codes", "[hubd][api]") {
  TempDir root;
  RunningHub hub(root);
  zmq::context_t ctx(1);
  const auto error = [](const char* code, const std::string& message) {
    return R"({"ok":false,"error":{"code":")" + std::string(code) + R"(","message":")" + message +
           "\"}}";
  };
  CHECK(raw_call(ctx, root, R"({"method":"nope"})") ==
        error("unknown_method",
              "unknown method 'nope' (expected inspect, reload, start, stop, restart, port, "
              "report, enable, disable, signal or render)"));
  CHECK(raw_call(ctx, root, R"({"method":"start","name":"Nope"})") ==
        error("not_found", "no loaded module Nope"));
  CHECK(raw_call(ctx, root, R"({"method":"stop","instance":"Nope.x"})") ==
        error("not_found", "no dynamic instance Nope.x"));
  CHECK(raw_call(ctx, root, R"({"method":"start"})") ==
        error("bad_request", R"(expected \"name\": the module to start)"));
  CHECK(raw_call(ctx, root, "not json") ==
        error("bad_request", R"(expected a JSON object with a \"method\" string)"));
  CHECK(raw_call(ctx, root, R"({"method":"inspect","deadline_ms":1})") ==
        error("timeout", "the request waited past its deadline and was not carried out"));
  CHECK(raw_call(ctx, root, R"({"method":"report","stats":{}})") ==
        error("forbidden", "only a service instance reports stats, not admin"));
  // Every field is checked (docs/API.md): a wrong type or an unknown field names it.
  CHECK(raw_call(ctx, root, R"({"method":"start","name":5})") ==
        error("bad_request", R"(field \"name\" must be a string, not the number 5)"));
  CHECK(raw_call(ctx, root, R"({"method":"inspect","deadline_ms":"soon"})") ==
        error("bad_request", R"(field \"deadline_ms\" must be a whole number, not a string)"));
  CHECK(raw_call(ctx, root, R"({"method":"stop","name":"Nope","force":true})") ==
        error("bad_request",
              R"(stop takes no field \"force\" (it takes \"name\", \"instance\", \"all\"))"));
  CHECK(raw_call(ctx, root, R"({"method":"signal","signal":"HUP","name":"Nope"})") ==
        error("not_found", "no module or instance Nope"));
  CHECK(raw_call(ctx, root, R"({"method":"signal","signal":"NOPE","name":"Nope"})") ==
        error("bad_request", R"(field \"signal\" must name a signal (HUP, TERM, USR1, ... or its )"
                             "number, 1 to 64), not 'NOPE'"));
  CHECK(raw_call(ctx, root, R"({"method":"signal","signal":"HUP"})") ==
        error("bad_request",
              R"(expected \"name\" (or \"instance\", or \"all\": true): whom to signal)"));
  CHECK(raw_call(ctx, root, R"({"method":"signal","signal":"HUP","all":true})") ==
        R"({"ok":true,"result":{"signal":"SIGHUP","signalled":[]}})");
  CHECK(raw_call(ctx, root, R"({"method":"reload","dry_run":true})") ==
        R"({"ok":true,"result":{"dry_run":true,"added":[],"removed":[],"changed":[],)"
        R"("unchanged":[],"kept":[],"rejected":[],"reasons":{}}})");
  CHECK_THAT(raw_call(ctx, root, R"({"method":"port"})"),
             Catch::StartsWith(R"({"ok":true,"result":{"port":)"));
}
