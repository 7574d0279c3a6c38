// template_start_bench: what a service's templates add to its start: rendering N templates
// (default 10, 50 lines each, a few config keys per line) and writing them into a fresh
// workspace as the supervisor does (core/services/template_files.h: temporary file,
// rename), against the goal of 2 ms for 10 templates; rendering and writing apart.
//
//   build/tests/bench/template_start_bench [--templates N] [--runs R] [--dir DIR]
//
// DIR (default: a new directory under /tmp) should be on the filesystem the hub's run
// place is on (an installed hub: /run, a tmpfs).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/services/template_files.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int count = 10, runs = 200;
  fs::path dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--templates") {
      count = std::atoi(argv[i + 1]);
    } else if (flag == "--runs") {
      runs = std::atoi(argv[i + 1]);
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: %s [--templates N] [--runs R] [--dir DIR]\n", argv[0]);
      return 2;
    }
  }
  if (count < 1 || runs < 1) return 2;
  const fs::path base = (dir.empty() ? fs::temp_directory_path() : dir) /
                        ("template_start_bench." + std::to_string(::getpid()));
  const fs::path module = base / "module";
  fs::create_directories(module / "templates");
  std::vector<hub::TemplateFile> templates;
  for (int t = 0; t < count; ++t) {
    std::string text;
    for (int line = 0; line < 50; ++line)
      text += "key" + std::to_string(line) + " = <server.host>:<server.port> # <name>\n";
    const std::string source = "templates/t" + std::to_string(t) + ".conf.st";
    std::ofstream(module / source) << text;
    templates.push_back({source, "etc/t" + std::to_string(t) + ".conf", 0640});
  }
  const YAML::Node attributes = YAML::Load("{name: Bench, server: {host: db.example, port: 5432}}");

  std::vector<double> ms, render_ms;
  for (int r = 0; r < runs; ++r) {
    const fs::path workspace = base / ("ws" + std::to_string(r));
    fs::create_directories(workspace / "etc");
    const auto start = Clock::now();
    auto files = hub::render_templates(templates, module, attributes);
    if (!files) {
      std::fprintf(stderr, "%s\n", files.error().c_str());
      return 1;
    }
    render_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (hub::Status s = hub::write_rendered(workspace, *files); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    fs::remove_all(workspace);
  }
  fs::remove_all(base);
  std::sort(ms.begin(), ms.end());
  std::sort(render_ms.begin(), render_ms.end());
  const double median = ms[ms.size() / 2], worst = ms.back();
  std::printf("%d templates of 50 lines, rendered and written (%d runs, %s):\n", count, runs,
              base.parent_path().c_str());
  std::printf("  median %.3f ms, worst %.3f ms; goal 2 ms for 10: median at %.0f%% of it\n", median,
              worst, median / 2.0 * 100);
  std::printf("  of which rendering: median %.3f ms\n", render_ms[render_ms.size() / 2]);
  return 0;
}
