// The fleet bridge's program (the service of modules/system/Bridge; README, "Fleet").
//   bridge                    the service: reads etc/hub/service.yml, as hubd starts it
//   bridge --check FILE...    checks the module's config files (lowest precedence first),
//                             printing every problem as FILE:LINE:COL: KEY: what was expected;
//                             exit status 1 when there is any (hubd runs this at load)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <hub/sdk.h>

#include "bridge/bridge.h"
#include "bridge/bridge_config.h"

namespace {

// {device} when the config names none: $HUB_DEVICE (hub.yml `device:`), else the host name.
std::string default_device() {
  if (const char* device = std::getenv("HUB_DEVICE"); device && *device) return device;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !*name) return "device";
  return name;
}

int check(const std::vector<std::string>& files) {
  hub::bridge::ConfigProblems problems;
  auto config = hub::bridge::load_bridge_config(files, default_device(), problems);
  if (!config) {
    std::fputs(problems.text().c_str(), stdout);
    return 1;
  }
  std::printf("ok: broker %s:%d, device %s, %zu outbound and %zu inbound rules\n",
              config->broker.host.c_str(), config->broker.port, config->device.c_str(),
              config->outbound.size(), config->inbound.size());
  return 0;
}

int serve() {
  auto ctx = hub::sdk::Context::from_environment();
  if (!ctx) {
    std::fprintf(stderr, "%s\n", ctx.error().c_str());
    return 1;
  }
  hub::bridge::ConfigProblems problems;
  auto config =
      hub::bridge::load_bridge_config({(*ctx)->config().config_file}, default_device(), problems);
  if (!config) {
    (*ctx)->log().error("bad configuration:\n{}", problems.text());
    return 1;
  }
  auto bridge = std::make_unique<hub::bridge::Bridge>(**ctx, std::move(*config));
  const hub::Status status = bridge->run();
  if (!status) (*ctx)->log().error("{}", status.message());
  // The Context first: it ends the subscription threads that call into the bridge.
  ctx->reset();
  bridge.reset();
  return status ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--check") == 0)
    return check(std::vector<std::string>(argv + 2, argv + argc));
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("bridge (hub) %s\n", HUB_VERSION);
    return 0;
  }
  if (argc >= 2) {
    std::fprintf(stderr, "usage: bridge [--check FILE...]\n");
    return 2;
  }
  return serve();
}
