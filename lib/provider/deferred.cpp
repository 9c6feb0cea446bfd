#include "provider/deferred.h"

namespace duroxide::pg {

Deferred::Deferred(uv_loop_t* loop, uint64_t delay_ms) : loop_(loop), delay_ms_(delay_ms) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void Deferred::post(std::move_only_function<void()> fn) {
  if (closed_) {
    // After close completed (e.g. an operation started on a closed provider): a one-shot timer
    // still runs `fn` on a later loop turn, so its callback is never dropped.
    struct Once {
      uv_timer_t timer;
      std::move_only_function<void()> fn;
    };
    auto* o = new Once{{}, std::move(fn)};
    uv_timer_init(loop_, &o->timer);
    o->timer.data = o;
    uv_timer_start(&o->timer, [](uv_timer_t* t) {
      uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
        auto* once = static_cast<Once*>(h->data);
        auto f = std::move(once->fn);
        delete once;
        f();
      });
    }, 0, 0);
    return;
  }
  queue_.push_back(std::move(fn));
  // (only the first of a batch starts the timer: later posts must not push the batch back)
  if (open_ && queue_.size() == 1)
    uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<Deferred*>(t->data)->run(); }, delay_ms_, 0);
}

void Deferred::run() {
  while (!queue_.empty()) {
    auto batch = std::move(queue_);
    queue_.clear();
    for (auto& fn : batch) fn();
  }
}

void Deferred::close(std::move_only_function<void()> done) {
  if (!open_) return;
  open_ = false;
  on_closed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<Deferred*>(h->data);
    self->run();  // anything posted before or during close still completes, exactly once
    self->closed_ = true;
    auto cb = std::move(self->on_closed_);
    self->on_closed_ = nullptr;
    if (cb) cb();
  });
}

}  // namespace duroxide::pg
