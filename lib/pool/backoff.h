// Reconnect schedule: exponential backoff with full jitter, free of I/O and clocks so it is
// unit-testable. The caller supplies the randomness.
#pragma once

#include <chrono>
#include <cstdint>

namespace duroxide::pg {

class Backoff {
 public:
  using ms = std::chrono::milliseconds;
  Backoff(ms base, ms cap) : base_(base), cap_(cap) {}

  // Delay before the next connect attempt. `random` is any 64-bit random value; the result lies
  // in [ceiling/2, ceiling] where ceiling = min(cap, base * 2^failures), so a burst of clients
  // spreads out but never retries much earlier than planned. Zero after no failure.
  ms next_delay(uint64_t random) const;

  void record_failure() { ++failures_; }
  void record_success() { failures_ = 0; }
  // Failed attempts since the last success (uncapped: next_delay stops doubling at the cap).
  uint64_t failures() const { return failures_; }

 private:
  ms base_;
  ms cap_;
  uint64_t failures_ = 0;
};

}  // namespace duroxide::pg
