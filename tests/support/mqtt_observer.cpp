#include "support/mqtt_observer.h"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include <mosquitto.h>

namespace hub::test {

namespace {

std::string unique_client_id() {
  static std::atomic<int> next{0};
  return "hubt-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
}

}  // namespace

MqttObserver::MqttObserver(MqttObserverOptions options) : options_(std::move(options)) {
  static std::once_flag initialized;
  std::call_once(initialized, [] { mosquitto_lib_init(); });
  if (options_.client_id.empty()) options_.client_id = unique_client_id();
  client_ = mosquitto_new(options_.client_id.c_str(), !options_.persistent, this);
  if (client_ == nullptr) throw std::runtime_error("mosquitto_new failed");
  mosquitto_connect_with_flags_callback_set(client_, on_connect);
  mosquitto_disconnect_callback_set(client_, on_disconnect);
  mosquitto_subscribe_callback_set(client_, on_subscribe);
  mosquitto_message_callback_set(client_, on_message);
  mosquitto_publish_callback_set(client_, on_publish);
  mosquitto_log_callback_set(client_, on_log);
  mosquitto_reconnect_delay_set(client_, 1, 1, false);
  if (!options_.username.empty()) {
    mosquitto_username_pw_set(client_, options_.username.c_str(),
                              options_.password.empty() ? nullptr : options_.password.c_str());
  }
  if (!options_.ca_file.empty()) {
    const bool with_cert = !options_.cert_file.empty() && !options_.key_file.empty();
    const int rc = mosquitto_tls_set(client_, options_.ca_file.c_str(), nullptr,
                                     with_cert ? options_.cert_file.c_str() : nullptr,
                                     with_cert ? options_.key_file.c_str() : nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_destroy(client_);
      throw std::runtime_error(std::string("mosquitto_tls_set: ") + mosquitto_strerror(rc));
    }
  }
}

MqttObserver::~MqttObserver() {
  disconnect();
  mosquitto_destroy(client_);
}

bool MqttObserver::connect(std::chrono::milliseconds timeout) {
  int before;
  {
    std::lock_guard lock(mu_);
    before = connections_;
    refused_ = false;
    connecting_ = true;
    error_.clear();
  }
  const int rc = mosquitto_connect_async(client_, options_.host.c_str(), options_.port, 30);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::lock_guard lock(mu_);
    connecting_ = false;
    error_ = std::string("connect: ") + mosquitto_strerror(rc);
    return false;
  }
  if (mosquitto_loop_start(client_) != MOSQ_ERR_SUCCESS) {
    std::lock_guard lock(mu_);
    connecting_ = false;
    throw std::runtime_error("mosquitto_loop_start failed");
  }
  looping_ = true;
  bool up;
  {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, timeout, [&] { return connections_ > before || refused_; });
    up = connections_ > before;
    connecting_ = false;
    if (!up && error_.empty()) error_ = "no connection within the timeout";
  }
  if (!up) disconnect();
  return up;
}

void MqttObserver::disconnect() {
  if (!looping_) return;
  mosquitto_disconnect(client_);
  mosquitto_loop_stop(client_, false);
  looping_ = false;
}

int MqttObserver::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

bool MqttObserver::wait_connections(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return connections_ >= n; });
}

bool MqttObserver::wait_for_count(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
}

std::vector<MqttMessage> MqttObserver::messages() const {
  std::lock_guard lock(mu_);
  return messages_;
}

std::size_t MqttObserver::count() const {
  std::lock_guard lock(mu_);
  return messages_.size();
}

bool MqttObserver::publish(const std::string& topic, const std::string& payload, int qos,
                           bool retain, std::chrono::milliseconds timeout) {
  int mid = 0;
  const int rc = mosquitto_publish(client_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, retain);
  std::unique_lock lock(mu_);
  if (rc != MOSQ_ERR_SUCCESS) {
    error_ = std::string("publish: ") + mosquitto_strerror(rc);
    return false;
  }
  const bool acked = changed_.wait_for(lock, timeout, [&] { return published_.count(mid) > 0; });
  published_.erase(mid);
  return acked;
}

std::string MqttObserver::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void MqttObserver::on_connect(mosquitto* client, void* self_ptr, int rc, int flags) {
  auto* self = static_cast<MqttObserver*>(self_ptr);
  std::lock_guard lock(self->mu_);
  if (rc != 0) {  // refused (bad login, ...): stop, the test asked for this very connection
    self->refused_ = true;
    self->error_ = mosquitto_connack_string(rc);
    mosquitto_disconnect(client);
  } else if (self->options_.filters.empty() || (self->options_.persistent && (flags & 1) != 0)) {
    ++self->connections_;  // nothing to subscribe, or the session has the subscriptions
  } else {
    std::vector<char*> filters;
    for (auto& filter : self->options_.filters) filters.push_back(filter.data());
    const int sub_rc = mosquitto_subscribe_multiple(client, &self->subscribe_mid_,
                                                    static_cast<int>(filters.size()),
                                                    filters.data(), 1, 0, nullptr);
    if (sub_rc != MOSQ_ERR_SUCCESS) {
      self->refused_ = true;
      self->error_ = std::string("subscribe: ") + mosquitto_strerror(sub_rc);
    }
  }
  self->changed_.notify_all();
}

void MqttObserver::on_disconnect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<MqttObserver*>(self_ptr);
  std::lock_guard lock(self->mu_);
  if (rc != 0 && !self->refused_) self->error_ = std::string("lost: ") + mosquitto_strerror(rc);
  // Closed before it was accepted (a TLS listener that wants a client certificate does so).
  if (self->connecting_) self->refused_ = true;
  self->changed_.notify_all();
}

void MqttObserver::on_subscribe(mosquitto*, void* self_ptr, int mid, int count,
                                const int* granted) {
  auto* self = static_cast<MqttObserver*>(self_ptr);
  std::lock_guard lock(self->mu_);
  if (mid != self->subscribe_mid_) return;
  for (int i = 0; i < count; ++i) {
    if (granted[i] > 2) {
      self->refused_ = true;
      self->error_ = "subscription refused: " + self->options_.filters.at(i);
    }
  }
  if (!self->refused_) ++self->connections_;
  self->changed_.notify_all();
}

void MqttObserver::on_message(mosquitto*, void* self_ptr, const mosquitto_message* message) {
  auto* self = static_cast<MqttObserver*>(self_ptr);
  MqttMessage copy{message->topic, "", message->qos, message->retain};
  if (message->payloadlen > 0) {
    copy.payload.assign(static_cast<const char*>(message->payload),
                        static_cast<size_t>(message->payloadlen));
  }
  if (self->options_.on_message) self->options_.on_message(copy);
  if (!self->options_.keep_messages) return;
  std::lock_guard lock(self->mu_);
  self->messages_.push_back(std::move(copy));
  self->changed_.notify_all();
}

void MqttObserver::on_publish(mosquitto*, void* self_ptr, int mid) {
  auto* self = static_cast<MqttObserver*>(self_ptr);
  std::lock_guard lock(self->mu_);
  self->published_.insert(mid);
  self->changed_.notify_all();
}

void MqttObserver::on_log(mosquitto*, void* self_ptr, int level, const char* text) {
  if (level != MOSQ_LOG_ERR) return;  // TLS failures, for one, are only told here
  auto* self = static_cast<MqttObserver*>(self_ptr);
  std::lock_guard lock(self->mu_);
  self->error_ = text;
}

}  // namespace hub::test
