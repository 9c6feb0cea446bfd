// Assertions on ProviderError values shared by the fault and bad-input tests.
#pragma once

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <type_traits>

#include "duroxide/error.h"
#include "faults/db_url.h"
#include "support/loop_fixture.h"

namespace duroxide::test::faults {

// No part of the error (operation, message, SQLSTATE) repeats the password of DATABASE_URL.
inline void check_no_secret(const ProviderError& e) {
  static const std::string password = url_password(database_url());
  if (password.empty()) return;
  const std::string all = e.operation + "\n" + e.message + "\n" + e.sqlstate;
  CHECK_MESSAGE(all.find(password) == std::string::npos, "the error repeats the database password");
}

inline std::string err_text(const auto& r) { return r ? std::string("(ok)") : r.error().to_string(); }

// The value of a Result that must have succeeded.
template <class T>
T ok(Result<T> r) {
  REQUIRE_MESSAGE(r, err_text(r));
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

// Failed, permanent, named after `operation`, message containing every needle; no secret.
template <class R>
void check_permanent(const R& r, const char* operation, std::initializer_list<const char*> needles) {
  REQUIRE_FALSE(r);
  const ProviderError& e = r.error();
  CHECK_MESSAGE(!e.retryable, e.to_string());
  CHECK_MESSAGE(e.operation == operation, e.to_string());
  for (const char* n : needles) CHECK_MESSAGE(e.message.find(n) != std::string::npos, n << " in: " << e.to_string());
  check_no_secret(e);
}

// Failed and retryable, named after `operation`; no secret.
template <class R>
void check_retryable(const R& r, const char* operation) {
  REQUIRE_FALSE(r);
  const ProviderError& e = r.error();
  CHECK_MESSAGE(e.retryable, e.to_string());
  CHECK_MESSAGE(e.operation == operation, e.to_string());
  check_no_secret(e);
}

// The contract's invalid-token failure (§9.2 QD001): permanent, "Invalid lock token".
template <class R>
void check_invalid_token(const R& r, const char* operation) {
  check_permanent(r, operation, {"Invalid lock token"});
  if (!r) CHECK_MESSAGE(r.error().sqlstate == "QD001", r.error().to_string());
}

}  // namespace duroxide::test::faults
