#include "core/api/api_server.h"

#include <vector>

#include <spdlog/spdlog.h>

#include "bus/api_protocol.h"
#include "bus/credentials.h"
#include "bus/text.h"
#include "bus/zap_handler.h"

namespace hub {

namespace {
constexpr size_t kMaxRequest = 1 << 20;

std::string json_string(const std::string& s) {
  std::string out;
  append_json_string(out, s);
  return out;
}
}  // namespace

std::string node_to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    std::string out = "{";
    for (const auto& entry : node) {
      if (out.size() > 1) out += ",";
      out += json_string(entry.first.Scalar()) + ":" + node_to_json(entry.second);
    }
    return out + "}";
  }
  if (node.IsSequence()) {
    std::string out = "[";
    for (const auto& item : node) out += (out.size() > 1 ? "," : "") + node_to_json(item);
    return out + "]";
  }
  if (!node.IsScalar()) return "null";
  const std::string& text = node.Scalar();
  if (node.Tag() == "?" && is_valid_json(text) && !text.empty() && text[0] != '"' &&
      text[0] != '{' && text[0] != '[') {
    return text;  // a number, true, false or null as written
  }
  return json_string(text);
}

Result<std::unique_ptr<ApiServer>> ApiServer::bind(zmq::context_t& ctx, const std::string& endpoint,
                                                   const std::string& tcp, const CurveServer* curve,
                                                   const CredentialStore* credentials) {
  zmq::socket_t socket(ctx, zmq::socket_type::router);
  socket.set(zmq::sockopt::plain_server, 1);
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxRequest));
  socket.set(zmq::sockopt::linger, 0);
  std::string bound_tcp;
  try {
    socket.bind(endpoint);
    if (!tcp.empty()) {
      if (curve == nullptr) return Status::error("the API: " + tcp + ": tcp needs CURVE");
      bind_curve(socket, *curve, tcp);
      bound_tcp = socket.get(zmq::sockopt::last_endpoint);
    }
  } catch (const zmq::error_t& e) {
    return Status::error("the API cannot bind " +
                         (tcp.empty() ? endpoint : endpoint + " or " + tcp) + ": " + e.what());
  }
  auto server = std::unique_ptr<ApiServer>(new ApiServer(std::move(socket)));
  server->bound_tcp_ = bound_tcp;
  server->credentials_ = credentials;
  return server;
}

namespace {

// yaml-cpp refuses UTF-16 surrogate pairs (\ud83d\ude00), which JSON encoders write for
// characters beyond the BMP: they become the UTF-8 they stand for. REQUIRES: valid JSON.
std::string join_surrogate_pairs(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  const auto hex4 = [&](size_t at, unsigned& value) {
    if (at + 4 > json.size()) return false;
    value = 0;
    for (size_t i = at; i < at + 4; ++i) {
      const char c = json[i];
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
      if (digit < 0) return false;
      value = value * 16 + static_cast<unsigned>(digit);
    }
    return true;
  };
  for (size_t i = 0; i < json.size(); ++i) {
    unsigned high = 0, low = 0;
    if (json[i] == '\\' && i + 1 < json.size() && json[i + 1] == 'u' && hex4(i + 2, high) &&
        high >= 0xD800 && high <= 0xDBFF && i + 12 <= json.size() && json[i + 6] == '\\' &&
        json[i + 7] == 'u' && hex4(i + 8, low) && low >= 0xDC00 && low <= 0xDFFF) {
      const unsigned cp = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
      i += 11;
    } else {
      out += json[i];
      if (json[i] == '\\' && i + 1 < json.size()) out += json[++i];  // never split an escape
    }
  }
  return out;
}

constexpr int kRequestsPerWake = 64;  // then hubd's other work (a SIGTERM) gets its turn

}  // namespace

struct ApiServer::Deferred {
  std::vector<zmq::message_t> envelope;  // the peer's routing id and the delimiter
  std::optional<std::chrono::system_clock::time_point> deadline;
  std::string method;
  bool answered = false;
};

ApiRequest parse_api_request(std::string_view json, std::string identity) {
  ApiRequest request;
  request.identity = std::move(identity);
  if (is_valid_json(json)) {  // checked before any parser sees it
    try {
      request.body = YAML::Load(join_surrogate_pairs(json));
    } catch (const YAML::Exception& e) {
      request.body = YAML::Node();
    }
  }
  const YAML::Node method =
      request.body.IsMap() ? request.body[std::string(api::kMethodField)] : YAML::Node();
  if (method && method.IsScalar() && method.Tag() == "!") {  // "!": a quoted string
    request.method = method.Scalar();
  }
  const YAML::Node deadline =
      request.body.IsMap() ? request.body[std::string(api::kDeadlineField)] : YAML::Node();
  int64_t deadline_ms = 0;
  if (deadline && deadline.IsScalar() && YAML::convert<int64_t>::decode(deadline, deadline_ms)) {
    // Beyond what the clock holds (about the years 1678 to 2262): its end, not an overflow.
    using Clock = std::chrono::system_clock;
    const int64_t latest =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::duration::max()).count();
    request.deadline = deadline_ms >= latest ? Clock::time_point::max()
                       : deadline_ms <= -latest
                           ? Clock::time_point::min()
                           : Clock::time_point(std::chrono::milliseconds(deadline_ms));
  }
  return request;
}

void ApiServer::send(std::vector<zmq::message_t>& envelope, const std::string& reply) {
  for (auto& part : envelope) (void)socket_.send(part, zmq::send_flags::sndmore);
  (void)socket_.send(zmq::buffer(reply), zmq::send_flags::dontwait);
}

std::optional<std::chrono::milliseconds> ApiServer::answer_overdue() {
  const auto now = std::chrono::system_clock::now();
  std::optional<std::chrono::milliseconds> next;
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    const auto d = it->lock();
    if (d && !d->answered && now >= *d->deadline) {
      spdlog::warn("api: {} not finished at its caller's deadline: answered timeout", d->method);
      d->answered = true;
      send(d->envelope,
           api::encode_error(Status::timeout(
               d->method +
               " did not finish by the request's deadline: begun, it goes on (inspect shows how "
               "it ends); still queued, it is not carried out")));
    }
    if (!d || d->answered) {
      it = deferred_.erase(it);
      continue;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*d->deadline - now);
    next = next ? std::min(*next, left) : left;
    ++it;
  }
  return next;
}

void ApiServer::serve_pending(const ApiHandler& handle) {
  for (int served = 0; served < kRequestsPerWake; ++served) {
    // [peer][empty delimiter, from REQ or a DEALER that sends one][request]
    std::vector<zmq::message_t> parts;
    zmq::message_t part;
    if (!socket_.recv(part, zmq::recv_flags::dontwait)) return;
    parts.push_back(std::move(part));
    while (parts.back().more()) {
      zmq::message_t next;
      (void)socket_.recv(next, zmq::recv_flags::none);
      parts.push_back(std::move(next));
    }
    if (parts.size() < 2) continue;
    const zmq::message_t& body = parts.back();
    const char* user = zmq_msg_gets(body.handle(), "User-Id");
    ApiRequest request = parse_api_request(body.to_string_view(), user ? user : "");
    const bool revoked = credentials_ != nullptr && credentials_->revocations() != 0 &&
                         credentials_->is_revoked(zmq_msg_gets(body.handle(), kGrantProperty));
    auto deferred = std::make_shared<Deferred>();
    parts.pop_back();
    deferred->envelope = std::move(parts);  // the envelope, as it came
    deferred->deadline = request.deadline;
    deferred->method = request.method;
    const ApiReply reply = [this, deferred](const Result<std::string>& result) {
      if (deferred->answered) return;
      deferred->answered = true;
      send(deferred->envelope, api::encode_reply(result));
    };
    if (revoked) {
      reply(Status::forbidden("the credential of " + request.identity +
                              " this connection authenticated with was revoked"));
    } else if (request.method.empty()) {
      reply(Status::bad_request("expected a JSON object with a \"method\" string"));
    } else {
      const std::string method = request.method, identity = request.identity;
      try {
        handle(std::move(request), reply);
      } catch (const std::exception& e) {
        spdlog::error("api: {} from {}: {}", method, identity, e.what());
        reply(Status::error(e.what()));
      }
    }
    if (!deferred->answered && deferred->deadline) deferred_.push_back(deferred);
  }
}

}  // namespace hub
