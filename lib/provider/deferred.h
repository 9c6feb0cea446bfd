// Runs closures on a later loop turn: `delay_ms` after the first of a batch was posted (0: the
// next turn). Operations that fail before any I/O (invalid arguments, a closed provider) complete
// through it, so no callback ever runs inside the call that started it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace duroxide::pg {

class Deferred {
 public:
  explicit Deferred(uv_loop_t* loop, uint64_t delay_ms = 0);
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  void post(std::move_only_function<void()> fn);
  // Runs what is queued, closes the timer, then calls `done`. The object must stay alive until then.
  void close(std::move_only_function<void()> done);
  bool open() const { return open_; }

 private:
  void run();
  uv_loop_t* loop_;
  uint64_t delay_ms_;
  uv_timer_t timer_;
  std::vector<std::move_only_function<void()>> queue_;
  std::move_only_function<void()> on_closed_;
  bool open_ = true;
  bool closed_ = false;  // the timer is closed: post() falls back to one-shot timers
};

}  // namespace duroxide::pg
