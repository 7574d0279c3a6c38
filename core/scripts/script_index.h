// Which owners have scripts for which topics: an index of the events/MODULE/EVENT paths
// of the site (ROOT/events) and of every loaded module (MODULE_DIR/events), kept current
// with inotify so a bus event costs one hash lookup, and a script directory created before
// an event is published is always seen when that event is dispatched (the inotify queue
// is read before each event). One thread only.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hub {

struct ScriptOwner {
  std::string name;                  // the module's name; empty for the site
  std::filesystem::path dir;         // its directory: scripts run there
  std::filesystem::path events_dir;  // dir/events
};

class ScriptIndex {
 public:
  explicit ScriptIndex(std::vector<ScriptOwner> owners);
  ~ScriptIndex();
  ScriptIndex(const ScriptIndex&) = delete;
  ScriptIndex& operator=(const ScriptIndex&) = delete;

  // Readable when the trees changed; call refresh() then. -1 if inotify is unavailable
  // (then every lookup rescans: correct, slower).
  int fd() const { return inotify_fd_; }
  // Applies what changed since the last call. Cheap when nothing did.
  void refresh();

  // Indexes into the owners given at construction of those with events/MODULE/EVENT for `topic`, in
  // owner order (the site first, then modules in load order); nullptr when none.
  const std::vector<size_t>* owners_for(std::string_view topic);

 private:
  void rebuild();
  void watch(const std::filesystem::path& dir);

  std::vector<ScriptOwner> owners_;
  int inotify_fd_ = -1;
  std::vector<int> watches_;
  std::unordered_map<std::string, std::vector<size_t>> by_topic_;
};

}  // namespace hub
