#include "core/hub_logger.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace hub {

Result<std::shared_ptr<spdlog::logger>> install_hub_logger(const std::filesystem::path& log_file,
                                                           const HubConfig::Log& settings) {
  try {
    auto to_stderr = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto to_file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        log_file.string(), settings.max_size, static_cast<size_t>(settings.keep));
    auto logger =
        std::make_shared<spdlog::logger>("hubd", spdlog::sinks_init_list{to_stderr, to_file});
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    logger->set_level(spdlog::level::from_str(settings.level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    return logger;
  } catch (const spdlog::spdlog_ex& e) {
    return Status::error(log_file.string() + ": cannot open the log: " + e.what());
  }
}

}  // namespace hub
