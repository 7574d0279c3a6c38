#include "core/scripts/script_index.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

#include "core/system/files.h"

namespace hub {
namespace fs = std::filesystem;
namespace {

constexpr uint32_t kTreeChanges = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

ScriptIndex::ScriptIndex(std::vector<ScriptOwner> owners) : owners_(std::move(owners)) {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  rebuild();
}

ScriptIndex::~ScriptIndex() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

void ScriptIndex::watch(const fs::path& dir) {
  if (inotify_fd_ < 0) return;
  const int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kTreeChanges);
  if (wd >= 0) watches_.push_back(wd);
}

// Rescans every owner. Owners are few and their events/ trees two levels deep, so a full
// rescan on any change stays simple and cheap.
void ScriptIndex::rebuild() {
  for (int wd : watches_) ::inotify_rm_watch(inotify_fd_, wd);
  watches_.clear();
  by_topic_.clear();
  for (size_t i = 0; i < owners_.size(); ++i) {
    const ScriptOwner& owner = owners_[i];
    watch(owner.dir);  // events/ itself may come or go
    std::error_code ec;
    if (!fs::is_directory(owner.events_dir, ec)) continue;
    watch(owner.events_dir);
    for (const auto& module_dir : visible_entries(owner.events_dir, ec)) {
      if (!fs::is_directory(module_dir, ec)) continue;
      watch(module_dir);
      for (const auto& event : visible_entries(module_dir, ec)) {
        by_topic_[module_dir.filename().string() + "/" + event.filename().string()].push_back(i);
      }
    }
  }
}

void ScriptIndex::refresh() {
  if (inotify_fd_ < 0) return rebuild();
  alignas(inotify_event) char buf[16 * 1024];
  bool changed = false;
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n > 0) {
      // Only real changes count: removing a watch (as rebuild() does) queues IN_IGNORED,
      // which must not trigger another rebuild.
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buf + at);
        if ((event->mask & (kTreeChanges | IN_Q_OVERFLOW)) != 0) changed = true;
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EAGAIN: all read
  }
  if (changed) rebuild();
}

const std::vector<size_t>* ScriptIndex::owners_for(std::string_view topic) {
  if (inotify_fd_ < 0) rebuild();
  const auto it = by_topic_.find(std::string(topic));
  return it == by_topic_.end() ? nullptr : &it->second;
}

}  // namespace hub
