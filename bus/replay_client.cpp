#include "bus/replay_client.h"

#include <iterator>

#include <zmq_addon.hpp>

#include "bus/decimal_text.h"
#include "bus/wire.h"

namespace hub {

ReplayCursor::ReplayCursor(zmq::context_t& ctx, const Credential& credential, ReplayRequest request)
    : socket_(ctx, zmq::socket_type::dealer),
      request_(std::move(request)),
      from_(std::max<uint64_t>(request_.from, 1)) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::rcvhwm, static_cast<int>(2 * wire::kReplayMaxCredit + 16));
  set_plain_credential(socket_, credential);
  socket_.connect(request_.endpoint);
}

Status ReplayCursor::ask() {
  std::vector<std::string> ask = {std::string(wire::kReplayRequest), std::to_string(from_),
                                  std::to_string(wire::kReplayMaxCredit)};
  ask.insert(ask.end(), request_.patterns.begin(), request_.patterns.end());
  for (size_t i = 0; i < ask.size(); ++i) {
    (void)socket_.send(zmq::buffer(ask[i]),
                       i + 1 < ask.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  asked_ = true;
  return Status::ok();
}

Result<std::optional<Event>> ReplayCursor::next() {
  for (;;) {
    if (Status s = receive(); !s) return s;
    while (!ready_.empty()) {
      auto item = std::move(ready_.front());
      ready_.pop_front();
      if (auto* event = std::get_if<Event>(&item)) return std::optional<Event>(std::move(*event));
      ReplayGap& gap = std::get<ReplayGap>(item);
      if (request_.on_gap) request_.on_gap(gap);
      outcome_.lost.push_back(std::move(gap));
    }
    if (done_) return std::optional<Event>();
    // Only gaps were at hand: wait for the events after them.
  }
}

Status ReplayCursor::receive() {
  // Waits for answers while none is at hand; takes those that are already here (the end of
  // an answer among them, so the next is asked for before this one is used up), up to
  // about one answer's worth held.
  while (!done_ && ready_.size() < wire::kReplayMaxCredit) {
    if (!asked_) (void)ask();
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    const auto wait = ready_.empty() ? request_.timeout : std::chrono::milliseconds(0);
    if (zmq::poll(&item, 1, wait) == 0) {
      if (!ready_.empty()) break;
      return Status::error("no replay answer from " + request_.endpoint + " within " +
                           std::to_string(request_.timeout.count()) + " ms");
    }
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(socket_, std::back_inserter(parts));
    const std::string kind = parts.empty() ? "" : parts[0].to_string();
    if (kind == wire::kReplayEvents && parts.size() == 2) {
      const std::string_view records = parts[1].to_string_view();
      size_t pos = 0;
      while (pos < records.size()) {
        const auto r = wire::next_record(records, pos);
        if (!r) return Status::error("replay: a malformed records frame");
        auto event = Event::decode(zmq::message_t(r->topic.data(), r->topic.size()), r->header,
                                   zmq::message_t(r->payload.data(), r->payload.size()));
        if (!event) return Status::error("replay: a malformed event header");
        from_ = event->seq + 1;
        if (request_.to != 0 && event->seq > request_.to) {
          done_ = true;
          break;
        }
        ready_.push_back(std::move(*event));
      }
    } else if (kind == wire::kReplayLost && (parts.size() == 3 || parts.size() == 4)) {
      const auto first = parse_decimal(parts[1].to_string_view());
      const auto last = parse_decimal(parts[2].to_string_view());
      if (!first || !last) return Status::error("replay: a lost answer with a malformed number");
      ReplayGap gap;
      gap.first = *first;
      gap.last = *last;
      gap.why = parts.size() == 4 ? parts[3].to_string() : "no longer in the journal";
      if (request_.to != 0) gap.last = std::min(gap.last, request_.to);
      gap.first = std::max(gap.first, from_);  // what was asked for, no more
      if (gap.first <= gap.last) {
        from_ = gap.last + 1;
        ready_.emplace_back(std::move(gap));
      }
    } else if (kind == wire::kReplayMore && parts.size() == 2) {
      const auto next = parse_decimal(parts[1].to_string_view());
      if (!next || *next == 0)
        return Status::error("replay: a more answer with a malformed number");
      from_ = *next;
      asked_ = false;
      if (request_.to != 0 && from_ > request_.to) {
        done_ = true;
      } else {
        (void)ask();  // at once: the broker reads the next answer while this one is used
      }
    } else if (kind == wire::kReplayCaughtUp && parts.size() == 2) {
      const auto last = parse_decimal(parts[1].to_string_view());
      if (!last) return Status::error("replay: a caught-up answer with a malformed number");
      outcome_.last_seq = *last;
      done_ = true;
    } else if (kind == wire::kReplyError && parts.size() == 2) {
      return Status::error("replay refused: " + parts[1].to_string());
    } else {
      return Status::error("replay: an answer of an unknown kind");
    }
  }
  return Status::ok();
}

Result<ReplayOutcome> replay(zmq::context_t& ctx, const Credential& credential,
                             const ReplayRequest& request,
                             const std::function<bool(const Event&)>& on_event) {
  ReplayCursor cursor(ctx, credential, request);
  for (;;) {
    auto event = cursor.next();
    if (!event) return event.status();
    if (!*event || !on_event(**event)) return cursor.outcome();
  }
}

}  // namespace hub
