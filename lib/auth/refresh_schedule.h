// When to refresh an access token: plain arithmetic on epoch milliseconds, no clock and no I/O,
// so the whole policy is unit-tested directly (tests/auth/refresh_schedule_test.cpp).
#pragma once

#include <cstdint>

#include "duroxide/pg/entra.h"

namespace duroxide::pg::auth {

struct RefreshPolicy {
  std::int64_t ceiling_ms = 20 * 60 * 1000;      // EntraAuthOptions::refresh_interval
  std::int64_t floor_ms = 30 * 1000;             // never refresh more often than this
  std::int64_t expiry_margin_ms = 5 * 60 * 1000;  // renew this long before expiry
  std::int64_t retry_base_ms = 2000;             // first retry after a failed refresh
  std::int64_t retry_cap_ms = 5 * 60 * 1000;     // longest wait between failed attempts
};

// The policy for `refresh_interval` (clamped to at least the floor).
RefreshPolicy policy_for(std::int64_t refresh_interval_ms);

// Epoch ms of the next refresh after `token` was obtained at `now_ms`: the earliest of the
// issuer's refresh_in, expiry minus the margin and now plus the ceiling, but never sooner than now
// plus the floor (a short-lived token is then served until the floor passes; it stays valid for
// new connections until its own expiry).
std::int64_t next_refresh_at(const AccessToken& token, std::int64_t now_ms, const RefreshPolicy& p);

// Delay before retrying after `failures` consecutive failed refreshes (failures >= 1): full
// jitter in [c/2, c] where c = min(cap, base * 2^(failures-1)); `random` is any 64-bit value.
// While the current token is still valid the retry is also kept at or before its expiry, so the
// last attempts happen while it can still be replaced seamlessly.
std::int64_t retry_delay_ms(unsigned failures, std::uint64_t random, const RefreshPolicy& p);

}  // namespace duroxide::pg::auth
