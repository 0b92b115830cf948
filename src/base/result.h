// Result<T> and Error: how every fallible function in cohort reports failure.
//
// An Error is a code plus a one-line message meant for an operator ("key 'node.id' in
// n1.toml line 3: expected an integer"). Result<T> holds either a T or an Error and uses
// std::expected's member names so it can become an alias once we move to C++23.
// Thread-safety: plain values; no shared state.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "base/check.h"

namespace cohort {

enum class Errc {
  kOk = 0,
  kInvalidArgument,  // bad input from a user or a file
  kNotFound,
  kAlreadyExists,
  kMalformed,  // bytes that do not decode
  kIo,         // the operating system refused
  kTimeout,
  kUnavailable,  // peer or service not reachable now
  kPermission,
  kInternal,
};

const char* ErrcName(Errc code);

class [[nodiscard]] Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return std::string(ErrcName(code_)) + ": " + message_; }

 private:
  Errc code_;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // REQUIRES: has_value().
  T& value() & {
    CHECK(has_value());
    return std::get<0>(v_);
  }
  const T& value() const& {
    CHECK(has_value());
    return std::get<0>(v_);
  }
  T&& value() && {
    CHECK(has_value());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // REQUIRES: !has_value().
  const Error& error() const {
    CHECK(!has_value());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

}  // namespace cohort

// Propagates an error from an expression returning Result<...> or Status.
#define COHORT_TRY(expr)                                        \
  do {                                                          \
    auto cohort_try_result_ = (expr);                           \
    if (!cohort_try_result_) return cohort_try_result_.error(); \
  } while (0)
