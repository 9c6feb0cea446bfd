// duroxide/error.h — the one error type of duroxide-pg.
//
// Every fallible operation of the library (connection, query, wire codec, provider operation)
// reports failure as a ProviderError value, usually inside Result<T>. Nothing in the public API
// throws.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace duroxide {

struct ProviderError {
  // The operation that failed, e.g. "ack_orchestration_item", "connect", "decode_work_item".
  std::string operation;
  // Human-readable reason. Never contains passwords, access tokens or connection strings.
  std::string message;
  // True when repeating the same operation later may succeed (connection loss, serialization
  // failure, timeouts, ...). The runtime's retry policy depends on it; see provider-contract §9.
  bool retryable = false;
  // The five-character SQLSTATE of the originating server error, empty when there was none.
  std::string sqlstate;

  // "{operation}: {message}" — the Display format of the provider contract (§3.7).
  std::string to_string() const { return operation + ": " + message; }

  friend bool operator==(const ProviderError&, const ProviderError&) = default;
};

inline ProviderError retryable_error(std::string operation, std::string message,
                                     std::string sqlstate = {}) {
  return ProviderError{std::move(operation), std::move(message), true, std::move(sqlstate)};
}

inline ProviderError permanent_error(std::string operation, std::string message,
                                     std::string sqlstate = {}) {
  return ProviderError{std::move(operation), std::move(message), false, std::move(sqlstate)};
}

// A plain string error converts to a retryable error with operation "unknown" (contract §3.7).
inline ProviderError error_from_string(std::string message) {
  return retryable_error("unknown", std::move(message));
}

template <class T>
using Result = std::expected<T, ProviderError>;

// Shorthand for returning an error from a function whose type is Result<T>.
inline std::unexpected<ProviderError> fail(ProviderError e) {
  return std::unexpected<ProviderError>(std::move(e));
}

// True when an error with this SQLSTATE is worth retrying, by the table of provider-contract §9.1.
// `token_auth` says whether the connection authenticates with a rotating access token, which
// makes authentication failures (28000, 28P01) retryable.
bool sqlstate_is_retryable(std::string_view sqlstate, bool token_auth = false) noexcept;

}  // namespace duroxide
