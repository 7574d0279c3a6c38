#include "core/hub/hub_logger.h"

#include <sys/stat.h>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "bus/text.h"

namespace hub {
namespace {

// True when `text` is printable ASCII without a backslash: written as it is.
bool plain(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e || c == '\\') return false;
  }
  return true;
}

// The message of a record (the %v of the pattern) with its control characters, C1
// controls and invalid UTF-8 escaped (append_printable): whatever names or reasons it
// quotes, one record is one line of the log and cannot forge another or drive a terminal.
class EscapedMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (plain(text)) {
      dest.append(text.data(), text.data() + text.size());
      return;
    }
    escaped_.clear();
    append_printable(escaped_, text);
    dest.append(escaped_.data(), escaped_.data() + escaped_.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }

 private:
  std::string escaped_;  // reused; a formatter is used under its sink's lock
};

// "<N>": the record's syslog priority, as journald reads it from a stream's line start.
class SyslogPriority : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const char* prefix = "<6>";
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        prefix = "<7>";
        break;
      case spdlog::level::warn:
        prefix = "<4>";
        break;
      case spdlog::level::err:
        prefix = "<3>";
        break;
      case spdlog::level::critical:
        prefix = "<2>";
        break;
      default:
        break;
    }
    dest.append(prefix, prefix + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriority>();
  }
};

std::unique_ptr<spdlog::formatter> journal_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessage>('*').add_flag<SyslogPriority>('P').set_pattern("%P%*");
  return formatter;
}

}  // namespace

bool is_journal_stream(const std::string& journal_stream, int fd) {
  const size_t colon = journal_stream.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == journal_stream.size()) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  try {
    size_t used = 0;
    const unsigned long long device = std::stoull(journal_stream.substr(0, colon), &used);
    if (used != colon) return false;
    const std::string inode_text = journal_stream.substr(colon + 1);
    const unsigned long long inode = std::stoull(inode_text, &used);
    if (used != inode_text.size()) return false;
    return device == static_cast<unsigned long long>(st.st_dev) &&
           inode == static_cast<unsigned long long>(st.st_ino);
  } catch (const std::exception&) {
    return false;
  }
}

Result<std::shared_ptr<spdlog::logger>> install_hub_logger(const std::filesystem::path& log_file,
                                                           const HubConfig::Log& settings,
                                                           bool to_journal) {
  try {
    if (to_journal) {
      auto logger = std::make_shared<spdlog::logger>(
          "hubd", std::make_shared<spdlog::sinks::stderr_sink_mt>());
      logger->set_formatter(journal_formatter());
      logger->set_level(spdlog::level::from_str(settings.level));
      logger->flush_on(spdlog::level::trace);  // every line at once: journald stamps it
      spdlog::set_default_logger(logger);
      return logger;
    }
    auto to_stderr = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto to_file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        log_file.string(), settings.max_size, static_cast<size_t>(settings.keep));
    auto logger =
        std::make_shared<spdlog::logger>("hubd", spdlog::sinks_init_list{to_stderr, to_file});
    logger->set_formatter(hub_log_formatter());
    logger->set_level(spdlog::level::from_str(settings.level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    return logger;
  } catch (const spdlog::spdlog_ex& e) {
    return Status::error(log_file.string() + ": cannot open the log: " + e.what());
  }
}

std::unique_ptr<spdlog::formatter> hub_log_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessage>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %*");
  return formatter;
}

}  // namespace hub
