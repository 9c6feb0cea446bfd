#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "duroxide/loop_inbox.h"
#include "support/loop_fixture.h"

TEST_CASE("loop inbox: closures posted from other threads run on the loop thread, each once") {
  duroxide::test::LoopFixture f;
  auto inbox = duroxide::LoopInbox::create(&f.loop);
  REQUIRE(inbox);
  const auto loop_thread = std::this_thread::get_id();
  int ran = 0;  // touched only on the loop thread
  bool wrong_thread = false;
  constexpr int kThreads = 4, kEach = 2500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        CHECK((*inbox)->post([&] {
          if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
          ++ran;
        }));
    });
  CHECK(f.run_until([&] { return ran == kThreads * kEach; }));
  for (auto& t : threads) t.join();
  CHECK_FALSE(wrong_thread);
  bool closed = false;
  (*inbox)->close([&] { closed = true; });
  CHECK_FALSE((*inbox)->post([] {}));
  CHECK(f.run_until([&] { return closed; }));
  inbox->reset();
}

TEST_CASE("loop inbox: closures posted before close still run") {
  duroxide::test::LoopFixture f;
  auto inbox = duroxide::LoopInbox::create(&f.loop);
  REQUIRE(inbox);
  int ran = 0;
  std::thread([&] { (*inbox)->post([&] { ++ran; }); }).join();
  bool closed = false;
  (*inbox)->close([&] { closed = true; });
  CHECK(ran == 1);
  CHECK(f.run_until([&] { return closed; }));
  inbox->reset();
}
