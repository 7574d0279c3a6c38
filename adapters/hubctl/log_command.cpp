#include "hubctl/log_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>

#include "bus/text.h"
#include "hubctl/log_time.h"

namespace hub::ctl {
namespace {

namespace fs = std::filesystem;

// Where the lines go: as they are, or (--json) one JSON object per line with the log's
// name and the line's time when it has one. A partial last line waits for its end in
// JSON (flush() writes it at the end of a run that does not follow).
class LineSink {
 public:
  LineSink(std::string log, bool json) : log_(std::move(log)), json_(json) {}
  void write(std::string_view text) {
    if (!json_) {
      std::cout << text << std::flush;
      return;
    }
    partial_ += text;
    size_t start = 0;
    for (size_t end; (end = partial_.find('\n', start)) != std::string::npos; start = end + 1) {
      emit(std::string_view(partial_).substr(start, end - start));
    }
    partial_.erase(0, start);
    std::cout << std::flush;
  }
  void flush() {
    if (json_ && !partial_.empty()) emit(partial_);
    partial_.clear();
    std::cout << std::flush;
  }

 private:
  void emit(std::string_view line) {
    JsonObject json;
    json.add("log", log_);
    if (const auto at = line_time_ns(line))
      json.add("time", format_utc_time(static_cast<uint64_t>(*at)));
    json.add("line", is_valid_utf8(line) ? std::string(line) : printable(line));
    std::cout << json.str() << "\n";
  }
  std::string log_;
  bool json_;
  std::string partial_;
};

std::string read_to_end(int fd) {
  std::string text;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  return text;
}

// The last `lines` lines (0: all) of `text`; a partial last line counts as one.
std::string_view tail_of(std::string_view text, size_t lines) {
  if (lines == 0) return text;
  size_t from = text.size();
  size_t seen = 0;
  // The start of the `lines`-th line from the end (a final newline ends, not starts, one).
  for (size_t i = text.size(); i > 0; --i) {
    if (text[i - 1] == '\n' && i != text.size() && ++seen == lines) break;
    from = i - 1;
  }
  return text.substr(from);
}

// The lines of `text` stamped at or after `since`, and the unstamped lines that follow
// them (a record's output); unstamped lines before the first stamp are kept when
// `keep_leading` (the file was written since, and nothing says when they were).
std::string lines_since(std::string_view text, int64_t since, bool keep_leading) {
  std::string out;
  bool keep = keep_leading;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    const std::string_view line = text.substr(start, end - start);
    if (const auto at = line_time(line)) keep = *at >= since;
    if (keep) out += line;
    start = end;
  }
  return out;
}

int64_t modified_at(const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) : 0;
}

ino_t inode_of_fd(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Where the file with `inode` is now: 0 for `file` itself, K for `file`.K, -1 if gone.
int rotation_index(const fs::path& file, ino_t inode) {
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && st.st_ino == inode) return 0;
  for (int k = 1; k <= 100; ++k) {  // keep is at most 100; a gap is a rename under way
    if (::stat((file.string() + "." + std::to_string(k)).c_str(), &st) == 0 && st.st_ino == inode)
      return k;
  }
  return -1;
}

// What the rotated files of `file` hold that was written at or after `since`, oldest first.
std::string rotated_since(const fs::path& file, int64_t since) {
  std::string out;
  for (int k = 100; k >= 1; --k) {
    const fs::path older(file.string() + "." + std::to_string(k));
    const int64_t written = modified_at(older);
    if (written == 0 || written < since) continue;
    const int fd = ::open(older.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    out += lines_since(read_to_end(fd), since, /*keep_leading=*/true);
    ::close(fd);
  }
  return out;
}

// Follows `file`, open as `fd`, until SIGINT or SIGTERM: inotify on its directory tells of
// writes and of rotation (the file renamed aside and a new one created). The file stays
// open, so on rotation the rest of the old one is read before the new one.
int follow_log(const fs::path& file, int fd, LineSink& sink) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  const int signals = ::signalfd(-1, &stop, SFD_CLOEXEC);
  const int watch = ::inotify_init1(IN_CLOEXEC);
  if (signals < 0 || watch < 0 ||
      ::inotify_add_watch(watch, file.parent_path().c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) <
          0) {
    std::cerr << "hubctl: cannot follow " << file.string() << ": " << std::strerror(errno) << "\n";
    return kFailed;
  }
  sink.write(read_to_end(fd));  // what came between the tail and the watch
  for (;;) {
    pollfd fds[2] = {{watch, POLLIN, 0}, {signals, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents & POLLIN) {
      sink.flush();
      return kOk;
    }
    char events[4096];
    if (::read(watch, events, sizeof events) < 0) continue;
    // Read to the end, then, while the file read is no longer the current one (rotated,
    // maybe more than once), go on to the next newer one: NAME.log.K-1 ... NAME.log.1,
    // then NAME.log. A move while choosing is noticed and the choice made again.
    for (;;) {
      sink.write(read_to_end(fd));
      const ino_t reading = inode_of_fd(fd);
      const int k = rotation_index(file, reading);
      if (k == 0) break;  // the current file
      if (k < 0) {
        std::cerr << "hubctl: some output went by in rotated files that are already gone\n";
      }
      const fs::path newer = k <= 1 ? file : fs::path(file.string() + "." + std::to_string(k - 1));
      const int next = ::open(newer.c_str(), O_RDONLY | O_CLOEXEC);
      if (next < 0) break;  // between a rename and its new file: the next event comes
      if (k > 0 && rotation_index(file, reading) != k) {  // moved meanwhile
        ::close(next);
        continue;
      }
      // Renamed aside, the file gets no more writes; what came between the copy above and
      // the rename is read now, before leaving it.
      sink.write(read_to_end(fd));
      ::close(fd);
      fd = next;
    }
  }
}

struct LogsLine {
  std::string name;
  bool scripts = false;
  bool follow = false;
  std::optional<size_t> lines;
  std::optional<int64_t> since;
};

std::optional<LogsLine> parse_logs(const std::vector<std::string>& args, int& exit) {
  LogsLine l;
  const auto value_of = [&](size_t& i, const std::string& a, const char* flag) {
    const std::string prefix = std::string(flag) + "=";
    if (a.rfind(prefix, 0) == 0) return std::optional(a.substr(prefix.size()));
    if (a == flag && i + 1 < args.size()) return std::optional(args[++i]);
    return std::optional<std::string>();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::optional<std::string> value;
    if (a == "-f" || a == "--follow") {
      l.follow = true;
    } else if (a == "--scripts") {
      l.scripts = true;
    } else if ((value = value_of(i, a, "-n")) || (value = value_of(i, a, "--lines")) ||
               (a.size() > 1 && a[0] == '-' && std::isdigit(static_cast<unsigned char>(a[1])) &&
                (value = a.substr(1)))) {  // -N: tail's and supervisorctl's (lines here)
      const std::string& n = *value;
      if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 9) {
        exit = usage_error("-n takes a number of lines, not '" + n + "'", "logs");
        return std::nullopt;
      }
      l.lines = static_cast<size_t>(std::stoul(n));
    } else if ((value = value_of(i, a, "--since")) || (value = value_of(i, a, "-S"))) {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      l.since = parse_since(*value, now);
      if (!l.since) {
        exit = usage_error(
            "--since takes a time such as '2026-12-08 02:30', '02:30', '-10m', "
            "'1 hour ago' or 'today' (UTC), not '" +
                *value + "'",
            "logs");
        return std::nullopt;
      }
    } else if (((value = value_of(i, a, "-u")) || (value = value_of(i, a, "--unit"))) &&
               l.name.empty()) {
      l.name = *value;
    } else if (l.name.empty() && !a.empty() && a[0] != '-') {
      l.name = a;
    } else if (!l.name.empty() && !l.scripts && (a == "stdout" || a == "stderr")) {
      // supervisorctl's `tail NAME stderr`: the instance's log holds both streams.
    } else {
      exit = usage_error("unexpected '" + a + "'", "logs");
      return std::nullopt;
    }
  }
  if (l.name.empty() && !l.scripts) {
    exit = usage_error("logs needs a NAME (or --scripts for the site's event scripts)", "logs");
    return std::nullopt;
  }
  return l;
}

}  // namespace

int logs(Hub& hub, const std::vector<std::string>& args) {
  int exit = kOk;
  const auto l = parse_logs(args, exit);
  if (!l) return exit;
  const RootLayout& layout = hub.layout();
  std::error_code ec;
  fs::path file = l->scripts ? layout.script_log(l->name) : layout.instance_log(l->name);
  // A module with no service has only its event scripts' log: that one, then.
  if (!l->scripts && !fs::exists(file, ec) && fs::exists(layout.script_log(l->name), ec))
    file = layout.script_log(l->name);
  if (!fs::exists(file, ec)) {
    std::cerr << "hubctl: " << file.string() << ": no such log ("
              << (l->name.empty() ? std::string("no site event script has run yet")
                  : l->scripts    ? "is " + l->name + " a module whose event scripts have run?"
                                  : "is " + l->name +
                                     " a service instance, or a module whose event scripts "
                                     "have run?")
              << ")\n";
    return kNotFound;
  }
  // One open file from the tail on: a rotation in between cannot make lines go missing.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::cerr << "hubctl: " << file.string() << ": " << std::strerror(errno) << "\n";
    return kFailed;
  }
  LineSink sink(file.filename().string(), hub.json());
  std::string text;
  if (l->since) {  // every file written since, oldest first; all their lines unless -n
    text = rotated_since(file, *l->since);
    const std::string current = read_to_end(fd);
    text += lines_since(current, *l->since, modified_at(file) >= *l->since);
    sink.write(tail_of(text, l->lines.value_or(0)));
  } else {
    text = read_to_end(fd);
    sink.write(tail_of(text, l->lines.value_or(20)));
  }
  if (!l->follow) {
    sink.flush();
    return kOk;
  }
  return follow_log(file, fd, sink);
}

}  // namespace hub::ctl
