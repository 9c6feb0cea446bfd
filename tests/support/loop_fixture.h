// Test helpers: a private libuv loop, waiting on conditions with deadlines, and the database URL.
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>

namespace duroxide::test {

// DATABASE_URL, set by scripts/with-postgres.sh. Integration tests require it.
inline std::string database_url() {
  const char* url = std::getenv("DATABASE_URL");
  REQUIRE_MESSAGE(url != nullptr, "DATABASE_URL is not set; run under scripts/with-postgres.sh");
  return url;
}

class LoopFixture {
 public:
  LoopFixture() { uv_loop_init(&loop); }
  ~LoopFixture() {
    // Every test must have closed what it opened; a handle left open is a leak.
    run_until([] { return false; }, std::chrono::milliseconds(0));
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_MESSAGE(uv_loop_close(&loop) == 0, "libuv handles left open");
  }

  // Runs the loop until `done()` is true or the deadline passes; returns done().
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    uv_timer_t wake;
    uv_timer_init(&loop, &wake);
    bool expired = false;
    wake.data = &expired;
    uv_timer_start(&wake, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
                   static_cast<uint64_t>(deadline.count()), 0);
    // libuv runs due timers at the start of a UV_RUN_ONCE iteration and then blocks in poll until
    // the next event. A completion delivered from a timer (the provider's deferred callbacks,
    // time-based wake-ups) would leave this loop blocked until an unrelated event or the deadline:
    // check the condition just before every poll and stop the iteration instead of blocking.
    struct Stop {
      const std::function<bool()>* done;
      const bool* expired;
    } stop{&done, &expired};
    uv_prepare_t before_poll;
    uv_prepare_init(&loop, &before_poll);
    before_poll.data = &stop;
    uv_prepare_start(&before_poll, [](uv_prepare_t* p) {
      const auto* st = static_cast<const Stop*>(p->data);
      if (*st->expired || (*st->done)()) uv_stop(p->loop);
    });
    while (!done() && !expired) uv_run(&loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&before_poll), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
    return done();
  }

  uint64_t now_ms() {
    uv_update_time(&loop);
    return uv_now(&loop);
  }

  uv_loop_t loop;
};

}  // namespace duroxide::test
