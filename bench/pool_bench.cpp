// pool_bench: N concurrent clients issue a tiny statement through the pool in a closed loop, then
// pgbench runs the same statement with the same client count against the same server, and the
// two are printed side by side with their ratio.
//
//   pool_bench [--clients 16] [--seconds 5] [--pool 4] [--depth 16]     (needs DATABASE_URL)
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "pool/pool.h"

using namespace duroxide;

namespace {

struct Workload {
  const char* name;
  const char* sql;  // $1 is a client-specific integer
  const char* pgbench_script;
};

struct Outcome {
  double ops_per_s = 0;
  bench::LatencyStats latency;
  uint64_t errors = 0;
};

Outcome run_ours(const std::string& url, const Workload& w, int clients, int seconds,
                 size_t pool_size, size_t depth) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pg::PoolOptions o;
  o.conninfo = url;
  o.max_size = pool_size;
  o.pipeline_depth = depth;
  o.application_name = "duroxide-pool-bench";
  auto created = pg::Pool::create(&loop, o);
  if (!created) {
    std::fprintf(stderr, "pool: %s\n", created.error().to_string().c_str());
    std::exit(1);
  }
  std::unique_ptr<pg::Pool> pool = std::move(*created);
  auto stmt = pool->prepare("bench_stmt", w.sql);

  std::vector<double> lat;
  lat.reserve(1 << 20);
  uint64_t done = 0, errors = 0;
  bool measuring = false, stopping = false;
  int outstanding = 0;
  std::function<void(int)> issue = [&](int client) {
    const uint64_t t0 = uv_hrtime();
    ++outstanding;
    pool->query(stmt, pg::Params().add_int(client), [&, client, t0](Result<pg::QueryResult> r) {
      --outstanding;
      if (!r) ++errors;
      if (measuring) {
        ++done;
        lat.push_back(static_cast<double>(uv_hrtime() - t0) / 1000.0);
      }
      if (!stopping) issue(client);
    });
  };
  for (int c = 0; c < clients; ++c) issue(c);

  // One second of warm-up (connections, prepares), then the measured window.
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  struct Phase {
    bool* measuring;
    bool* stopping;
    int seconds;
    uint64_t start_ns = 0, end_ns = 0;
  } phase{&measuring, &stopping, seconds};
  timer.data = &phase;
  uv_timer_start(&timer, [](uv_timer_t* t) {
    auto* ph = static_cast<Phase*>(t->data);
    if (!*ph->measuring) {
      *ph->measuring = true;
      ph->start_ns = uv_hrtime();
      uv_timer_start(t, t->timer_cb, static_cast<uint64_t>(ph->seconds) * 1000, 0);
    } else {
      *ph->stopping = true;
      *ph->measuring = false;
      ph->end_ns = uv_hrtime();
      uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
    }
  }, 1000, 0);
  while (!(stopping && outstanding == 0)) uv_run(&loop, UV_RUN_ONCE);
  bool closed = false;
  pool->close([&] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  pool.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  Outcome out;
  const double secs = static_cast<double>(phase.end_ns - phase.start_ns) / 1e9;
  out.ops_per_s = static_cast<double>(done) / secs;
  out.latency = bench::summarize(std::move(lat));
  out.errors = errors;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const char* url_env = std::getenv("DATABASE_URL");
  if (!url_env) {
    std::fprintf(stderr, "pool_bench: set DATABASE_URL (or run under scripts/with-postgres.sh)\n");
    return 2;
  }
  const std::string url = url_env;
  const int clients = std::atoi(bench::arg_value(argc, argv, "--clients", "16"));
  const int seconds = std::atoi(bench::arg_value(argc, argv, "--seconds", "5"));
  const size_t pool_size = static_cast<size_t>(std::atoi(bench::arg_value(argc, argv, "--pool", "4")));
  const size_t depth = static_cast<size_t>(std::atoi(bench::arg_value(argc, argv, "--depth", "16")));

  // The insert target, created once (outside the measurement) with a plain psql-free query.
  {
    uv_loop_t loop;
    uv_loop_init(&loop);
    pg::PoolOptions o;
    o.conninfo = url;
    o.max_size = 1;
    auto pool = std::move(*pg::Pool::create(&loop, o));
    bool done = false;
    pool->query("CREATE TABLE IF NOT EXISTS bench_pool_insert (id bigserial PRIMARY KEY, v int NOT NULL)", {},
                [&](Result<pg::QueryResult> r) {
                  if (!r) std::fprintf(stderr, "setup: %s\n", r.error().to_string().c_str());
                  done = true;
                });
    while (!done) uv_run(&loop, UV_RUN_ONCE);
    pool->close([] {});
    uv_run(&loop, UV_RUN_DEFAULT);
    pool.reset();
    uv_loop_close(&loop);
  }

  const Workload workloads[] = {
      {"SELECT 1", "SELECT 1 + $1::int * 0", "\\set c random(1, 1000)\nSELECT 1 + :c * 0;"},
      {"INSERT (autocommit)", "INSERT INTO bench_pool_insert (v) VALUES ($1)",
       "\\set c random(1, 1000)\nINSERT INTO bench_pool_insert (v) VALUES (:c);"},
  };

  std::printf("pool_bench: %d clients, %d s per run, pool %zu connections x pipeline depth %zu; "
              "pgbench: %d connections, prepared protocol\n\n",
              clients, seconds, pool_size, depth, clients);
  std::printf("| workload | duroxide-pg ops/s | p50 ms | p99 ms | pgbench tps | p50 ms | p99 ms | ratio |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Workload& w : workloads) {
    Outcome ours = run_ours(url, w, clients, seconds, pool_size, depth);
    bench::PgbenchResult ref = bench::run_pgbench(url, w.pgbench_script, clients, seconds);
    if (!ref.ok) {
      std::fprintf(stderr, "%s\n", ref.error.c_str());
      return 1;
    }
    std::printf("| %s | %.0f | %.3f | %.3f | %.0f | %.3f | %.3f | %.2fx |\n", w.name, ours.ops_per_s,
                ours.latency.p50_ms, ours.latency.p99_ms, ref.tps, ref.latency.p50_ms,
                ref.latency.p99_ms, ours.ops_per_s / ref.tps);
    if (ours.errors) std::printf("  (%llu errors)\n", static_cast<unsigned long long>(ours.errors));
    std::fflush(stdout);
  }
  return 0;
}
