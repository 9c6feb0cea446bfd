#include "provider/long_poll.h"

#include <algorithm>

namespace duroxide::pg {

struct PollHub::Waiter {
  PollHub* hub;
  QueueKind kind;
  uint64_t deadline_ns;  // uv_hrtime() clock
  bool long_poll;
  std::optional<std::string> cls;
  ScanFn scan;
  std::move_only_function<void()> finish_empty;
  uv_timer_t* timer = nullptr;
  bool scanning = false;
  bool woken = false;             // the running scan was a wake-up (notification or due time)
  bool rescan_requested = false;  // a wake-up was handed to this waiter while it scanned
  bool done = false;
  std::list<std::unique_ptr<Waiter>>::iterator self;
};

namespace {

std::string class_key(QueueKind kind, const std::string& cls) {
  std::string k(1, static_cast<char>('0' + static_cast<int>(kind)));
  return k + cls;
}

}  // namespace

PollHub::PollHub(uv_loop_t* loop, Millis fallback_interval) : loop_(loop), fallback_(fallback_interval) {}

PollHub::~PollHub() = default;

void PollHub::start(QueueKind kind, Millis poll_timeout, std::optional<std::string> wake_class, ScanFn scan_fn,
                    std::move_only_function<void()> finish_empty) {
  const int64_t timeout = std::max<int64_t>(0, poll_timeout.count());
  auto w = std::make_unique<Waiter>();
  w->hub = this;
  w->kind = kind;
  w->deadline_ns = uv_hrtime() + static_cast<uint64_t>(timeout) * 1000000ull;
  w->long_poll = timeout > 0;
  w->cls = std::move(wake_class);
  w->scan = std::move(scan_fn);
  w->finish_empty = std::move(finish_empty);
  waiters_.push_back(std::move(w));
  Waiter* raw = waiters_.back().get();
  raw->self = std::prev(waiters_.end());
  if (closing_) {
    finish(raw, true);
    return;
  }
  scan(raw, false);
}

void PollHub::scan(Waiter* w, bool woken) {
  w->scanning = true;
  w->woken = woken;
  w->rescan_requested = false;
  ++scans_;
  if (woken) ++wakeups_;
  w->scan([this, w](ScanVerdict v) { on_verdict(w, v); });
}

void PollHub::on_verdict(Waiter* w, ScanVerdict v) {
  w->scanning = false;
  if (w->done) {  // finished (closed) while scanning: its release waited for this verdict
    release(w);
    return;
  }
  // A wake-up may stand for several items: one that found work passes it on to two more waiters
  // unless its scan saw no more, and one that ends now for another reason passes on a wake-up it
  // was handed but did not use. A wake-up handed during the scan is always passed on: the scan may
  // have started before that write committed.
  const bool handed = w->rescan_requested;
  if (v.completed) {
    if (((w->woken && v.more_work) || handed) && w->cls) wake_idle(w->kind, *w->cls, 2, w);
    finish(w, false);
    return;
  }
  const uint64_t now = uv_hrtime();
  if (!w->long_poll || closing_ || now >= w->deadline_ns) {
    if (handed && w->cls && !closing_) wake_idle(w->kind, *w->cls, 1, w);
    finish(w, true);
    return;
  }
  if (handed) {
    scan(w, true);
    return;
  }
  arm(w, v.wake_in_ms);
}

void PollHub::arm(Waiter* w, std::optional<int64_t> wake_in_ms) {
  const uint64_t now = uv_hrtime();
  uint64_t wait_ms = (w->deadline_ns - now + 999999) / 1000000;  // round up: never end early
  if (wake_in_ms) {
    const uint64_t in = static_cast<uint64_t>(std::max<int64_t>(0, *wake_in_ms));
    if (w->cls) arm_class(w->kind, *w->cls, now + in * 1000000ull);
    else wait_ms = std::min(wait_ms, in);
  }
  if (!listening_) wait_ms = std::min<uint64_t>(wait_ms, static_cast<uint64_t>(fallback_.count()));
  if (!w->timer) {
    w->timer = new uv_timer_t;
    uv_timer_init(loop_, w->timer);
    w->timer->data = w;
    ++open_timers_;
  }
  uv_timer_start(w->timer, [](uv_timer_t* t) {
    auto* waiter = static_cast<Waiter*>(t->data);
    PollHub* hub = waiter->hub;
    if (waiter->done || waiter->scanning) return;
    if (uv_hrtime() >= waiter->deadline_ns) {
      hub->finish(waiter, true);
      return;
    }
    hub->scan(waiter, false);
  }, wait_ms, 0);
}

// Due times are kept per class, not per waiter: when work becomes eligible by time alone, one
// waiter of the class is woken, exactly as for a notification.
struct PollHub::ClassTimer {
  PollHub* hub;
  QueueKind kind;
  std::string cls;
  uv_timer_t timer;
  uint64_t due_ns = 0;  // 0: not armed
};

void PollHub::arm_class(QueueKind kind, const std::string& cls, uint64_t due_ns) {
  auto& slot = class_timers_[class_key(kind, cls)];
  if (!slot) {
    slot = std::make_unique<ClassTimer>();
    slot->hub = this;
    slot->kind = kind;
    slot->cls = cls;
    uv_timer_init(loop_, &slot->timer);
    slot->timer.data = slot.get();
    ++open_timers_;
  }
  if (slot->due_ns != 0 && slot->due_ns <= due_ns) return;
  slot->due_ns = due_ns;
  const uint64_t now = uv_hrtime();
  const uint64_t in_ms = due_ns > now ? (due_ns - now + 999999) / 1000000 : 0;
  uv_timer_start(&slot->timer, [](uv_timer_t* t) {
    auto* c = static_cast<ClassTimer*>(t->data);
    c->due_ns = 0;
    c->hub->wake_class(c->kind, c->cls);
  }, in_ms, 0);
}

int PollHub::wake_idle(QueueKind kind, const std::string& cls, int n, const Waiter* except) {
  // Copy the targets first: a scan may complete synchronously with an error and erase itself.
  std::vector<Waiter*> targets;
  for (auto& w : waiters_) {
    if (static_cast<int>(targets.size()) == n) break;
    if (w.get() == except || w->kind != kind || w->done || w->scanning || !w->timer || !w->cls || *w->cls != cls)
      continue;
    targets.push_back(w.get());
  }
  for (Waiter* w : targets) {
    if (w->done || w->scanning) continue;
    uv_timer_stop(w->timer);
    scan(w, true);
  }
  return static_cast<int>(targets.size());
}

void PollHub::notify(QueueKind kind) {
  std::vector<std::string> classes;
  for (auto& w : waiters_)
    if (w->kind == kind && !w->done && w->cls && std::find(classes.begin(), classes.end(), *w->cls) == classes.end())
      classes.push_back(*w->cls);
  for (const std::string& cls : classes) wake_class(kind, cls);
}

void PollHub::wake_class(QueueKind kind, const std::string& cls) {
  // The longest-waiting idle waiter, or else one that is scanning right now (its scan may have
  // started before the write committed); nothing when one already has a wake-up pending.
  if (closing_ || wake_idle(kind, cls, 1, nullptr) == 1) return;
  Waiter* busy = nullptr;
  for (auto& w : waiters_) {
    if (w->kind != kind || w->done || !w->scanning || !w->cls || *w->cls != cls) continue;
    if (w->rescan_requested) return;
    if (!busy) busy = w.get();
  }
  if (busy) busy->rescan_requested = true;
}

void PollHub::subscribed() {
  listening_ = true;
  // Notifications may have been missed while unsubscribed: every waiter rescans once.
  std::vector<Waiter*> targets;
  for (auto& w : waiters_)
    if (!w->done) targets.push_back(w.get());
  for (Waiter* w : targets) {
    if (w->done) continue;
    if (w->scanning) {
      w->rescan_requested = true;
    } else if (w->timer) {
      uv_timer_stop(w->timer);
      scan(w, true);
    }
  }
}

void PollHub::lost() {
  listening_ = false;
  // Shorten every current wait to the fallback interval.
  for (auto& w : waiters_)
    if (!w->done && !w->scanning && w->timer) arm(w.get(), std::nullopt);
}

void PollHub::finish(Waiter* w, bool empty) {
  if (w->done) return;
  w->done = true;
  auto finish_empty = std::move(w->finish_empty);
  if (!w->scanning) release(w);
  if (empty && finish_empty) finish_empty();
}

void PollHub::release(Waiter* w) {
  // The node stays until its timer is closed (the timer points at it).
  if (w->timer) {
    uv_timer_stop(w->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(w->timer), [](uv_handle_t* h) {
      auto* waiter = static_cast<Waiter*>(h->data);
      PollHub* hub = waiter->hub;
      delete reinterpret_cast<uv_timer_t*>(h);
      --hub->open_timers_;
      hub->waiters_.erase(waiter->self);
      hub->maybe_closed();
    });
  } else {
    waiters_.erase(w->self);
  }
}

void PollHub::stop() {
  if (closing_) return;
  closing_ = true;
  std::vector<Waiter*> all;
  for (auto& w : waiters_)
    if (!w->done) all.push_back(w.get());
  for (Waiter* w : all) finish(w, true);
}

void PollHub::close(std::move_only_function<void()> done) {
  stop();
  on_closed_ = std::move(done);
  for (auto& [key, c] : class_timers_) {
    uv_timer_stop(&c->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), [](uv_handle_t* h) {
      PollHub* hub = static_cast<ClassTimer*>(h->data)->hub;
      --hub->open_timers_;
      hub->maybe_closed();
    });
  }
  maybe_closed();
}

void PollHub::maybe_closed() {
  if (!closing_ || open_timers_ != 0 || !on_closed_) return;
  auto cb = std::move(on_closed_);
  on_closed_ = nullptr;
  cb();
}

}  // namespace duroxide::pg
