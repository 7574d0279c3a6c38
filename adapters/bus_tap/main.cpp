// bus-tap: tails the bus the way `mosquitto_sub -v -t '#'` tails a broker.
#include <getopt.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus_paths.h"
#include "bus/credentials.h"
#include "bus/replay_client.h"
#include "bus/root_layout.h"
#include "bus/subscriber.h"
#include "bus/text.h"
#include "bus/topic_filter.h"
#include "bus_tap/event_format.h"
#include "help/bus_tap_help.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTimedOut = 3;

// The text of man/bus-tap.1.md's help block: the man page shows the same.
constexpr const char* kUsage = hub::help::bus_tap::kUsage;

volatile sig_atomic_t g_interrupted = 0;
int g_wake_fd = -1;  // written by the handler so a wait in the subscriber ends at once
void on_signal(int) {
  g_interrupted = 1;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(g_wake_fd, &one, sizeof one);
}

struct TapOptions {
  std::vector<std::string> patterns;
  std::vector<std::string> excluded;  // -T: topics matching these are not printed
  std::optional<long> count;
  std::optional<double> timeout_seconds;
  bool json = false;
  bool pretty = false;
  std::optional<std::string> format;  // -F
  bool end_of_line = true;            // -N clears it
  bool retained = true;
  bool retained_only = false;
  std::filesystem::path root;
  std::filesystem::path credential;
  uint64_t from = 0;  // --from, 0: none
  uint64_t last = 0;  // --last, 0: none
  bool follow = false;
};

bool parse_number(const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end != text && *end == '\0' && out >= 0;
}

// Long options without a short one.
enum LongOnly { kFrom = 256, kLast, kRetainedOnly, kPretty };

// Returns nullopt after printing why the command line is wrong.
std::optional<TapOptions> parse_options(int argc, char** argv) {
  const option long_options[] = {{"topic", required_argument, nullptr, 't'},
                                 {"filter-out", required_argument, nullptr, 'T'},
                                 {"count", required_argument, nullptr, 'C'},
                                 {"timeout", required_argument, nullptr, 'W'},
                                 {"json", no_argument, nullptr, 'j'},
                                 {"pretty", no_argument, nullptr, kPretty},
                                 {"format", required_argument, nullptr, 'F'},
                                 {"no-eol", no_argument, nullptr, 'N'},
                                 {"verbose", no_argument, nullptr, 'v'},
                                 {"no-retained", no_argument, nullptr, 'R'},
                                 {"retained-only", no_argument, nullptr, kRetainedOnly},
                                 {"root", required_argument, nullptr, 'r'},
                                 {"credential", required_argument, nullptr, 'c'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {"from", required_argument, nullptr, kFrom},
                                 {"last", required_argument, nullptr, kLast},
                                 {"follow", no_argument, nullptr, 'f'},
                                 {"version", no_argument, nullptr, 'V'},
                                 {nullptr, 0, nullptr, 0}};
  TapOptions o;
  // o.root empty: the hub find_hub_layout() finds.
  double number = 0;
  for (int c;
       (c = getopt_long(argc, argv, "t:T:C:W:jF:NvRr:c:hfV", long_options, nullptr)) != -1;) {
    switch (c) {
      case 't':
        o.patterns.emplace_back(optarg);
        break;
      case 'T':
        if (const auto problem = hub::pattern_problem(optarg)) {
          std::cerr << "bus-tap: -T " << optarg << ": " << *problem << "\n";
          return std::nullopt;
        }
        o.excluded.emplace_back(optarg);
        break;
      case 'C':
        if (!parse_number(optarg, number) || number < 1 || number != static_cast<long>(number)) {
          std::cerr << "bus-tap: -C expects a whole number of events, at least 1\n";
          return std::nullopt;
        }
        o.count = static_cast<long>(number);
        break;
      case 'W':
        if (!parse_number(optarg, number)) {
          std::cerr << "bus-tap: -W expects a number of seconds\n";
          return std::nullopt;
        }
        o.timeout_seconds = number;
        break;
      case 'j':
        o.json = true;
        break;
      case kPretty:
        o.pretty = true;
        break;
      case 'F':
        if (const auto problem = hub::event_format_problem(optarg)) {
          std::cerr << "bus-tap: -F: " << *problem << "\n";
          return std::nullopt;
        }
        o.format = optarg;
        break;
      case 'N':
        o.end_of_line = false;
        break;
      case 'v':  // mosquitto_sub's "print the topic": bus-tap always does
        break;
      case 'R':
        o.retained = false;
        break;
      case kRetainedOnly:
        o.retained_only = true;
        break;
      case 'r':
        o.root = optarg;
        break;
      case 'c':
        o.credential = optarg;
        break;
      case kFrom:
      case kLast:
        if (!parse_number(optarg, number) || number < 1 ||
            number != static_cast<double>(static_cast<uint64_t>(number))) {
          std::cerr << "bus-tap: --" << (c == kFrom ? "from" : "last")
                    << " expects a whole number, at least 1\n";
          return std::nullopt;
        }
        (c == kFrom ? o.from : o.last) = static_cast<uint64_t>(number);
        break;
      case 'f':
        o.follow = true;
        break;
      case 'h':
        std::cout << kUsage;
        std::exit(kExitOk);
      case 'V':
        std::cout << "bus-tap " << HUB_VERSION << "\n";
        std::exit(kExitOk);
      default:
        std::cerr << kUsage;
        return std::nullopt;
    }
  }
  for (int i = optind; i < argc; ++i) o.patterns.emplace_back(argv[i]);
  const auto refuse = [](const char* why) {
    std::cerr << "bus-tap: " << why << "\n";
    return std::nullopt;
  };
  if (o.from > 0 && o.last > 0) return refuse("--from and --last exclude each other");
  if (o.follow && o.from == 0 && o.last == 0)
    return refuse("--follow goes with --from or --last (a tap follows anyway)");
  if (o.json && o.format) return refuse("-j and -F exclude each other (-F %J is -j)");
  if (o.retained_only && (!o.retained || o.from > 0 || o.last > 0))
    return refuse("--retained-only goes with none of -R, --from and --last");
  // A topic always has a level after its module's name: "Timer" alone matches nothing a
  // module publishes, and a user most likely meant its events.
  for (const auto& p : o.patterns) {
    if (p.find('/') == std::string::npos && p != "#") {
      std::cerr << "bus-tap: hint: '" << p << "' has no '/', so it matches only a topic of one "
                << "level, which no module publishes; for " << (p == "+" ? "everything" : p)
                << "'s events try '" << p << "/#'\n";
    }
  }
  return o;
}

hub::Event copy_of(const hub::Event& e) {
  hub::Event copy;
  copy.topic_frame = zmq::message_t(e.topic().data(), e.topic().size());
  copy.payload_frame = zmq::message_t(e.payload().data(), e.payload().size());
  copy.seq = e.seq;
  copy.time_ns = e.time_ns;
  copy.flags = e.flags;
  copy.module_prev = e.module_prev;
  copy.source = e.source;
  copy.content_type = e.content_type;
  return copy;
}

// The newest `n` events of `request`'s range that `keep` lets through, oldest first, read
// from the journal in windows that double until they hold n (or reach its start). Gaps
// met within the events returned are told to `on_gap`; `end` is the range's last seq.
hub::Result<std::vector<hub::Event>> last_matching(
    zmq::context_t& ctx, const hub::Credential& credential, hub::ReplayRequest request, uint64_t n,
    uint64_t end, const std::function<bool(const hub::Event&)>& keep,
    const std::function<void(const hub::ReplayGap&)>& on_gap) {
  std::deque<hub::Event> newest;
  std::vector<hub::ReplayGap> gaps;
  request.to = end;
  request.on_gap = [&](const hub::ReplayGap& gap) { gaps.push_back(gap); };
  for (uint64_t window = std::max<uint64_t>(n, 64);; window *= 2) {
    newest.clear();
    gaps.clear();
    request.from = end > window ? end - window + 1 : 1;
    auto done = hub::replay(ctx, credential, request, [&](const hub::Event& e) {
      if (!keep(e)) return true;
      newest.push_back(copy_of(e));
      if (newest.size() > n) newest.pop_front();
      return !g_interrupted;
    });
    if (!done) return done.status();
    if (newest.size() >= n || request.from == 1 || g_interrupted) break;
  }
  const uint64_t first = newest.empty() ? end + 1 : newest.front().seq;
  for (const auto& gap : gaps) {
    if (gap.last >= first) on_gap(gap);
  }
  return std::vector<hub::Event>(std::make_move_iterator(newest.begin()),
                                 std::make_move_iterator(newest.end()));
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_options(argc, argv);
  if (!options) return kExitUsage;

  g_wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: the wait returns and we stop
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const auto layout = hub::find_hub_layout(options->root);
  if (!layout) {
    std::cerr << "bus-tap: " << layout.error() << "\n";
    return kExitFailure;
  }
  const hub::BusPaths paths = layout->bus();
  const auto credential = hub::read_credential_file(
      options->credential.empty() ? hub::default_credential_file(paths) : options->credential);
  if (!credential) {
    std::cerr << "bus-tap: " << credential.error() << "\n(is a hub running on "
              << layout->root().string() << ", its sockets in " << paths.run_dir.string()
              << "? pass --root DIR or set HUB_ROOT)\n";
    return kExitFailure;
  }

  const bool history = options->from > 0 || options->last > 0;
  auto excluded = hub::TopicFilter::parse(options->excluded);
  const auto shown_topic = [&](const hub::Event& event) {
    return options->excluded.empty() || !excluded->matches(event.topic());
  };
  long printed = 0;
  const auto print = [&](const hub::Event& event) {
    std::string line;
    if (options->format) {
      line = hub::format_event(*options->format, event, options->pretty);
    } else if (options->json) {
      line = hub::format_event_json(event);
      if (options->pretty) line = hub::pretty_json(line);
    } else {
      line = hub::format_event_line(event);
    }
    if (options->end_of_line) line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    ++printed;
    return std::fflush(stdout) == 0;  // false: the reader went away
  };

  hub::SubscriberOptions sub_options;
  sub_options.events_endpoint = hub::ipc_endpoint(paths.events_socket);
  sub_options.replay_endpoint = hub::ipc_endpoint(paths.replay_socket);
  sub_options.patterns = options->patterns;
  sub_options.retained = options->retained && !history;
  sub_options.wake_fd = g_wake_fd;
  // Following everything, a tap that falls behind gets what it missed from the journal.
  sub_options.recover = true;
  sub_options.on_gap = [](uint64_t first, uint64_t last) {
    std::fprintf(stderr, "bus-tap: events %llu..%llu are lost (not in the journal)\n",
                 static_cast<unsigned long long>(first), static_cast<unsigned long long>(last));
  };
  zmq::context_t ctx(1);
  // With --follow, the live subscription is made first, so nothing published while the
  // history is read goes missing; live events the history already showed are skipped.
  std::optional<hub::Subscriber> subscriber;
  if (!history || options->follow) {
    auto opened = hub::Subscriber::open(ctx, *credential, std::move(sub_options));
    if (!opened) {
      std::cerr << "bus-tap: " << opened.error() << "\n";
      return kExitFailure;
    }
    subscriber.emplace(std::move(*opened));
  }
  if (options->retained_only) {  // the snapshot, held already: what predates the join
    while (!g_interrupted && (!options->count || printed < *options->count)) {
      auto event = subscriber->next(std::chrono::milliseconds(0));
      if (!event || event->seq > subscriber->joined_at()) break;
      if (shown_topic(*event) && !print(*event)) return kExitFailure;
    }
    return kExitOk;
  }
  uint64_t shown = 0;  // the newest seq printed from the journal
  if (history) {
    hub::ReplayRequest request;
    request.endpoint = hub::ipc_endpoint(paths.replay_socket);
    request.patterns = options->patterns;
    // Every number the journal lacks is said where it falls, so nothing vanishes unseen.
    request.on_gap = [](const hub::ReplayGap& gap) {
      std::string why;
      hub::append_printable(why, gap.why);
      std::fflush(stdout);
      std::fprintf(stderr, "bus-tap: events %llu..%llu are missing from the journal: %s\n",
                   static_cast<unsigned long long>(gap.first),
                   static_cast<unsigned long long>(gap.last), why.c_str());
    };
    if (hub::Status up = hub::probe_endpoint(request.endpoint); !up) {
      std::cerr << "bus-tap: " << up.message() << "\n";
      return kExitFailure;
    }
    bool reader_gone = false;
    if (options->last > 0) {  // the last N matching events, up to where the journal ends now
      auto probe = request;
      probe.from = std::numeric_limits<uint64_t>::max() / 2;
      auto end = hub::replay(ctx, *credential, probe, [](const hub::Event&) { return true; });
      if (!end) {
        std::cerr << "bus-tap: " << end.error() << "\n";
        return kExitFailure;
      }
      shown = end->last_seq;
      auto newest = last_matching(ctx, *credential, request, options->last, end->last_seq,
                                  shown_topic, request.on_gap);
      if (!newest) {
        std::cerr << "bus-tap: " << newest.error() << "\n";
        return kExitFailure;
      }
      for (const auto& e : *newest) {
        if (options->count && printed >= *options->count) break;
        if (!print(e)) return kExitFailure;
      }
    } else {
      request.from = options->from;
      auto done = hub::replay(ctx, *credential, request, [&](const hub::Event& e) {
        shown = e.seq;
        if (options->count && printed >= *options->count) return false;
        if (!shown_topic(e)) return true;
        reader_gone = !print(e);
        return !reader_gone && !g_interrupted;
      });
      if (reader_gone) return kExitFailure;
      if (!done) {
        std::cerr << "bus-tap: " << done.error() << "\n";
        return kExitFailure;
      }
    }
    if (!options->follow) return kExitOk;
  }

  using Clock = std::chrono::steady_clock;
  const auto deadline =
      options->timeout_seconds
          ? std::optional(Clock::now() +
                          std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(*options->timeout_seconds)))
          : std::nullopt;
  while (!g_interrupted && (!options->count || printed < *options->count)) {
    auto wait = std::chrono::milliseconds(-1);
    if (deadline) {
      if (Clock::now() >= *deadline) break;
      wait = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()) +
             std::chrono::milliseconds(1);
    }
    auto event = subscriber->next(wait);
    if (!event || event->seq <= shown) continue;  // shown already from the journal
    if (!shown_topic(*event)) continue;
    if (!print(*event)) return kExitFailure;  // the reader went away
  }
  if (options->count && printed < *options->count && !g_interrupted) return kExitTimedOut;
  return kExitOk;
}
