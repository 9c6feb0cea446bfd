#include "pool/backoff.h"

#include <algorithm>

namespace duroxide::pg {

Backoff::ms Backoff::next_delay(uint64_t random) const {
  if (failures_ == 0) return ms{0};
  const int64_t base = std::max<int64_t>(1, base_.count());
  const int64_t cap = std::max<int64_t>(base, cap_.count());
  int64_t ceiling = base;
  for (uint64_t i = 1; i < failures_ && ceiling < cap; ++i) ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  ceiling = std::min(ceiling, cap);
  const int64_t half = ceiling / 2;
  const int64_t span = ceiling - half + 1;
  return ms{half + static_cast<int64_t>(random % static_cast<uint64_t>(span))};
}

}  // namespace duroxide::pg
