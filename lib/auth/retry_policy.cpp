#include "auth/retry_policy.h"

#include <algorithm>

namespace duroxide::pg::auth {

HttpVerdict classify_http_status(long status) {
  if (status >= 200 && status < 300) return HttpVerdict::kSuccess;
  // 404: IMDS answers it while the identity is still being assigned; 410: IMDS is being updated;
  // 408/429/5xx: transient by definition.
  if (status == 404 || status == 408 || status == 410 || status == 429 || (status >= 500 && status < 600))
    return HttpVerdict::kRetry;
  return HttpVerdict::kFinal;
}

bool should_retry(std::optional<long> status, int attempts, int max_retries, std::int64_t elapsed_ms) {
  if (status && classify_http_status(*status) != HttpVerdict::kRetry) return false;
  if (attempts <= max_retries) return true;
  return status && *status == 410 && elapsed_ms < kImdsUpdateWindowMs;
}

std::int64_t http_retry_delay_ms(int attempt, std::uint64_t random, std::int64_t base_ms,
                                 std::optional<std::int64_t> retry_after_s) {
  constexpr std::int64_t kCap = 30'000;
  std::int64_t c = std::max<std::int64_t>(1, base_ms);
  for (int i = 1; i < attempt && c < kCap; ++i) c *= 2;
  c = std::min(c, kCap);
  const std::int64_t half = c / 2;
  std::int64_t d = half + static_cast<std::int64_t>(random % static_cast<std::uint64_t>(c - half + 1));
  if (retry_after_s && *retry_after_s > 0) d = std::max(d, std::min<std::int64_t>(*retry_after_s * 1000, 60'000));
  return d;
}

}  // namespace duroxide::pg::auth
