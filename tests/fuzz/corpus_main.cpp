// Runs a fuzz harness once on every file of the directories (or files) it is given: the
// committed seed corpus and the regressions (inputs that once crashed), in the ordinary
// build, without libFuzzer. Exits non-zero only by crashing, as the harness would.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void run_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path = argv[i];
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path)) files.push_back(entry);
      for (const auto& file : files) run_file(file), ++runs;
    } else if (std::filesystem::exists(path, ec)) {
      run_file(path);
      ++runs;
    }
  }
  std::printf("%zu inputs, no crash\n", runs);
  return runs > 0 ? 0 : 1;
}
