// pickup_latency: how fast a long-polling fetch sees work that another provider object commits.
//
// Provider W has one long-polling fetcher per queue (poll_timeout 30 s). Provider E (its own
// connections: "another process" as far as PostgreSQL and the notification path are concerned)
// enqueues one item at a time. Latency is measured from the moment E's enqueue completes (commit
// confirmed) to the moment W's fetch returns it; for timers, from the instant the timer becomes
// visible (a delayed orchestrator row, which is how timers are stored). Each item is acked before the
// next is enqueued.
//
//   pickup_latency [--samples 200] [--timer-delay-ms 50]     (needs DATABASE_URL)
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "duroxide/pg/postgres_provider.h"
#include "pool/pool.h"
#include "sql/migrate.h"

using namespace duroxide;
using namespace std::chrono_literals;

namespace {

using Provider = pg::PostgresProvider;

std::unique_ptr<Provider> open(uv_loop_t* loop, const std::string& url, const std::string& schema, const char* app) {
  pg::PostgresProviderOptions o;
  o.application_name = app;
  o.pool_max = 2;
  std::unique_ptr<Provider> out;
  bool done = false;
  Provider::create_with_schema(loop, url, schema, o, [&](Result<std::unique_ptr<Provider>> r) {
    if (!r) {
      std::fprintf(stderr, "create: %s\n", r.error().to_string().c_str());
      std::exit(1);
    }
    out = std::move(*r);
    done = true;
  });
  while (!done) uv_run(loop, UV_RUN_ONCE);
  return out;
}

double ms_since(uint64_t t0_ns) { return static_cast<double>(uv_hrtime() - t0_ns) / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  const char* url_env = std::getenv("DATABASE_URL");
  if (!url_env) {
    std::fprintf(stderr, "pickup_latency: set DATABASE_URL (or run under scripts/with-postgres.sh)\n");
    return 2;
  }
  const std::string url = url_env;
  const int samples = std::atoi(bench::arg_value(argc, argv, "--samples", "200"));
  const int timer_delay = std::atoi(bench::arg_value(argc, argv, "--timer-delay-ms", "50"));
  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::string schema = "pickup_bench_" + std::to_string(::getpid());
  auto waiter = open(&loop, url, schema, "dx-pickup-waiter");
  auto enqueuer = open(&loop, url, schema, "dx-pickup-enqueuer");

  auto run_until = [&](const std::function<bool()>& cond) {
    while (!cond()) uv_run(&loop, UV_RUN_ONCE);
  };

  // Warm up: the listener of the waiting provider connects on its first long poll.
  {
    bool done = false;
    waiter->fetch_work_item(30s, 300ms, std::nullopt, TagFilter::DefaultOnly{}, [&](auto) { done = true; });
    run_until([&] { return done; });
  }

  std::vector<double> orch_us, work_us, timer_us;
  for (int kind = 0; kind < 3; ++kind) {
    for (int i = 0; i < samples; ++i) {
      const std::string inst = "pickup-" + std::to_string(kind) + "-" + std::to_string(i);
      bool fetched = false, enqueued = false;
      uint64_t commit_ns = 0, fetched_ns = 0, visible_ns = 0;
      std::string token;
      if (kind == 1) {
        waiter->fetch_work_item(30s, 30s, std::nullopt, TagFilter::DefaultOnly{},
                                [&](Result<std::optional<LockedWorkItem>> r) {
                                  fetched_ns = uv_hrtime();
                                  if (r && *r) token = (*r)->lock_token;
                                  fetched = true;
                                });
      } else {
        waiter->fetch_orchestration_item(30s, 30s, std::nullopt, [&](Result<std::optional<LockedOrchestration>> r) {
          fetched_ns = uv_hrtime();
          if (r && *r) token = (*r)->lock_token;
          fetched = true;
        });
      }
      // Let the fetch reach its wait before the enqueue (it scans once first).
      uv_timer_t settle;
      uv_timer_init(&loop, &settle);
      bool settled = false;
      settle.data = &settled;
      uv_timer_start(&settle, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 20, 0);
      run_until([&] { return settled; });
      uv_close(reinterpret_cast<uv_handle_t*>(&settle), nullptr);
      const uint64_t start_ns = uv_hrtime();
      if (kind == 0) {
        enqueuer->enqueue_for_orchestrator(
                                           WorkItem::StartOrchestration{inst, "P", "{}", std::string("1.0.0"), std::nullopt, std::nullopt, 1}, std::nullopt,
                                           [&](Result<void>) { commit_ns = uv_hrtime(); enqueued = true; });
      } else if (kind == 1) {
        enqueuer->enqueue_for_worker(WorkItem::ActivityExecute{inst, 1, 2, "A", "{}", std::nullopt, std::nullopt},
                                     [&](Result<void>) { commit_ns = uv_hrtime(); enqueued = true; });
      } else {
        visible_ns = start_ns + static_cast<uint64_t>(timer_delay) * 1000000ull;
        // Timers are orchestrator rows with a future visible_at; a delayed start is the same row shape
        // and is deliverable without first creating the instance.
        enqueuer->enqueue_for_orchestrator(WorkItem::StartOrchestration{inst, "P", "{}", std::string("1.0.0"), std::nullopt,
                                                                        std::nullopt, 1},
                                           std::chrono::milliseconds(timer_delay),
                                           [&](Result<void>) { commit_ns = uv_hrtime(); enqueued = true; });
      }
      run_until([&] { return fetched && enqueued; });
      const uint64_t from = kind == 2 ? std::max(visible_ns, commit_ns) : commit_ns;
      const double us = fetched_ns > from ? static_cast<double>(fetched_ns - from) / 1000.0 : 0.0;
      (kind == 0 ? orch_us : kind == 1 ? work_us : timer_us).push_back(us);
      // Drain: orchestrator items of unknown instances are orphan-handled by the next fetch anyway;
      // ack the worker item and abandon nothing (the orchestration lock is simply let go).
      bool acked = false;
      if (kind == 1) {
        waiter->ack_work_item(token, std::nullopt, [&](Result<void>) { acked = true; });
      } else {
        waiter->ack_orchestration_item(token, 1, {}, {}, {}, {}, {}, [&](Result<void>) { acked = true; });
      }
      run_until([&] { return acked; });
    }
  }

  for (auto* p : {waiter.get(), enqueuer.get()}) {
    bool closed = false;
    p->close([&] { closed = true; });
    run_until([&] { return closed; });
  }
  waiter.reset();
  enqueuer.reset();
  {
    pg::PoolOptions po;
    po.conninfo = url;
    auto raw = std::move(*pg::Pool::create(&loop, po));
    bool dropped = false;
    pg::drop_schema_objects(*raw, schema, [&](Result<void>) { dropped = true; });
    run_until([&] { return dropped; });
    raw->close([] {});
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);

  std::printf("pickup_latency: %d samples per queue, one long-polling fetcher, enqueues from a second provider "
              "object (own connections); timer delay %d ms\n\n", samples, timer_delay);
  std::printf("| queue | p50 ms | p95 ms | p99 ms | mean ms |\n|---|---:|---:|---:|---:|\n");
  const char* names[] = {"orchestrator (enqueue commit -> fetch return)", "worker (enqueue commit -> fetch return)",
                         "timer (visible_at -> fetch return)"};
  std::vector<double>* sets[] = {&orch_us, &work_us, &timer_us};
  for (int k = 0; k < 3; ++k) {
    const bench::LatencyStats st = bench::summarize(*sets[k]);
    std::printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", names[k], st.p50_ms, st.p95_ms, st.p99_ms, st.mean_ms);
  }
  (void)ms_since;
  return 0;
}
