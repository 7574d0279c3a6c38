#include "bus/wire.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "bus/text.h"

namespace hub::wire {
void put_u64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

namespace {

uint8_t get_u8(const char* p) { return static_cast<uint8_t>(*p); }

void put_sized(std::string& out, std::string_view part) {
  const auto n = static_cast<uint32_t>(part.size());
  const char size[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                        static_cast<char>(n >> 8), static_cast<char>(n)};
  out.append(size, 4);
  out.append(part);
}

std::optional<std::string_view> take_sized(std::string_view in, size_t& pos) {
  if (in.size() - pos < 4) return std::nullopt;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(in[pos + i]);
  if (in.size() - pos - 4 < n) return std::nullopt;
  const std::string_view part = in.substr(pos + 4, n);
  pos += 4 + n;
  return part;
}

}  // namespace

void append_record(std::string& out, std::string_view topic, std::string_view header,
                   std::string_view payload) {
  put_sized(out, topic);
  put_sized(out, header);
  put_sized(out, payload);
}

std::optional<Record> next_record(std::string_view records, size_t& pos) {
  size_t at = pos;
  const auto topic = take_sized(records, at);
  const auto header = topic ? take_sized(records, at) : std::nullopt;
  const auto payload = header ? take_sized(records, at) : std::nullopt;
  if (!payload) return std::nullopt;
  pos = at;
  return Record{*topic, *header, *payload};
}

void encode(const PublishHeader& header, std::string& out) {
  assert(header.content_type.size() <= 255);
  out.resize(kPublishHeaderFixed + header.content_type.size());
  char* p = out.data();
  p[0] = static_cast<char>(kVersion);
  p[1] = static_cast<char>(header.flags);
  p[2] = static_cast<char>(header.content_type.size());
  p[3] = 0;
  put_u64(p + 4, header.request_id);
  std::memcpy(p + kPublishHeaderFixed, header.content_type.data(), header.content_type.size());
}

size_t event_header_size(const EventHeader& header) {
  return kEventHeaderFixed + header.source.size() + header.content_type.size();
}

void encode_to(const EventHeader& header, char* p) {
  assert(header.source.size() <= 255 && header.content_type.size() <= 255);
  p[0] = static_cast<char>(kVersion);
  p[1] = static_cast<char>(header.flags);
  p[2] = static_cast<char>(header.content_type.size());
  p[3] = static_cast<char>(header.source.size());
  put_u64(p + 4, header.seq);
  put_u64(p + 12, header.time_ns);
  put_u64(p + 20, header.module_prev);
  std::memcpy(p + kEventHeaderFixed, header.source.data(), header.source.size());
  std::memcpy(p + kEventHeaderFixed + header.source.size(), header.content_type.data(),
              header.content_type.size());
}

void encode(const EventHeader& header, std::string& out) {
  out.resize(event_header_size(header));
  encode_to(header, out.data());
}

void encode(const Ack& ack, std::string& out) {
  out.assign(kAckSize, '\0');
  out[0] = static_cast<char>(kVersion);
  out[1] = static_cast<char>(ack.status);
  out[2] = static_cast<char>(ack.flags);
  put_u64(out.data() + 8, ack.request_id);
  put_u64(out.data() + 16, ack.seq);
}

std::optional<PublishHeader> decode_publish_header(std::string_view b) {
  if (b.size() < kPublishHeaderFixed || get_u8(&b[0]) != kVersion) return std::nullopt;
  PublishHeader h;
  h.flags = get_u8(&b[1]);
  const size_t ct_len = get_u8(&b[2]);
  if ((h.flags & ~kKnownPublishFlags) != 0 || b[3] != 0) return std::nullopt;
  if (b.size() != kPublishHeaderFixed + ct_len) return std::nullopt;
  h.request_id = get_u64(&b[4]);
  h.content_type = b.substr(kPublishHeaderFixed, ct_len);
  return h;
}

// Version 1 event headers (no module_prev, 20 bytes fixed) are still read, for journals
// written before version 2: their module_prev says "look" (seq - 1).
static std::optional<EventHeader> decode_event_header_v1(std::string_view b) {
  constexpr size_t kFixed = 20;
  if (b.size() < kFixed) return std::nullopt;
  EventHeader h;
  h.flags = get_u8(&b[1]);
  const size_t ct_len = get_u8(&b[2]);
  const size_t src_len = get_u8(&b[3]);
  if (b.size() != kFixed + src_len + ct_len) return std::nullopt;
  h.seq = get_u64(&b[4]);
  if (h.seq == 0) return std::nullopt;
  h.time_ns = get_u64(&b[12]);
  h.module_prev = h.seq - 1;
  h.source = b.substr(kFixed, src_len);
  h.content_type = b.substr(kFixed + src_len, ct_len);
  return h;
}

std::optional<EventHeader> decode_event_header(std::string_view b) {
  if (!b.empty() && get_u8(&b[0]) == 1) return decode_event_header_v1(b);
  if (b.size() < kEventHeaderFixed || get_u8(&b[0]) != kVersion) return std::nullopt;
  EventHeader h;
  h.flags = get_u8(&b[1]);
  const size_t ct_len = get_u8(&b[2]);
  const size_t src_len = get_u8(&b[3]);
  if (b.size() != kEventHeaderFixed + src_len + ct_len) return std::nullopt;
  h.seq = get_u64(&b[4]);
  h.time_ns = get_u64(&b[12]);
  h.module_prev = get_u64(&b[20]);
  if (h.module_prev >= h.seq) return std::nullopt;
  h.source = b.substr(kEventHeaderFixed, src_len);
  h.content_type = b.substr(kEventHeaderFixed + src_len, ct_len);
  return h;
}

std::optional<Ack> decode_ack(std::string_view b) {
  if (b.size() != kAckSize || get_u8(&b[0]) != kVersion) return std::nullopt;
  const uint8_t status = get_u8(&b[1]);
  if (status > static_cast<uint8_t>(AckStatus::kFailed)) return std::nullopt;
  Ack ack;
  ack.status = static_cast<AckStatus>(status);
  ack.flags = get_u8(&b[2]);
  ack.request_id = get_u64(&b[8]);
  ack.seq = get_u64(&b[16]);
  return ack;
}

std::optional<std::string> topic_problem(std::string_view topic) {
  if (topic.empty()) return "the topic is empty";
  if (topic.size() > kMaxTopicLength) {
    return "the topic is longer than " + std::to_string(kMaxTopicLength) + " bytes";
  }
  if (!is_valid_utf8(topic)) return "the topic is not valid UTF-8";
  for (char c : topic) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return "the topic contains a control character";
    }
    if (c == '+' || c == '#') return "the topic contains a wildcard ('+' or '#')";
  }
  const size_t slash = topic.find('/');
  if (slash == std::string_view::npos) return "the topic has no '/' (expected MODULE/EVENT)";
  if (slash == 0) return "the topic's module name is empty (expected MODULE/EVENT)";
  if (slash + 1 == topic.size()) return "the topic's event name is empty (expected MODULE/EVENT)";
  if (topic.find('/', slash + 1) != std::string_view::npos) {
    return "the topic has more than two levels (expected MODULE/EVENT)";
  }
  return std::nullopt;
}

std::optional<std::string> content_type_problem(std::string_view content_type) {
  if (content_type.size() > 255) return "the content type is longer than 255 bytes";
  for (char c : content_type) {
    if (c < 0x20 || c > 0x7e) return "the content type is not printable ASCII";
  }
  return std::nullopt;
}

std::optional<std::pair<uint64_t, uint64_t>> recovered_skipped(std::string_view payload) {
  std::optional<uint64_t> first, last;
  for (const auto& [key, value] : json_top_level_scalars(payload)) {
    if (key != "skipped_first" && key != "skipped_last") continue;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || value[0] == '-' || n > kMaxSeq) return std::nullopt;
    (key == "skipped_first" ? first : last) = n;
  }
  if (!first || !last || *first == 0 || *first > *last) return std::nullopt;
  return std::make_pair(*first, *last);
}

uint64_t recovered_lost_through(std::string_view payload, uint64_t seq) {
  const auto skipped = recovered_skipped(payload);
  return skipped ? std::min(seq - 1, skipped->first - 1) : seq - 1;
}

std::string_view topic_module(std::string_view topic) { return topic.substr(0, topic.find('/')); }

uint64_t now_ns() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
      duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace hub::wire
