// Long polling for both fetch kinds (contract §6): a waiting fetch rescans when a notification of
// its queue kind is handed to it, when time alone may have made work eligible, or on the fallback
// interval while the listener is down; it ends with work, with an error, or empty at its deadline —
// never earlier, and within a few milliseconds after.
//
// Waking is selective so that many idle fetchers do not stampede the database when one item
// arrives. Waiters are grouped by wake class (fetchers with the same filter see the same work). A
// notification wakes one waiter per class; a woken waiter that finds work passes the wake on to two
// more of its class, since a notification may stand for many items (writes are coalesced), unless
// its scan reports that it saw no more work (ScanVerdict::more_work). A burst
// of n items thus reaches idle waiters in about log2(n) rounds, and the wasted scans per burst stay
// below the number of items found plus one.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "duroxide/provider.h"

namespace duroxide::pg {

enum class QueueKind : uint8_t { kOrchestrator = 0, kWorker = 1 };

// What one scan reports to the poller.
struct ScanVerdict {
  bool completed = false;  // the scan delivered work or an error to the caller: the poll is over
  // When nothing was found: milliseconds from now after which time alone may make work eligible.
  std::optional<int64_t> wake_in_ms;
  // When work was found: whether the scan saw more for others of its class. false only when it
  // knows there was none, so a wake-up it answered is not passed on to scan in vain.
  bool more_work = true;
};

using ScanFn = std::function<void(std::move_only_function<void(ScanVerdict)>)>;

class PollHub {
 public:
  PollHub(uv_loop_t* loop, Millis fallback_interval);
  ~PollHub();

  // Runs `scan` once, and with poll_timeout > 0 keeps rescanning on wake-ups until it completes or
  // the deadline passes, when `finish_empty` delivers the empty result. Called on the loop thread.
  // `wake_class` groups waiters whose scans would find the same work (their filters); nullopt means
  // the scan can never find work (an empty filter), so notifications never wake it.
  void start(QueueKind kind, Millis poll_timeout, std::optional<std::string> wake_class, ScanFn scan,
             std::move_only_function<void()> finish_empty);

  // A notification for `kind` arrived: one waiter of each wake class of that kind rescans.
  void notify(QueueKind kind);
  // The listener (re)subscribed: every waiter rescans once (notifications may have been missed).
  void subscribed();
  // The listener went down: waiters fall back to rescanning every fallback interval.
  void lost();
  bool listening() const { return listening_; }

  // Ends every wait with its empty result; later start() calls run their callers through
  // finish_empty without scanning, and scans already running are not repeated. Idempotent.
  void stop();
  // stop(), then closes the timers; `done` runs once every timer is closed. Call once.
  void close(std::move_only_function<void()> done);
  size_t waiting() const { return waiters_.size(); }
  // Scans started so far (first scans and rescans), for tests and metrics.
  uint64_t scans() const { return scans_; }
  // Rescans caused by notifications (long-poll wake-ups).
  uint64_t wakeups() const { return wakeups_; }

 private:
  struct Waiter;
  void scan(Waiter* w, bool woken);
  // Wakes up to `n` idle waiters of w's class (never w itself); returns how many it woke.
  int wake_idle(QueueKind kind, const std::string& cls, int n, const Waiter* except);
  // One wake-up for a class (a notification, or its due time arrived).
  void wake_class(QueueKind kind, const std::string& cls);
  // Wakes one waiter of the class at `due_ns` (uv_hrtime clock) unless an earlier wake is armed.
  void arm_class(QueueKind kind, const std::string& cls, uint64_t due_ns);
  void on_verdict(Waiter* w, ScanVerdict v);
  void arm(Waiter* w, std::optional<int64_t> wake_in_ms);
  void finish(Waiter* w, bool empty);
  void release(Waiter* w);
  void maybe_closed();

  uv_loop_t* loop_;
  Millis fallback_;
  bool listening_ = false;
  bool closing_ = false;
  uint64_t scans_ = 0;
  uint64_t wakeups_ = 0;
  struct ClassTimer;
  // Per kind and class; closed by close() (destroyed with the hub, after their close callbacks).
  std::unordered_map<std::string, std::unique_ptr<ClassTimer>> class_timers_;
  std::list<std::unique_ptr<Waiter>> waiters_;
  int open_timers_ = 0;
  std::move_only_function<void()> on_closed_;
};

}  // namespace duroxide::pg
