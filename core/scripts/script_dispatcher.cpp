#include "core/scripts/script_dispatcher.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "bus/consumer_mark.h"
#include "bus/root_layout.h"
#include "bus/text.h"
#include "bus/topic_owner.h"
#include "core/modules/module_environment.h"
#include "core/scripts/script_index.h"
#include "core/scripts/script_runner.h"
#include "core/scripts/script_stats.h"
#include "core/system/accounts.h"
#include "core/system/signal_name.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxFieldValue = 64 * 1024;
// The payload's share of a script's environment: far below ARG_MAX (2 MiB with the usual
// 8 MiB stack), which the environment shares with the arguments and the module's variables.
constexpr size_t kMaxFieldBytes = 256 * 1024;
constexpr size_t kMaxFields = 1000;
constexpr int kMaxRunningFactor = 4;  // all runs, long ones too: at most this x parallel
constexpr size_t kBatch = 256;        // events taken from the bus per lock
constexpr std::chrono::milliseconds kMarkEvery{200};  // a lagging mark is looked at this often
constexpr size_t kStderrInEvent = 4 * 1024;
constexpr std::string_view kFailedTopic = "Hub/script-failed";
constexpr std::string_view kDoneTopic = "Hub/scripts-done";
constexpr std::string_view kSkippedTopic = "Hub/scripts-skipped";
// The variables the dispatcher sets itself: never taken from a payload, set or not.
constexpr std::string_view kFixedNames[] = {
    "HUB_EVENT_TOPIC",           "HUB_EVENT_SEQ",          "HUB_EVENT_TIME",
    "HUB_EVENT_SOURCE",          "HUB_EVENT_CONTENT_TYPE", "HUB_EVENT_REPLAYED",
    "HUB_EVENT_FIELDS_TRUNCATED"};

// The topics of the dispatcher's own reports: runs for them report nothing, so a script
// that fails on a report cannot feed a loop.
bool is_report(std::string_view topic) {
  return topic == kFailedTopic || topic == kDoneTopic || topic == kSkippedTopic;
}

// One bus event on its way to the owners that have scripts for it.
struct Dispatch {
  std::string topic, payload, source;
  uint64_t seq = 0, time_ns = 0;
  std::vector<std::pair<std::string, std::string>> env;  // HUB_EVENT_*
  std::atomic<int> owners_left{0};
  std::atomic<int> runs{0}, failures{0};
};

// Who an owner is. Replaced as a whole (under Impl::mu) when a reload changes it; a
// worker keeps the copy it started with.
struct OwnerInfo {
  ScriptOwner owner;
  std::shared_ptr<const Module> module;  // null for the site
  fs::path log_file;
};

// Events from an owner's own scripts that trigger that owner's scripts again, on one
// topic, counted over one window of bus time.
struct Feedback {
  uint64_t window_start_ns = 0;
  uint64_t count = 0;       // in this window
  uint64_t suppressed = 0;  // in this window
};

// One owner's scripts: at most one event at a time, in bus order.
struct OwnerQueue {
  OwnerQueue() : cancel_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~OwnerQueue() {
    if (cancel_fd >= 0) ::close(cancel_fd);
  }
  OwnerQueue(const OwnerQueue&) = delete;
  OwnerQueue& operator=(const OwnerQueue&) = delete;

  std::shared_ptr<const OwnerInfo> info;          // guarded by Impl::mu
  std::deque<std::shared_ptr<Dispatch>> waiting;  // guarded by Impl::mu
  bool running = false;                           // guarded by Impl::mu
  uint64_t refused = 0;                           // guarded by Impl::mu
  // Stopped (its module was stopped or removed): nothing runs, nothing is queued.
  bool stopped = false;                      // guarded by Impl::mu
  std::string stop_reason;                   // guarded by Impl::mu
  uint64_t passed_while_stopped = 0;         // guarded by Impl::mu
  std::map<std::string, Feedback> feedback;  // by topic; guarded by Impl::mu
  ScriptOwnerCounts counts;                  // guarded by Impl::mu
  // Readable while a stop of the owner or of the dispatcher kills its running script.
  const int cancel_fd;

  std::string name() const { return info->owner.name.empty() ? "site" : info->owner.name; }
};

std::string first_lines(const std::string& text, size_t max_bytes) {
  return text.size() <= max_bytes ? text : text.substr(0, max_bytes) + "...";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> event_field_environment(std::string_view payload) {
  std::vector<std::pair<std::string, std::string>> env;
  std::set<std::string> taken(std::begin(kFixedNames), std::end(kFixedNames));
  size_t bytes = 0;
  bool truncated = false;
  for (auto& [key, value] : json_top_level_scalars(payload)) {
    if (value.size() > kMaxFieldValue || value.find('\0') != std::string::npos) continue;
    std::string name = "HUB_EVENT_";
    for (char c : key) {
      const char up = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
      name += ((up >= 'A' && up <= 'Z') || (up >= '0' && up <= '9') || up == '_') ? up : '_';
    }
    if (taken.count(name) != 0) continue;                // a fixed name, or an earlier field's
    const size_t size = name.size() + value.size() + 2;  // "NAME=VALUE\0"
    if (env.size() == kMaxFields || bytes + size > kMaxFieldBytes) {
      truncated = true;
      continue;
    }
    bytes += size;
    taken.insert(name);
    env.emplace_back(std::move(name), std::move(value));
  }
  if (truncated) env.emplace_back("HUB_EVENT_FIELDS_TRUNCATED", "1");
  return env;
}

// What is published once the lock is released: (topic, payload) for the bus.
using Reports = std::vector<std::pair<std::string, std::string>>;

// What stopping an owner took from it, to finish once the lock is released.
struct Cancelled {
  Reports reports;
  std::vector<std::shared_ptr<Dispatch>> dispatches;  // each lost one owner
};

struct ScriptDispatcher::Impl {
  DispatcherOptions options;
  HubPublish publish;
  std::unique_ptr<ScriptIndex> index;    // reader thread only
  std::optional<Subscriber> subscriber;  // reader thread only
  std::optional<ConsumerMark> mark;      // reader thread only (then stop())
  int wake_fd = -1;

  std::mutex mu;
  std::condition_variable work_ready, progress;
  // In the index's owner order; replaced (reader thread, under mu) when the modules change.
  std::vector<std::shared_ptr<OwnerQueue>> owners;
  std::deque<std::shared_ptr<OwnerQueue>> runnable;  // with waiting events and none running
  std::optional<std::vector<Module>> new_modules;    // set_modules() for the reader
  uint64_t modules_asked = 0, modules_applied = 0;
  uint64_t read_seq = 0;                // the last event taken from the bus
  uint64_t earlier_run_last = 0;        // events up to here were published before start()
  std::map<uint64_t, int> outstanding;  // seq -> owner runs not yet finished
  bool stopping = false;

  std::thread reader;
  std::vector<std::thread> workers;  // guarded by mu (grown by wake_worker, joined by stop)
  int idle_workers = 0;              // guarded by mu
  // Runs holding one of the `parallel` shared slots: started less than slot_hold ago.
  int pooled = 0;  // guarded by mu
  // Every run, long ones too: never more than kMaxRunningFactor x parallel, so a common
  // event on a busy hub cannot start a process (and a thread) per owner at once.
  int running = 0;  // guarded by mu
  // From an event's stamp to the start of a run for it (events of an earlier hubd's run,
  // resumed at start, left out: theirs is the downtime), and how long runs last.
  DurationHistogram latency, durations;  // guarded by mu

  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // Takes events from the bus in batches: one inotify refresh and one lock per batch.
  // Refreshing once per batch is enough: every event in it was published before it was
  // received, so any script change made before that publish is queued by then.
  void read_bus() {
    std::vector<Event> batch;
    for (;;) {
      batch.clear();
      // While the mark lags, look again soon (runs finish without waking this thread).
      const bool lagging = mark && mark_lags();
      auto event = subscriber->next(lagging ? kMarkEvery : std::chrono::milliseconds(-1));
      apply_new_modules();
      while (event) {
        batch.push_back(std::move(*event));
        if (batch.size() == kBatch) break;
        event = subscriber->next(std::chrono::milliseconds(0));
      }
      std::vector<std::pair<std::shared_ptr<Dispatch>, const std::vector<size_t>*>> work;
      if (!batch.empty()) index->refresh();
      for (const Event& e : batch) {
        const std::vector<size_t>* targets = index->owners_for(e.topic());
        if (targets != nullptr) work.emplace_back(make_dispatch(e), targets);
      }
      Reports reports;
      {
        std::lock_guard lock(mu);
        if (stopping) return;
        if (!batch.empty()) read_seq = batch.back().seq;
        for (const auto& [d, targets] : work) enqueue(d, *targets, reports);
        if (!batch.empty()) progress.notify_all();
      }
      for (const auto& [topic, payload] : reports) publish(topic, payload, false);
    }
  }

  // Moves the mark to the newest seq up to which every event taken in has been dispatched
  // with all its scripts finished, and saves it when due. True while it lags behind what
  // was taken in, or is not saved yet: the reader then looks again soon, as runs finish
  // without waking it.
  bool mark_lags() {
    uint64_t done = 0, read = 0;
    {
      std::lock_guard lock(mu);
      read = read_seq;
      done = outstanding.empty() ? read : std::min(read, outstanding.begin()->first - 1);
    }
    if ((done > mark->acked() || mark->unsaved()) && !mark->ack(std::max(done, mark->acked()))) {
      spdlog::error("scripts: cannot save the dispatch mark in {}", options.mark_file.string());
    }
    return done < read || mark->unsaved();
  }

  // The owners for `modules`: the site first, then each module; a module that stays keeps
  // its queue, so its waiting events still run in order. A module that goes is stopped.
  void apply_new_modules() {
    std::unique_lock lock(mu);
    if (!new_modules) return;
    const std::vector<Module> modules = std::move(*new_modules);
    new_modules.reset();
    const uint64_t version = modules_asked;
    uint64_t drained = 0;
    [[maybe_unused]] ssize_t n = ::read(wake_fd, &drained, sizeof drained);
    std::vector<std::shared_ptr<OwnerQueue>> next = {owners.front()};
    for (const auto& m : modules) {
      std::shared_ptr<OwnerQueue> q;
      for (const auto& old : owners) {
        if (old->info->module && old->info->module->name == m.name) q = old;
      }
      if (!q) q = std::make_shared<OwnerQueue>();
      q->info = std::make_shared<const OwnerInfo>(OwnerInfo{{m.name, m.dir, m.dir / "events"},
                                                            std::make_shared<const Module>(m),
                                                            options.layout.script_log(m.name)});
      next.push_back(std::move(q));
    }
    Cancelled cancelled;
    for (const auto& old : owners) {
      if (std::find(next.begin(), next.end(), old) == next.end() && !old->stopped) {
        stop_owner(*old, "module " + old->name() + " was removed", cancelled);
      }
    }
    std::vector<ScriptOwner> index_owners;
    for (const auto& q : next) index_owners.push_back(q->info->owner);
    owners = std::move(next);
    lock.unlock();
    finish_cancelled(cancelled);
    auto fresh = std::make_unique<ScriptIndex>(std::move(index_owners));  // reader thread only
    lock.lock();
    index = std::move(fresh);
    modules_applied = version;
    progress.notify_all();
  }

  std::shared_ptr<Dispatch> make_dispatch(const Event& e) const {
    auto d = std::make_shared<Dispatch>();
    d->topic = std::string(e.topic());
    d->payload = std::string(e.payload());
    d->source = e.source;
    d->seq = e.seq;
    d->time_ns = e.time_ns;
    d->env = event_field_environment(d->payload);
    d->env.emplace_back("HUB_EVENT_TOPIC", d->topic);
    d->env.emplace_back("HUB_EVENT_SEQ", std::to_string(d->seq));
    d->env.emplace_back("HUB_EVENT_TIME", format_utc_time(d->time_ns));
    d->env.emplace_back("HUB_EVENT_SOURCE", d->source);
    d->env.emplace_back("HUB_EVENT_CONTENT_TYPE", e.content_type);
    if (e.seq <= earlier_run_last) d->env.emplace_back("HUB_EVENT_REPLAYED", "1");
    return d;
  }

  // The feedback brake: false when `d` comes from `q`'s own scripts (NAME@scripts) and
  // such events on its topic have already triggered q's scripts feedback_limit times in
  // this window. Reports the first one suppressed in each window. REQUIRES: mu held.
  bool passes_brake(OwnerQueue& q, const Dispatch& d, Reports& reports) {
    const std::string& name = q.info->owner.name;
    if (name.empty() || options.feedback_limit == 0 ||
        d.source.size() != name.size() + kScriptsIdentitySuffix.size() ||
        d.source.compare(0, name.size(), name) != 0 ||
        d.source.compare(name.size(), std::string::npos, kScriptsIdentitySuffix) != 0) {
      return true;
    }
    const auto window = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.feedback_window).count());
    Feedback& f = q.feedback[d.topic];
    if (d.time_ns >= f.window_start_ns + window || d.time_ns < f.window_start_ns) {
      if (f.suppressed > 0) {
        spdlog::error("scripts of {}: {} runs for {} suppressed by the feedback brake", name,
                      f.suppressed, d.topic);
      }
      f = Feedback{d.time_ns, 0, 0};
    }
    if (++f.count <= options.feedback_limit) return true;
    if (f.suppressed++ == 0) {
      spdlog::error(
          "scripts of {}: {} events on {} from its own scripts within {} ms: a feedback loop; "
          "its scripts do not run for them until the window ends (latest seq {})",
          name, f.count, d.topic, options.feedback_window.count(), d.seq);
      reports.emplace_back(
          kSkippedTopic,
          JsonObject()
              .add("owner", name)
              .add("topic", d.topic)
              .add("reason", "feedback")
              .add("limit", static_cast<int64_t>(options.feedback_limit))
              .add("window_ms", static_cast<int64_t>(options.feedback_window.count()))
              .add("first_seq", static_cast<int64_t>(d.seq))
              .str());
    }
    return false;
  }

  // REQUIRES: mu held.
  void enqueue(const std::shared_ptr<Dispatch>& d, const std::vector<size_t>& targets,
               Reports& reports) {
    for (size_t i : targets) {
      OwnerQueue& q = *owners[i];
      if (q.stopped) {
        ++q.passed_while_stopped;
        continue;
      }
      if (!passes_brake(q, *d, reports)) continue;
      if (q.waiting.size() >= options.queue_limit) {
        const uint64_t refused = ++q.refused;
        if ((refused & (refused - 1)) == 0) {  // logged at 1, 2, 4, 8, ... refusals
          spdlog::error("scripts of {}: {} events waiting, {} refused so far (latest: {} seq {})",
                        q.name(), q.waiting.size(), q.refused, d->topic, d->seq);
        }
        continue;
      }
      ++d->owners_left;
      ++outstanding[d->seq];
      q.waiting.push_back(d);
      if (!q.running && q.waiting.size() == 1) {
        runnable.push_back(owners[i]);
        wake_worker();
      }
    }
  }

  // Gets a worker onto the runnable owners while a shared slot is free: an idle one, or a
  // new thread. Workers start on first need: an idle hub keeps no threads (and their
  // memory) for scripts it may never run. REQUIRES: mu held.
  void wake_worker() {
    if (stopping || runnable.empty() || !slot_free()) return;
    if (idle_workers > 0) {
      work_ready.notify_one();
    } else {
      workers.emplace_back([this] { work(); });
    }
  }

  // A run may start: a shared slot is free, and the bound on all runs is not reached.
  // REQUIRES: mu held.
  bool slot_free() const {
    const int parallel = std::max(1, options.parallel);
    return pooled < parallel && running < kMaxRunningFactor * parallel;
  }

  // Takes `q` out of service: its waiting events are cancelled (added to `cancelled`, for
  // finish_cancelled() once mu is released) and its running script is killed. The events
  // still run for the other owners. REQUIRES: mu held.
  void stop_owner(OwnerQueue& q, std::string reason, Cancelled& cancelled) {
    q.stopped = true;
    q.stop_reason = std::move(reason);
    q.passed_while_stopped = 0;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(q.cancel_fd, &one, sizeof one);
    runnable.erase(std::remove_if(runnable.begin(), runnable.end(),
                                  [&](const auto& r) { return r.get() == &q; }),
                   runnable.end());
    if (q.running)
      spdlog::warn("scripts of {}: killing the running one: {}", q.name(), q.stop_reason);
    if (q.waiting.empty()) return;
    const uint64_t first = q.waiting.front()->seq, last = q.waiting.back()->seq;
    spdlog::warn("scripts of {}: {} queued event runs cancelled (events {}..{}): {}", q.name(),
                 q.waiting.size(), first, last, q.stop_reason);
    cancelled.reports.emplace_back(kSkippedTopic,
                                   JsonObject()
                                       .add("owner", q.name())
                                       .add("reason", "stopped")
                                       .add("why", q.stop_reason)
                                       .add("events", static_cast<int64_t>(q.waiting.size()))
                                       .add("first_seq", static_cast<int64_t>(first))
                                       .add("last_seq", static_cast<int64_t>(last))
                                       .str());
    for (auto& d : q.waiting) {
      if (--outstanding[d->seq] == 0) outstanding.erase(d->seq);
      cancelled.dispatches.push_back(std::move(d));
    }
    q.waiting.clear();
    progress.notify_all();
  }

  // Publishes what stop_owner() reported, and Hub/scripts-done for the events whose other
  // owners have all finished. REQUIRES: mu not held.
  void finish_cancelled(const Cancelled& cancelled) {
    for (const auto& [topic, payload] : cancelled.reports) publish(topic, payload, false);
    for (const auto& d : cancelled.dispatches) finish_owner(*d);
  }

  // One owner is done with `d`: the last one reports Hub/scripts-done.
  void finish_owner(Dispatch& d) {
    if (--d.owners_left != 0 || is_report(d.topic)) return;
    publish(std::string(kDoneTopic),
            JsonObject()
                .add("topic", d.topic)
                .add("seq", static_cast<int64_t>(d.seq))
                .add("runs", static_cast<int64_t>(d.runs))
                .add("failures", static_cast<int64_t>(d.failures))
                .str(),
            false);
  }

  void work() {
    std::unique_lock lock(mu);
    for (;;) {
      ++idle_workers;
      work_ready.wait(lock, [&] { return stopping || (!runnable.empty() && slot_free()); });
      --idle_workers;
      if (stopping) return;
      const std::shared_ptr<OwnerQueue> owner = runnable.front();
      runnable.pop_front();
      OwnerQueue& q = *owner;
      q.running = true;
      std::shared_ptr<Dispatch> d = q.waiting.front();
      q.waiting.pop_front();
      const std::shared_ptr<const OwnerInfo> info = q.info;
      ++pooled;
      ++running;
      bool in_pool = true;  // guarded by mu
      wake_worker();        // more owners may be waiting, and slots free
      lock.unlock();
      // A run that lasts gives its shared slot back: from then on it holds only its
      // owner's, and the other owners' scripts go on in the slot it leaves.
      const auto give_back_slot = [&] {
        std::lock_guard relock(mu);
        if (!in_pool) return;
        in_pool = false;
        --pooled;
        wake_worker();
      };
      const bool interrupted = run_scripts(
          q, *info, *d, std::chrono::steady_clock::now() + options.slot_hold, give_back_slot);
      if (!interrupted) finish_owner(*d);
      lock.lock();
      if (in_pool) --pooled;
      --running;
      q.running = false;
      if (!q.waiting.empty() && !q.stopped) runnable.push_back(owner);
      // An interrupted run stays outstanding: the mark stays before it, so it runs again.
      if (!interrupted && --outstanding[d->seq] == 0) outstanding.erase(d->seq);
      wake_worker();
      progress.notify_all();
    }
  }

  // Runs q's scripts for `d`, one after another. True when the dispatcher's stop
  // interrupted them (they run again at the next start); a stop of the owner only cuts
  // them short.
  bool run_scripts(OwnerQueue& owner, const OwnerInfo& q, Dispatch& d,
                   std::chrono::steady_clock::time_point long_run_at,
                   const std::function<void()>& on_long_run) {
    const Module* module = q.module.get();
    const size_t slash = d.topic.find('/');
    const fs::path path = q.owner.events_dir / d.topic.substr(0, slash) / d.topic.substr(slash + 1);
    const ScriptSelection selection = select_scripts(path);
    for (const auto& warning : selection.warnings) spdlog::warn("{}", warning);
    if (!selection.error.empty())
      spdlog::error("scripts for {} seq {}: {}", d.topic, d.seq, selection.error);
    // A module's scripts act as NAME@scripts (they own NAME/...); the site's as the
    // administrator (HUB_CREDENTIAL_FILE unset).
    auto extra = d.env;
    if (module) {
      extra.emplace_back("HUB_CREDENTIAL_FILE",
                         options.layout.script_credential_file(module->name).string());
    }
    const auto env = module ? module_environment(options.layout, *module, extra)
                            : site_environment(options.layout, extra);
    auto account = module ? module_account(*module, options.services_group)
                          : Result<std::optional<Account>>(std::optional<Account>());
    for (const auto& script : selection.scripts) {
      {
        std::lock_guard lock(mu);
        if (owner.stopped) break;
        if (stopping) return true;
        if (d.seq > earlier_run_last) latency.observe(since_stamp(d));
      }
      ScriptRequest request;
      request.script = script;
      request.args = {d.topic.substr(0, slash), d.topic.substr(slash + 1)};
      request.env = env;
      request.cwd = q.owner.dir;
      request.input = d.payload;
      request.timeout =
          module && module->script_timeout ? *module->script_timeout : options.timeout;
      request.output_cap = options.output_cap;
      request.cancel_fd = owner.cancel_fd;
      request.record_dir = options.layout.script_records_dir();
      request.long_run_at = long_run_at;
      request.on_long_run = on_long_run;
      ScriptOutcome outcome;
      if (account) {
        request.account = *account;
        outcome = run_script(request);
      } else {
        outcome.start_error = account.error();
      }
      bool owner_stopped = false, hub_stopping = false;
      {
        std::lock_guard lock(mu);
        owner_stopped = owner.stopped;
        hub_stopping = stopping && !owner_stopped;
        if (outcome.cancelled && owner_stopped) outcome.cancel_reason = owner.stop_reason;
        if (!(hub_stopping && outcome.cancelled)) count_run(owner.counts, outcome);
      }
      append_run_log(q.log_file, d.topic + " seq " + std::to_string(d.seq), script, outcome);
      if (hub_stopping && outcome.cancelled) {
        spdlog::warn("{} for {} seq {}: {}; it runs again at the next start", script.string(),
                     d.topic, d.seq, outcome.describe());
        return true;
      }
      ++d.runs;
      if (!outcome.ok()) report_failure(q, d, script, outcome);
      if (owner_stopped) break;
    }
    return false;
  }

  // The time since `d` was stamped by the broker (both on the system clock).
  static std::chrono::nanoseconds since_stamp(const Dispatch& d) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now) -
           std::chrono::nanoseconds(d.time_ns);
  }

  // REQUIRES: mu held.
  void count_run(ScriptOwnerCounts& counts, const ScriptOutcome& outcome) {
    ++counts.runs;
    if (!outcome.ok()) ++counts.failures;
    if (outcome.timed_out) ++counts.timeouts;
    durations.observe(outcome.duration);
  }

  void report_failure(const OwnerInfo& q, Dispatch& d, const fs::path& script,
                      const ScriptOutcome& outcome) {
    ++d.failures;
    spdlog::warn("{} for {} seq {}: {}", script.string(), d.topic, d.seq, outcome.describe());
    if (is_report(d.topic)) return;  // never a loop
    JsonObject failed;
    failed.add("owner", q.owner.name.empty() ? "site" : q.owner.name)
        .add("script", script.string())
        .add("topic", d.topic)
        .add("seq", static_cast<int64_t>(d.seq))
        .add("reason", outcome.describe())
        .add("duration_ms", static_cast<int64_t>(outcome.duration.count()))
        .add("timed_out", outcome.timed_out);
    if (outcome.cancelled) failed.add("cancelled", true);
    if (outcome.exit_code >= 0) failed.add("exit_code", static_cast<int64_t>(outcome.exit_code));
    if (outcome.signal != 0) failed.add("signal", signal_name(outcome.signal));
    // As the script wrote it: JSON escapes its controls, invalid UTF-8 becomes U+FFFD.
    failed.add("stderr", first_lines(outcome.err, kStderrInEvent));
    publish(std::string(kFailedTopic), failed.str(), false);
  }

  std::shared_ptr<OwnerQueue> find_module(const std::string& name) {  // REQUIRES: mu held
    for (const auto& q : owners) {
      if (q->info->module && q->info->module->name == name) return q;
    }
    return nullptr;
  }
};

Result<std::unique_ptr<ScriptDispatcher>> ScriptDispatcher::start(
    zmq::context_t& ctx, const Credential& credential, SubscriberOptions bus,
    DispatcherOptions options, std::vector<Module> modules, HubPublish publish) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->publish = std::move(publish);
  const RootLayout& layout = impl->options.layout;
  const fs::path& root = layout.root();
  const fs::path logs = layout.script_logs_dir();
  std::error_code ec;
  fs::create_directories(logs, ec);
  if (ec) return Status::error(logs.string() + ": cannot create: " + ec.message());

  auto site = std::make_shared<OwnerQueue>();
  site->info = std::make_shared<const OwnerInfo>(
      OwnerInfo{{"", root, layout.site_events_dir()}, nullptr, layout.script_log("")});
  impl->owners.push_back(site);
  impl->new_modules = std::move(modules);
  impl->apply_new_modules();

  impl->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  bus.patterns.clear();
  bus.retained = false;
  bus.sync = true;
  bus.wake_fd = impl->wake_fd;
  // Fell behind the bus: what it missed comes back from the journal, in order. What the
  // journal no longer holds is said exactly, as no script will see it.
  bus.recover = true;
  bus.on_gap = [](uint64_t first, uint64_t last) {
    spdlog::error("scripts: events {}..{} are lost: not in the journal any more", first, last);
  };
  const DispatcherOptions& o = impl->options;
  if (!o.mark_file.empty()) {
    impl->mark.emplace(o.mark_file);
    ConsumerMark& mark = *impl->mark;
    impl->earlier_run_last = o.bus_last_seq;
    impl->read_seq = o.bus_last_seq;  // nothing before start() is due, unless resuming
    if (mark.found() && mark.acked() > o.bus_last_seq) {  // the journal was replaced
      spdlog::warn("scripts: the dispatch mark {} is past the bus's last event {}; starting anew",
                   mark.acked(), o.bus_last_seq);
    } else if (mark.found() && o.resume && mark.acked() < o.bus_last_seq) {
      spdlog::info("scripts: resuming after event {}: events up to {} were not all dispatched",
                   mark.acked(), o.bus_last_seq);
      impl->read_seq = mark.acked();
    }
    // From the journal, also what came between reading bus_last_seq and subscribing.
    bus.resume_from = impl->read_seq + 1;
    // The starting point is saved at once: a crash right after it loses nothing.
    (void)mark.ack(impl->read_seq);
    if (!mark.save()) {
      return Status::error("scripts: cannot save the dispatch mark in " + o.mark_file.string());
    }
  }
  auto subscriber = Subscriber::open(ctx, credential, std::move(bus));
  if (!subscriber)
    return Status::error("scripts: cannot subscribe to the bus: " + subscriber.error());
  impl->subscriber.emplace(std::move(*subscriber));

  Impl* p = impl.get();
  impl->reader = std::thread([p] { p->read_bus(); });
  return std::unique_ptr<ScriptDispatcher>(new ScriptDispatcher(std::move(impl)));
}

ScriptDispatcher::ScriptDispatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ScriptDispatcher::~ScriptDispatcher() { stop(); }

bool ScriptDispatcher::wait_done(uint64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->progress.wait_for(lock, timeout, [&] {
    return impl_->read_seq >= seq &&
           (impl_->outstanding.empty() || impl_->outstanding.begin()->first > seq);
  });
}

void ScriptDispatcher::set_modules(std::vector<Module> modules) {
  std::unique_lock lock(impl_->mu);
  if (impl_->stopping) return;
  impl_->new_modules = std::move(modules);
  const uint64_t version = ++impl_->modules_asked;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->progress.wait(lock, [&] { return impl_->modules_applied >= version || impl_->stopping; });
}

void ScriptDispatcher::stop_scripts(const std::string& module, const std::string& reason) {
  constexpr auto kReapBound = std::chrono::seconds(10);  // SIGKILL is sent: this is the reap
  Cancelled cancelled;
  {
    std::unique_lock lock(impl_->mu);
    const auto q = impl_->find_module(module);
    if (!q || q->stopped) return;
    impl_->stop_owner(*q, reason, cancelled);
    if (!impl_->progress.wait_for(lock, kReapBound, [&] { return !q->running; })) {
      spdlog::error("scripts of {}: the killed script has not ended after {} s", module,
                    kReapBound.count());
    }
  }
  impl_->finish_cancelled(cancelled);
}

void ScriptDispatcher::resume_scripts(const std::string& module) {
  std::lock_guard lock(impl_->mu);
  const auto q = impl_->find_module(module);
  if (!q || !q->stopped) return;
  q->stopped = false;
  uint64_t drained = 0;
  [[maybe_unused]] ssize_t n = ::read(q->cancel_fd, &drained, sizeof drained);
  if (q->passed_while_stopped > 0) {
    spdlog::info("scripts of {}: run again; {} event runs passed while they were stopped", module,
                 q->passed_while_stopped);
  }
}

std::string ScriptDispatcher::stats_json() const {
  std::lock_guard lock(impl_->mu);
  std::string owners = "[";
  for (const auto& q : impl_->owners) {
    const ScriptOwnerCounts& c = q->counts;
    owners +=
        (owners.size() > 1 ? "," : "") + JsonObject()
                                             .add("owner", q->name())
                                             .add("runs", static_cast<int64_t>(c.runs))
                                             .add("failures", static_cast<int64_t>(c.failures))
                                             .add("timeouts", static_cast<int64_t>(c.timeouts))
                                             .add("queued", static_cast<int64_t>(q->waiting.size()))
                                             .add("refused", static_cast<int64_t>(q->refused))
                                             .add("running", q->running)
                                             .add("stopped", q->stopped)
                                             .str();
  }
  return JsonObject()
      .add_raw("owners", owners + "]")
      .add_raw("latency", impl_->latency.json())
      .add_raw("durations", impl_->durations.json())
      .str();
}

void ScriptDispatcher::stop() {
  size_t dropped = 0;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    const uint64_t one = 1;
    for (auto& q : impl_->owners) {
      dropped += q->waiting.size();
      [[maybe_unused]] ssize_t n = ::write(q->cancel_fd, &one, sizeof one);  // kill what runs
    }
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->work_ready.notify_all();
  if (impl_->reader.joinable()) impl_->reader.join();  // no more workers start after this
  for (auto& w : impl_->workers) w.join();
  if (impl_->mark && impl_->mark_lags() && !impl_->mark->save()) {
    spdlog::error("scripts: cannot save the dispatch mark in {}",
                  impl_->options.mark_file.string());
  }
  if (dropped > 0 && impl_->mark && impl_->options.resume) {
    spdlog::warn(
        "scripts: {} queued event runs were not started before the hub stopped; they "
        "run when it starts again (after event {})",
        dropped, impl_->mark->acked());
  } else if (dropped > 0) {
    spdlog::warn("scripts: {} queued event runs were not started before the hub stopped", dropped);
  }
}

}  // namespace hub
