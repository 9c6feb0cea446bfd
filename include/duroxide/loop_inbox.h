// duroxide/loop_inbox.h — hand work to the loop thread from any thread.
//
// Everything in duroxide-pg (pool, provider, listener) belongs to one libuv loop and must be
// touched only on that loop's thread. A LoopInbox is the one sanctioned door in: post() may be
// called from any thread, and each posted closure runs once on the loop thread, in posting order.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "duroxide/error.h"

namespace duroxide {

class LoopInbox {
 public:
  // Loop thread only.
  static Result<std::unique_ptr<LoopInbox>> create(uv_loop_t* loop);
  ~LoopInbox();
  LoopInbox(const LoopInbox&) = delete;
  LoopInbox& operator=(const LoopInbox&) = delete;

  // Any thread. Returns false (and drops `fn` without running it) once close() has begun.
  bool post(std::move_only_function<void()> fn);

  // Loop thread only. Runs closures already posted, refuses new ones, closes the async handle and
  // then calls `done`; destroy the inbox only after that.
  void close(std::move_only_function<void()> done);

 private:
  LoopInbox() = default;
  static void on_async(uv_async_t* h);
  void drain();

  uv_async_t async_{};
  std::mutex mu_;
  std::vector<std::move_only_function<void()>> queue_;
  bool closed_ = false;  // guarded by mu_
  bool handle_open_ = false;
  std::move_only_function<void()> on_closed_;
};

}  // namespace duroxide
