#include "provider/long_poll.h"

#include <algorithm>

namespace duroxide::pg {

struct PollHub::Waiter {
  PollHub* hub;
  QueueKind kind;
  uint64_t deadline_ns;  // uv_hrtime() clock
  bool long_poll;
  ScanFn scan;
  std::move_only_function<void()> finish_empty;
  uv_timer_t* timer = nullptr;
  bool scanning = false;
  bool rescan_requested = false;
  bool done = false;
  uint64_t seq_at_scan = 0;
  std::list<std::unique_ptr<Waiter>>::iterator self;
};

PollHub::PollHub(uv_loop_t* loop, Millis fallback_interval) : loop_(loop), fallback_(fallback_interval) {}

PollHub::~PollHub() = default;

void PollHub::start(QueueKind kind, Millis poll_timeout, ScanFn scan_fn,
                    std::move_only_function<void()> finish_empty) {
  const int64_t timeout = std::max<int64_t>(0, poll_timeout.count());
  auto w = std::make_unique<Waiter>();
  w->hub = this;
  w->kind = kind;
  w->deadline_ns = uv_hrtime() + static_cast<uint64_t>(timeout) * 1000000ull;
  w->long_poll = timeout > 0;
  w->scan = std::move(scan_fn);
  w->finish_empty = std::move(finish_empty);
  waiters_.push_back(std::move(w));
  Waiter* raw = waiters_.back().get();
  raw->self = std::prev(waiters_.end());
  if (closing_) {
    finish(raw, true);
    return;
  }
  scan(raw);
}

void PollHub::scan(Waiter* w) {
  w->scanning = true;
  w->rescan_requested = false;
  w->seq_at_scan = seq_[static_cast<int>(w->kind)];
  w->scan([this, w](ScanVerdict v) { on_verdict(w, v); });
}

void PollHub::on_verdict(Waiter* w, ScanVerdict v) {
  w->scanning = false;
  if (w->done) {  // finished (closed) while scanning: its release waited for this verdict
    release(w);
    return;
  }
  if (v.completed) {
    finish(w, false);
    return;
  }
  const uint64_t now = uv_hrtime();
  if (!w->long_poll || closing_) {
    finish(w, true);
    return;
  }
  if (now >= w->deadline_ns) {
    finish(w, true);
    return;
  }
  // A notification that arrived while the scan ran may describe work the scan did not see.
  if (w->rescan_requested || seq_[static_cast<int>(w->kind)] != w->seq_at_scan) {
    scan(w);
    return;
  }
  arm(w, v.wake_in_ms);
}

void PollHub::arm(Waiter* w, std::optional<int64_t> wake_in_ms) {
  const uint64_t now = uv_hrtime();
  uint64_t wait_ms = (w->deadline_ns - now + 999999) / 1000000;  // round up: never end early
  if (wake_in_ms) wait_ms = std::min<uint64_t>(wait_ms, static_cast<uint64_t>(std::max<int64_t>(0, *wake_in_ms)));
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
    hub->scan(waiter);
  }, wait_ms, 0);
}

void PollHub::notify(QueueKind kind) {
  ++seq_[static_cast<int>(kind)];
  // Copy the targets first: a scan may complete synchronously with an error and erase itself.
  std::vector<Waiter*> targets;
  for (auto& w : waiters_)
    if (w->kind == kind && !w->done) targets.push_back(w.get());
  for (Waiter* w : targets) {
    if (w->scanning) {
      w->rescan_requested = true;
    } else if (w->timer && !w->done) {
      uv_timer_stop(w->timer);
      scan(w);
    }
  }
}

void PollHub::subscribed() {
  listening_ = true;
  notify(QueueKind::kOrchestrator);
  notify(QueueKind::kWorker);
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

void PollHub::close(std::move_only_function<void()> done) {
  closing_ = true;
  on_closed_ = std::move(done);
  std::vector<Waiter*> all;
  for (auto& w : waiters_)
    if (!w->done) all.push_back(w.get());
  for (Waiter* w : all) finish(w, true);
  maybe_closed();
}

void PollHub::maybe_closed() {
  if (!closing_ || open_timers_ != 0 || !on_closed_) return;
  auto cb = std::move(on_closed_);
  on_closed_ = nullptr;
  cb();
}

}  // namespace duroxide::pg
