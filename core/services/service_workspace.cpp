#include "core/services/service_workspace.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "bus/root_layout.h"
#include "core/system/files.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

Status link(const fs::path& target, const fs::path& link_path) {
  std::error_code ec;
  fs::create_directories(link_path.parent_path(), ec);
  if (!ec) fs::create_directory_symlink(target, link_path, ec);
  if (ec)
    return Status::error(link_path.string() + ": cannot link to " + target.string() + ": " +
                         ec.message());
  return Status::ok();
}

// Removes `dir` and everything in it, never following links. Directories the service
// made read-only (a package cache, say) are made writable by their owner first.
std::error_code remove_tree(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!ec) return ec;
  std::error_code walk;
  for (fs::recursive_directory_iterator
           it(dir, fs::directory_options::skip_permission_denied, walk),
       end;
       !walk && it != end; it.increment(walk)) {
    std::error_code ignored;
    if (it->is_directory(ignored) && !it->is_symlink(ignored)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ignored);
    }
  }
  ec.clear();
  fs::remove_all(dir, ec);
  return ec;
}

}  // namespace

WorkspacePaths workspace_paths(const RootLayout& layout, const std::string& instance) {
  WorkspacePaths p;
  p.dir = layout.workspace_dir(instance);
  p.config_file = p.dir / kWorkspaceConfigDir / "service.yml";
  p.credential_file = p.dir / kWorkspaceConfigDir / "credential";
  p.log_dir = layout.instance_log_dir(instance);
  p.output_log = layout.instance_log(instance);
  return p;
}

Result<WorkspacePaths> prepare_workspace(const RootLayout& layout,
                                         const std::vector<std::string>& volume_paths,
                                         const WorkspaceRequest& request) {
  const WorkspacePaths p = workspace_paths(layout, request.instance);
  std::error_code ec = remove_tree(p.dir);
  if (ec) return Status::error(p.dir.string() + ": cannot be cleared: " + ec.message());
  // Built as hubd's own, and given to the service's user (if it has one) only at the end,
  // innermost first: the user cannot enter it before, so nothing in it can be swapped for
  // a link while hubd works there; hubd touches nothing in it after.
  for (const auto& dir : {p.dir, p.dir / kWorkspaceConfigDir}) {
    if (Status s = make_private_dir(dir, 0750); !s) return s;
  }
  if (request.owner) {  // the service's user goes through var/run/hub/services/ to its own
    if (Status s = make_private_dir(p.dir.parent_path(), 0755); !s) return s;
  }
  // Its own log and data directories sit in directories only hubd may change.
  if (Status s = make_private_dir(p.log_dir, 0750, request.owner); !s) return s;
  if (Status s = write_file(p.config_file, request.config_yaml, 0640); !s) return s;
  const std::string credential = request.credential.identity + ":" + request.credential.secret;
  if (Status s = write_file(p.credential_file, credential + "\n", 0600); !s) return s;
  const fs::path data = fs::absolute(layout.module_data_dir(request.module));
  if (Status s = make_private_dir(data, 0750, request.owner); !s) return s;
  if (Status s = link(data, p.dir / kWorkspaceDataLink); !s) return s;
  if (Status s = link(fs::absolute(p.log_dir), p.dir / kWorkspaceLogLink); !s) return s;
  for (const auto& volume : request.volumes) {
    auto source = resolve_volume_source(layout, volume_paths, volume);
    if (!source) return source.status();
    // A source that does not exist yet is created, as a directory, when it is ours; never
    // for a service of another user (its path may run through that user's directories).
    if (!fs::exists(*source, ec)) {
      if (request.owner) {
        return Status::error(volume.source +
                             ": does not exist (it is not created for a service "
                             "that runs as another user)");
      }
      if (Status s = make_private_dir(*source, 0750); !s) return s;
    }
    if (Status s = link(*source, p.dir / fs::path(volume.target).lexically_normal()); !s) return s;
  }
  if (Status s = write_rendered(p.dir, request.files, request.owner); !s) return s;
  if (request.owner) {
    for (const auto& path : {p.config_file, p.credential_file, p.dir / kWorkspaceConfigDir,
                             (p.dir / kWorkspaceConfigDir).parent_path(), p.dir}) {
      if (Status s = give_to(path, *request.owner); !s) return s;
    }
  }
  return p;
}

}  // namespace hub
