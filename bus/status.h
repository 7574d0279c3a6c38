// Expected failures as values: a Status says what went wrong, with context
// ("what: path: reason"), and what kind of failure it is (a Code, for callers that act on
// it, such as the Hub API's replies and hubctl's exit status); Result<T> is a value or a
// Status. Exceptions stay for programming errors and are converted to Status at library
// edges (cppzmq, yaml-cpp).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace hub {

class [[nodiscard]] Status {
 public:
  // The kinds of failure callers tell apart. The Hub API speaks them (docs/API.md, spelled
  // there as bad_request, not_found, ...); anything else is kFailed.
  enum class Code {
    kOk,
    kFailed,         // tried, and it did not work; the message says why
    kBadRequest,     // the request is malformed, or a field is missing or wrong
    kUnknownMethod,  // no such method
    kNotFound,       // no such thing (module, instance)
    kForbidden,      // the caller may not do that
    kTimeout,        // no answer in time, or asked after the caller's deadline
    kUnreachable,    // nobody there to ask
    kProtocol,       // an answer came, but not one that was understood
  };

  static Status ok() { return Status(); }
  // A kFailed status.
  static Status error(std::string message) { return Status(Code::kFailed, std::move(message)); }
  // REQUIRES: code != Code::kOk
  static Status error(Code code, std::string message) { return Status(code, std::move(message)); }
  static Status bad_request(std::string message) {
    return Status(Code::kBadRequest, std::move(message));
  }
  static Status not_found(std::string message) {
    return Status(Code::kNotFound, std::move(message));
  }
  static Status forbidden(std::string message) {
    return Status(Code::kForbidden, std::move(message));
  }
  static Status timeout(std::string message) { return Status(Code::kTimeout, std::move(message)); }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  // REQUIRES: !is_ok()
  const std::string& message() const { return message_; }

 private:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {
    assert(code != Code::kOk);
  }
  Code code_ = Code::kOk;
  std::string message_;
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
  Status::Code code() const { return status_.code(); }
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
