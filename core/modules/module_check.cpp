#include "core/modules/module_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/modules/module_environment.h"
#include "core/scripts/script_runner.h"
#include "core/services/service_process.h"
#include "core/system/accounts.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFailed = "configuration check failed: ";

std::string trimmed(const std::string& text) {
  const auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  const auto begin = std::find_if_not(text.begin(), text.end(), blank);
  const auto end = std::find_if_not(text.rbegin(), text.rend(), blank).base();
  return begin < end ? std::string(begin, end) : std::string();
}

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& entry : env) {
    if (entry.compare(0, key.size() + 1, key + "=") == 0) return entry.substr(key.size() + 1);
  }
  return {};
}

// The file and line that `output`'s first line names as "FILE:LINE:", FILE one of `files`.
void find_place(const std::string& output, const std::vector<std::string>& files,
                const fs::path& root, CheckFailure& failure) {
  const std::string first = output.substr(0, output.find('\n'));
  for (const auto& file : files) {
    if (first.compare(0, file.size() + 1, file + ":") != 0) continue;
    size_t at = file.size() + 1;
    int line = 0;
    for (; at < first.size() && std::isdigit(static_cast<unsigned char>(first[at])) &&
           line < 100'000'000;
         ++at) {
      line = line * 10 + (first[at] - '0');
    }
    if (at == file.size() + 1 || at >= first.size() || first[at] != ':' || line == 0) continue;
    failure.file = root / file;
    failure.line = line;
    return;
  }
}

// For a check that runs as another account: a private copy of the config files, under the
// same relative paths, that the account owns (the originals may be readable by hubd
// alone: a file holding a password). The service reads hubd's merged copy, which its
// account owns too, so the check sees nothing its service would not. Removed when done.
class CheckCopies {
 public:
  CheckCopies(const fs::path& root, const std::vector<fs::path>& files, const Account& account)
      : uid_(account.uid), gid_(account.gid) {
    std::string pattern = (fs::temp_directory_path() / "hub-check-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      error_ = std::string("cannot make a directory for its copies: ") + std::strerror(errno);
      return;
    }
    dir_ = pattern;
    give(dir_, 0700);
    for (const auto& file : files) {
      const fs::path relative = file.lexically_relative(root);
      const fs::path copy = dir_ / relative;
      std::error_code ec;
      fs::create_directories(copy.parent_path(), ec);
      for (fs::path d = relative.parent_path(); !d.empty(); d = d.parent_path())
        give(dir_ / d, 0700);
      if (!fs::copy_file(file, copy, fs::copy_options::overwrite_existing, ec)) {
        error_ = relative.string() + ": cannot be copied for the check: " + ec.message();
        return;
      }
      give(copy, 0600);
    }
  }
  ~CheckCopies() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  CheckCopies(const CheckCopies&) = delete;
  CheckCopies& operator=(const CheckCopies&) = delete;

  const fs::path& dir() const { return dir_; }
  const std::string& error() const { return error_; }

 private:
  void give(const fs::path& path, mode_t mode) {
    if ((::chown(path.c_str(), uid_, gid_) != 0 || ::chmod(path.c_str(), mode) != 0) &&
        error_.empty())
      error_ = path.string() + ": cannot be given to the check's account";
  }

  uid_t uid_;
  gid_t gid_;
  fs::path dir_;
  std::string error_;
};

}  // namespace

std::optional<CheckFailure> run_config_check(const RootLayout& layout, const Module& m,
                                             const std::vector<fs::path>& config_files,
                                             const CheckOptions& options) {
  const ConfigCheck& check = *m.service->check;
  const fs::path& root = layout.root();
  std::vector<std::string> env = module_environment(layout, m);
  env.erase(
      std::remove_if(env.begin(), env.end(),
                     [](const std::string& e) { return e.rfind("HUB_MODULE_CONFIG=", 0) == 0; }),
      env.end());
  auto program = resolve_command(check.command, m.dir, env_value(env, "PATH"));
  if (!program) return CheckFailure{kFailed + program.error(), {}, 0};
  auto account = module_account(m, options.services_group);
  if (!account)
    return CheckFailure{kFailed + check.command + " cannot run: " + account.error(), {}, 0};

  std::vector<std::string> files;
  for (const auto& file : config_files) {  // relative to the root, unless outside it
    const fs::path relative = file.lexically_relative(root);
    const bool inside = !relative.empty() && *relative.begin() != "..";
    files.push_back(inside ? relative.string() : file.string());
  }
  ScriptRequest request;
  request.script = *program;
  request.args = check.args;
  request.args.insert(request.args.end(), files.begin(), files.end());
  request.env = std::move(env);
  request.cwd = root;
  std::optional<CheckCopies> copies;
  if (*account) {
    copies.emplace(root, config_files, **account);
    if (!copies->error().empty()) return CheckFailure{kFailed + copies->error(), {}, 0};
    request.cwd = copies->dir();
  }
  request.timeout = check.timeout;
  request.output_cap = kCheckOutputCap;
  request.merge_output = true;
  request.cancel_fd = options.cancel_fd;
  request.record_dir = options.record_dir;
  request.account = *account;
  const ScriptOutcome outcome = run_script(request);
  if (outcome.ok()) return std::nullopt;

  std::string output = trimmed(outcome.out);
  if (outcome.out_truncated) {
    output += " (output cut at " + std::to_string(kCheckOutputCap) + " bytes)";
  }
  CheckFailure failure;
  failure.cancelled = outcome.cancelled;
  const bool plain_exit = outcome.start_error.empty() && !outcome.timed_out && !outcome.cancelled &&
                          outcome.signal == 0;
  if (plain_exit && !output.empty()) {
    failure.reason = kFailed + output;
  } else {
    failure.reason = kFailed + check.command + " " + outcome.describe();
    if (!output.empty()) failure.reason += ": " + output;
  }
  find_place(trimmed(outcome.out), files, root, failure);
  return failure;
}

}  // namespace hub
