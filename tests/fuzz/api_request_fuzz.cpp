// The Hub API's request parser on arbitrary bytes, as hubd's API socket gets them: a
// request with a method, or none, and a reply that is valid JSON either way.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bus/api_protocol.h"
#include "bus/text.h"
#include "core/api/api_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const hub::ApiRequest request = hub::parse_api_request(body, "fuzz");
  const std::string reply = request.method.empty()
                                ? hub::api::encode_error(hub::Status::bad_request("no method"))
                                : hub::api::encode_result(hub::node_to_json(request.body));
  if (!hub::is_valid_json(reply)) __builtin_trap();
  return 0;
}
