#include "console/hub_backend.h"

#include <deque>
#include <limits>

#include <hub/api_client.h>

#include "bus/replay_client.h"

namespace hub::console {
namespace {

EventView view_of(const Event& e) {
  return EventView{e.topic(), e.payload(), e.source,    e.content_type,
                   e.seq,     e.time_ns,   e.retained()};
}

}  // namespace

HubBackend::HubBackend(sdk::Context& ctx, ConsoleConfig config, RootLayout layout)
    : ctx_(ctx), config_(std::move(config)), layout_(std::move(layout)) {
  if (config_.admin_credential.empty()) config_.admin_credential = layout_.bus().admin_credential;
}

Result<uint64_t> HubBackend::newest_seq() {
  auto credential = own_credential();
  if (!credential) return credential.status();
  ReplayRequest probe;
  probe.endpoint = ctx_.config().bus_replay;
  probe.from = std::numeric_limits<uint64_t>::max() / 2;
  auto end = replay(zmq_, *credential, probe, [](const Event&) { return true; });
  if (!end) return end.status();
  return end->last_seq;
}

Result<uint64_t> HubBackend::history(uint64_t from, uint64_t last,
                                     const std::vector<std::string>& patterns,
                                     const std::function<bool(const EventView&)>& on_event) {
  auto credential = own_credential();
  if (!credential) return credential.status();
  std::lock_guard one_at_a_time(history_mu_);
  ReplayRequest request;
  request.endpoint = ctx_.config().bus_replay;
  request.patterns = patterns;
  if (last > 0) {  // the last `last` matching events among the newest kLastScan
    auto newest = newest_seq();
    if (!newest) return newest.status();
    request.from = *newest > kLastScan ? *newest - kLastScan + 1 : 1;
    request.to = *newest;
    std::deque<Event> kept;
    auto done = replay(zmq_, *credential, request, [&](const Event& e) {
      kept.push_back(Event{zmq::message_t(e.topic_frame.data(), e.topic_frame.size()),
                           zmq::message_t(e.payload_frame.data(), e.payload_frame.size()), e.seq,
                           e.time_ns, e.flags, e.module_prev, e.source, e.content_type});
      if (kept.size() > last) kept.pop_front();
      return true;
    });
    if (!done) return done.status();
    for (const Event& e : kept)
      if (!on_event(view_of(e))) break;
    return done->last_seq;
  }
  request.from = from;
  auto done =
      replay(zmq_, *credential, request, [&](const Event& e) { return on_event(view_of(e)); });
  if (!done) return done.status();
  return done->last_seq;
}

Result<std::string> HubBackend::control(const std::string& request) {
  auto credential = read_credential_file(config_.admin_credential);
  if (!credential) {
    return Status::error("the console holds no administrator credential (" + credential.error() +
                         "): it can show, not change (README, \"Console\")");
  }
  std::lock_guard lock(api_mu_);
  ApiClient api(zmq_, ctx_.config().api_endpoint, *credential);
  return api.call(request, std::chrono::seconds(60));
}

std::vector<std::string> HubBackend::tokens() const {
  std::vector<std::string> out;
  if (!config_.token_file.empty()) {
    if (auto token = read_token_file(config_.token_file)) out.push_back(*token);
  }
  if (auto admin = read_credential_file(config_.admin_credential)) out.push_back(admin->secret);
  return out;
}

ConsoleBackend HubBackend::functions() {
  ConsoleBackend b;
  b.inspect = [this] { return ctx_.inspect_system(std::chrono::seconds(5)); };
  b.control = [this](const std::string& r) { return control(r); };
  b.history = [this](uint64_t from, uint64_t last, const std::vector<std::string>& patterns,
                     const std::function<bool(const EventView&)>& on_event) {
    return history(from, last, patterns, on_event);
  };
  b.log_file = [this](const std::string& instance) { return layout_.instance_log(instance); };
  b.tokens = [this] { return tokens(); };
  return b;
}

Result<Credential> HubBackend::own_credential() const {
  return read_credential_file(ctx_.config().credential_file);
}

}  // namespace hub::console
