// Running the scripts users drop into control/ and events/ directories, the one way the
// hub runs them (DESIGN, "The script contract"): which files count and in which order,
// and one run with its arguments, environment, input, time limit and captured output.
// Thread-safe: no shared state; run_script blocks the calling thread for one run.
//
// A run's processes never outlive it: the script leads a process group of its own, and
// that whole group is killed with SIGKILL when the script exits, times out or is
// cancelled. A process that leaves the group on purpose (setsid) is the one way to
// outlive the run. The script itself gets SIGKILL if hubd dies, and a run can be recorded
// on disk so that a hubd started after a crash kills what was left of it.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/system/files.h"

namespace hub {

// True for names the contract always skips: dot files and the leftovers of editors and
// package managers (~, .swp, .bak, .old, .new, .dpkg-*, .rpmnew, .rpmsave, .rpm*, .ucf-*).
bool is_ignored_script_name(std::string_view name);

struct ScriptSelection {
  std::vector<std::filesystem::path> scripts;  // executable regular files, C-locale order
  std::vector<std::string> warnings;           // files skipped for a reason the user should see
  std::string error;  // set when the directory exists but cannot be read (then nothing runs)
};

// The scripts at `path`: a directory's executable regular files, or `path` itself when it
// is one executable file. Non-executable files are skipped with a warning naming them;
// other non-regular entries (directories, sockets, ...) are skipped silently. A missing
// path selects nothing.
ScriptSelection select_scripts(const std::filesystem::path& path);

// A run's defaults, hub.yml's too (scripts.timeout, scripts.output_cap).
inline constexpr std::chrono::milliseconds kDefaultScriptTimeout{30000};
inline constexpr size_t kDefaultScriptOutputCap = 64 * 1024;

struct ScriptRequest {
  std::filesystem::path script;
  std::vector<std::string> args;  // $1, $2, ...
  std::vector<std::string> env;   // the whole environment, "KEY=VALUE" each
  std::filesystem::path cwd;
  std::string input;  // written to stdin, which is then closed (empty: /dev/null)
  std::chrono::milliseconds timeout = kDefaultScriptTimeout;
  size_t output_cap = kDefaultScriptOutputCap;  // bytes kept of stdout and of stderr, each
  // stderr goes where stdout does: one capture (`out`) in the order written; `err` stays
  // empty.
  bool merge_output = false;
  // When this fd becomes readable (hubd passes the signalfd of its stop signals), the run
  // is cancelled: its process group is killed at once, and the outcome says it was
  // because of `cancel_reason`. -1: never.
  int cancel_fd = -1;
  std::string cancel_reason = "the hub is stopping";
  // Where the run is recorded while it runs (an InstanceRecord named by its HUB_RUN_ID,
  // which the script's environment carries): written as the script starts, removed once
  // its group is killed; see stop_script_leftovers. Empty: not recorded.
  std::filesystem::path record_dir;
  // Called once, on the calling thread, if the run is still going at `long_run_at`.
  std::chrono::steady_clock::time_point long_run_at = std::chrono::steady_clock::time_point::max();
  std::function<void()> on_long_run;
  // Run as this user and group (supplementary groups cleared; hubd must be root).
  std::optional<Account> account;
};

struct ScriptOutcome {
  int exit_code = -1;  // set when the script exited
  int signal = 0;      // set when a signal ended it
  bool timed_out = false;
  bool cancelled = false;     // the cancel fd fired
  std::string cancel_reason;  // then why: the request's cancel_reason
  std::string start_error;    // set when it could not be started at all
  std::chrono::milliseconds duration{0};
  std::string out, err;  // captured output, each at most output_cap bytes (see merge_output)
  bool out_truncated = false, err_truncated = false;

  bool ok() const {
    return start_error.empty() && !timed_out && !cancelled && signal == 0 && exit_code == 0;
  }
  // "exited with 0", "exited with 3", "killed by SIGSEGV", "timed out after 5000 ms (its
  // process group was killed)", "could not start: ...".
  std::string describe() const;
};

// Appends one run to a script log, rotating the file to FILE.1 once it passes 10 MiB: a
// line with the time, `what` ran it (an event, a control phase), the script, its outcome
// and duration, then its output, stdout lines as "  | ...", stderr lines as "  ! ...".
void append_run_log(const std::filesystem::path& file, std::string_view what,
                    const std::filesystem::path& script, const ScriptOutcome& outcome);

// Runs one script in a process group of its own, with a clean signal mask and only
// stdin/stdout/stderr open. When the script exits, times out or is cancelled, the whole
// group is killed with SIGKILL. Output beyond the cap is read and discarded, so a chatty
// script never blocks on a full pipe.
ScriptOutcome run_script(const ScriptRequest& request);

// Kills, with SIGKILL, what the runs recorded in `record_dir` left running (a hubd that
// was killed could not), and removes their records. A process counts only when it is the
// recorded one (pid and start time, this boot) or is in its group with its HUB_RUN_ID, so
// a reused pid is never hit. Returns one line per run that had processes left, and per
// record that could not be read.
std::vector<std::string> stop_script_leftovers(const std::filesystem::path& record_dir);

}  // namespace hub
