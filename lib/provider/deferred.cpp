#include "provider/deferred.h"

namespace duroxide::pg {

Deferred::Deferred(uv_loop_t* loop) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void Deferred::post(std::move_only_function<void()> fn) {
  queue_.push_back(std::move(fn));
  if (open_) uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<Deferred*>(t->data)->run(); }, 0, 0);
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
    auto cb = std::move(self->on_closed_);
    self->on_closed_ = nullptr;
    if (cb) cb();
  });
}

}  // namespace duroxide::pg
