// hubctl's views of an inspect result (docs/API.md): the `status` table, one line per
// module and per dynamic instance, in the manner of `supervisorctl status`.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace hub::ctl {

struct StatusRow {
  std::string name;      // module, or instance NAME.X
  std::string state;     // RUNNING, STARTING, BACKOFF, STOPPING, EXITED, FAILED, STOPPED, UP,
                         // REJECTED, DISABLED
  std::string detail;    // "pid 1234, uptime 0:05:12", "(no service)", a reason
  bool healthy = false;  // RUNNING, or UP without a service
  // The facts behind `detail`, as inspect gives them (empty when it does not): for
  // `status --json`, so scripts need not parse the text.
  std::string pid, uptime_ms, restarts, last_exit, reason;
};

// Rows for `inspect` (the API's result); only `names` (modules or instances) when given.
std::vector<StatusRow> status_rows(const YAML::Node& inspect,
                                   const std::vector<std::string>& names);
std::string format_rows(const std::vector<StatusRow>& rows);
// What `status NAME...` adds under its table for each named module that has any: the
// first lines of its info/build.txt ("  Timer build: ...") and its warnings ("  Timer
// warning: ..."), escaped as the table is.
std::string format_details(const YAML::Node& inspect, const std::vector<std::string>& names);
// "1:02:03" / "0:00:05"; days as "3 days, 1:02:03".
std::string format_uptime(int64_t ms);

}  // namespace hub::ctl
