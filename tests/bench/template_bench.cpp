// template_bench: how long a module template takes to render (docs/TEMPLATES.md).
//
//   build/tests/bench/template_bench [--runs R]
//
// A 1,000-line template (config lines reading nested keys, conditionals every tenth line,
// a group template call) with a 100-item list iterated by a multi-line anonymous
// template, against a config of 1,000 keys and 100 list items. Times R renders (default
// 500) of the whole path a service start takes (read nothing: text in memory; parse,
// check the names, render), and of the render alone, and prints the median and worst
// against the goal of 1 ms a render. Then ten 40-line template files rendered from disk
// with a 20-key config, as a service start with ten templates does (goal: under 2 ms).
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/templates/template_check.h"
#include "core/templates/template_group.h"
#include "core/templates/template_render.h"
#include "core/templates/template_renderer.h"
#include "core/templates/template_value.h"

using Clock = std::chrono::steady_clock;
using namespace hub::templates;

namespace {

constexpr int kLines = 1000;
constexpr int kItems = 100;

std::string make_template() {
  std::string t;
  int lines = 0;
  t += "# generated for <module.name> <hub.version>\n";
  ++lines;
  t += "upstreams {\n";
  t += "    <servers:{s | server <s.host>:<s.port> weight=<s.weight>; # <i>/<length(servers)>\n"
       "<if(s.backup)>backup;<else>primary;<endif>}; separator=\"\\n\">\n";
  t += "}\n";
  lines += 4;
  int k = 0;
  while (lines < kLines) {
    const std::string n = std::to_string(k++);
    if (k % 10 == 0) {
      t += "<if(section.flag_" + n + ")>\nflag_" + n + " = on\n<else>\nflag_" + n +
           " = off\n<endif>\n";
      lines += 5;
    } else {
      t += "key_" + n + " = <section.key_" + n + "> ; <name>\n";
      ++lines;
    }
  }
  return t;
}

YAML::Node make_config() {
  YAML::Node c(YAML::NodeType::Map);
  c["name"] = "bench";
  YAML::Node section(YAML::NodeType::Map);
  for (int k = 0; k < kLines; ++k) {
    section["key_" + std::to_string(k)] = "value number " + std::to_string(k);
    if (k % 10 == 9) section["flag_" + std::to_string(k)] = k % 20 == 9 ? "true" : "false";
  }
  c["section"] = section;
  YAML::Node servers(YAML::NodeType::Sequence);
  for (int i = 0; i < kItems; ++i) {
    YAML::Node s(YAML::NodeType::Map);
    s["host"] = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    s["port"] = 8000 + i;
    s["weight"] = i % 5 + 1;
    s["backup"] = i % 10 == 0 ? "true" : "false";
    servers.push_back(s);
  }
  c["servers"] = servers;
  YAML::Node module(YAML::NodeType::Map);
  module["name"] = "Bench";
  c["module"] = module;
  YAML::Node hub(YAML::NodeType::Map);
  hub["version"] = "0.1.0";
  c["hub"] = hub;
  return c;
}

struct Times {
  double median_us, worst_us;  // wall clock
  double cpu_median_us;        // this thread's CPU time: what a busy machine does not inflate
};

double thread_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

template <typename F>
Times time_runs(int runs, F&& f) {
  std::vector<double> us, cpu;
  for (int r = 0; r < runs; ++r) {
    const double c0 = thread_cpu_us();
    const auto t0 = Clock::now();
    f();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    cpu.push_back(thread_cpu_us() - c0);
  }
  std::sort(us.begin(), us.end());
  std::sort(cpu.begin(), cpu.end());
  return {us[us.size() / 2], us.back(), cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 500;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
  }
  const std::string text = make_template();
  const YAML::Node config = make_config();
  size_t out_bytes = 0;
  {
    auto r = render_text(text, "bench.st", config);
    if (!r) {
      std::fprintf(stderr, "template_bench: %s\n", r.error().c_str());
      return 1;
    }
    if (!r->undefined.empty()) {
      std::fprintf(stderr, "template_bench: undefined %s\n", r->undefined.front().c_str());
      return 1;
    }
    out_bytes = r->text.size();
  }
  const Times whole = time_runs(runs, [&] {
    auto r = render_text(text, "bench.st", config);
    if (!r) std::abort();
  });
  auto loaded = load_template(text, "bench.st");
  const ValuePtr values = from_yaml(config);
  const Times load = time_runs(runs, [&] {
    auto t = load_template(text, "bench.st");
    if (!t) std::abort();
  });
  const Times convert = time_runs(runs, [&] {
    if (!from_yaml(config)) std::abort();
  });
  const Times check = time_runs(runs, [&] {
    auto r = check_template(*loaded, *values);
    if (!r) std::abort();
  });
  const Times render = time_runs(runs, [&] {
    auto r = render_template(*loaded, values);
    if (!r) std::abort();
  });
  std::printf("template_bench: %d-line template, %d-item list, %zu bytes out, %d runs\n", kLines,
              kItems, out_bytes, runs);
  std::printf("  %-36s %10s %10s %10s %14s\n", "", "median", "worst", "CPU median", "CPU / 1 ms");
  const auto row = [](const char* what, const Times& t) {
    std::printf("  %-36s %7.0f us %7.0f us %7.0f us %13.2fx\n", what, t.median_us, t.worst_us,
                t.cpu_median_us, t.cpu_median_us / 1000.0);
  };
  row("render_text (parse, check, render)", whole);
  row("parse (load_template)", load);
  row("attributes from YAML (from_yaml)", convert);
  row("names check (check_template)", check);
  row("render alone (parsed once)", render);

  // Ten files of 40 lines, a 20-key config.
  char pattern[] = "/tmp/template_bench.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const std::filesystem::path dir = pattern;
  YAML::Node small(YAML::NodeType::Map);
  for (int k = 0; k < 20; ++k) small["key" + std::to_string(k)] = "value" + std::to_string(k);
  std::vector<std::filesystem::path> files;
  for (int f = 0; f < 10; ++f) {
    std::string t = "# file " + std::to_string(f) + "\n";
    for (int line = 0; line < 39; ++line) {
      const std::string k = std::to_string(line % 20);
      t += line % 8 == 0 ? "<if(key" + k + ")>on<else>off<endif>\n"
                         : "setting" + std::to_string(line) + " = <key" + k + ">\n";
    }
    files.push_back(dir / ("f" + std::to_string(f) + ".conf.st"));
    std::ofstream(files.back()) << t;
  }
  const Times ten = time_runs(runs, [&] {
    for (const auto& file : files) {
      auto r = render_file(file, small);
      if (!r) std::abort();
    }
  });
  std::filesystem::remove_all(dir);
  std::printf("\n  %-36s %7.0f us %7.0f us %7.0f us %13.2fx (of 2 ms)\n",
              "10 files of 40 lines (render_file)", ten.median_us, ten.worst_us, ten.cpu_median_us,
              ten.cpu_median_us / 2000.0);
  return 0;
}
