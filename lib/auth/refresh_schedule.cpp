#include "auth/refresh_schedule.h"

#include <algorithm>

namespace duroxide::pg::auth {

RefreshPolicy policy_for(std::int64_t refresh_interval_ms) {
  RefreshPolicy p;
  p.ceiling_ms = std::max(refresh_interval_ms, p.floor_ms);
  return p;
}

std::int64_t next_refresh_at(const AccessToken& token, std::int64_t now_ms, const RefreshPolicy& p) {
  std::int64_t at = now_ms + p.ceiling_ms;
  at = std::min(at, token.expires_on_ms - p.expiry_margin_ms);
  if (token.refresh_at_ms) at = std::min(at, *token.refresh_at_ms);
  return std::max(at, now_ms + p.floor_ms);
}

std::int64_t retry_delay_ms(unsigned failures, std::uint64_t random, const RefreshPolicy& p) {
  const std::int64_t base = std::max<std::int64_t>(1, p.retry_base_ms);
  const std::int64_t cap = std::max(base, p.retry_cap_ms);
  std::int64_t ceiling = base;
  for (unsigned i = 1; i < failures && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  const std::int64_t half = ceiling / 2;
  return half + static_cast<std::int64_t>(random % static_cast<std::uint64_t>(ceiling - half + 1));
}

}  // namespace duroxide::pg::auth
