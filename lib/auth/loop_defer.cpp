#include "auth/loop_defer.h"

namespace duroxide::pg::auth {

void defer_on_loop(uv_loop_t* loop, std::move_only_function<void()> fn) {
  struct Pending {
    uv_timer_t timer;
    std::move_only_function<void()> fn;
  };
  auto* p = new Pending{{}, std::move(fn)};
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, [](uv_timer_t* t) {
    // Run the closure only once the handle is closed, so a closure that ends the loop (or closes
    // it) never finds this timer still open.
    uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
      auto* pending = static_cast<Pending*>(h->data);
      auto run = std::move(pending->fn);
      delete pending;
      run();
    });
  }, 0, 0);
}

}  // namespace duroxide::pg::auth
