#include "core/services/template_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bus/unique_fd.h"
#include "core/system/files.h"
#include "core/templates/template_render.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

Status failure(const fs::path& path, const char* what) {
  return Status::error(path.string() + ": " + what + ": " + std::strerror(errno));
}

// Writes all of `text` to `fd`.
bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Whether FILE, links resolved, is inside DIR (links resolved).
bool inside(const fs::path& dir, const fs::path& file) {
  std::error_code ec;
  const fs::path real_dir = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec) return false;
  const fs::path real = fs::weakly_canonical(fs::absolute(file, ec), ec);
  if (ec) return false;
  const auto [dir_end, file_it] =
      std::mismatch(real_dir.begin(), real_dir.end(), real.begin(), real.end());
  return dir_end == real_dir.end();
}

}  // namespace

Result<std::vector<RenderedFile>> render_templates(const std::vector<TemplateFile>& templates,
                                                   const fs::path& module_dir,
                                                   const YAML::Node& attributes) {
  std::vector<RenderedFile> out;
  out.reserve(templates.size());
  for (size_t i = 0; i < templates.size(); ++i) {
    const TemplateFile& t = templates[i];
    if (!inside(module_dir, module_dir / t.source)) {
      return Status::error("templates[" + std::to_string(i) + "] (" + t.target + "): " + t.source +
                           " links outside the module");
    }
    auto rendered = templates::render_file(module_dir / t.source, attributes);
    if (!rendered) {
      return Status::error("templates[" + std::to_string(i) + "] (" + t.target +
                           "): " + rendered.error());
    }
    out.push_back(
        {t.target, std::move(rendered->text), t.mode, t.source, std::move(rendered->undefined)});
  }
  return out;
}

Status replace_file(const fs::path& file, const std::string& text, mode_t mode, bool durable) {
  const fs::path dir = file.parent_path();
  const std::string temp = (dir / ("." + file.filename().string() + ".XXXXXX")).string();
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  const unique_fd fd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd) return failure(file, "cannot create a temporary file beside it");
  const fs::path written(name.data());
  const auto abandon = [&](const char* what) {
    const Status s = failure(file, what);
    ::unlink(written.c_str());
    return s;
  };
  if (!write_all(fd.get(), text)) return abandon("cannot be written");
  if (::fchmod(fd.get(), mode) != 0) return abandon("cannot set its mode");
  if (durable && ::fsync(fd.get()) != 0) return abandon("cannot be synced");
  if (::rename(written.c_str(), file.c_str()) != 0) return abandon("cannot be replaced");
  if (!durable) return Status::ok();
  const unique_fd dir_fd(
      ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());  // best effort: the rename is durable with it
  return Status::ok();
}

Status write_rendered(const fs::path& workspace, const std::vector<RenderedFile>& files,
                      const std::optional<Account>& owner) {
  for (const auto& f : files) {
    const fs::path file = workspace / f.target;
    // The directories between the workspace and the file, outermost first.
    std::vector<fs::path> dirs;
    for (fs::path d = file.parent_path(); d != workspace && d.has_relative_path();
         d = d.parent_path())
      dirs.insert(dirs.begin(), d);
    std::vector<fs::path> made;  // only these become the owner's, not what the hub made
    for (const auto& dir : dirs) {
      std::error_code ec;
      if (fs::is_symlink(dir, ec))
        return Status::error(dir.string() + ": a link; a template is never written through one");
      if (!fs::exists(dir, ec)) {
        if (Status s = make_private_dir(dir, 0750); !s) return s;
        made.push_back(dir);
      }
    }
    if (Status s = replace_file(file, f.text, f.mode, /*durable=*/false); !s) return s;
    if (owner) {
      if (Status s = give_to(file, *owner); !s) return s;
      for (auto it = made.rbegin(); it != made.rend(); ++it) {
        if (Status s = give_to(*it, *owner); !s) return s;
      }
    }
  }
  return Status::ok();
}

}  // namespace hub
