#include "core/hub/hub_logger.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
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

}  // namespace

Result<std::shared_ptr<spdlog::logger>> install_hub_logger(const std::filesystem::path& log_file,
                                                           const HubConfig::Log& settings) {
  try {
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
