// hubd [--root DIR] [--config FILE] [--check]
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "bus/bus_paths.h"
#include "core/hub/hub_check.h"
#include "core/hub/hubd.h"
#include "help/hubd_help.h"

namespace {

// The text of man/hubd.8.md's help block: the man page shows the same.
constexpr const char* kUsage = hub::help::hubd::kUsage;

}  // namespace

int main(int argc, char** argv) {
  hub::block_stop_signals();
  // An inherited "ignore SIGCHLD" would let the kernel reap scripts before hubd can
  // read their exit status.
  signal(SIGCHLD, SIG_DFL);
  // Started with stdin, stdout or stderr closed, the first files hubd opens would take
  // those numbers, and log lines (or a child's stdio) would land in them.
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) < 0) open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
  }
  const option long_options[] = {
      {"root", required_argument, nullptr, 'r'}, {"config", required_argument, nullptr, 'c'},
      {"check", no_argument, nullptr, 'k'},      {"version", no_argument, nullptr, 'V'},
      {"help", no_argument, nullptr, 'h'},       {nullptr, 0, nullptr, 0}};
  hub::HubdOptions options;
  bool check = false;
  options.root = hub::default_root();
  for (int c; (c = getopt_long(argc, argv, "", long_options, nullptr)) != -1;) {
    switch (c) {
      case 'r':
        options.root = optarg;
        break;
      case 'c':
        options.config_file = optarg;
        break;
      case 'k':
        check = true;
        break;
      case 'V':
        std::cout << "hubd " << HUB_VERSION << "\n";
        return hub::kExitOk;
      case 'h':
        std::cout << kUsage;
        return hub::kExitOk;
      default:
        std::cerr << kUsage;
        return hub::kExitUsage;
    }
  }
  if (optind < argc) {
    std::cerr << "hubd: unexpected argument '" << argv[optind] << "'\n" << kUsage;
    return hub::kExitUsage;
  }
  std::error_code ec;
  options.root = std::filesystem::weakly_canonical(std::filesystem::absolute(options.root), ec);
  if (ec || !std::filesystem::is_directory(options.root)) {
    std::cerr << "hubd: the root " << options.root.string() << " is not a directory\n";
    return hub::kExitUsage;
  }
  if (check) return hub::check_hub(options, std::cout);
  return hub::run_hubd(options);
}
