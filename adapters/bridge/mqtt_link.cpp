#include "bridge/mqtt_link.h"

#include <cerrno>
#include <cstring>
#include <random>

namespace hub::bridge {
namespace {

// A connection that lasted this long resets the backoff.
constexpr std::chrono::seconds kStableAfter{10};

struct LibraryInit {
  LibraryInit() { mosquitto_lib_init(); }
  ~LibraryInit() { mosquitto_lib_cleanup(); }
};

}  // namespace

MqttLink::MqttLink(BrokerSettings settings, std::string client_id, std::optional<MqttMessage> will,
                   uint32_t max_inflight, Handlers handlers)
    : settings_(std::move(settings)),
      client_id_(std::move(client_id)),
      will_(std::move(will)),
      max_inflight_(max_inflight),
      handlers_(std::move(handlers)) {
  static LibraryInit init;
}

MqttLink::~MqttLink() { stop(std::nullopt); }

void MqttLink::start() {
  thread_ = std::thread([this] { run(); });
}

void MqttLink::stop(std::optional<MqttMessage> farewell) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(client_mu_);
    if (client_ && connected_ && farewell) {
      int mid = 0;
      mosquitto_publish(client_, &mid, farewell->topic.c_str(),
                        static_cast<int>(farewell->payload.size()), farewell->payload.data(),
                        farewell->qos, farewell->retain);
    }
    stopping_ = true;
    // A clean DISCONNECT once what is queued is written: the Will is then not published.
    if (client_ && connected_) mosquitto_disconnect(client_);
  }
  {
    std::lock_guard lock(wait_mu_);
    wake_.notify_all();
  }
  thread_.join();
}

int MqttLink::publish(const std::string& topic, std::string_view payload, int qos, bool retain,
                      std::string* refusal) {
  std::lock_guard lock(client_mu_);
  if (!client_ || !connected_) return -1;
  int mid = 0;
  const int rc = mosquitto_publish(client_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, retain);
  if (rc == MOSQ_ERR_SUCCESS) return mid;
  if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST) return -1;
  if (refusal) *refusal = mosquitto_strerror(rc);
  return -2;
}

bool MqttLink::subscribe(const std::string& filter, int qos) {
  std::lock_guard lock(client_mu_);
  return client_ && mosquitto_subscribe(client_, nullptr, filter.c_str(), qos) == MOSQ_ERR_SUCCESS;
}

mosquitto* MqttLink::make_client(std::string& error) {
  mosquitto* client = mosquitto_new(client_id_.c_str(), settings_.clean_session, this);
  if (!client) {
    error = std::string("cannot make an MQTT client: ") + std::strerror(errno);
    return nullptr;
  }
  mosquitto_int_option(client, MOSQ_OPT_PROTOCOL_VERSION, settings_.protocol);
  mosquitto_int_option(client, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_int_option(client, MOSQ_OPT_SEND_MAXIMUM, static_cast<int>(max_inflight_));
  mosquitto_max_inflight_messages_set(client, max_inflight_);
  mosquitto_threaded_set(client, true);
  mosquitto_connect_v5_callback_set(client, &MqttLink::on_connect);
  mosquitto_publish_v5_callback_set(client, &MqttLink::on_publish);
  mosquitto_message_v5_callback_set(client, &MqttLink::on_message);
  mosquitto_log_callback_set(client, &MqttLink::on_log);
  int rc = MOSQ_ERR_SUCCESS;
  if (!settings_.username.empty()) {
    rc = mosquitto_username_pw_set(
        client, settings_.username.c_str(),
        settings_.password.empty() ? nullptr : settings_.password.c_str());
  }
  if (rc == MOSQ_ERR_SUCCESS && settings_.tls) {
    const TlsSettings& tls = *settings_.tls;
    rc = mosquitto_tls_set(client, tls.ca_file.c_str(), nullptr,
                           tls.cert_file.empty() ? nullptr : tls.cert_file.c_str(),
                           tls.key_file.empty() ? nullptr : tls.key_file.c_str(), nullptr);
    if (rc == MOSQ_ERR_SUCCESS && tls.insecure) rc = mosquitto_tls_insecure_set(client, true);
  }
  if (rc == MOSQ_ERR_SUCCESS && will_) {
    rc = mosquitto_will_set(client, will_->topic.c_str(), static_cast<int>(will_->payload.size()),
                            will_->payload.data(), will_->qos, will_->retain);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    error = "cannot set up the MQTT client: " + describe(rc);
    mosquitto_destroy(client);
    return nullptr;
  }
  return client;
}

void MqttLink::run() {
  std::chrono::milliseconds delay = settings_.backoff_min;
  bool first = true;
  while (!stopping_) {
    std::string reason;
    mosquitto* client = make_client(reason);
    const auto began = std::chrono::steady_clock::now();
    if (client) {
      if (!first) ++reconnects_;
      first = false;
      reason = serve(client);
      std::lock_guard lock(client_mu_);
      connected_ = false;
      client_ = nullptr;
      mosquitto_destroy(client);
    }
    if (stopping_) break;
    if (std::chrono::steady_clock::now() - began > kStableAfter) delay = settings_.backoff_min;
    // Full jitter over the upper half: a fleet whose broker comes back does not reconnect
    // all at once.
    std::uniform_int_distribution<int64_t> spread(delay.count() / 2, delay.count());
    const std::chrono::milliseconds wait(spread(random_));
    if (handlers_.disconnected) handlers_.disconnected(reason, wait);
    if (!wait_before_retry(wait)) break;
    delay = std::min(delay * 2, settings_.backoff_max);
  }
}

std::string MqttLink::serve(mosquitto* client) {
  refused_.clear();
  last_error_.clear();
  const std::string where = settings_.host + ":" + std::to_string(settings_.port);
  errno = 0;
  int rc = mosquitto_connect(client, settings_.host.c_str(), settings_.port,
                             static_cast<int>(settings_.keepalive.count()));
  if (rc != MOSQ_ERR_SUCCESS) return "cannot connect to " + where + ": " + describe(rc);
  {
    std::lock_guard lock(client_mu_);
    client_ = client;
  }
  while (!stopping_ || connected_) {
    rc = mosquitto_loop(client, 500, 1);
    if (rc != MOSQ_ERR_SUCCESS) break;
    if (!refused_.empty()) break;
  }
  if (!refused_.empty()) return "refused by " + where + ": " + refused_;
  if (stopping_) return "stopping";
  return "connection to " + where + " lost: " + describe(rc);
}

std::string MqttLink::describe(int rc) const {
  std::string text;
  if (rc == MOSQ_ERR_ERRNO) {
    text = std::strerror(errno);
  } else if (rc == MOSQ_ERR_TLS && !last_error_.empty()) {
    text = "TLS: " + last_error_;
  } else {
    text = mosquitto_strerror(rc);
  }
  if (rc != MOSQ_ERR_TLS && !last_error_.empty() && last_error_ != text)
    text += " (" + last_error_ + ")";
  return text;
}

bool MqttLink::wait_before_retry(std::chrono::milliseconds delay) {
  std::unique_lock lock(wait_mu_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void MqttLink::on_connect(mosquitto* client, void* self, int rc, int flags,
                          const mosquitto_property*) {
  auto* link = static_cast<MqttLink*>(self);
  if (rc != 0) {
    link->refused_ = link->settings_.protocol == MQTT_PROTOCOL_V5 ? mosquitto_reason_string(rc)
                                                                  : mosquitto_connack_string(rc);
    mosquitto_disconnect(client);
    return;
  }
  link->connected_ = true;
  if (link->handlers_.connected) link->handlers_.connected((flags & 1) != 0);
}

void MqttLink::on_publish(mosquitto*, void* self, int mid, int rc, const mosquitto_property*) {
  auto* link = static_cast<MqttLink*>(self);
  if (link->handlers_.published)
    link->handlers_.published(mid, rc >= 0x80 ? mosquitto_reason_string(rc) : "");
}

void MqttLink::on_message(mosquitto*, void* self, const mosquitto_message* m,
                          const mosquitto_property*) {
  auto* link = static_cast<MqttLink*>(self);
  if (!link->handlers_.message) return;
  MqttMessage message;
  message.topic = m->topic;
  message.payload.assign(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
  message.qos = m->qos;
  message.retain = m->retain;
  link->handlers_.message(message);
}

void MqttLink::on_log(mosquitto*, void* self, int level, const char* text) {
  if (level != MOSQ_LOG_ERR && level != MOSQ_LOG_WARNING) return;
  auto* link = static_cast<MqttLink*>(self);
  std::string line = text;
  // "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed": the end.
  const size_t cut = line.rfind("::");
  if (line.rfind("OpenSSL Error", 0) == 0 && cut != std::string::npos) line = line.substr(cut + 2);
  link->last_error_ = line;
}

}  // namespace hub::bridge
