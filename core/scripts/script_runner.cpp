#include "core/scripts/script_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <spdlog/spdlog.h>

#include "bus/text.h"
#include "bus/wire.h"
#include "core/services/instance_records.h"
#include "core/system/child_launcher.h"
#include "core/system/main_loop_keepalive.h"
#include "core/system/signal_name.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Blocks SIGPIPE in this thread while stdin is written, so a script that exits without
// reading its input gives EPIPE instead of killing the caller; a SIGPIPE raised meanwhile
// is consumed before the old mask comes back.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

struct Capture {
  std::string* text;
  bool* truncated;
  size_t cap;
};

// Reads what `fd` has now; returns false at end of file or on error.
bool drain(int fd, Capture c) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      const size_t room = c.cap - std::min(c.cap, c.text->size());
      c.text->append(buf, std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room) *c.truncated = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

}  // namespace

bool is_ignored_script_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '~') return true;
  for (std::string_view suffix : {".swp", ".bak", ".old", ".new", ".rpmnew", ".rpmsave"}) {
    if (ends_with(name, suffix)) return true;
  }
  for (std::string_view infix : {".dpkg-", ".rpm", ".ucf-"}) {
    if (name.find(infix) != std::string_view::npos) return true;
  }
  return false;
}

ScriptSelection select_scripts(const fs::path& path) {
  ScriptSelection selection;
  std::error_code ec;
  const auto consider = [&](const fs::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    if (::access(file.c_str(), X_OK) != 0) {
      selection.warnings.push_back(file.string() +
                                   ": skipped, not executable (chmod +x to run it)");
      return;
    }
    selection.scripts.push_back(file);
  };
  if (fs::is_regular_file(path, ec)) {
    if (!is_ignored_script_name(path.filename().string())) consider(path);
    return selection;
  }
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_ignored_script_name(it->path().filename().string())) entries.push_back(it->path());
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    selection.error = path.string() + ": cannot be read: " + ec.message();
  }
  std::sort(entries.begin(), entries.end());  // byte order: the C locale's
  for (const auto& entry : entries) consider(entry);
  return selection;
}

void append_run_log(const fs::path& file, std::string_view what, const fs::path& script,
                    const ScriptOutcome& outcome) {
  constexpr uint64_t kRotateAt = 10 * 1024 * 1024;
  std::error_code ec;
  if (fs::file_size(file, ec) > kRotateAt && !ec) fs::rename(file, file.string() + ".1", ec);
  std::ofstream log(file, std::ios::app);
  // Names come from the module tree and the event: escaped, so none can forge a record.
  std::string head;
  append_printable(head, what);
  head += ": ";
  append_printable(head, script.string());
  log << format_utc_time(wire::now_ns()) << " " << head << " " << outcome.describe() << " in "
      << outcome.duration.count() << " ms\n";
  for (const auto* stream : {&outcome.out, &outcome.err}) {
    size_t start = 0;
    while (start < stream->size()) {
      size_t end = stream->find('\n', start);
      if (end == std::string::npos) end = stream->size();
      std::string line;
      append_printable(line, std::string_view(*stream).substr(start, end - start));
      log << (stream == &outcome.out ? "  | " : "  ! ") << line << "\n";
      start = end + 1;
    }
  }
  if (outcome.out_truncated || outcome.err_truncated) {
    log << "  (output beyond the capture limit discarded)\n";
  }
}

std::string ScriptOutcome::describe() const {
  if (!start_error.empty()) return "could not start: " + start_error;
  if (cancelled) return "cancelled because " + cancel_reason + " (its process group was killed)";
  if (timed_out) {
    return "timed out after " + std::to_string(duration.count()) +
           " ms (its process group was killed)";
  }
  if (signal != 0) {
    const std::string name = signal_name(signal);
    return "killed by " + (name.rfind("SIG", 0) == 0 ? name : "signal " + name);
  }
  return "exited with " + std::to_string(exit_code);
}

namespace {

// The run's entry in ScriptRequest::record_dir while it runs. Idempotent remove().
class RunRecord {
 public:
  RunRecord(const fs::path& dir, std::string run_id) : records_(dir), run_id_(std::move(run_id)) {}
  ~RunRecord() { remove(); }
  RunRecord(const RunRecord&) = delete;
  RunRecord& operator=(const RunRecord&) = delete;
  Status save(pid_t pid) {
    saved_ = true;
    return records_.save(
        {run_id_, pid, process_start_time(pid).value_or(0), current_boot_id(), run_id_});
  }
  void remove() {
    if (saved_) records_.remove(run_id_);
    saved_ = false;
  }

 private:
  InstanceRecords records_;
  std::string run_id_;
  bool saved_ = false;
};

}  // namespace

std::vector<std::string> stop_script_leftovers(const fs::path& record_dir) {
  std::vector<std::string> lines;
  const InstanceRecords records(record_dir);
  const auto found = records.load(lines);
  for (std::string& line : stop_leftovers(found, std::chrono::milliseconds(0))) {
    lines.push_back("script run " + line);
  }
  for (const auto& r : found) records.remove(r.instance);
  return lines;
}

ScriptOutcome run_script(const ScriptRequest& request) {
  ScriptOutcome outcome;
  const auto started = Clock::now();
  auto out_pipe = Pipe::open();
  if (!out_pipe) return outcome.start_error = out_pipe.error(), outcome;
  auto err_pipe = Pipe::open();
  if (!err_pipe) return outcome.start_error = err_pipe.error(), outcome;
  Pipe in_pipe;
  if (!request.input.empty()) {
    auto opened = Pipe::open();
    if (!opened) return outcome.start_error = opened.error(), outcome;
    in_pipe = std::move(*opened);
  }
  unique_fd &out_r = out_pipe->read, &err_r = err_pipe->read, &in_w = in_pipe.write;

  ChildSpec spec;
  spec.program = request.script;
  spec.args = request.args;
  spec.env = request.env;
  spec.cwd = request.cwd;
  spec.stdin_fd = in_pipe.read.get();
  spec.stdout_fd = out_pipe->write.get();
  spec.stderr_fd = request.merge_output ? out_pipe->write.get() : err_pipe->write.get();
  spec.account = request.account;
  std::optional<RunRecord> record;
  if (!request.record_dir.empty()) {
    const std::string run_id = new_run_id();
    spec.env.push_back("HUB_RUN_ID=" + run_id);
    record.emplace(request.record_dir, run_id);
    // Before the launch, with no pid yet: a hubd killed before the pid is recorded leaves
    // a record the next one finds the run's processes by (their HUB_RUN_ID).
    if (Status s = record->save(0); !s) {
      spdlog::warn("{}: {} (a hubd killed now could not find this run again)",
                   request.script.string(), s.message());
    }
  }
  auto launched = launch_child(spec);
  if (!launched) return outcome.start_error = launched.error(), outcome;
  Child& child = *launched;
  const pid_t pid = child.pid();
  // The pid too, now that there is one.
  if (record) {
    if (Status s = record->save(pid); !s) {
      spdlog::warn("{}: {} (a hubd killed now could not find this run again)",
                   request.script.string(), s.message());
    }
  }
  out_pipe->write.reset();
  err_pipe->write.reset();
  in_pipe.read.reset();
  ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
  if (in_w) ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

  SigpipeBlocked sigpipe_blocked;
  const auto deadline = started + request.timeout;
  bool long_run = !request.on_long_run;  // true once reported (or when no one asks)
  size_t written = 0;
  bool out_open = true, err_open = true, exited = false, killed = false;
  int status = 0;
  const Capture out{&outcome.out, &outcome.out_truncated, request.output_cap};
  const Capture err{&outcome.err, &outcome.err_truncated, request.output_cap};
  while (!exited) {
    std::array<pollfd, 5> fds = {{{child.pidfd(), POLLIN, 0},
                                  {out_open ? out_r.get() : -1, POLLIN, 0},
                                  {err_open ? err_r.get() : -1, POLLIN, 0},
                                  {in_w.get(), POLLOUT, 0},
                                  {killed ? -1 : request.cancel_fd, POLLIN, 0}}};
    // Round up: poll's millisecond timeout must not end before the deadline does.
    const auto wake_at = long_run ? deadline : std::min(deadline, request.long_run_at);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(wake_at - Clock::now());
    int wait_ms = killed ? -1 : static_cast<int>(std::max<int64_t>(0, left.count()));
    // On hubd's main loop (a control script, a configuration check): woken to keep its
    // watchdog fed.
    const bool keepalive = main_loop_keepalive_wanted();
    if (keepalive && (wait_ms < 0 || wait_ms > kKeepaliveEvery.count()))
      wait_ms = static_cast<int>(kKeepaliveEvery.count());
    const int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (keepalive) keep_main_loop_alive();
    if (ready < 0 && errno != EINTR) {  // cannot happen with valid fds; never leave it running
      outcome.start_error = std::string("poll: ") + strerror(errno);
      child.kill_group(SIGKILL);
      if (auto reaped = child.reap()) status = *reaped;
      break;
    }
    if (!long_run && Clock::now() >= request.long_run_at) {
      long_run = true;
      request.on_long_run();
    }
    // The deadline is checked on every pass: a script that keeps its pipes busy cannot
    // starve it.
    if (!killed && (fds[4].revents != 0 || Clock::now() >= deadline)) {
      if (fds[4].revents != 0) {
        outcome.cancelled = true;
        outcome.cancel_reason = request.cancel_reason;
      } else {
        outcome.timed_out = true;
      }
      killed = true;
      child.kill_group(SIGKILL);  // the whole group: the script and whatever it started
      continue;
    }
    if (fds[1].revents) out_open = drain(out_r.get(), out);
    if (fds[2].revents) err_open = drain(err_r.get(), err);
    if (fds[3].revents) {
      const ssize_t n =
          ::write(in_w.get(), request.input.data() + written, request.input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        written = request.input.size();  // EPIPE: it stopped reading
      if (written == request.input.size()) in_w.reset();
    }
    if (fds[0].revents) {
      // The run ends with the script: what it left in its process group goes too. Killed
      // before the script is reaped, so its pid (the group's id) cannot have been reused.
      child.kill_group(SIGKILL);
      auto reaped = child.reap();
      if (!reaped) {  // someone else reaped it (SIGCHLD ignored?)
        outcome.start_error = reaped.error();
        break;
      }
      status = *reaped;
      exited = true;
    }
  }
  // What the script wrote before it exited; a background child that kept the pipes open
  // has been killed, or left the group, and does not hold us here.
  if (out_open) drain(out_r.get(), out);
  if (err_open) drain(err_r.get(), err);

  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

}  // namespace hub
