// The numbers behind /metrics that hubd keeps: the script histograms' buckets, the
// journal's usage on disk, and an owner's script queue seen by inspect while it waits.
#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "core/scripts/script_stats.h"
#include "support/running_hub.h"

using namespace hub;
using namespace hub::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_CASE("script histograms: each run in the first bucket that holds it, cumulative in JSON",
          "[metrics]") {
  DurationHistogram h;
  h.observe(1ms);     // on a bound: that bucket
  h.observe(1001us);  // just past: the next
  h.observe(-5ms);    // a clock stepped back: 0
  h.observe(61s);     // past the last bound: +Inf only
  const YAML::Node j = YAML::Load(h.json());
  REQUIRE(j["bounds_us"].size() == kScriptSecondsBucketsUs.size());
  CHECK(j["bounds_us"][0].as<int64_t>() == 1000);
  CHECK(j["cumulative"][0].as<uint64_t>() == 2);  // 1 ms and the 0
  CHECK(j["cumulative"][1].as<uint64_t>() == 3);
  CHECK(j["cumulative"][kScriptSecondsBucketsUs.size() - 1].as<uint64_t>() == 3);
  CHECK(j["count"].as<uint64_t>() == 4);
  CHECK(j["sum_ns"].as<uint64_t>() == 1000000 + 1001000 + 61000000000ull);
}

TEST_CASE("journal_disk_usage: segments, their bytes with indexes, the oldest retained seq",
          "[metrics][journal]") {
  TempDir dir;
  CHECK(journal_disk_usage(dir.path() / "none").segments == 0);
  JournalOptions o;
  o.dir = dir.path() / "journal";
  o.segment_size = 4096;
  o.max_bytes = 3 * 4096;
  JournalRecovery recovery;
  auto opened = Journal::open(o, recovery);
  REQUIRE(opened);
  Journal& j = **opened;
  for (uint64_t seq = 1; seq <= 400; ++seq) {
    REQUIRE(j.append(seq, "Mod/ev", "hdr", std::string(100, 'x')));
  }
  REQUIRE(j.flush(true));
  const uint64_t oldest = j.enforce_retention();
  const JournalDiskUsage usage = journal_disk_usage(o.dir);
  uint64_t bytes = 0;
  size_t segments = 0;
  for (const auto& entry : fs::directory_iterator(o.dir)) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".seg") ++segments;
    if (ext == ".seg" || ext == ".idx") bytes += fs::file_size(entry.path());
  }
  CHECK(segments > 1);
  CHECK(usage.segments == segments);
  CHECK(usage.bytes == bytes);
  CHECK(oldest > 1);  // retention took the oldest segments
  CHECK(usage.first_seq == oldest);
}

TEST_CASE("inspect shows an owner's script queue while its script runs, and its runs after",
          "[metrics][hubd]") {
  TempDir root;
  // Each run waits for the test's go-ahead (a file), so the next events queue meanwhile.
  add_script(root, "events/Slow/go/10-wait",
             "while [ ! -e release ]; do sleep 0.01; done\nexit 0\n");
  RunningHub hub(root);
  auto sub = hub.subscribe({"Hub/scripts-done"});
  zmq::context_t ctx(1);
  auto pub = Publisher::connect(ctx, ipc_endpoint(BusPaths::for_root(root.path()).ingest_socket),
                                admin_credential(root));
  REQUIRE(pub);
  for (int i = 0; i < 3; ++i) REQUIRE(pub->publish_confirmed("Slow/go", "{}", 5s));
  pub->close();

  zmq::socket_t api(ctx, zmq::socket_type::dealer);
  api.set(zmq::sockopt::linger, 0);
  api.set(zmq::sockopt::rcvtimeo, 20000);
  set_plain_credential(api, admin_credential(root));
  api.connect(ipc_endpoint(BusPaths::for_root(root.path()).api_socket));
  const auto site_owner = [&] {
    (void)api.send(zmq::message_t(), zmq::send_flags::sndmore);
    (void)api.send(zmq::str_buffer(R"({"method":"inspect"})"), zmq::send_flags::none);
    zmq::message_t part;
    do {
      REQUIRE(api.recv(part, zmq::recv_flags::none));
    } while (part.size() == 0 && part.more());
    const YAML::Node owners = YAML::Load(part.to_string())["result"]["scripts"]["owners"];
    REQUIRE(owners.IsSequence());
    for (const auto& o : owners) {
      if (o["owner"].as<std::string>() == "site") return YAML::Clone(o);
    }
    FAIL("no site owner in inspect's scripts");
    return YAML::Node();
  };
  // The first run holds the owner; the two other events wait in its queue.
  YAML::Node site;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    site = site_owner();
  } while (!(site["running"].as<bool>() && site["queued"].as<int>() == 2) &&
           std::chrono::steady_clock::now() < deadline);
  CHECK(site["running"].as<bool>());
  CHECK(site["queued"].as<int>() == 2);
  CHECK(site["runs"].as<int>() == 0);

  root.write("release", "");
  for (int i = 0; i < 3; ++i) REQUIRE(next_on(sub, "Hub/scripts-done"));
  site = site_owner();
  CHECK(site["queued"].as<int>() == 0);
  CHECK(site["runs"].as<int>() == 3);
  CHECK(site["failures"].as<int>() == 0);
}
