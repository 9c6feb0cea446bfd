// bench/capi_overhead: the per-call overhead of the C API (issue 6, c-api.md §11.10) — one
// operation started on the application thread, completed by its callback on the handle's loop
// thread, measured from just before the start function to the moment the application thread sees
// the completion. Links libduroxide-pg-c.so like any foreign caller.
//
//   scripts/with-postgres.sh build/bench/capi_overhead [iterations]
//
// Rows:
//  * no-op (inbox only): an argument error (NULL instance) — validated on the caller, posted
//    through the loop inbox, answered on the loop thread; the pure cost of the round trip.
//  * no-op (through the core): fetch_work_item with tag filter "none" and poll_timeout 0, which
//    the contract answers `null` without touching storage (c-api.md §6.9).
//  * real cheap op: get_kv_value of an unknown instance (one pipelined query on the pool).
// Each row is measured with the application thread polling the completion flag (yielding the
// core between polls) and with it blocking on a condition variable (futex wake-up included); goal: p50 under 20 µs for the no-op.
#include <duroxide/c/provider.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Waiter {
  std::atomic<int> done{0};
  bool block = false;
  std::mutex mu;
  std::condition_variable cv;
};

void on_done(const duroxide_result*, void* u) {
  auto* w = static_cast<Waiter*>(u);
  if (w->block) {
    std::lock_guard lk(w->mu);
    w->done.store(1, std::memory_order_release);
    w->cv.notify_one();
  } else {
    w->done.store(1, std::memory_order_release);
  }
}

template <class Start>
void measure(const char* label, int iterations, bool block, Start start) {
  Waiter w;
  w.block = block;
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iterations));
  const int warmup = std::max(100, iterations / 20);
  for (int i = 0; i < warmup + iterations; ++i) {
    w.done.store(0, std::memory_order_relaxed);
    auto t0 = Clock::now();
    if (start(&w) != DUROXIDE_OK) {
      std::fprintf(stderr, "%s: not started\n", label);
      std::exit(1);
    }
    if (block) {
      std::unique_lock lk(w.mu);
      w.cv.wait(lk, [&] { return w.done.load(std::memory_order_acquire) == 1; });
    } else {
      // Spin, yielding the core: on a 2-core machine a pure spin competes with the loop thread.
      while (w.done.load(std::memory_order_acquire) == 0) std::this_thread::yield();
    }
    auto t1 = Clock::now();
    if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())))]; };
  double sum = 0;
  for (double v : us) sum += v;
  std::printf("| %-32s | %-5s | %7d | %8.2f | %8.2f | %8.2f | %8.2f |\n", label, block ? "block" : "spin",
              iterations, pct(0.50), pct(0.90), pct(0.99), sum / static_cast<double>(us.size()));
}

}  // namespace

int main(int argc, char** argv) {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr) {
    std::fprintf(stderr, "DATABASE_URL is not set (use scripts/with-postgres.sh)\n");
    return 2;
  }
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  char* error = nullptr;
  std::string schema = "capi_bench_" + std::to_string(::getpid());
  duroxide_provider* p = duroxide_provider_open(url, schema.c_str(), "{\"pool_max\":2}", &error);
  if (p == nullptr) {
    std::fprintf(stderr, "%s\n", error ? error : "open failed");
    duroxide_string_free(error);
    return 1;
  }
  std::printf("C API per-call overhead (µs), libduroxide-pg-c %s, %d iterations per no-op row\n\n",
              duroxide_version(), n);
  std::printf("| %-32s | %-5s | %7s | %8s | %8s | %8s | %8s |\n", "operation", "wait", "calls", "p50", "p90", "p99",
              "mean");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(34, '-').c_str(), std::string(7, '-').c_str(),
              std::string(9, '-').c_str(), std::string(10, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str());
  for (bool block : {false, true}) {
    measure("no-op (inbox only)", n, block,
            [&](Waiter* w) { return duroxide_provider_read(p, nullptr, on_done, w); });
    measure("no-op (through the core)", n, block, [&](Waiter* w) {
      return duroxide_provider_fetch_work_item(p, 1000, 0, nullptr, "{\"mode\":\"none\"}", on_done, w);
    });
    measure("get_kv_value (1 query)", std::max(200, n / 10), block,
            [&](Waiter* w) { return duroxide_provider_get_kv_value(p, "nobody", "k", on_done, w); });
  }
  Waiter w;
  duroxide_provider_drop_schema(p, on_done, &w);
  while (w.done.load() == 0) {
  }
  duroxide_provider_free(p);
  return 0;
}
