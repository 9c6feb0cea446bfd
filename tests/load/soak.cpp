// soak: the fan-out workload (workload.h: client + slots in this one process) at moderate load for a
// long time, sampling this process's resident memory and open file descriptors (issue 8 §5).
// Passes when both grew by less than 5 % between the end of the warm-up and the end of the run, no
// provider call failed and the queues drained. scripts/soak.sh runs it (not part of CI).
//
//   soak [--seconds 600] [--warmup 60] [--sample 30] [--slots 2:2] [--concurrent 20]
//        [--activities 5] [--delay-ms 10] [--pool 10]          (needs DATABASE_URL)
#include <dirent.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "load/workload.h"
#include "pool/pool.h"
#include "sql/migrate.h"

using namespace duroxide;

namespace {

const char* arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

// VmRSS of this process in KiB.
long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// Open descriptors of this process (minus the one opendir itself holds).
long open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;
}

struct Sample {
  double t;
  long rss, fds;
  long pool;  // pooled connections (one socket each; the pool grows and shrinks with the load)
  uint64_t completed;
  long other_fds() const { return fds - pool; }
};

}  // namespace

int main(int argc, char** argv) {
  const char* url = std::getenv("DATABASE_URL");
  if (!url) {
    std::fprintf(stderr, "soak: set DATABASE_URL (or run under scripts/with-postgres.sh)\n");
    return 2;
  }
  const double seconds = std::atof(arg(argc, argv, "--seconds", "600"));
  const double warmup = std::atof(arg(argc, argv, "--warmup", "60"));
  const double every = std::atof(arg(argc, argv, "--sample", "30"));
  load::Config cfg;
  const std::string slots = arg(argc, argv, "--slots", "2:2");
  cfg.orch_slots = std::atoi(slots.c_str());
  cfg.worker_slots = std::atoi(slots.substr(slots.find(':') + 1).c_str());
  cfg.concurrent = std::atoi(arg(argc, argv, "--concurrent", "20"));
  cfg.activities = std::atoi(arg(argc, argv, "--activities", "5"));
  cfg.delay_ms = std::atoi(arg(argc, argv, "--delay-ms", "10"));

  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::string schema = "soak_" + std::to_string(::getpid());
  pg::PostgresProviderOptions opts;
  opts.pool_max = static_cast<size_t>(std::atoi(arg(argc, argv, "--pool", "10")));
  opts.application_name = "duroxide-soak";
  auto created = load::await_op<std::unique_ptr<pg::PostgresProvider>>(&loop, [&](auto cb) {
    pg::PostgresProvider::create_with_schema(&loop, url, schema, opts, std::move(cb));
  });
  if (!created) {
    std::fprintf(stderr, "soak: create: %s\n", created.error().to_string().c_str());
    return 1;
  }
  std::unique_ptr<pg::PostgresProvider> provider = std::move(*created);
  load::Run run{&loop, provider.get(), cfg, "soak-"};
  run.keep_stats = false;  // per-call records would grow with the run and hide a real leak

  std::printf("soak: %.0f s, warm-up %.0f s, slots %d:%d, %d concurrent, %d activities × %d ms\n\n", seconds, warmup,
              cfg.orch_slots, cfg.worker_slots, cfg.concurrent, cfg.activities, cfg.delay_ms);
  std::printf("| time s | RSS KiB | open fds | pool connections | completed |\n|---:|---:|---:|---:|---:|\n");
  std::fflush(stdout);
  const double t0 = load::now_s();
  for (int i = 0; i < cfg.concurrent; ++i) run.launch();
  for (int i = 0; i < cfg.orch_slots; ++i) run.orchestration_slot();
  for (int i = 0; i < cfg.worker_slots; ++i) run.worker_slot();

  std::vector<Sample> samples;
  auto sample = [&](double t) {
    samples.push_back({t, rss_kib(), open_fds(), static_cast<long>(provider->metrics().pool.connections),
                       run.completed});
    const Sample& s = samples.back();
    std::printf("| %.0f | %ld | %ld | %ld | %llu |\n", s.t, s.rss, s.fds, s.pool,
                static_cast<unsigned long long>(s.completed));
    std::fflush(stdout);
  };
  sample(0);
  double next = every;
  // Samples are taken on schedule from the loop itself (no sleeping thread): the loop wakes at least
  // every 30 s for the long polls, and a one-second timer keeps the schedule exact.
  uv_timer_t tick;
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, [](uv_timer_t*) {}, 1000, 1000);
  while (load::now_s() - t0 < seconds) {
    uv_run(&loop, UV_RUN_ONCE);
    const double el = load::now_s() - t0;
    if (el >= next) {
      sample(next);
      next += every;
    }
  }
  // Drain what is in flight (bounded), then the final sample, taken while the provider is still open
  // just like the warm-up one.
  run.launching = false;
  const double t_stop = load::now_s();
  while (run.in_flight > 0 && load::now_s() - t_stop < 60) uv_run(&loop, UV_RUN_ONCE);
  sample(load::now_s() - t0);
  auto depths = load::await_op<QueueDepths>(&loop, [&](auto cb) { provider->get_queue_depths(std::move(cb)); });
  const pg::PoolMetrics pool_end = provider->metrics().pool;
  const bool drained = run.in_flight == 0 && depths && depths->orchestrator_queue == 0 && depths->worker_queue == 0;

  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  run.closing = true;
  bool closed = false;
  provider->close([&] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_DEFAULT);
  provider.reset();
  {
    auto raw = std::move(*pg::Pool::create(&loop, pg::PoolOptions{url, 1}));
    bool dropped = false, c2 = false;
    pg::drop_schema_objects(*raw, schema, [&](Result<void>) { dropped = true; });
    while (!dropped) uv_run(&loop, UV_RUN_ONCE);
    raw->close([&] { c2 = true; });
    while (!c2) uv_run(&loop, UV_RUN_ONCE);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  // The warm-up reference: the first sample at or after the warm-up.
  const Sample* ref = nullptr;
  for (const Sample& s : samples)
    if (s.t >= warmup) {
      ref = &s;
      break;
    }
  const Sample& end = samples.back();
  if (!ref) ref = &end;
  const double rss_growth = 100.0 * static_cast<double>(end.rss - ref->rss) / static_cast<double>(ref->rss);
  // Descriptors other than the pool's sockets: the pool's size follows the load (it opens a
  // connection when all are busy and closes it after pool_idle_timeout), a leak does not.
  const double fd_growth =
      100.0 * static_cast<double>(end.other_fds() - ref->other_fds()) / static_cast<double>(ref->other_fds());
  const double total = load::now_s() - t0;
  const bool ok = rss_growth < 5.0 && fd_growth < 5.0 && run.errors == 0 && drained;
  std::printf("\ncompleted %llu instances (%.1f orch/s), %llu errors, queues %s\n"
              "pool: %llu connects, %llu closed idle, %llu lost\n"
              "after warm-up (%.0f s) → end (%.0f s): RSS %ld → %ld KiB (%+.1f %%), fds other than pool sockets "
              "%ld → %ld (%+.1f %%): %s\n",
              static_cast<unsigned long long>(run.completed), static_cast<double>(run.completed) / total,
              static_cast<unsigned long long>(run.errors), drained ? "drained" : "NOT drained",
              static_cast<unsigned long long>(pool_end.connects), static_cast<unsigned long long>(pool_end.idle_closed),
              static_cast<unsigned long long>(pool_end.connections_lost), ref->t, end.t, ref->rss, end.rss, rss_growth,
              ref->other_fds(), end.other_fds(), fd_growth, ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
