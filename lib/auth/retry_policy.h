// Which identity endpoint answers are worth retrying, and how long to wait: the published IMDS
// guidance (404, 408, 410, 429 and 5xx are transient; every other 4xx is final), with jittered
// exponential backoff. Plain code, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace duroxide::pg::auth {

enum class HttpVerdict : std::uint8_t { kSuccess, kRetry, kFinal };

HttpVerdict classify_http_status(long status);

// Whether to send again after `attempts` attempts (1-based) over `elapsed_ms`, the last one
// answered with `status` (nullopt: no answer at all). Transient answers and transport errors get
// up to `max_retries` retries; a 410 (IMDS being updated) keeps being retried for at least 70 s
// from the first attempt, as the IMDS guidance asks.
bool should_retry(std::optional<long> status, int attempts, int max_retries, std::int64_t elapsed_ms);
inline constexpr std::int64_t kImdsUpdateWindowMs = 70'000;

// Delay before retry number `attempt` (1-based): full jitter in [c/2, c], c = base * 2^(attempt-1)
// capped at 30 s. A server's Retry-After (seconds) is honoured when it is longer, up to 60 s.
std::int64_t http_retry_delay_ms(int attempt, std::uint64_t random, std::int64_t base_ms,
                                 std::optional<std::int64_t> retry_after_s = std::nullopt);

}  // namespace duroxide::pg::auth
