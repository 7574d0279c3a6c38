// rebuild_bench: what rebuilding the retained events from the journal costs hubd's start.
// Writes N events into JOURNAL_DIR (a fresh journal; 1 in 10 retained on 1000 topics of
// 10 modules, 1 in 100 a lifecycle event of the Hub's), then times rebuild_retained.
// Point JOURNAL_DIR at ROOT/var/db/hub/journal to time a real hubd start on it after.
//   build/tests/bench/rebuild_bench JOURNAL_DIR [--events N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bus/credentials.h"
#include "bus/journal.h"
#include "bus/retained_rebuild.h"
#include "bus/wire.h"

namespace {

std::string header_for(uint64_t seq, bool retain, std::string_view source) {
  hub::wire::EventHeader h;
  h.flags = retain ? hub::wire::kFlagRetain : 0;
  h.seq = seq;
  h.time_ns = hub::wire::now_ns();
  h.source = std::string(source);
  h.content_type = "application/json";
  std::string out;
  hub::wire::encode(h, out);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: rebuild_bench JOURNAL_DIR [--events N]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  uint64_t events = 1'000'000;
  if (argc == 4 && std::string(argv[2]) == "--events") events = std::strtoull(argv[3], nullptr, 10);
  std::filesystem::remove_all(dir);
  {
    hub::JournalOptions o;
    o.dir = dir;
    o.durability = hub::Durability::kNone;
    hub::JournalRecovery recovery;
    auto journal = hub::Journal::open(o, recovery);
    if (!journal) {
      std::fprintf(stderr, "%s\n", journal.error().c_str());
      return 1;
    }
    const std::string payload(100, 'x');
    for (uint64_t seq = 1; seq <= events; ++seq) {
      std::string topic, body = payload, header;
      if (seq % 100 == 0) {
        const std::string m = "M" + std::to_string(seq / 100 % 10);
        topic = m + (seq % 200 == 0 ? "/started" : "/stopped");
        body =
            R"({"name":")" + m + R"(","instance":")" + m + ".i" + std::to_string(seq % 300) + "\"}";
        header = header_for(seq, true, hub::kHubIdentity);
      } else if (seq % 10 == 0) {
        topic = "M" + std::to_string(seq % 10) + "/t" + std::to_string(seq % 1000);
        header = header_for(seq, true, "M" + std::to_string(seq % 10));
      } else {
        topic = "M" + std::to_string(seq % 10) + "/tick";
        header = header_for(seq, false, "M" + std::to_string(seq % 10));
      }
      if (!(*journal)->append(seq, topic, header, body)) return 1;
    }
    if (!(*journal)->flush(true)) return 1;
  }
  hub::RetainedStore store(hub::RetainedLimits{});
  const auto began = std::chrono::steady_clock::now();
  const hub::RetainedRebuild done = hub::rebuild_retained(dir, store);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  std::printf("rebuild_retained: %llu events read, %llu retained, %zu kept: %.0f ms\n",
              static_cast<unsigned long long>(done.events_read),
              static_cast<unsigned long long>(done.retained), store.size(), ms);
  return 0;
}
