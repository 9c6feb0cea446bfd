// fanout: the project's main benchmark — the fan-out stress workload of a Duroxide runtime, driven
// straight against the provider (issue 8 §1).
//
//   fanout [--profile all|slots|payload|throughput|reference] [--duration 10] [--pool N]
//          [--slots 2:2,4:4 --concurrent 20 --activities 5 --delay-ms 10 --payload-kib 0]
//          [--no-pgbench] [--verify N|-1] [--keep-schema] [--csv PATH|-] [--json PATH|-]
//   (needs DATABASE_URL; --verify: histories checked per configuration after the run, -1 = all;
//    --keep-schema: leave each configuration's schema in place, for bench/profile_fanout.sh;
//    --pool: the provider's pool_max, by default this machine's cores, from 2 to 10, for a server
//    on the same machine: pipelining keeps one connection per core busy, and every further server
//    process costs more in scheduling than it adds in parallelism (README, Performance: pool size).)
//
// The emulated runtime (client, orchestration slots, worker slots) is tests/load/workload.{h,cpp},
// shared with the multi-process and fault tests. What it emulates, call for call (provider-contract
// §1, §5, §10.1 defaults):
//  * A closed-loop client keeps `concurrent` instances in flight for `duration` seconds: each
//    start is enqueue_for_orchestrator(StartOrchestration); when an instance completes the next
//    one is started. After `duration` nothing new starts and the run drains what is in flight.
//  * Orchestration slots: each one is a dispatcher loop fetch_orchestration_item(lock 5 s,
//    long poll 30 s, capability filter [0.0.0, 0.1.26]) → turn → ack_orchestration_item. The
//    orchestration is the standard stress orchestration: schedule N activities in its first
//    turn, join them, complete. Turns are computed from history + messages exactly as a runtime
//    replays them: the first turn writes OrchestrationStarted (event 1) and ActivityScheduled
//    2..N+1 and sends N ActivityExecute items (metadata: name, version, pinned duroxide version);
//    every later turn appends one ActivityCompleted per new completion message (source_event_id =
//    the scheduling event; duplicates are dropped as a runtime drops them) — one turn per fetched
//    batch, folding whatever completions have arrived — and the turn that has seen all N appends
//    OrchestrationCompleted with status Completed.
//  * Worker slots: each one is a dispatcher loop fetch_work_item(lock 30 s, long poll 30 s,
//    DefaultOnly) → the activity waits `delay-ms` on a libuv timer (0: no timer) → ack_work_item
//    with ActivityCompleted. One activity at a time per slot, as the Rust runtime runs them.
//  * Slots are concurrent fetch loops on one provider object (one pool + one listener), i.e. one
//    runtime process.
//
// Figures per configuration (the Rust stress tool's formulas, plus more):
//  * success % = completed / launched; orchestrations/s = completed / total time (from the first
//    start to the end of the drain); activities/s = orchestrations/s × N; "avg latency" = total
//    time / completed (the Rust tool's figure, not a latency);
//  * true per-instance latency p50/p95/p99: start call → the ack that completed it;
//  * round trips per orchestration: every provider call made by the client, slots and workers
//    (enqueue, fetches that returned work, fetches that returned empty, acks), divided by
//    completed. Each provider call is one server-function call = one transaction = one round trip
//    on the pipelined pool. Not visible from here: the extra scans of a long-polling fetch after a
//    wake-up, and the NOTIFY statements the provider sends after commits; "server xacts/orch"
//    counts those too (pg_stat_database xact_commit + xact_rollback of the database over the
//    configuration, read after the provider is closed so every backend has flushed its counters);
//  * CPU: this process (getrusage, user + sys) and the PostgreSQL server (sum over every process
//    named postgres in /proc, same machine only), as ms per orchestration and % of one core;
//  * provider tx/s = client provider calls / total time; the throughput configuration also shows
//    it divided by pgbench's single-row INSERT TPS (clients = orchestration + worker slots), run on
//    the same server in the same process run.
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "load/workload.h"
#include "duroxide/pg/postgres_provider.h"
#include "pool/pool.h"
#include "sql/migrate.h"

using namespace duroxide;
using namespace duroxide::load;
using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------------------------------------
// Results (the configuration and the emulated runtime live in tests/load/workload.h)
// ---------------------------------------------------------------------------------------------
struct Figures {
  Config cfg;
  uint64_t launched = 0, completed = 0, errors = 0;
  double total_s = 0, drain_s = 0;
  double orch_s = 0, act_s = 0, avg_latency_ms = 0;
  bench::LatencyStats latency;
  uint64_t calls = 0;
  std::map<std::string, uint64_t> calls_by_op;
  std::map<std::string, bench::LatencyStats> op_latency;
  double calls_per_orch = 0;
  std::optional<double> server_xacts_per_orch;
  double client_cpu_s = 0, server_cpu_s = 0;
  double provider_tx_s = 0;
  std::optional<double> bound_orch_s;
  std::optional<double> pgbench_tps;
  uint64_t verified = 0, verify_failures = 0;
  bool queues_empty = true;
  std::string load;
  std::string metrics;  // the provider's own snapshot (pg::to_string(ProviderMetrics))
};

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds of every process named "postgres" on this machine (utime + stime from /proc).
double server_cpu_s() {
  static const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  DIR* d = opendir("/proc");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (line.substr(open + 1, close - open - 1) != "postgres") continue;
    std::istringstream rest(line.substr(close + 2));
    std::string f;
    unsigned long long ut = 0, st = 0;
    for (int i = 3; i <= 15 && rest >> f; ++i) {
      if (i == 14) ut = std::stoull(f);
      if (i == 15) st = std::stoull(f);
    }
    total += static_cast<double>(ut + st) / hz;
  }
  closedir(d);
  return total;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Transactions (commit + rollback) of the current database, from a short-lived raw pool.
std::optional<uint64_t> server_xacts(uv_loop_t* loop, const std::string& url) {
  auto pool = pg::Pool::create(loop, pg::PoolOptions{url, 1});
  if (!pool) return std::nullopt;
  auto r = await_op<pg::QueryResult>(loop, [&](auto cb) {
    (*pool)->query("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()", {},
                   std::move(cb));
  });
  std::optional<uint64_t> out;
  if (r && r->rows() == 1) out = static_cast<uint64_t>(r->get_int64(0, 0));
  bool closed = false;
  (*pool)->close([&] { closed = true; });
  while (!closed) uv_run(loop, UV_RUN_ONCE);
  return out;
}

Figures run_config(uv_loop_t* loop, const std::string& url, const Config& cfg, int duration_s, size_t pool_max,
                   int verify, int index, bool keep_schema) {
  Figures f;
  f.cfg = cfg;
  const std::string schema = "fanout_" + std::to_string(::getpid()) + "_" + std::to_string(index);
  pg::PostgresProviderOptions opts;
  opts.pool_max = pool_max;
  opts.application_name = "duroxide-fanout";
  auto created = await_op<std::unique_ptr<pg::PostgresProvider>>(loop, [&](auto cb) {
    pg::PostgresProvider::create_with_schema(loop, url, schema, opts, std::move(cb));
  });
  if (!created) {
    std::fprintf(stderr, "create: %s\n", created.error().to_string().c_str());
    std::exit(1);
  }
  std::unique_ptr<pg::PostgresProvider> provider = std::move(*created);

  Run run{loop, provider.get(), cfg, "fanout-" + std::to_string(index) + "-"};
  run.act_input = payload(cfg.payload_bytes, 'i');
  run.act_result = payload(cfg.payload_bytes, 'r');

  const std::optional<uint64_t> xacts0 = server_xacts(loop, url);
  const double cpu0 = process_cpu_s(), scpu0 = server_cpu_s();
  const double t0 = now_s();
  for (int i = 0; i < cfg.concurrent; ++i) run.launch();
  for (int i = 0; i < cfg.orch_slots; ++i) run.orchestration_slot();
  for (int i = 0; i < cfg.worker_slots; ++i) run.worker_slot();

  // Progress line once a second; stop launching at `duration`; drain (at most 60 s more).
  struct Tick {
    Run* run;
    double t0, last_t = 0;
    uint64_t last_completed = 0;
    int duration_s;
  } tick{&run, t0, t0, 0, duration_s};
  uv_timer_t progress;
  uv_timer_init(loop, &progress);
  progress.data = &tick;
  uv_timer_start(&progress, [](uv_timer_t* h) {
    auto* t = static_cast<Tick*>(h->data);
    const double now = now_s(), el = now - t->t0;
    if (el >= t->duration_s) t->run->launching = false;
    const double rate = static_cast<double>(t->run->completed - t->last_completed) / (now - t->last_t);
    t->last_t = now;
    t->last_completed = t->run->completed;
    std::fprintf(stderr, "\r  [%s] %5.1f s  %s  launched %llu  completed %llu  in flight %d  now %.1f orch/s  errors %llu   ",
                 t->run->cfg.name.c_str(), el, t->run->launching ? "running " : "draining",
                 static_cast<unsigned long long>(t->run->launched), static_cast<unsigned long long>(t->run->completed),
                 t->run->in_flight, rate, static_cast<unsigned long long>(t->run->errors));
  }, 250, 1000);
  double t_stop = 0;
  while (true) {
    uv_run(loop, UV_RUN_ONCE);
    const double now = now_s();
    if (run.launching && now - t0 >= duration_s) run.launching = false;
    if (!run.launching) {
      if (t_stop == 0) t_stop = now;
      if (run.in_flight == 0 || now - t_stop > 60) break;
    }
  }
  const double t_end = now_s();
  const double cpu1 = process_cpu_s(), scpu1 = server_cpu_s();
  uv_timer_stop(&progress);
  uv_close(reinterpret_cast<uv_handle_t*>(&progress), nullptr);
  std::fprintf(stderr, "\n");

  // Not timed: queues must be empty, and the histories must be what a runtime writes.
  auto depths = await_op<QueueDepths>(loop, [&](auto cb) { provider->get_queue_depths(std::move(cb)); });
  f.queues_empty = depths && depths->orchestrator_queue == 0 && depths->worker_queue == 0;
  const size_t nverify = verify < 0 ? run.completed_ids.size()
                                    : std::min(run.completed_ids.size(), static_cast<size_t>(verify));
  for (size_t i = 0; i < nverify; ++i) {
    const std::string& inst = run.completed_ids[i * run.completed_ids.size() / nverify];
    auto h = await_op<std::vector<Event>>(loop, [&](auto cb) { provider->read(inst, std::move(cb)); });
    std::string why;
    if (!h || !history_ok(*h, cfg.activities, why)) {
      if (++f.verify_failures <= 5)
        std::fprintf(stderr, "verify %s: %s\n", inst.c_str(), h ? why.c_str() : h.error().to_string().c_str());
    }
    ++f.verified;
  }

  f.metrics = pg::to_string(provider->metrics());
  run.closing = true;
  bool closed = false;
  provider->close([&] { closed = true; });
  while (!closed) uv_run(loop, UV_RUN_ONCE);
  provider.reset();
  uv_run(loop, UV_RUN_NOWAIT);
  if (!keep_schema) {
    auto raw = std::move(*pg::Pool::create(loop, pg::PoolOptions{url, 1}));
    bool dropped = false;
    pg::drop_schema_objects(*raw, schema, [&](Result<void>) { dropped = true; });
    while (!dropped) uv_run(loop, UV_RUN_ONCE);
    bool c2 = false;
    raw->close([&] { c2 = true; });
    while (!c2) uv_run(loop, UV_RUN_ONCE);
  }
  // Backends flush their statistics when they exit; give them a moment.
  uv_sleep(600);
  const std::optional<uint64_t> xacts1 = server_xacts(loop, url);

  f.launched = run.launched;
  f.completed = run.completed;
  f.errors = run.errors;
  f.total_s = t_end - t0;
  f.drain_s = t_end - (t_stop ? t_stop : t_end);
  f.orch_s = static_cast<double>(f.completed) / f.total_s;
  f.act_s = f.orch_s * cfg.activities;
  f.avg_latency_ms = f.completed ? f.total_s * 1000.0 / static_cast<double>(f.completed) : 0;
  f.latency = bench::summarize(run.latency_us);
  f.calls = run.total_calls;
  f.calls_by_op = run.calls;
  for (auto& [op, us] : run.op_us) f.op_latency[op] = bench::summarize(std::move(us));
  f.calls_per_orch = f.completed ? static_cast<double>(f.calls) / static_cast<double>(f.completed) : 0;
  if (xacts0 && xacts1 && f.completed)
    // minus the schema drop and the two counter queries themselves (a handful)
    f.server_xacts_per_orch = static_cast<double>(*xacts1 - *xacts0) / static_cast<double>(f.completed);
  f.client_cpu_s = cpu1 - cpu0;
  f.server_cpu_s = scpu1 - scpu0;
  f.provider_tx_s = static_cast<double>(f.calls) / f.total_s;
  if (cfg.delay_ms > 0) f.bound_orch_s = cfg.worker_slots * 1000.0 / cfg.delay_ms / cfg.activities;
  f.load = load_average();
  return f;
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------
std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string payload_label(size_t bytes) { return bytes ? std::to_string(bytes / 1024) + " KiB" : "small"; }

void print_table(const std::vector<Figures>& all) {
  std::printf("| configuration | slots o:w | concurrent | activities × delay | payload | launched | completed | success %% "
              "| orch/s | act/s | avg latency ms | p50 ms | p95 ms | p99 ms | round trips/orch | server xacts/orch "
              "| client CPU ms/orch (%% core) | server CPU ms/orch (%% core) | bound orch/s | %% of bound |\n");
  std::printf("|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Figures& f : all) {
    const double per = f.completed ? 1000.0 / static_cast<double>(f.completed) : 0;
    std::printf("| %s | %d:%d | %d | %d × %d ms | %s | %llu | %llu | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f "
                "| %s | %.2f (%.0f%%) | %.2f (%.0f%%) | %s | %s |\n",
                f.cfg.name.c_str(), f.cfg.orch_slots, f.cfg.worker_slots, f.cfg.concurrent, f.cfg.activities,
                f.cfg.delay_ms, payload_label(f.cfg.payload_bytes).c_str(), static_cast<unsigned long long>(f.launched),
                static_cast<unsigned long long>(f.completed),
                f.launched ? 100.0 * static_cast<double>(f.completed) / static_cast<double>(f.launched) : 0.0, f.orch_s,
                f.act_s, f.avg_latency_ms, f.latency.p50_ms, f.latency.p95_ms, f.latency.p99_ms, f.calls_per_orch,
                f.server_xacts_per_orch ? fmt("%.1f", *f.server_xacts_per_orch).c_str() : "n/a",
                f.client_cpu_s * per, 100.0 * f.client_cpu_s / f.total_s, f.server_cpu_s * per,
                100.0 * f.server_cpu_s / f.total_s, f.bound_orch_s ? fmt("%.0f", *f.bound_orch_s).c_str() : "–",
                f.bound_orch_s ? fmt("%.0f%%", 100.0 * f.orch_s / *f.bound_orch_s).c_str() : "–");
  }
}

FILE* open_out(const std::string& path) { return path == "-" ? stdout : std::fopen(path.c_str(), "w"); }

void write_csv(const std::string& path, const std::vector<Figures>& all) {
  FILE* o = open_out(path);
  if (!o) return;
  std::fprintf(o, "configuration,orch_slots,worker_slots,concurrent,activities,delay_ms,payload_bytes,launched,completed,"
                  "success_pct,orch_per_s,act_per_s,avg_latency_ms,p50_ms,p95_ms,p99_ms,round_trips_per_orch,"
                  "server_xacts_per_orch,client_cpu_s,server_cpu_s,total_s,drain_s,provider_tx_per_s,bound_orch_per_s,"
                  "pgbench_insert_tps,errors,verified,verify_failures,queues_empty,load\n");
  for (const Figures& f : all)
    std::fprintf(o, "%s,%d,%d,%d,%d,%d,%zu,%llu,%llu,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%s,%.3f,%.3f,%.3f,%.3f,%.1f,%s,%s,%llu,%llu,%llu,%d,%s\n",
                 f.cfg.name.c_str(), f.cfg.orch_slots, f.cfg.worker_slots, f.cfg.concurrent, f.cfg.activities,
                 f.cfg.delay_ms, f.cfg.payload_bytes, static_cast<unsigned long long>(f.launched),
                 static_cast<unsigned long long>(f.completed),
                 f.launched ? 100.0 * static_cast<double>(f.completed) / static_cast<double>(f.launched) : 0.0, f.orch_s,
                 f.act_s, f.avg_latency_ms, f.latency.p50_ms, f.latency.p95_ms, f.latency.p99_ms, f.calls_per_orch,
                 f.server_xacts_per_orch ? fmt("%.2f", *f.server_xacts_per_orch).c_str() : "",
                 f.client_cpu_s, f.server_cpu_s, f.total_s, f.drain_s, f.provider_tx_s,
                 f.bound_orch_s ? fmt("%.1f", *f.bound_orch_s).c_str() : "",
                 f.pgbench_tps ? fmt("%.1f", *f.pgbench_tps).c_str() : "", static_cast<unsigned long long>(f.errors),
                 static_cast<unsigned long long>(f.verified), static_cast<unsigned long long>(f.verify_failures),
                 f.queues_empty ? 1 : 0, f.load.c_str());
  if (o != stdout) std::fclose(o);
}

void write_json(const std::string& path, const std::vector<Figures>& all) {
  FILE* o = open_out(path);
  if (!o) return;
  std::fprintf(o, "[\n");
  for (size_t i = 0; i < all.size(); ++i) {
    const Figures& f = all[i];
    std::fprintf(o, "  {\"configuration\": \"%s\", \"orch_slots\": %d, \"worker_slots\": %d, \"concurrent\": %d, "
                    "\"activities\": %d, \"delay_ms\": %d, \"payload_bytes\": %zu, \"launched\": %llu, \"completed\": %llu, "
                    "\"success_pct\": %.2f, \"orch_per_s\": %.2f, \"act_per_s\": %.2f, \"avg_latency_ms\": %.2f, "
                    "\"latency_ms\": {\"p50\": %.2f, \"p95\": %.2f, \"p99\": %.2f, \"mean\": %.2f}, "
                    "\"round_trips_per_orch\": %.2f, \"server_xacts_per_orch\": %s, \"calls\": {",
                 f.cfg.name.c_str(), f.cfg.orch_slots, f.cfg.worker_slots, f.cfg.concurrent, f.cfg.activities,
                 f.cfg.delay_ms, f.cfg.payload_bytes, static_cast<unsigned long long>(f.launched),
                 static_cast<unsigned long long>(f.completed),
                 f.launched ? 100.0 * static_cast<double>(f.completed) / static_cast<double>(f.launched) : 0.0, f.orch_s,
                 f.act_s, f.avg_latency_ms, f.latency.p50_ms, f.latency.p95_ms, f.latency.p99_ms, f.latency.mean_ms,
                 f.calls_per_orch, f.server_xacts_per_orch ? fmt("%.2f", *f.server_xacts_per_orch).c_str() : "null");
    bool first = true;
    for (const auto& [op, n] : f.calls_by_op) {
      std::fprintf(o, "%s\"%s\": %llu", first ? "" : ", ", op.c_str(), static_cast<unsigned long long>(n));
      first = false;
    }
    std::fprintf(o, "}, \"op_latency_ms\": {");
    first = true;
    for (const auto& [op, l] : f.op_latency) {
      std::fprintf(o, "%s\"%s\": {\"count\": %zu, \"p50\": %.3f, \"p95\": %.3f, \"p99\": %.3f, \"mean\": %.3f}",
                   first ? "" : ", ", op.c_str(), l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.mean_ms);
      first = false;
    }
    std::fprintf(o, "}, \"client_cpu_s\": %.3f, \"server_cpu_s\": %.3f, \"total_s\": %.3f, \"drain_s\": %.3f, "
                    "\"provider_tx_per_s\": %.1f, \"bound_orch_per_s\": %s, \"goal_orch_per_s\": %s, "
                    "\"pgbench_insert_tps\": %s, \"errors\": %llu, \"verified\": %llu, \"verify_failures\": %llu, "
                    "\"queues_empty\": %s, \"load\": \"%s\"}%s\n",
                 f.client_cpu_s, f.server_cpu_s, f.total_s, f.drain_s, f.provider_tx_s,
                 f.bound_orch_s ? fmt("%.1f", *f.bound_orch_s).c_str() : "null",
                 f.cfg.goal_orch_s ? fmt("%.1f", *f.cfg.goal_orch_s).c_str() : "null",
                 f.pgbench_tps ? fmt("%.1f", *f.pgbench_tps).c_str() : "null", static_cast<unsigned long long>(f.errors),
                 static_cast<unsigned long long>(f.verified), static_cast<unsigned long long>(f.verify_failures),
                 f.queues_empty ? "true" : "false", f.load.c_str(), i + 1 < all.size() ? "," : "");
  }
  std::fprintf(o, "]\n");
  if (o != stdout) std::fclose(o);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, sep);)
    if (!t.empty()) out.push_back(t);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (bench::has_flag(argc, argv, "--help") || bench::has_flag(argc, argv, "-h")) {
    std::printf("usage: fanout [--profile all|slots|payload|throughput|reference] [--duration S] [--pool N]\n"
                "              [--slots O:W,... --concurrent N --activities N --delay-ms MS --payload-kib K]\n"
                "              [--no-pgbench] [--verify N|-1] [--keep-schema] [--csv PATH|-] [--json PATH|-]\n");
    return 0;
  }
  const char* url_env = std::getenv("DATABASE_URL");
  if (!url_env) {
    std::fprintf(stderr, "fanout: set DATABASE_URL (or run under scripts/with-postgres.sh)\n");
    return 2;
  }
  const std::string url = url_env;
  const int duration = std::atoi(bench::arg_value(argc, argv, "--duration", "10"));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string default_pool = std::to_string(std::clamp(cores, 2u, 10u));
  const size_t pool = static_cast<size_t>(std::atoi(bench::arg_value(argc, argv, "--pool", default_pool.c_str())));
  const int verify = std::atoi(bench::arg_value(argc, argv, "--verify", "50"));
  const std::string csv = bench::arg_value(argc, argv, "--csv", "");
  const std::string json = bench::arg_value(argc, argv, "--json", "");

  std::vector<Config> configs;
  const std::string custom = bench::arg_value(argc, argv, "--slots", "");
  if (!custom.empty()) {
    for (const std::string& s : split(custom, ',')) {
      Config c;
      const size_t colon = s.find(':');
      c.orch_slots = std::atoi(s.substr(0, colon).c_str());
      c.worker_slots = colon == std::string::npos ? c.orch_slots : std::atoi(s.substr(colon + 1).c_str());
      c.concurrent = std::atoi(bench::arg_value(argc, argv, "--concurrent", "20"));
      c.activities = std::atoi(bench::arg_value(argc, argv, "--activities", "5"));
      c.delay_ms = std::atoi(bench::arg_value(argc, argv, "--delay-ms", "10"));
      c.payload_bytes = static_cast<size_t>(std::atoi(bench::arg_value(argc, argv, "--payload-kib", "0"))) * 1024;
      c.name = "custom " + s;
      c.pgbench_ratio = true;
      configs.push_back(c);
    }
  } else {
    const std::string profile = bench::arg_value(argc, argv, "--profile", "all");
    auto want = [&](const char* p) { return profile == "all" || profile.find(p) != std::string::npos; };
    for (int k : {1, 2, 4, 8}) {
      if (!want("slots") && !(k == 2 && want("reference"))) continue;
      Config c;
      c.orch_slots = c.worker_slots = k;
      c.name = k == 2 ? "reference 2:2" : "slots " + std::to_string(k) + ":" + std::to_string(k);
      if (k == 2) c.goal_orch_s = 36;
      configs.push_back(c);
    }
    if (want("payload"))
      for (int kib : {10, 50, 100}) {
        Config c;
        c.payload_bytes = static_cast<size_t>(kib) * 1024;
        c.name = "payload " + std::to_string(kib) + " KiB";
        configs.push_back(c);
      }
    if (want("throughput")) {
      Config c;
      c.name = "throughput";
      c.orch_slots = 4;
      c.worker_slots = 16;
      c.concurrent = 100;
      c.activities = 5;
      c.delay_ms = 0;
      c.pgbench_ratio = true;
      c.goal_orch_s = 300;
      configs.push_back(c);
    }
  }
  if (configs.empty()) {
    std::fprintf(stderr, "fanout: no configuration selected\n");
    return 2;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  std::fprintf(stderr, "fanout: %zu configuration(s), %d s each + drain, pool %zu, load average %s\n", configs.size(),
               duration, pool, load_average().c_str());
  std::vector<Figures> all;
  for (size_t i = 0; i < configs.size(); ++i)
    all.push_back(run_config(&loop, url, configs[i], duration, pool, verify, static_cast<int>(i),
                             bench::has_flag(argc, argv, "--keep-schema")));

  // The in-run reference: pgbench single-row INSERT on the same server, clients = the slots of the
  // first configuration that asks for the ratio.
  std::optional<bench::PgbenchResult> ref;
  int ref_clients = 0;
  if (!bench::has_flag(argc, argv, "--no-pgbench")) {
    for (const Figures& f : all)
      if (f.cfg.pgbench_ratio) {
        ref_clients = f.cfg.orch_slots + f.cfg.worker_slots;
        break;
      }
    if (ref_clients) {
      auto raw = std::move(*pg::Pool::create(&loop, pg::PoolOptions{url, 1}));
      auto r = await_op<pg::QueryResult>(&loop, [&](auto cb) {
        raw->query("CREATE TABLE IF NOT EXISTS bench_pool_insert (id bigserial PRIMARY KEY, v int NOT NULL)", {},
                   std::move(cb));
      });
      bool closed = false;
      raw->close([&] { closed = true; });
      while (!closed) uv_run(&loop, UV_RUN_ONCE);
      std::fprintf(stderr, "  pgbench single-row INSERT, %d clients, %d s ...\n", ref_clients, duration);
      ref = bench::run_pgbench(url, "\\set c random(1, 1000)\nINSERT INTO bench_pool_insert (v) VALUES (:c);",
                               ref_clients, duration);
      if (ref->ok)
        for (Figures& f : all)
          if (f.cfg.pgbench_ratio) f.pgbench_tps = ref->tps;
    }
  }
  uv_loop_close(&loop);

  std::printf("fanout: %d s per configuration + drain, pool %zu, fsync %s, load average at the end %s\n\n", duration, pool,
              std::getenv("DUROXIDE_PG_FSYNC") ? std::getenv("DUROXIDE_PG_FSYNC") : "on (default)",
              load_average().c_str());
  print_table(all);
  std::printf("\n");
  bool all_ok = true;
  for (const Figures& f : all) {
    const bool ok = f.completed == f.launched && f.errors == 0 && f.verify_failures == 0 && f.queues_empty;
    all_ok = all_ok && ok;
    std::printf("%s: success %.1f%%, %llu errors, %llu/%llu histories verified, queues %s; drain %.2f s; "
                "provider tx/s %.0f",
                f.cfg.name.c_str(),
                f.launched ? 100.0 * static_cast<double>(f.completed) / static_cast<double>(f.launched) : 0.0,
                static_cast<unsigned long long>(f.errors),
                static_cast<unsigned long long>(f.verified - f.verify_failures),
                static_cast<unsigned long long>(f.verified), f.queues_empty ? "empty" : "NOT EMPTY", f.drain_s,
                f.provider_tx_s);
    if (f.pgbench_tps)
      std::printf(" ÷ pgbench INSERT %.0f tps (%d clients) = %.2fx", *f.pgbench_tps, ref_clients,
                  f.provider_tx_s / *f.pgbench_tps);
    if (f.bound_orch_s) std::printf("; bound %.0f orch/s (%d worker slots × %d ms ⇒ %.0f act/s)", *f.bound_orch_s,
                                    f.cfg.worker_slots, f.cfg.delay_ms, *f.bound_orch_s * f.cfg.activities);
    if (f.cfg.goal_orch_s)
      std::printf("; goal ≥ %.0f orch/s: %s", *f.cfg.goal_orch_s,
                  f.orch_s >= *f.cfg.goal_orch_s && ok ? "MET" : "NOT MET");
    std::printf("\n");
  }
  if (ref && !ref->ok) std::printf("pgbench: %s\n", ref->error.c_str());
  std::printf("\nProvider calls, call → callback (fetches that returned work; empty long polls separately):\n\n");
  std::printf("| configuration | operation | calls | p50 ms | p95 ms | p99 ms | mean ms |\n|---|---|---:|---:|---:|---:|---:|\n");
  for (const Figures& f : all)
    for (const auto& [op, l] : f.op_latency)
      std::printf("| %s | %s | %zu | %.2f | %.2f | %.2f | %.2f |\n", f.cfg.name.c_str(), op.c_str(), l.count, l.p50_ms,
                  l.p95_ms, l.p99_ms, l.mean_ms);
  std::printf("\nThe provider's metrics snapshot at the end of each configuration (PostgresProvider::metrics()):\n");
  for (const Figures& f : all) std::printf("\n[%s]\n%s", f.cfg.name.c_str(), f.metrics.c_str());
  if (!csv.empty()) write_csv(csv, all);
  if (!json.empty()) write_json(json, all);
  return all_ok ? 0 : 1;
}
