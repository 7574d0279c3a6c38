#include "core/modules/lifecycle_events.h"

#include "bus/text.h"
#include "core/modules/module_info.h"

namespace hub {
namespace {

JsonObject about(const EventSubject& s) {
  JsonObject json;
  json.add("name", s.module);
  if (!s.instance.empty()) json.add("instance", s.instance);
  return json;
}

LifecycleEvent event(const EventSubject& s, const char* what, const JsonObject& json, bool retain) {
  return {s.module + "/" + what, json.str(), retain};
}

}  // namespace

void publish_lifecycle(const HubPublish& publish, const LifecycleEvent& event) {
  publish(event.topic, event.payload, event.retain);
}

EventSubject EventSubject::of(const Module& m) {
  return {m.name, m.runs_service() ? m.name : std::string()};
}

LifecycleEvent loaded_event(const Module& m) {
  std::vector<std::string> requirements;
  for (const auto& d : m.depends) requirements.push_back(d.requirement());
  JsonObject json;
  json.add("name", m.name)
      .add("level", m.level)
      .add("version", m.version.str())
      .add("path", m.dir.string())
      .add_raw("depends", json_string_array(requirements))
      .add("build", m.build_info)
      .add("service", m.runs_service());
  if (!m.service_off.empty()) json.add("service_off", m.service_off);
  if (!m.warnings.empty()) json.add_raw("warnings", json_string_array(m.warnings));
  return {m.name + "/loaded", json.str(), true};
}

LifecycleEvent rejected_event(const RejectedModule& r, bool kept_running) {
  JsonObject json;
  json.add("name", r.name)
      .add("level", r.level)
      .add("path", r.dir.string())
      .add("reason", r.reason);
  if (!r.file.empty()) json.add("file", r.file.string());
  if (r.line > 0) json.add("line", static_cast<int64_t>(r.line));
  if (kept_running) json.add("kept_running", true);
  // A name unsafe in topics cannot have its own topic; the hub reports it instead.
  const bool own_topic = !module_name_problem(r.name);
  return {own_topic ? r.name + "/rejected" : "Hub/rejected", json.str(), own_topic};
}

LifecycleEvent scan_problem_event(const std::string& problem) {
  return {"Hub/rejected", JsonObject().add("reason", problem).str(), false};
}

LifecycleEvent unshadowed_event(const std::string& name) {
  return {name + "/shadowed", JsonObject().add("name", name).add_raw("shadowed", "[]").str(),
          false};
}

LifecycleEvent removed_event(const std::string& name) {
  return {name + "/removed", JsonObject().add("name", name).str(), false};
}

LifecycleEvent shadowed_event(const std::vector<ShadowedModule>& copies) {
  const ShadowedModule& first = copies.front();
  std::string list = "[";
  for (const auto& s : copies) {
    list += (list.size() > 1 ? "," : "") +
            JsonObject().add("level", s.level).add("path", s.dir.string()).str();
  }
  JsonObject json;
  json.add("name", first.name)
      .add("by_level", first.by_level)
      .add_raw("shadowed", list + "]")
      .add("by_path", first.by_dir.string());
  return {first.name + "/shadowed", json.str(), true};
}

LifecycleEvent starting_event(const EventSubject& s, std::optional<int64_t> attempt) {
  JsonObject json = about(s);
  if (attempt) json.add("attempt", *attempt);
  return event(s, "starting", json, false);
}

LifecycleEvent started_event(const EventSubject& s, int64_t duration_ms,
                             const std::optional<RunningProcess>& launch) {
  JsonObject json = about(s);
  if (launch) {
    json.add("pid", launch->pid).add("restarts", launch->restarts).add("command", launch->command);
  }
  json.add("duration_ms", duration_ms);
  return event(s, "started", json, true);
}

LifecycleEvent ready_event(const EventSubject& s, int64_t pid, int64_t after_ms) {
  return event(s, "ready", about(s).add("pid", pid).add("after_ms", after_ms), true);
}

LifecycleEvent exited_event(const EventSubject& s, const ServiceExit& exit) {
  JsonObject json = about(s);
  json.add("pid", exit.pid);
  if (exit.code) json.add("code", *exit.code);
  if (!exit.signal.empty()) json.add("signal", exit.signal);
  if (exit.core_dumped) json.add("core_dumped", true);
  json.add("run_ms", exit.run_ms).add("requested", exit.requested);
  if (exit.oom_kills > 0) json.add("oom_kills", exit.oom_kills);
  if (!exit.reason.empty()) json.add("reason", exit.reason);
  return event(s, "exited", json, false);
}

LifecycleEvent restarting_event(const EventSubject& s, int64_t attempt, int64_t delay_ms,
                                const std::string& reason) {
  JsonObject json = about(s);
  json.add("attempt", attempt).add("delay_ms", delay_ms).add("reason", reason);
  return event(s, "restarting", json, false);
}

LifecycleEvent failed_event(const EventSubject& s, const std::string& reason) {
  return event(s, "failed", about(s).add("reason", reason), true);
}

LifecycleEvent stopping_event(const EventSubject& s, const std::string& reason) {
  JsonObject json = about(s);
  if (!reason.empty()) json.add("reason", reason);
  return event(s, "stopping", json, false);
}

LifecycleEvent stopped_event(const EventSubject& s, const std::string& shutdown_failure,
                             const std::string& reason) {
  JsonObject json = about(s);
  if (!shutdown_failure.empty()) json.add("shutdown_failure", shutdown_failure);
  if (!reason.empty()) json.add("reason", reason);
  return event(s, "stopped", json, true);
}

LifecycleEvent reload_event(const ReloadPlan& plan, const std::vector<std::string>& failed) {
  std::string kept = "[";
  for (const auto& [name, reason] : plan.kept) {
    kept +=
        (kept.size() > 1 ? "," : "") + JsonObject().add("name", name).add("reason", reason).str();
  }
  JsonObject json;
  json.add_raw("added", json_string_array(plan.added))
      .add_raw("removed", json_string_array(plan.removed))
      .add_raw("changed", json_string_array(plan.changed))
      .add_raw("unchanged", json_string_array(plan.unchanged))
      .add_raw("kept", kept + "]")
      .add_raw("rejected", json_string_array(plan.rejected))
      .add_raw("failed", json_string_array(failed));
  return {"Hub/reload", json.str(), false};
}

std::string reload_preview_json(const ReloadPlan& plan,
                                const std::vector<RejectedModule>& rejected) {
  std::string kept = "[";
  for (const auto& [name, reason] : plan.kept) {
    kept +=
        (kept.size() > 1 ? "," : "") + JsonObject().add("name", name).add("reason", reason).str();
  }
  JsonObject reasons;
  for (const auto& r : rejected) reasons.add(r.name, r.reason);
  return JsonObject()
      .add("dry_run", true)
      .add_raw("added", json_string_array(plan.added))
      .add_raw("removed", json_string_array(plan.removed))
      .add_raw("changed", json_string_array(plan.changed))
      .add_raw("unchanged", json_string_array(plan.unchanged))
      .add_raw("kept", kept + "]")
      .add_raw("rejected", json_string_array(plan.rejected))
      .add_raw("reasons", reasons.str())
      .str();
}

LifecycleEvent reload_error_event(const std::string& error) {
  return {"Hub/reload", JsonObject().add("error", error).str(), false};
}

}  // namespace hub
