#include "bus/replay_service.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "bus/decimal_text.h"
#include "bus/router_replies.h"
#include "bus/status.h"
#include "bus/text.h"
#include "bus/topic_filter.h"
#include "bus/wire.h"

namespace hub {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxReplays = 64;
constexpr auto kReplayIdle = std::chrono::seconds(30);
constexpr uint64_t kReplayScanLimit = 100000;      // records read per answer, matching or not
constexpr size_t kReplayBatch = 128;               // events per message of an answer, at most,
constexpr size_t kReplayBatchBytes = 1024 * 1024;  // or this many bytes (large payloads)
constexpr size_t kMaxGapsLogged = 4096;            // distinct journal gaps remembered as logged

// FROM and CREDIT of a replay request, strictly: decimal text (decimal_text.h), FROM from 1,
// CREDIT from 1 (more than kReplayMaxCredit is capped). The error names the frame and
// shows what came.
Result<std::pair<uint64_t, uint64_t>> parse_replay_numbers(std::string_view from_text,
                                                           std::string_view credit_text) {
  const auto shown = [](std::string_view text) {
    std::string out = "'";
    append_printable(out, text.substr(0, 32));
    return out + (text.size() > 32 ? "...'" : "'");
  };
  const auto from = parse_decimal(from_text);
  if (!from || *from == 0) {
    return Status::error("FROM: expected a sequence number from 1 as decimal digits, got " +
                         shown(from_text));
  }
  const auto credit = parse_decimal(credit_text);
  if (!credit || *credit == 0) {
    return Status::error("CREDIT: expected a number of events from 1 as decimal digits, got " +
                         shown(credit_text));
  }
  return std::pair{*from, std::min(*credit, wire::kReplayMaxCredit)};
}

}  // namespace

ReplayService::ReplayService(zmq::socket_t& router, Journal* journal, uint64_t last_seq_before_run,
                             std::function<void(const std::string&)> journal_failed)
    : router_(router),
      journal_(journal),
      last_seq_before_run_(last_seq_before_run),
      journal_failed_(std::move(journal_failed)) {}

ReplayService::~ReplayService() = default;

void ReplayService::answer(zmq::message_t& routing_id, const std::vector<std::string>& frames,
                           uint64_t newest) {
  if (journal_ == nullptr) return reply_error(router_, routing_id, "this hub keeps no journal");
  if (frames.size() < 3) {
    return reply_error(router_, routing_id, "expected [\"replay\"][from seq][credit][pattern]*");
  }
  auto numbers = parse_replay_numbers(frames[1], frames[2]);
  if (!numbers) return reply_error(router_, routing_id, numbers.error());
  const auto [from, credit] = *numbers;
  std::vector<std::string> patterns(frames.begin() + 3, frames.end());
  auto filter = TopicFilter::parse(patterns);
  if (!filter) return reply_error(router_, routing_id, filter.error());
  if (from > newest) {  // nothing to read (a subscriber's idle check, mostly): no reader
    send_frames(router_, routing_id, {wire::kReplayCaughtUp, std::to_string(newest)});
    return;
  }
  if (Status s = journal_->flush(false); !s) {  // everything appended so far is readable
    journal_failed_(s.message());
  }

  std::string key(static_cast<const char*>(routing_id.data()), routing_id.size());
  for (const auto& p : patterns) key += '\n' + p;
  auto it = sessions_.find(key);
  const bool fresh = it == sessions_.end() || it->second.next != from;
  if (fresh) {
    ++begun_;
    if (sessions_.size() >= kMaxReplays) expire(true);
    auto reader = std::make_unique<JournalReader>(
        journal_->options().dir, from,
        [](const std::string& why) { spdlog::error("journal: {}", why); });
    it = sessions_.insert_or_assign(key, Session{std::move(reader), from, {}}).first;
  }
  Session& session = it->second;
  session.used = Clock::now();
  uint64_t sent = 0, scanned = 0;
  const uint64_t limit = credit;
  std::string& records = records_;  // up to kReplayBatch events, wire::append_record
  records.clear();
  size_t batched = 0;
  const auto send_batch = [&] {
    if (batched == 0) return true;
    if (!send_frames(router_, routing_id, {wire::kReplayEvents, records})) return false;
    records.clear();
    batched = 0;
    return true;
  };
  // Numbers missing from the journal go to the client in order, between the events.
  const auto send_gap = [&](const JournalGap& gap) {
    log_gap(gap);
    return send_batch() && send_frames(router_, routing_id,
                                       {wire::kReplayLost, std::to_string(gap.first),
                                        std::to_string(gap.last), gap.why});
  };
  while (sent < limit && scanned < kReplayScanLimit) {
    const JournalRecord* r = session.reader->next();
    if (r == nullptr) break;
    ++scanned;
    for (const JournalGap& gap : session.reader->gaps()) {
      if (!send_gap(gap)) {
        sessions_.erase(it);  // the client is gone or not reading: it asks again
        return;
      }
    }
    session.next = r->seq + 1;
    if (!filter->matches(r->topic)) continue;
    wire::append_record(records, r->topic, r->header, r->payload);
    ++sent;
    ++events_sent_;
    if ((++batched == kReplayBatch || records.size() >= kReplayBatchBytes) && !send_batch()) {
      sessions_.erase(it);
      return;
    }
  }
  if (sent < limit && scanned < kReplayScanLimit) {
    // The end of the journal: numbers this run handed out past it were not journalled
    // (a write that failed). Those of earlier runs show before the next record.
    const uint64_t from_here = std::max(session.next, last_seq_before_run_ + 1);
    if (from_here <= newest &&
        !send_gap({from_here, newest, "never written to the journal (a failed write)"})) {
      sessions_.erase(it);
      return;
    }
  }
  if (!send_batch()) {
    sessions_.erase(it);
    return;
  }
  if (sent < limit && scanned < kReplayScanLimit) {
    send_frames(router_, routing_id, {wire::kReplayCaughtUp, std::to_string(newest)});
    sessions_.erase(it);
  } else {
    send_frames(router_, routing_id, {wire::kReplayMore, std::to_string(session.next)});
  }
}

// Says in the log, once per range, that a reader met numbers missing from the journal.
void ReplayService::log_gap(const JournalGap& gap) {
  if (gaps_logged_.size() >= kMaxGapsLogged) gaps_logged_.clear();
  if (!gaps_logged_.insert({gap.first, gap.last}).second) return;
  spdlog::warn("journal: events {}..{} are missing from {}: {}", gap.first, gap.last,
               journal_->options().dir.string(), gap.why);
}

void ReplayService::expire(bool oldest) {
  if (sessions_.empty()) return;
  auto victim = sessions_.end();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (Clock::now() - it->second.used > kReplayIdle) {
      it = sessions_.erase(it);
      continue;
    }
    if (victim == sessions_.end() || it->second.used < victim->second.used) victim = it;
    ++it;
  }
  if (oldest && victim != sessions_.end()) sessions_.erase(victim);
}

}  // namespace hub
