// hubd's logger: stderr (coloured on a terminal) and ROOT/var/log/hub/hubd.log, rotated by
// size. Installed as spdlog's default logger so every layer logs to the same place.
#pragma once

#include <filesystem>
#include <memory>

#include <spdlog/logger.h>

#include "bus/status.h"
#include "core/hub_config.h"

namespace hub {

Result<std::shared_ptr<spdlog::logger>> install_hub_logger(const std::filesystem::path& log_file,
                                                           const HubConfig::Log& settings);

}  // namespace hub
