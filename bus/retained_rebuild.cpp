#include "bus/retained_rebuild.h"

#include <spdlog/spdlog.h>

#include "bus/credentials.h"
#include "bus/journal.h"
#include "bus/wire.h"

namespace hub {

RetainedRebuild rebuild_retained(const std::filesystem::path& journal_dir, RetainedStore& store) {
  RetainedRebuild done;
  JournalReader reader(journal_dir, 1, [](const std::string& why) {
    spdlog::warn("bus: rebuilding the retained events: {}", why);
  });
  while (const JournalRecord* record = reader.next()) {
    ++done.events_read;
    const auto header = wire::decode_event_header(record->header);
    if (!header) continue;
    const std::string_view source = header->source;
    if (header->flags & wire::kFlagRetain) {
      ++done.retained;
      zmq::message_t topic(record->topic.data(), record->topic.size());
      zmq::message_t stamped(record->header.data(), record->header.size());
      zmq::message_t payload(record->payload.data(), record->payload.size());
      if (store.keep(topic, stamped, payload, record->seq, source)) ++done.refused;
    } else if (source == kHubIdentity) {
      store.note_transient(record->topic, record->payload);
    }
  }
  store.forget_processes();  // none of them runs under this hubd
  return done;
}

}  // namespace hub
