// lib/capi/ops.h — glue shared by the per-operation start functions (provider_ops.cpp,
// admin_ops.cpp): validate and copy on the calling thread, then run on the loop thread.
#pragma once

#include <new>
#include <string>

#include "capi/handle.h"
#include "capi/json_in.h"
#include "capi/json_out.h"

namespace duroxide::capi {

Millis millis(uint64_t ms);  // saturating (c-api.md §1.3)

// `build(reader)` validates and copies the arguments and returns the loop-thread work; when the
// reader failed, the operation is accepted and completes with the invalid-argument error.
template <class Build>
int run_start(duroxide_provider* h, duroxide_callback cb, void* user_data, const char* name, OpKind kind,
              Build&& build) {
  if (h == nullptr || cb == nullptr) return DUROXIDE_EINVAL;
  try {
    Reader r(name);
    Work w = build(r);
    if (r.failed()) return start_failed(h, cb, user_data, name, r.take_error());
    return start(h, cb, user_data, name, kind, std::move(w));
  } catch (const std::bad_alloc&) {
    return DUROXIDE_ENOMEM;
  }
}

template <class T, class W>
Callback<T> reply(Op* op, W write) {
  return [op, write](Result<T> r) mutable {
    if (!r) return complete_error(op, std::move(r.error()));
    std::string json;
    write(json, *r);
    complete_ok(op, std::move(json));
  };
}

inline Callback<void> reply_void(Op* op) {
  return [op](Result<void> r) {
    if (!r) return complete_error(op, std::move(r.error()));
    complete_ok(op, "null");
  };
}

}  // namespace duroxide::capi
