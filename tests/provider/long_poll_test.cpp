// PollHub without a database: scans are fakes that answer on a later loop turn, so the tests can
// count exactly how many scans a wake-up costs.
#include "provider/long_poll.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "support/loop_fixture.h"

using namespace std::chrono_literals;
using duroxide::pg::PollHub;
using duroxide::pg::QueueKind;
using duroxide::pg::ScanVerdict;

namespace {

// Work visible to each wake class; a scan takes one item of its class if there is one. Items with
// a due time become takeable only then, and an empty scan reports the earliest due time.
struct FakeQueue {
  uv_loop_t* loop;
  std::map<std::string, int> ready;
  std::map<std::string, std::vector<uint64_t>> due;  // uv_now() milliseconds
  int scans_running = 0;
  bool report_more = false;  // scans tell whether they left work behind (ScanVerdict::more_work)

  duroxide::pg::ScanFn scan_for(const std::string& cls, int* delivered) {
    return [this, cls, delivered](std::move_only_function<void(ScanVerdict)> verdict) {
      ++scans_running;
      // Answer on a later loop turn, as a database round trip would.
      struct Reply {
        uv_timer_t timer;
        FakeQueue* q;
        std::string cls;
        int* delivered;
        std::move_only_function<void(ScanVerdict)> verdict;
      };
      auto* r = new Reply{{}, this, cls, delivered, std::move(verdict)};
      uv_timer_init(loop, &r->timer);
      r->timer.data = r;
      uv_timer_start(&r->timer, [](uv_timer_t* t) {
        auto* reply = static_cast<Reply*>(t->data);
        FakeQueue& q = *reply->q;
        --q.scans_running;
        uv_update_time(q.loop);
        const uint64_t now = uv_now(q.loop);
        auto& due = q.due[reply->cls];
        for (auto it = due.begin(); it != due.end();) {
          if (*it <= now) {
            ++q.ready[reply->cls];
            it = due.erase(it);
          } else {
            ++it;
          }
        }
        ScanVerdict v;
        if (q.ready[reply->cls] > 0) {
          --q.ready[reply->cls];
          ++*reply->delivered;
          v.completed = true;
          if (q.report_more) v.more_work = q.ready[reply->cls] > 0;
        } else if (!due.empty()) {
          uint64_t first = due.front();
          for (uint64_t d : due) first = std::min(first, d);
          v.wake_in_ms = static_cast<int64_t>(first - now);
        }
        auto answer = std::move(reply->verdict);
        uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete static_cast<Reply*>(h->data); });
        answer(v);
      }, 1, 0);
    };
  }
};

struct Hub : duroxide::test::LoopFixture {
  PollHub hub{&loop, 1000ms};
  FakeQueue q{&loop};
  int delivered = 0;
  int empty = 0;
  Hub() { hub.subscribed(); }  // as if the listener were up: no fallback rescans

  void wait(const std::string& cls, std::chrono::milliseconds timeout = 10s) {
    hub.start(QueueKind::kWorker, timeout, cls, q.scan_for(cls, &delivered), [this] { ++empty; });
  }
  bool quiet() { return q.scans_running == 0; }
  void close() {
    bool closed = false;
    hub.close([&] { closed = true; });
    REQUIRE(run_until([&] { return closed && quiet(); }));
  }
};

}  // namespace

TEST_CASE_FIXTURE(Hub, "one notification wakes one idle waiter of a class, not all of them") {
  for (int i = 0; i < 20; ++i) wait("a");
  REQUIRE(run_until([&] { return hub.scans() == 20 && quiet(); }));
  q.ready["a"] = 1;
  hub.notify(QueueKind::kWorker);
  REQUIRE(run_until([&] { return delivered == 1 && quiet(); }));
  // The waiter that found the item passes the wake-up on to two more (it might have been a
  // burst); they find nothing and go back to waiting.
  CHECK(hub.scans() == 20 + 1 + 2);
  CHECK(hub.waiting() == 19);
  close();
  CHECK(empty == 19);
}

TEST_CASE_FIXTURE(Hub, "a burst behind one notification reaches every item with few wasted scans") {
  SUBCASE("scans that cannot tell whether they left work behind") {}
  SUBCASE("scans that report it (ScanVerdict::more_work)") { q.report_more = true; }
  for (int i = 0; i < 20; ++i) wait("a");
  REQUIRE(run_until([&] { return hub.scans() == 20 && quiet(); }));
  q.ready["a"] = 8;
  hub.notify(QueueKind::kWorker);
  REQUIRE(run_until([&] { return delivered == 8 && quiet(); }));
  const uint64_t rescans = hub.scans() - 20;
  CHECK(rescans <= 2 * 8 + 1);  // wasted scans <= items found + 1
  CHECK(hub.waiting() == 12);
  close();
}

TEST_CASE_FIXTURE(Hub, "a woken waiter whose scan saw no more work keeps the wake-up to itself") {
  q.report_more = true;
  for (int i = 0; i < 20; ++i) wait("a");
  REQUIRE(run_until([&] { return hub.scans() == 20 && quiet(); }));
  q.ready["a"] = 1;
  hub.notify(QueueKind::kWorker);
  REQUIRE(run_until([&] { return delivered == 1 && quiet(); }));
  CHECK(hub.scans() == 20 + 1);
  CHECK(hub.waiting() == 19);
  close();
}

TEST_CASE_FIXTURE(Hub, "each wake class gets its own wake-up") {
  for (int i = 0; i < 5; ++i) wait("a");
  for (int i = 0; i < 5; ++i) wait("b");
  REQUIRE(run_until([&] { return hub.scans() == 10 && quiet(); }));
  q.ready["b"] = 1;
  hub.notify(QueueKind::kWorker);
  REQUIRE(run_until([&] { return delivered == 1 && quiet(); }));
  // One scan per class for the notification, then two handed on within class b.
  CHECK(hub.scans() == 10 + 2 + 2);
  close();
}

TEST_CASE_FIXTURE(Hub, "a notification for the other queue kind wakes nobody") {
  for (int i = 0; i < 3; ++i) wait("a");
  REQUIRE(run_until([&] { return hub.scans() == 3 && quiet(); }));
  hub.notify(QueueKind::kOrchestrator);
  REQUIRE(run_until([&] { return quiet(); }));
  CHECK(hub.scans() == 3);
  close();
}

TEST_CASE_FIXTURE(Hub, "a notification during a scan makes that waiter scan again") {
  wait("a");
  REQUIRE(q.scans_running == 1);
  hub.notify(QueueKind::kWorker);  // the running scan may have started before the write committed
  hub.notify(QueueKind::kWorker);  // a second one while the first is pending costs nothing more
  REQUIRE(run_until([&] { return hub.scans() == 2 && quiet(); }));
  CHECK(delivered == 0);
  CHECK(hub.scans() == 2);
  CHECK(hub.waiting() == 1);
  close();
}

TEST_CASE_FIXTURE(Hub, "work that becomes visible by time wakes one waiter, not every waiter") {
  const uint64_t at = now_ms() + 80;
  q.due["a"] = {at};
  for (int i = 0; i < 10; ++i) wait("a");
  REQUIRE(run_until([&] { return hub.scans() == 10 && quiet(); }));
  REQUIRE(run_until([&] { return delivered == 1 && quiet(); }));
  CHECK(now_ms() >= at);
  CHECK(hub.scans() == 10 + 1 + 2);
  close();
  CHECK(empty == 9);
}

TEST_CASE_FIXTURE(Hub, "waiters that can never find work are never woken") {
  hub.start(QueueKind::kWorker, 10s, std::nullopt, q.scan_for("x", &delivered), [this] { ++empty; });
  REQUIRE(run_until([&] { return hub.scans() == 1 && quiet(); }));
  hub.notify(QueueKind::kWorker);
  REQUIRE(run_until([&] { return quiet(); }));
  CHECK(hub.scans() == 1);
  close();
  CHECK(empty == 1);
}

TEST_CASE_FIXTURE(Hub, "a waiter ends empty at its deadline, not before") {
  const uint64_t t0 = now_ms();
  wait("a", 60ms);
  REQUIRE(run_until([&] { return empty == 1; }));
  CHECK(now_ms() - t0 >= 60);
  CHECK(hub.waiting() == 0);
  close();
}
