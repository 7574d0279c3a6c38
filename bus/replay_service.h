// The broker's replay service (docs/PROTOCOL.md, "Replay from the journal"): answers
// ["replay"][from][credit][pattern]* on the replay socket from the journal, up to `credit`
// matching events from `from` on, with every number the journal lacks named in order
// between them. A client that asks again from where the last answer stopped goes on with
// the same reader, so a long replay costs no re-reading; memory stays bounded by the
// credit on both sides. Broker thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "bus/journal.h"

namespace hub {

class ReplayService {
 public:
  // Answers go out on `router`. `journal` is null when the hub keeps none (every request
  // is then refused). The run's numbers start after `last_seq_before_run`. A flush of the
  // journal that fails before a replay is told to `journal_failed` with the reason.
  ReplayService(zmq::socket_t& router, Journal* journal, uint64_t last_seq_before_run,
                std::function<void(const std::string&)> journal_failed);
  ~ReplayService();
  ReplayService(const ReplayService&) = delete;
  ReplayService& operator=(const ReplayService&) = delete;

  // Answers one request: `frames` are those after the routing id, frames[0] "replay";
  // `newest` is the last sequence number handed out.
  void answer(zmq::message_t& routing_id, const std::vector<std::string>& frames, uint64_t newest);
  // Forgets replays left idle for a while.
  void expire_idle() { expire(false); }

  // Replays begun (a request that did not go on from where an open one stopped), open
  // now, and the events sent in all answers.
  uint64_t begun() const { return begun_; }
  size_t open() const { return sessions_.size(); }
  uint64_t events_sent() const { return events_sent_; }

 private:
  // A replay in progress: its reader stays where the last answer stopped.
  struct Session {
    std::unique_ptr<JournalReader> reader;
    uint64_t next = 0;  // the sequence number the client will ask from
    std::chrono::steady_clock::time_point used;
  };
  // Forgets idle replays, and, when `oldest`, the least recently used one as well.
  void expire(bool oldest);
  void log_gap(const JournalGap& gap);

  zmq::socket_t& router_;
  Journal* journal_;
  uint64_t last_seq_before_run_;
  std::function<void(const std::string&)> journal_failed_;
  std::map<std::string, Session> sessions_;              // by client and patterns
  std::set<std::pair<uint64_t, uint64_t>> gaps_logged_;  // journal gaps said in the log
  std::string records_;                                  // an answer's batch, reused
  uint64_t begun_ = 0;
  uint64_t events_sent_ = 0;
};

}  // namespace hub
