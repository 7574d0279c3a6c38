// journal_bench: how fast the journal takes and gives back events of 100 B (a real
// event header each), in one run: append with each durability, then a full replay with
// JournalReader from the first sequence number, and one from the middle.
//   build/tests/bench/journal_bench [--events N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <thread>

#include "bus/broker.h"
#include "bus/journal.h"
#include "bus/publisher.h"
#include "bus/replay_client.h"
#include "bus/wire.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string header_for(uint64_t seq) {
  hub::wire::EventHeader h;
  h.seq = seq;
  h.time_ns = hub::wire::now_ns();
  h.source = "Bench";
  h.content_type = "application/json";
  std::string out;
  hub::wire::encode(h, out);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 1'000'000;
  if (argc == 3 && std::string(argv[1]) == "--events") events = std::strtoull(argv[2], nullptr, 10);
  char pattern[] = "/tmp/hubjournal.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const fs::path dir = pattern;
  const std::string payload(100, 'x');
  std::printf("journal_bench: %llu events of 100 B payload (+ topic and event header)\n",
              static_cast<unsigned long long>(events));
  std::printf("reproduce: build/tests/bench/journal_bench [--events N]\n\n");

  for (const auto& [name, durability] :
       {std::pair{"none", hub::Durability::kNone}, {"batch", hub::Durability::kBatch}}) {
    fs::remove_all(dir / "journal");
    hub::JournalOptions o;
    o.dir = dir / "journal";
    o.durability = durability;
    hub::JournalRecovery recovery;
    auto journal = hub::Journal::open(o, recovery);
    if (!journal) {
      std::fprintf(stderr, "%s\n", journal.error().c_str());
      return 1;
    }
    const std::string header = header_for(1);
    auto began = Clock::now();
    auto last_sync = began;
    for (uint64_t seq = 1; seq <= events; ++seq) {
      if (!(*journal)->append(seq, "Bench/tick", header, payload)) return 1;
      // As the broker does: a sync whenever the interval is up.
      if (durability == hub::Durability::kBatch && Clock::now() - last_sync >= o.sync_interval) {
        if (!(*journal)->flush(true)) return 1;
        last_sync = Clock::now();
      }
    }
    if (!(*journal)->flush(true)) return 1;
    const double append_s = seconds_since(began);
    std::printf("append, durability %-5s %10.0f events/s  (%.0f ms)\n", name,
                static_cast<double>(events) / append_s, append_s * 1000);
  }
  for (const uint64_t from : {uint64_t{1}, events / 2}) {
    auto began = Clock::now();
    hub::JournalReader reader(dir / "journal", from);
    uint64_t n = 0, bytes = 0;
    while (const hub::JournalRecord* r = reader.next()) {
      ++n;
      bytes += r->payload.size();
    }
    const double s = seconds_since(began);
    std::printf(
        "replay from %-9llu     %10.0f events/s  (%llu events, %.0f ms; target >= 1,000,000/s)\n",
        static_cast<unsigned long long>(from), static_cast<double>(n) / s,
        static_cast<unsigned long long>(n), s * 1000);
    if (bytes != n * payload.size()) return 1;
  }
  // Finding a place: a gap recovery reads a few events from a recent seq. The reader
  // bisects the segment, against scanning it from its start (the baseline, in this run).
  {
    std::mt19937_64 random(1);
    constexpr int kSeeks = 20;
    double seek_s = 0, scan_s = 0;
    for (int i = 0; i < kSeeks; ++i) {
      const uint64_t from = 1 + random() % events;
      auto began = Clock::now();
      hub::JournalReader reader(dir / "journal", from);
      const hub::JournalRecord* r = reader.next();
      seek_s += seconds_since(began);
      if (r == nullptr || r->seq != from) return 1;
      began = Clock::now();
      hub::JournalReader scan(dir / "journal", 1);
      while ((r = scan.next()) != nullptr && r->seq < from) {
      }
      scan_s += seconds_since(began);
      if (r == nullptr || r->seq != from) return 1;
    }
    std::printf("first event at a random seq: %.3f ms (scanning the segment: %.1f ms, %.0fx)\n",
                seek_s * 1000 / kSeeks, scan_s * 1000 / kSeeks, scan_s / seek_s);
  }
  // Through the broker's replay socket, as a client (bus-tap --from) gets it.
  {
    fs::remove_all(dir / "journal");
    hub::JournalOptions o;
    o.dir = dir / "journal";
    o.durability = hub::Durability::kNone;
    hub::JournalRecovery recovery;
    auto journal = hub::Journal::open(o, recovery);
    if (!journal) return 1;
    hub::CredentialStore credentials;
    const hub::Credential admin{"admin", "bench-secret"};
    credentials.add(admin);
    zmq::context_t server(1), client(1);
    hub::BrokerOptions b;
    b.ingest_endpoint = "ipc://" + (dir / "in.sock").string();
    b.events_endpoint = "ipc://" + (dir / "ev.sock").string();
    b.replay_endpoint = "ipc://" + (dir / "re.sock").string();
    b.journal = journal->get();
    auto broker = hub::Broker::bind(server, b, credentials);
    if (!broker) return 1;
    std::thread thread([&] { (*broker)->run(); });
    {
      auto pub = hub::Publisher::connect(client, b.ingest_endpoint, admin);
      if (!pub) return 1;
      for (uint64_t i = 0; i < events; ++i) {
        if (!pub->publish("Bench/tick", payload)) return 1;
      }
      if (!pub->publish_confirmed("Bench/end", "{}", std::chrono::seconds(60))) return 1;
    }
    hub::ReplayRequest request;
    request.endpoint = b.replay_endpoint;
    uint64_t n = 0;
    const auto began = Clock::now();
    auto done = hub::replay(client, admin, request, [&](const hub::Event&) {
      ++n;
      return true;
    });
    const double s = seconds_since(began);
    if (!done) {
      std::fprintf(stderr, "%s\n", done.error().c_str());
      return 1;
    }
    std::printf(
        "replay via the broker   %10.0f events/s  (%llu events, %.0f ms; target >= 1,000,000/s)\n",
        static_cast<double>(n) / s, static_cast<unsigned long long>(n), s * 1000);
    (*broker)->stop();
    thread.join();
  }
  fs::remove_all(dir);
  return 0;
}
