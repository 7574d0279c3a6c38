#include "console/prometheus_text.h"

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "console/prometheus_format.h"

namespace hub {
namespace {

using prometheus::Family;
using prometheus::Labels;
using prometheus::Type;

// The text of `n` when it is a number ("12", "-3", "0.5"), else nullopt.
std::optional<std::string> number_text(const YAML::Node& n) {
  if (!n || !n.IsScalar()) return std::nullopt;
  const std::string& s = n.Scalar();
  double ignored = 0;
  if (s.empty() || !YAML::convert<double>::decode(n, ignored)) return std::nullopt;
  if (s == ".inf" || s == "-.inf" || s == ".nan") return std::nullopt;  // not JSON's
  return s;
}

std::optional<uint64_t> unsigned_of(const YAML::Node& n) {
  uint64_t v = 0;
  if (!n || !n.IsScalar() || !YAML::convert<uint64_t>::decode(n, v)) return std::nullopt;
  return v;
}

std::string text_of(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : ""; }

// Adds `field` of `object` to `f` with `labels` when it is a number.
void add_field(Family& f, const YAML::Node& object, const char* field, const Labels& labels = {}) {
  if (!object || !object.IsMap()) return;
  if (auto v = number_text(object[field])) f.add(labels, *v);
}

// Milliseconds (an integer field) as seconds.
void add_ms_as_seconds(Family& f, const YAML::Node& ms, const Labels& labels) {
  if (auto v = unsigned_of(ms)) f.add(labels, prometheus::number(static_cast<double>(*v) / 1e3));
}

// {IDENTITY: count} as one sample per identity.
void add_by_identity(Family& f, const YAML::Node& by) {
  if (!by || !by.IsMap()) return;
  for (const auto& entry : by) {
    if (auto v = number_text(entry.second)) f.add({{"identity", text_of(entry.first)}}, *v);
  }
}

// A histogram as DurationHistogram::json() writes it (bounds in us, sum in ns).
void add_duration_histogram(Family& f, const YAML::Node& h, const Labels& labels = {}) {
  if (!h || !h.IsMap()) return;
  const YAML::Node bounds_us = h["bounds_us"], cumulative_counts = h["cumulative"];
  const auto count = unsigned_of(h["count"]);
  const auto sum_ns = unsigned_of(h["sum_ns"]);
  if (!bounds_us || !bounds_us.IsSequence() || !cumulative_counts ||
      !cumulative_counts.IsSequence() || bounds_us.size() != cumulative_counts.size() || !count ||
      !sum_ns)
    return;
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
  for (size_t i = 0; i < bounds_us.size(); ++i) {
    const auto bound = unsigned_of(bounds_us[i]);
    const auto below = unsigned_of(cumulative_counts[i]);
    if (!bound || !below) return;
    bounds.push_back(static_cast<double>(*bound) / 1e6);
    cumulative.push_back(*below);
  }
  f.add_histogram(labels, bounds, cumulative, *count, static_cast<double>(*sum_ns) / 1e9);
}

// One sample per state in `states`, 1 for `current` and 0 for the others (a state set),
// so a query can select on any state, also one that no module is in.
void add_state_set(Family& f, Labels labels, const std::vector<std::string_view>& states,
                   const std::string& current) {
  labels.emplace_back("state", "");
  for (std::string_view s : states) {
    labels.back().second = std::string(s);
    f.add(labels, s == current ? "1" : "0");
  }
}

void add_hub(std::vector<Family>& out, const YAML::Node& hub) {
  Family info("hub_info", Type::kGauge, "The running hubd: its version and root; always 1.");
  if (hub && hub.IsMap() && hub["version"]) {
    info.add({{"version", text_of(hub["version"])}, {"root", text_of(hub["root"])}}, "1");
  }
  Family uptime("hub_uptime_seconds", Type::kGauge, "Time since hubd started.");
  if (hub && hub.IsMap()) add_ms_as_seconds(uptime, hub["uptime_ms"], {});
  out.push_back(std::move(info));
  out.push_back(std::move(uptime));
}

struct Field {
  const char* field;
  const char* name;
  Type type;
  const char* help;
};

constexpr Field kBusFields[] = {
    {"events", "hub_bus_events_total", Type::kCounter, "Events the broker stamped and fanned out."},
    {"payload_bytes", "hub_bus_payload_bytes_total", Type::kCounter,
     "Payload bytes of the events fanned out."},
    {"last_seq", "hub_bus_last_seq", Type::kGauge, "The last sequence number assigned."},
    {"auth_failures", "hub_bus_auth_failures_total", Type::kCounter,
     "Connections refused by authentication (ZAP)."},
    {"snapshots", "hub_bus_snapshots_total", Type::kCounter,
     "Retained-event snapshots served to joining subscribers."},
    {"retained_topics", "hub_bus_retained_topics", Type::kGauge,
     "Topics with a retained event held now (the Hub's own included)."},
    {"retained_bytes", "hub_bus_retained_bytes", Type::kGauge,
     "Bytes of retained events held now (without the Hub's own)."},
    {"retained_refused", "hub_bus_retained_refused_total", Type::kCounter,
     "Retained publishes delivered but not retained (a limit of the store)."},
    {"acks_undeliverable", "hub_bus_acks_undeliverable_total", Type::kCounter,
     "Publish acknowledgements that could not be delivered."},
    {"revoked", "hub_bus_revoked_refusals_total", Type::kCounter,
     "Publishes, snapshot and replay requests refused because the connection's credential "
     "was revoked."},
    {"journal_failures", "hub_journal_failures_total", Type::kCounter,
     "Journal writes, syncs and reservations that failed."},
    {"journal_lost_events", "hub_journal_lost_events_total", Type::kCounter,
     "Events fanned out but lost to the journal by its failures."},
    {"replays", "hub_replays_total", Type::kCounter, "Replays from the journal begun."},
    {"replay_sessions", "hub_replay_sessions", Type::kGauge, "Replays from the journal open now."},
    {"replayed_events", "hub_replayed_events_total", Type::kCounter,
     "Events sent by replays from the journal."},
};

void add_bus(std::vector<Family>& out, const YAML::Node& bus) {
  if (!bus || !bus.IsMap()) return;
  for (const Field& f : kBusFields) {
    Family family(f.name, f.type, f.help);
    add_field(family, bus, f.field);
    out.push_back(std::move(family));
  }
  // Publishes refused, by reason: the four malformed kinds, a publisher without an
  // identity (what `malformed` counts beyond them), too large, not the publisher's topic.
  Family refused("hub_bus_refused_publishes_total", Type::kCounter,
                 "Publishes the broker refused, by reason.");
  const YAML::Node by = bus["malformed_by"];
  uint64_t kinds = 0;
  bool all_kinds = by && by.IsMap();
  for (const char* kind : {"frame_count", "header", "topic", "content_type"}) {
    const auto v = all_kinds ? unsigned_of(by[kind]) : std::nullopt;
    all_kinds = all_kinds && v;
    if (v) {
      kinds += *v;
      refused.add({{"reason", std::string("malformed_") + kind}}, std::to_string(*v));
    }
  }
  const auto malformed = unsigned_of(bus["malformed"]);
  if (malformed && all_kinds && *malformed >= kinds)
    refused.add({{"reason", "unauthenticated"}}, std::to_string(*malformed - kinds));
  add_field(refused, bus, "too_large", {{"reason", "too_large"}});
  add_field(refused, bus, "forbidden", {{"reason", "forbidden"}});
  out.push_back(std::move(refused));

  Family forbidden_by("hub_bus_forbidden_publishes_by_identity_total", Type::kCounter,
                      "Publishes refused as not the publisher's topics (or on a revoked "
                      "connection), by identity; late identities are counted as \"(others)\".");
  add_by_identity(forbidden_by, bus["forbidden_by"]);
  out.push_back(std::move(forbidden_by));
  Family retained_by("hub_bus_retained_refused_by_identity_total", Type::kCounter,
                     "Retained publishes not retained, by identity.");
  add_by_identity(retained_by, bus["retained_refused_by"]);
  out.push_back(std::move(retained_by));

  Family reads("hub_bus_refused_reads_total", Type::kCounter,
               "Subscriptions, snapshots and replays refused, by reason.");
  add_field(reads, bus, "subscribe_forbidden", {{"reason", "subscribe_rules"}});
  add_field(reads, bus, "subscriptions_refused", {{"reason", "subscription_limit"}});
  out.push_back(std::move(reads));
  Family reads_by("hub_bus_refused_reads_by_identity_total", Type::kCounter,
                  "Subscriptions, snapshots and replays the subscribe rules refused, by "
                  "identity.");
  add_by_identity(reads_by, bus["subscribe_forbidden_by"]);
  out.push_back(std::move(reads_by));

  const YAML::Node journal = bus["journal"];
  Family bytes("hub_journal_bytes", Type::kGauge, "Bytes of the journal on disk (with indexes).");
  add_field(bytes, journal, "bytes");
  Family segments("hub_journal_segments", Type::kGauge, "Segment files of the journal.");
  add_field(segments, journal, "segments");
  Family oldest("hub_journal_oldest_seq", Type::kGauge,
                "The oldest sequence number the journal retains (0: none).");
  add_field(oldest, journal, "first_seq");
  out.push_back(std::move(bytes));
  out.push_back(std::move(segments));
  out.push_back(std::move(oldest));
}

const std::vector<std::string_view> kModuleStates = {"up",       "failed",   "stopped",
                                                     "starting", "stopping", "rejected"};
const std::vector<std::string_view> kInstanceStates = {"starting", "running", "backoff", "stopping",
                                                       "exited",   "failed",  "stopped"};

void add_modules(std::vector<Family>& out, const YAML::Node& modules, const YAML::Node& instances) {
  Family info("hub_module_info", Type::kGauge,
              "A loaded module: its version and configuration level; always 1.");
  Family state("hub_module_state", Type::kGauge, "A module's state: 1 for the one it is in.");
  Family enabled("hub_module_enabled", Type::kGauge, "1 unless the module was disabled.");
  Family restarts("hub_module_restarts_total", Type::kCounter,
                  "Restarts of a module's service instances since hubd started.");
  // A module's own count (never reset while hubd runs); from an older hubd without it,
  // its instances' restarts since their start, summed.
  std::map<std::string, uint64_t> restarts_of;
  const bool have_instances = instances && instances.IsSequence();
  if (have_instances) {
    for (const auto& i : instances) {
      if (!i.IsMap()) continue;
      if (auto r = unsigned_of(i["restarts"])) restarts_of[text_of(i["name"])] += *r;
    }
  }
  if (modules && modules.IsSequence()) {
    for (const auto& m : modules) {
      if (!m.IsMap()) continue;
      const std::string name = text_of(m["name"]);
      if (name.empty()) continue;
      info.add(
          {{"module", name}, {"version", text_of(m["version"])}, {"level", text_of(m["level"])}},
          "1");
      add_state_set(state, {{"module", name}}, kModuleStates, text_of(m["state"]));
      enabled.add({{"module", name}}, text_of(m["enabled"]) == "false" ? "0" : "1");
      if (auto total = unsigned_of(m["restarts_total"])) {
        restarts.add({{"module", name}}, std::to_string(*total));
      } else if (have_instances) {
        restarts.add({{"module", name}}, std::to_string(restarts_of[name]));
      }
    }
  }
  out.push_back(std::move(info));
  out.push_back(std::move(state));
  out.push_back(std::move(enabled));
  out.push_back(std::move(restarts));

  Family i_state("hub_instance_state", Type::kGauge,
                 "A service instance's state: 1 for the one it is in.");
  Family i_restarts("hub_instance_restarts_total", Type::kCounter,
                    "Restarts of a service instance by its supervisor since hubd started.");
  Family i_uptime("hub_instance_uptime_seconds", Type::kGauge,
                  "Time since a service instance's process started (0 while none runs).");
  if (have_instances) {
    for (const auto& i : instances) {
      if (!i.IsMap()) continue;
      const Labels labels = {{"module", text_of(i["name"])}, {"instance", text_of(i["instance"])}};
      add_state_set(i_state, labels, kInstanceStates, text_of(i["state"]));
      add_field(i_restarts, i, i["restarts_total"] ? "restarts_total" : "restarts", labels);
      add_ms_as_seconds(i_uptime, i["uptime_ms"], labels);
    }
  }
  out.push_back(std::move(i_state));
  out.push_back(std::move(i_restarts));
  out.push_back(std::move(i_uptime));
}

void add_scripts(std::vector<Family>& out, const YAML::Node& scripts) {
  if (!scripts || !scripts.IsMap()) return;
  Family runs("hub_script_runs_total", Type::kCounter, "Event script runs, by owner.");
  Family failures("hub_script_failures_total", Type::kCounter,
                  "Event script runs that failed (exit status, signal, timeout, start error).");
  Family timeouts("hub_script_timeouts_total", Type::kCounter, "Event script runs that timed out.");
  Family queued("hub_script_queued_events", Type::kGauge,
                "Events waiting for an owner's scripts (its queue depth).");
  Family refused("hub_script_refused_events_total", Type::kCounter,
                 "Events not queued for an owner's scripts: its queue was full.");
  Family running("hub_script_running", Type::kGauge, "1 while one of an owner's scripts runs.");
  const YAML::Node owners = scripts["owners"];
  if (owners && owners.IsSequence()) {
    for (const auto& o : owners) {
      if (!o.IsMap()) continue;
      const Labels labels = {{"owner", text_of(o["owner"])}};
      add_field(runs, o, "runs", labels);
      add_field(failures, o, "failures", labels);
      add_field(timeouts, o, "timeouts", labels);
      add_field(queued, o, "queued", labels);
      add_field(refused, o, "refused", labels);
      if (o["running"]) running.add(labels, text_of(o["running"]) == "true" ? "1" : "0");
    }
  }
  Family latency("hub_script_latency_seconds", Type::kHistogram,
                 "From an event's stamp by the broker to the start of a script run for it.");
  add_duration_histogram(latency, scripts["latency"]);
  Family duration("hub_script_duration_seconds", Type::kHistogram,
                  "How long event script runs last.");
  add_duration_histogram(duration, scripts["durations"]);
  for (Family* f : {&runs, &failures, &timeouts, &queued, &refused, &running, &latency, &duration})
    out.push_back(std::move(*f));
}

}  // namespace

std::string prometheus_text(const YAML::Node& inspect) {
  std::vector<Family> families;
  if (inspect && inspect.IsMap()) {
    // Each part checks the shapes it reads; a shape none expected (a field of another
    // type) costs that part only.
    const auto part = [&](auto&& add) {
      std::vector<Family> added;
      try {
        add(added);
      } catch (const YAML::Exception&) {
        return;
      }
      for (Family& f : added) families.push_back(std::move(f));
    };
    part([&](auto& f) { add_hub(f, inspect["hub"]); });
    part([&](auto& f) { add_bus(f, inspect["bus"]); });
    part([&](auto& f) { add_modules(f, inspect["modules"], inspect["instances"]); });
    part([&](auto& f) { add_scripts(f, inspect["scripts"]); });
  }
  std::string out;
  for (const Family& f : families) f.append_to(out);
  return out;
}

}  // namespace hub
