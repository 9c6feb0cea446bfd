// lib/capi/handle.h — the C API handle: a PostgresProvider on a library-owned loop thread
// ("embedded loop mode", c-api.md §1.4–§1.6, §3).
//
// Threads. Start functions run on any thread: they validate and copy their arguments there, then,
// under `mu`, check `closing` and post one closure to the LoopInbox (the one thread-safe door into
// the loop). Everything else of the handle below "loop thread only" is touched by the loop thread
// alone.
//
// Shutdown (loop thread; §3.5): (1) `closing` refuses new starts; closures already posted that
// run afterwards complete with "provider closed: operation not started". (2) Fetches still waiting
// are answered `null` at once; a claim their scan commits later is released with an abandon
// (ignore_attempt) while the grace period lasts. (3)+(4) Other operations in flight may finish
// for up to close_grace_ms; then the core is closed, which fails whatever still runs (mapped to
// "provider closed: outcome unknown", or "operation not started" for those that never got a
// connection). (5) The core, the inbox and the grace timer close, uv_run returns, the thread ends.
#pragma once

#include <pthread.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "duroxide/c/provider.h"
#include "duroxide/loop_inbox.h"
#include "duroxide/pg/postgres_provider.h"

namespace duroxide::capi {

struct Op;
using Work = std::move_only_function<void(Op*)>;

enum class OpKind : uint8_t { kPlain, kFetchOrchestration, kFetchWork, kInternal };

// One accepted operation, from acceptance to its callback (loop-thread state after posting).
struct Op {
  duroxide_provider* h = nullptr;
  duroxide_callback cb = nullptr;
  void* user_data = nullptr;
  const char* name = "";  // contract operation name (static storage)
  OpKind kind = OpKind::kPlain;
  bool answered = false;  // the user callback ran (fetches answered null by close)
  Op* prev = nullptr;     // intrusive list of operations handed to the core
  Op* next = nullptr;
};

// Completes `op` (loop thread): invokes the callback (unless already answered) and retires it.
void complete_ok(Op* op, std::string json);
void complete_error(Op* op, ProviderError e);
// For fetches: the core answered; `claimed` holds the token of a claim to release when the fetch
// was already answered by close. Returns true when the caller should deliver the result itself.
bool fetch_should_deliver(Op* op, const std::string* claimed_token);

// Posts `work` for the loop thread; the return code of the start function (c-api.md §1.5).
int start(duroxide_provider* h, duroxide_callback cb, void* user_data, const char* name, OpKind kind,
          Work work);
// A start function whose validation failed: accepted, completes with `e` on the loop thread.
int start_failed(duroxide_provider* h, duroxide_callback cb, void* user_data, const char* name,
                 ProviderError e);

// The core of an operation's handle (loop thread).
pg::PostgresProvider& core(Op* op);

// Maps a core error that arrived during shutdown (c-api.md §8.3): never sent => "operation not
// started"; cut off by the closing core => "outcome unknown".
ProviderError map_close_error(ProviderError e, bool shutting_down, bool core_closing);

}  // namespace duroxide::capi

struct duroxide_provider {
  // ---- immutable after open ----
  std::string schema = "public";
  int64_t close_grace_ms = 2000;
  pthread_t thread{};
  uv_loop_t loop{};
  std::unique_ptr<duroxide::LoopInbox> inbox;

  // ---- guarded by mu ----
  std::mutex mu;
  std::condition_variable cv;
  bool closing = false;       // close or free has begun: start functions return ECLOSED
  bool loop_exited = false;   // the loop thread has left uv_run
  bool joining = false;       // an off-loop caller is joining the thread
  bool joined = false;
  bool self_release = false;  // the loop thread frees the handle and detaches (on-loop free,
                              // failed open_async)
  int close_waiters = 0;      // off-loop close() calls waiting for shutdown

  // ---- loop thread only ----
  std::unique_ptr<duroxide::pg::PostgresProvider> core;
  duroxide::capi::Op* ops = nullptr;  // operations handed to the core, not yet retired
  size_t plain_in_flight = 0;         // of those: non-fetch (plain + internal)
  bool shutting_down = false;         // shutdown started on the loop
  bool core_closing = false;          // core->close() has been called
  bool grace_timer_open = false;
  uv_timer_t grace_timer{};

  bool on_loop_thread() const { return pthread_equal(pthread_self(), thread) != 0; }
};
