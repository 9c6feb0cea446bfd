#include "duroxide/loop_inbox.h"

#include <cstdlib>

namespace duroxide {

Result<std::unique_ptr<LoopInbox>> LoopInbox::create(uv_loop_t* loop) {
  std::unique_ptr<LoopInbox> inbox(new LoopInbox());
  if (int rc = uv_async_init(loop, &inbox->async_, on_async); rc != 0)
    return fail(permanent_error("loop_inbox", std::string("uv_async_init: ") + uv_strerror(rc)));
  inbox->async_.data = inbox.get();
  inbox->handle_open_ = true;
  return inbox;
}

LoopInbox::~LoopInbox() {
  if (handle_open_) std::abort();  // close() must complete first
}

bool LoopInbox::post(std::move_only_function<void()> fn) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  queue_.push_back(std::move(fn));
  // Sent under the mutex: close() takes it before closing the handle, so the handle is alive here.
  uv_async_send(&async_);
  return true;
}

void LoopInbox::on_async(uv_async_t* h) { static_cast<LoopInbox*>(h->data)->drain(); }

void LoopInbox::drain() {
  std::vector<std::move_only_function<void()>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  for (auto& fn : batch) fn();
}

void LoopInbox::close(std::move_only_function<void()> done) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  on_closed_ = std::move(done);
  drain();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* h) {
    auto* self = static_cast<LoopInbox*>(h->data);
    self->handle_open_ = false;
    if (self->on_closed_) {
      auto cb = std::move(self->on_closed_);
      self->on_closed_ = nullptr;
      cb();
    }
  });
}

}  // namespace duroxide
