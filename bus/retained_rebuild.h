// The retained store rebuilt from the journal when the broker starts, so that retained
// state (every module's lifecycle state among it) survives a restart of hubd. Every
// journalled event is applied in sequence order as the broker applied it when it was
// published: retained ones kept (under the limits in force now), the Hub's transient
// lifecycle events dropping what they made stale. What the journal lost, or retention
// removed, is not invented.
#pragma once

#include <cstdint>
#include <filesystem>

#include "bus/retained_store.h"

namespace hub {

struct RetainedRebuild {
  uint64_t events_read = 0;  // journalled events read
  uint64_t retained = 0;     // of which published with RETAIN
  uint64_t refused = 0;      // of those, refused now (a limit, or the topic is the Hub's)
};

// Applies the journal in `journal_dir` to `store`; damaged records are logged and skipped.
RetainedRebuild rebuild_retained(const std::filesystem::path& journal_dir, RetainedStore& store);

}  // namespace hub
