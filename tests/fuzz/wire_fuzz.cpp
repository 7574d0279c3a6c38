// The bus's frame decoders on arbitrary bytes: publish and event headers, acks, topics,
// content types, and a replay answer's records frame. They must reject what is not
// well-formed and never read outside the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bus/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto h = hub::wire::decode_publish_header(bytes)) {
    std::string again;
    hub::wire::encode(*h, again);
    if (again != bytes) __builtin_trap();  // what decodes encodes back to the same bytes
  }
  if (auto e = hub::wire::decode_event_header(bytes)) {
    if (e->module_prev >= e->seq) __builtin_trap();
    if (e->source.data() < bytes.data() || e->source.data() + e->source.size() > bytes.end())
      __builtin_trap();
  }
  (void)hub::wire::decode_ack(bytes);
  (void)hub::wire::topic_problem(bytes);
  (void)hub::wire::content_type_problem(bytes);
  (void)hub::wire::topic_module(bytes);
  size_t pos = 0;
  while (auto r = hub::wire::next_record(bytes, pos)) {
    (void)hub::wire::decode_event_header(r->header);
  }
  return 0;
}
