// Expected failures as values: a Status says what went wrong, with context
// ("what: path: reason"); Result<T> is a value or a Status. Exceptions stay for
// programming errors and are converted to Status at library edges (cppzmq, yaml-cpp).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace hub {

class [[nodiscard]] Status {
 public:
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return !message_; }
  explicit operator bool() const { return is_ok(); }
  // REQUIRES: !is_ok()
  const std::string& message() const { return *message_; }

 private:
  Status() = default;
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)), status_(Status::ok()) {}  // NOLINT: implicit
  Result(Status status) : status_(std::move(status)) {                  // NOLINT: implicit
    assert(!status_.is_ok());
  }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: !is_ok()
  const std::string& error() const { return status_.message(); }

  // REQUIRES: is_ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace hub
