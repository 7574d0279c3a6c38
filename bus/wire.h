// The bus wire format (docs/PROTOCOL.md is the normative text; keep both in step).
//
// A publish is three ZeroMQ frames sent from a DEALER to the broker's ingest ROUTER:
//   [topic "MODULE/EVENT"] [PublishHeader] [payload]
// An event is three frames fanned out from the broker's XPUB:
//   [topic "MODULE/EVENT"] [EventHeader] [payload]
// An ack (only for publishes that ask for one) is two frames back to the DEALER:
//   [Ack] [reason, UTF-8: why it was refused, or why an accepted one was not retained]
// All integers are big-endian. The payload is opaque and forwarded untouched.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace hub::wire {

inline constexpr uint8_t kVersion = 2;

// Publish flags (PublishHeader::flags).
inline constexpr uint8_t kFlagConfirm = 0x01;  // broker answers with an Ack
inline constexpr uint8_t kFlagRetain = 0x02;   // broker keeps it as the topic's last value
inline constexpr uint8_t kKnownPublishFlags = kFlagConfirm | kFlagRetain;

inline constexpr size_t kPublishHeaderFixed = 12;
inline constexpr size_t kEventHeaderFixed = 28;
inline constexpr size_t kAckSize = 24;
inline constexpr size_t kMaxTopicLength = 255;
inline constexpr std::string_view kDefaultContentType = "application/json";

// Retained snapshots (see docs/PROTOCOL.md, "Joining with retained events"). A client
// subscribes its SUB to kSyncPrefix + TOKEN, then sends [kSnapshotRequest][TOKEN][pattern]*
// to the replay socket; the broker answers once it has seen that subscription, so every
// event after the snapshot's last_seq reaches the SUB.
inline constexpr std::string_view kSyncPrefix{"\0sync/", 6};
inline constexpr std::string_view kSnapshotRequest = "retained";
inline constexpr std::string_view kReplyOk = "ok";
inline constexpr std::string_view kReplyError = "error";
// Asking before subscribing (docs/PROTOCOL.md, "Subscribe permissions"): [kMayRead]
// [pattern]* (none: every topic) is answered [kReplyOk] when the caller may subscribe to
// all of them live, else [kReplyError][why]. A live subscription the rules refuse costs
// the subscriber its connections, so clients ask first.
inline constexpr std::string_view kMayRead = "may-read";
// The journal replay (docs/PROTOCOL.md, "Replay"): [kReplayRequest][from][credit][pattern]*
// is answered with up to `credit` events in messages [kReplayEvents][records] (records:
// several events, each as append_record writes it), then [kReplayMore][next seq] or
// [kReplayCaughtUp][last seq]. Wherever numbers are missing from the journal (retention,
// a corrupt record, a cut or deleted segment, a failed write), [kReplayLost][first][last]
// [why] comes in order: after the events before the gap, before those after it. Numbers
// are decimal text.
inline constexpr std::string_view kReplayRequest = "replay";
inline constexpr std::string_view kReplayEvents = "events";
inline constexpr std::string_view kReplayLost = "lost";
inline constexpr std::string_view kReplayMore = "more";
inline constexpr std::string_view kReplayCaughtUp = "caught-up";
inline constexpr uint64_t kReplayMaxCredit = 4000;
// The first event of a hubd that starts after a crash, when it skips sequence numbers the
// crashed one may have handed out (docs/PROTOCOL.md, section 10): the numbers just before
// it are not events that were lost.
inline constexpr std::string_view kRecoveredTopic = "Hub/recovered";
// The numbers a Hub/recovered payload says were only reserved, never acknowledged
// (skipped_first..skipped_last), or nullopt when it names none.
std::optional<std::pair<uint64_t, uint64_t>> recovered_skipped(std::string_view payload);
// The last number lost right before a Hub/recovered event numbered `seq`: the one below
// the numbers it says were only reserved, or seq - 1 when it names none (every number
// missing before it was durable once, and is lost). 0: none lost.
uint64_t recovered_lost_through(std::string_view payload, uint64_t seq);
// Published by the broker when the journal fails to keep events (docs/PROTOCOL.md, 9).
inline constexpr std::string_view kJournalFailedTopic = "Hub/journal-failed";
// The largest sequence number: the sequence stops there rather than wrap (it also fits
// JSON's signed 64-bit integers). Publishes past it are refused with kFailed.
inline constexpr uint64_t kMaxSeq = (uint64_t{1} << 63) - 1;

void put_u64(char* p, uint64_t v);
uint64_t get_u64(const char* p);

// One event in a replay's records frame: u32 topic length, topic, u32 event header length,
// event header, u32 payload length, payload.
void append_record(std::string& out, std::string_view topic, std::string_view header,
                   std::string_view payload);
// The next event of a records frame from `pos` on, advancing `pos`; nullopt when the
// lengths run past the end (and at the end).
struct Record {
  std::string_view topic, header, payload;
};
std::optional<Record> next_record(std::string_view records, size_t& pos);

struct PublishHeader {
  uint8_t flags = 0;
  uint64_t request_id = 0;  // echoed in the Ack; meaningful only with kFlagConfirm
  std::string_view content_type;
};

struct EventHeader {
  uint8_t flags = 0;        // kFlagRetain when the publisher asked to retain it
  uint64_t seq = 0;         // global, starts at 1, strictly increasing
  uint64_t time_ns = 0;     // broker's clock, nanoseconds since the Unix epoch (UTC)
  std::string_view source;  // authenticated identity of the publisher
  std::string_view content_type;
  // The seq of the previous event of the same module (the topic's first level), so a
  // subscriber that receives all of one module's events can tell a gap in them. 0: none
  // in this hub's journal. Never lower than the true one (it may be higher: "look").
  uint64_t module_prev = 0;
};

enum class AckStatus : uint8_t {
  kAccepted = 0,
  kMalformed = 1,
  kForbidden = 2,
  kTooLarge = 3,
  // Not kept: the journal could not make it durable (disk full, I/O error, read-only), or
  // the sequence is exhausted. The reason says which; it may have been delivered live.
  kFailed = 4,
};

// Ack flags (Ack::flags), set only on an accepted publish.
// The event was delivered as `seq` but not retained (the store's limits; the reason says
// which). Clients that ignore the flags still read the ack as accepted.
inline constexpr uint8_t kAckNotRetained = 0x01;

struct Ack {
  AckStatus status = AckStatus::kAccepted;
  uint64_t request_id = 0;
  uint64_t seq = 0;   // the assigned sequence number when accepted, else 0
  uint8_t flags = 0;  // kAckNotRetained; other bits are ignored by receivers
};

// Encoders write into `out` (replacing its contents) so callers can reuse buffers.
// Content type and source longer than 255 bytes are a programming error (asserted).
void encode(const PublishHeader& header, std::string& out);
void encode(const EventHeader& header, std::string& out);
// Writes the EventHeader into `dst`, which must hold event_header_size(header) bytes.
void encode_to(const EventHeader& header, char* dst);
size_t event_header_size(const EventHeader& header);
void encode(const Ack& ack, std::string& out);

// Decoders return nullopt when the bytes are not a well-formed header of this version:
// wrong size, unknown version, unknown flags, lengths that do not add up. (Event headers
// of version 1, in journals written before version 2, are read too.) The string views
// point into `bytes`.
std::optional<PublishHeader> decode_publish_header(std::string_view bytes);
std::optional<EventHeader> decode_event_header(std::string_view bytes);
std::optional<Ack> decode_ack(std::string_view bytes);

// Why a topic is not acceptable, or nullopt when it is. A topic is MODULE/EVENT: two
// non-empty levels of at most 255 bytes in all, valid UTF-8, no NUL, no control
// characters, no '+' or '#'.
std::optional<std::string> topic_problem(std::string_view topic);

// Why a content type is not acceptable (empty is fine: it means unspecified), or nullopt.
// A content type is printable ASCII, at most 255 bytes ("text/plain; charset=utf-8").
std::optional<std::string> content_type_problem(std::string_view content_type);

// The part of a topic before the first '/', or the whole topic when there is none.
std::string_view topic_module(std::string_view topic);

uint64_t now_ns();

}  // namespace hub::wire
