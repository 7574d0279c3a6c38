#include "bridge/bridge.h"

#include <cstdlib>

#include "bridge/payload_form.h"
#include "bus/text.h"
#include "bus/topic_filter.h"

namespace hub::bridge {
namespace {

std::optional<MqttMessage> status_message(const BridgeConfig& c, const std::string& topic,
                                          const std::string& payload) {
  if (!c.status.enabled) return std::nullopt;
  return MqttMessage{topic, payload, c.status.qos, true};
}

// MQTT 3.1.1 and 5 topics: no NUL, no wildcard, at most 65535 bytes.
bool is_mqtt_topic(const std::string& topic) {
  return !topic.empty() && topic.size() <= 65535 &&
         topic.find_first_of(std::string("+#\0", 3)) == std::string::npos;
}

}  // namespace

Bridge::Bridge(sdk::Context& ctx, BridgeConfig config)
    : ctx_(ctx),
      config_(std::move(config)),
      window_(config_.window),
      link_(config_.broker, device_topic(config_.broker.client_id),
            status_message(config_, device_topic(config_.status.topic), config_.status.offline),
            config_.window,
            MqttLink::Handlers{
                [this](bool session_present) { on_connected(session_present); },
                [this](const std::string& reason, std::chrono::milliseconds retry_in) {
                  on_disconnected(reason, retry_in);
                },
                [this](int mid, const std::string& refusal) { on_published(mid, refusal); },
                [this](const MqttMessage& m) { on_message(m); }}) {
  for (const auto& rule : config_.inbound) inbound_filters_.push_back(device_topic(rule.from));
}

Bridge::~Bridge() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  room_.notify_all();
}

std::string Bridge::device_topic(const std::string& text) const {
  auto t = TopicTemplate::parse(text, {"device"}, true);
  return t ? t->expand({config_.device, "", "", ""}) : text;
}

Status Bridge::run() {
  std::vector<std::string> patterns;
  for (const auto& rule : config_.outbound) patterns.push_back(rule.from);
  if (!patterns.empty()) {
    sdk::DurableOptions options;
    options.explicit_ack = true;
    // An event gives up to one message per rule: a full window holds at least
    // window / rules events, so a save is due (and frees it) before it is full.
    options.save_every = std::max<uint64_t>(1, config_.window / (2 * config_.outbound.size()));
    options.on_lost = [this](uint64_t first, uint64_t last) { on_lost(first, last); };
    auto s = ctx_.subscribe_durable(
        kConsumer, patterns, [this](const sdk::Event& e) { handle(e); }, options);
    if (!s) return s;
  }
  // After the subscription: a failed one returns before anything runs on the link's thread.
  link_.start();
  ctx_.notify_ready();
  ctx_.log().info("bridging to {}:{} as device {} ({} outbound, {} inbound rules)",
                  config_.broker.host, config_.broker.port, config_.device, config_.outbound.size(),
                  config_.inbound.size());
  while (!ctx_.wait_for(config_.stats_every)) report_stats();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  room_.notify_all();
  const std::string status_topic = device_topic(config_.status.topic);
  link_.stop(status_message(config_, status_topic, config_.status.offline));
  report_stats();
  return Status::ok();
}

std::vector<OutboundMessage> Bridge::messages_for(const sdk::Event& e) const {
  std::vector<OutboundMessage> out;
  const std::string_view topic = e.topic();
  const size_t slash = topic.find('/');
  const TopicTemplate::Values values{config_.device, topic.substr(0, slash),
                                     topic.substr(slash + 1), topic};
  for (const auto& rule : config_.outbound) {
    if (!pattern_matches(rule.from, topic)) continue;
    OutboundMessage m;
    m.seq = e.seq;
    m.topic = rule.to.expand(values);
    m.qos = rule.qos;
    m.retain = rule.retain;
    if (rule.payload == PayloadForm::kWrapped) {
      m.payload =
          wrap_outbound({e.topic(), e.payload(), e.source, e.content_type, e.seq, e.time_ns});
    } else {
      m.payload = std::string(e.payload());
    }
    if (!is_mqtt_topic(m.topic)) continue;  // cannot be: hub topics hold no wildcard or NUL
    out.push_back(std::move(m));
  }
  return out;
}

int Bridge::send(const OutboundMessage& m) {
  const uint64_t size = m.topic.size() + m.payload.size();
  if (config_.broker.max_message_size && size > config_.broker.max_message_size) {
    refused(m, std::to_string(size) + " bytes, more than broker.max_message_size");
    return OutboundWindow::kRefused;
  }
  std::string why;
  const int mid = link_.publish(m.topic, m.payload, m.qos, m.retain, &why);
  if (mid >= 0) ++sent_;
  if (mid == OutboundWindow::kRefused) refused(m, why);
  return mid;
}

void Bridge::refused(const OutboundMessage& m, const std::string& why) {
  ++refused_;
  last_error_ = "a message was refused: " + why;
  refusals_.push_back(JsonObject()
                          .add("seq", static_cast<int64_t>(m.seq))
                          .add("topic", m.topic)
                          .add("bytes", static_cast<int64_t>(m.payload.size()))
                          .add("reason", why)
                          .str());
}

void Bridge::send_pending_locked() {
  const uint64_t before = window_.acked_through();
  window_.send_pending([this](const OutboundMessage& m) { return send(m); });
  if (window_.acked_through() > before) acknowledge_locked();  // refused ones are done
}

void Bridge::tell_refused() {
  std::vector<std::string> told;
  {
    std::lock_guard lock(mu_);
    told.swap(refusals_);
  }
  for (const auto& payload : told) {
    ctx_.log().error("a message was refused, counted and not sent again: {}", payload);
    (void)ctx_.publish("refused", payload);
  }
}

void Bridge::handle(const sdk::Event& e) {
  std::vector<OutboundMessage> messages = messages_for(e);
  std::unique_lock lock(mu_);
  room_.wait(lock, [this] { return stopping_ || window_.has_room(); });
  if (stopping_) return;  // not acknowledged: it comes again after a restart
  handed_ = e.seq;
  if (messages.empty()) {
    window_.add_done(e.seq);
    acknowledge_locked();
  }
  for (auto& m : messages) window_.add(std::move(m));
  if (link_.connected()) send_pending_locked();
  lock.unlock();
  tell_refused();
}

void Bridge::on_connected(bool session_present) {
  {
    std::lock_guard lock(mu_);
    state_ = "connected";
    was_connected_ = true;
    last_told_.clear();
    send_pending_locked();
  }
  tell_refused();
  // A session the broker kept has the subscriptions still; subscribing again would have
  // it send the retained commands again, and their scripts run twice.
  for (size_t i = 0; i < inbound_filters_.size() && !session_present; ++i) {
    if (!link_.subscribe(inbound_filters_[i], config_.inbound[i].qos))
      ctx_.log().error("cannot subscribe to {}", inbound_filters_[i]);
  }
  if (config_.status.enabled) {
    (void)link_.publish(device_topic(config_.status.topic), config_.status.online,
                        config_.status.qos, true);
  }
  ctx_.log().info("connected to {}:{}", config_.broker.host, config_.broker.port);
  (void)ctx_.publish("connected", JsonObject()
                                      .add("broker", config_.broker.host + ":" +
                                                         std::to_string(config_.broker.port))
                                      .add("client_id", device_topic(config_.broker.client_id))
                                      .add("session_present", session_present)
                                      .add("reconnects", static_cast<int64_t>(link_.reconnects()))
                                      .str());
}

void Bridge::on_disconnected(const std::string& reason, std::chrono::milliseconds retry_in) {
  bool tell = false;
  {
    std::lock_guard lock(mu_);
    resent_ += window_.in_flight();
    window_.connection_lost();
    state_ = "disconnected";
    last_error_ = reason;
    // Told once per connection lost, and again only when the reason changes: a broker
    // that stays away does not flood the bus.
    tell = reason != last_told_;
    last_told_ = reason;
  }
  ctx_.log().warn("{}; next try in {} ms", reason, retry_in.count());
  if (!tell) return;
  (void)ctx_.publish("disconnected", JsonObject()
                                         .add("reason", reason)
                                         .add("retry_in_ms", static_cast<int64_t>(retry_in.count()))
                                         .str());
}

void Bridge::on_published(int mid, const std::string& refusal) {
  std::unique_lock lock(mu_);
  const uint64_t before = window_.acked_through();
  if (!window_.acknowledged(mid)) return;  // the birth message, or a stale id
  ++acked_;
  if (!refusal.empty()) {
    ++refused_;
    last_error_ = "a message was refused: " + refusal;
    refusals_.push_back(JsonObject().add("reason", "the broker: " + refusal).str());
  }
  if (window_.acked_through() > before) acknowledge_locked();
  lock.unlock();
  room_.notify_all();
  if (!refusal.empty()) tell_refused();
}

void Bridge::acknowledge_locked() {
  auto saved = ctx_.acknowledge(kConsumer, window_.acked_through());
  if (!saved) {
    last_error_ = saved.error();
    return;
  }
  saved_mark_ = *saved;
  window_.saved_through(*saved);
}

void Bridge::on_message(const MqttMessage& m) {
  for (size_t i = 0; i < inbound_filters_.size(); ++i) {
    bool matches = false;
    mosquitto_topic_matches_sub(inbound_filters_[i].c_str(), m.topic.c_str(), &matches);
    if (!matches) continue;
    const InboundRule& rule = config_.inbound[i];
    const std::string payload = rule.payload == PayloadForm::kWrapped
                                    ? wrap_inbound(m.topic, m.payload, m.qos, m.retain)
                                    : m.payload;
    ++inbound_;
    // Confirmed: the event is in the hub's journal before the broker's next message.
    // libmosquitto writes the PUBACK once this returns: a command the hub cannot take is
    // acknowledged all the same, so it is counted and logged, never silent.
    auto seq = ctx_.publish_confirmed(rule.to, payload);
    if (!seq) {
      ++inbound_failed_;
      ctx_.log().error("inbound {} -> Bridge/{} not published: {}", m.topic, rule.to, seq.error());
    }
  }
}

void Bridge::on_lost(uint64_t first, uint64_t last) {
  lost_ += last - first + 1;
  ctx_.log().error("events {}..{} were removed from the journal before they were sent", first,
                   last);
  (void)ctx_.publish("lost", JsonObject()
                                 .add("first", static_cast<int64_t>(first))
                                 .add("last", static_cast<int64_t>(last))
                                 .add("count", static_cast<int64_t>(last - first + 1))
                                 .add("reason", "no longer in the hub's journal (retention)")
                                 .str());
}

void Bridge::report_stats() {
  uint64_t head = 0;
  if (auto inspect = ctx_.inspect_system(std::chrono::milliseconds(2000))) {
    if (auto bus = json_member(*inspect, "bus")) {
      if (auto last = json_member(*bus, "last_seq"))
        head = std::strtoull(std::string(*last).c_str(), nullptr, 10);
    }
  }
  JsonObject stats;
  {
    std::lock_guard lock(mu_);
    const uint64_t through = std::max(window_.acked_through(), saved_mark_);
    stats.add("state", state_)
        .add("backlog", static_cast<int64_t>(head > through ? head - through : 0))
        .add("acked_through", static_cast<int64_t>(through))
        .add("in_flight", static_cast<int64_t>(window_.in_flight()))
        .add("window", static_cast<int64_t>(window_.size()))
        .add("last_error", last_error_);
  }
  stats.add("sent", static_cast<int64_t>(sent_.load()))
      .add("resent", static_cast<int64_t>(resent_.load()))
      .add("acked", static_cast<int64_t>(acked_.load()))
      .add("inbound", static_cast<int64_t>(inbound_.load()))
      .add("inbound_failed", static_cast<int64_t>(inbound_failed_.load()))
      .add("lost", static_cast<int64_t>(lost_.load()))
      .add("refused", static_cast<int64_t>(refused_.load()))
      .add("reconnects", static_cast<int64_t>(link_.reconnects()));
  if (auto s = ctx_.report_instance(stats.str(), std::chrono::milliseconds(2000)); !s)
    ctx_.log().warn("cannot report stats: {}", s.message());
}

}  // namespace hub::bridge
