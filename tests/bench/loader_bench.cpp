// loader_bench: how long the module loader takes on a large, realistic tree.
//
//   build/tests/bench/loader_bench [--modules N] [--runs R]
//
// Builds a root in a temp dir with N modules (default 500) spread over the levels system,
// customer and site: every fifth module at system also exists at site (so it is shadowed),
// each module depends on up to four earlier ones with version requirements of every
// specificity, one module in ten has config files at two levels, one in twenty has
// info/build.txt. Then times load_module_tree (discovery, info files, config merge,
// resolution, order) R times (default 20) and prints the median and worst against the
// target of 100 ms for 500 modules.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/modules/module_loader.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

std::string name_of(int i) { return "Mod" + std::to_string(i); }

void build_tree(const fs::path& root, int modules) {
  std::mt19937 rng(42);  // the same tree every run
  const char* levels[] = {"system", "customer", "site"};
  for (int i = 0; i < modules; ++i) {
    const std::string name = name_of(i);
    const bool shadows = i % 5 == 0;  // lives at site, over an older copy at system
    const std::string level = shadows ? "site" : levels[i % 3];
    const std::string version = std::to_string(1 + i % 4) + "." + std::to_string(i % 10) + ".0";
    std::string depends = "# generated\n";
    const int count = i == 0 ? 0 : static_cast<int>(rng() % 5);
    std::vector<int> picked;
    for (int d = 0; d < count; ++d) {
      const int dep = static_cast<int>(rng() % static_cast<unsigned>(i));
      if (std::find(picked.begin(), picked.end(), dep) != picked.end()) continue;  // one line each
      picked.push_back(dep);
      const std::string dep_version = std::to_string(1 + dep % 4) + "." + std::to_string(dep % 10);
      switch (d % 3) {
        case 0:
          depends += name_of(dep) + "\n";
          break;
        case 1:
          depends += name_of(dep) + ":" + dep_version.substr(0, dep_version.find('.')) + "\n";
          break;
        default:
          depends += name_of(dep) + ":" + dep_version + "\n";
          break;
      }
    }
    const fs::path dir = root / "modules" / level / name;
    write(dir / "info/version.txt", version + "\n");
    write(dir / "info/depends.txt", depends);
    if (i % 20 == 0) write(dir / "info/build.txt", "built by loader_bench\n");
    if (shadows) {
      write(root / "modules/system" / name / "info/version.txt", "0.1.0\n");
      write(root / "modules/system" / name / "info/depends.txt", "");
    }
    if (i % 10 == 0) {
      write(root / "config/system/modules" / name / "base.yml",
            "interval: 1s\nlimits: {cpu: 10, files: 64}\n");
      write(root / "config/site/modules" / name / "local.yml", "limits: {cpu: 20}\n");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int modules = 500, runs = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--modules") modules = std::atoi(argv[i + 1]);
    if (flag == "--runs") runs = std::atoi(argv[i + 1]);
  }
  char pattern[] = "/tmp/hubload.XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return 1;
  const fs::path root = pattern;
  build_tree(root, modules);

  std::vector<double> ms;
  hub::ModuleTree tree;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    tree = hub::load_module_tree(root, {"system", "customer", "site"});
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  size_t edges = 0;
  for (const auto& m : tree.loaded) edges += m.depends.size();
  std::printf(
      "loader_bench: %d modules (%zu loaded, %zu rejected, %zu shadowed, %zu dependency lines)\n",
      modules, tree.loaded.size(), tree.rejected.size(), tree.shadowed.size(), edges);
  std::printf("reproduce: build/tests/bench/loader_bench [--modules N] [--runs R]\n");
  std::printf(
      "load_module_tree over %d runs: median %.1f ms, worst %.1f ms (target for 500: <= 100 ms)\n",
      runs, ms[ms.size() / 2], ms.back());
  fs::remove_all(root);
  return 0;
}
