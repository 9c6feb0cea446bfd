// Long polling for both fetch kinds (contract §6): a waiting fetch rescans when a notification of
// its queue kind arrives, when time alone may have made work eligible, or on the fallback interval
// while the listener is down; it ends with work, with an error, or empty at its deadline — never
// earlier, and within a few milliseconds after.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>

#include "duroxide/provider.h"

namespace duroxide::pg {

enum class QueueKind : uint8_t { kOrchestrator = 0, kWorker = 1 };

// What one scan reports to the poller.
struct ScanVerdict {
  bool completed = false;  // the scan delivered work or an error to the caller: the poll is over
  // When nothing was found: milliseconds from now after which time alone may make work eligible.
  std::optional<int64_t> wake_in_ms;
};

using ScanFn = std::function<void(std::move_only_function<void(ScanVerdict)>)>;

class PollHub {
 public:
  PollHub(uv_loop_t* loop, Millis fallback_interval);
  ~PollHub();

  // Runs `scan` once, and with poll_timeout > 0 keeps rescanning on wake-ups until it completes or
  // the deadline passes, when `finish_empty` delivers the empty result. Called on the loop thread.
  void start(QueueKind kind, Millis poll_timeout, ScanFn scan, std::move_only_function<void()> finish_empty);

  // A notification for `kind` arrived: every waiter of that kind rescans.
  void notify(QueueKind kind);
  // The listener (re)subscribed: every waiter rescans once (notifications may have been missed).
  void subscribed();
  // The listener went down: waiters fall back to rescanning every fallback interval.
  void lost();
  bool listening() const { return listening_; }

  // Ends every wait with its empty result; later start() calls still run their scans' callers
  // through finish_empty without scanning. `done` runs once every timer is closed.
  void close(std::move_only_function<void()> done);
  size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter;
  void scan(Waiter* w);
  void on_verdict(Waiter* w, ScanVerdict v);
  void arm(Waiter* w, std::optional<int64_t> wake_in_ms);
  void finish(Waiter* w, bool empty);
  void release(Waiter* w);
  void maybe_closed();

  uv_loop_t* loop_;
  Millis fallback_;
  bool listening_ = false;
  bool closing_ = false;
  uint64_t seq_[2] = {0, 0};  // notifications seen per kind
  std::list<std::unique_ptr<Waiter>> waiters_;
  int open_timers_ = 0;
  std::move_only_function<void()> on_closed_;
};

}  // namespace duroxide::pg
