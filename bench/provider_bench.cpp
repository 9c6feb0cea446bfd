// provider_bench: the provider-level cycle of a fan-out orchestration, driven the way a Duroxide
// runtime drives it, against a fresh schema; then pgbench's single-row INSERT with the same client
// count on the same server in the same run.
//
//   provider_bench [--slots 2] [--inflight 20] [--activities 5] [--seconds 10] [--pool 4]
//
// Orchestration slots loop fetch → ack: a StartOrchestration turn schedules N activities; later
// turns fold whatever completions arrived; the turn that has seen all N completes the instance.
// Worker slots loop fetch → ack with an ActivityCompleted. A closed loop keeps `inflight` instances
// running. Every fetch that returns work and every ack counts as one provider transaction.
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
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

struct OpStats {
  std::vector<double> us;
  void add(uint64_t t0) { us.push_back(static_cast<double>(uv_hrtime() - t0) / 1000.0); }
};

struct Bench {
  uv_loop_t* loop;
  pg::PostgresProvider* p;
  int activities;
  int inflight;
  bool measuring = false, stopping = false, closed = false;
  uint64_t started = 0, completed = 0, turns = 0, activity_acks = 0, transactions = 0;
  std::map<std::string, OpStats> ops;
  std::map<std::string, uint64_t> start_ns;
  std::vector<double> orch_latency_us;
  uint64_t next_id = 0;
  int outstanding = 0;

  void op_done(const char* name, uint64_t t0, bool counted) {
    if (!measuring) return;
    ops[name].add(t0);
    if (counted) ++transactions;
  }

  Event ev(const std::string& inst, uint64_t id, EventKind kind, std::optional<uint64_t> src = std::nullopt) {
    return Event{id, src, inst, 1, 0, "0.1.26", std::move(kind)};
  }

  void start_instance() {
    if (stopping) return;
    std::string inst = "bench-" + std::to_string(next_id++);
    start_ns[inst] = uv_hrtime();
    ++outstanding;
    const uint64_t t0 = uv_hrtime();
    p->enqueue_for_orchestrator(WorkItem::StartOrchestration{inst, "FanOut", "{}", std::string("1.0.0"), std::nullopt, std::nullopt, 1},
                                std::nullopt, [this, t0](Result<void> r) {
                                  if (!r) std::fprintf(stderr, "enqueue: %s\n", r.error().to_string().c_str());
                                  op_done("enqueue_start", t0, true);
                                  if (measuring) ++started;
                                });
  }

  void orchestration_slot() {
    if ((stopping && outstanding == 0) || closed) return;
    const uint64_t t0 = uv_hrtime();
    p->fetch_orchestration_item(30s, 200ms, std::nullopt,
                                [this, t0](Result<std::optional<LockedOrchestration>> r) {
      if (!r) {
        std::fprintf(stderr, "fetch_orchestration_item: %s\n", r.error().to_string().c_str());
        return orchestration_slot();
      }
      if (!*r) return orchestration_slot();
      op_done("fetch_orchestration_item", t0, true);
      LockedOrchestration& lo = **r;
      const std::string inst = lo.item.instance;
      uint64_t next_event = lo.item.history.size() + 1;
      std::vector<Event> delta;
      std::vector<WorkItem> worker;
      ExecutionMetadata meta;
      int seen = 0;
      for (const Event& e : lo.item.history)
        if (e.kind.holds<EventKind::ActivityCompleted>()) ++seen;
      for (const WorkItem& m : lo.item.messages) {
        if (m.holds<WorkItem::StartOrchestration>()) {
          delta.push_back(ev(inst, next_event++, EventKind::OrchestrationStarted{"FanOut", "1.0.0", "{}", std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
          meta.orchestration_name = "FanOut";
          meta.orchestration_version = "1.0.0";
          for (int a = 0; a < activities; ++a) {
            const uint64_t id = next_event++;
            delta.push_back(ev(inst, id, EventKind::ActivityScheduled{"Work", "x", std::nullopt, std::nullopt}));
            worker.push_back(WorkItem::ActivityExecute{inst, 1, id, "Work", "x", std::nullopt, std::nullopt});
          }
        } else if (auto* c = m.get_if<WorkItem::ActivityCompleted>()) {
          delta.push_back(ev(inst, next_event++, EventKind::ActivityCompleted{c->result}, c->id));
          ++seen;
        }
      }
      const bool done = seen == activities;
      if (done) {
        delta.push_back(ev(inst, next_event++, EventKind::OrchestrationCompleted{"ok"}));
        meta.status = "Completed";
        meta.output = "ok";
      }
      const uint64_t t1 = uv_hrtime();
      p->ack_orchestration_item(lo.lock_token, 1, std::move(delta), std::move(worker), {}, std::move(meta), {},
                                [this, t1, done, inst](Result<void> a) {
        if (!a) std::fprintf(stderr, "ack_orchestration_item: %s\n", a.error().to_string().c_str());
        op_done("ack_orchestration_item", t1, true);
        if (measuring) ++turns;
        if (done && a) {
          if (measuring) {
            ++completed;
            orch_latency_us.push_back(static_cast<double>(uv_hrtime() - start_ns[inst]) / 1000.0);
          }
          start_ns.erase(inst);
          --outstanding;
          start_instance();
        }
        orchestration_slot();
      });
    });
  }

  void worker_slot() {
    if ((stopping && outstanding == 0) || closed) return;
    const uint64_t t0 = uv_hrtime();
    p->fetch_work_item(30s, 200ms, std::nullopt, TagFilter::DefaultOnly{},
                       [this, t0](Result<std::optional<LockedWorkItem>> r) {
      if (!r) {
        std::fprintf(stderr, "fetch_work_item: %s\n", r.error().to_string().c_str());
        return worker_slot();
      }
      if (!*r) return worker_slot();
      op_done("fetch_work_item", t0, true);
      const auto& ae = *(*r)->item.get_if<WorkItem::ActivityExecute>();
      const uint64_t t1 = uv_hrtime();
      p->ack_work_item((*r)->lock_token, WorkItem::ActivityCompleted{ae.instance, ae.execution_id, ae.id, "done"},
                       [this, t1](Result<void> a) {
        if (!a) std::fprintf(stderr, "ack_work_item: %s\n", a.error().to_string().c_str());
        op_done("ack_work_item", t1, true);
        if (measuring) ++activity_acks;
        worker_slot();
      });
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* url_env = std::getenv("DATABASE_URL");
  if (!url_env) {
    std::fprintf(stderr, "provider_bench: set DATABASE_URL (or run under scripts/with-postgres.sh)\n");
    return 2;
  }
  const std::string url = url_env;
  const int slots = std::atoi(bench::arg_value(argc, argv, "--slots", "2"));
  const int inflight = std::atoi(bench::arg_value(argc, argv, "--inflight", "20"));
  const int activities = std::atoi(bench::arg_value(argc, argv, "--activities", "5"));
  const int seconds = std::atoi(bench::arg_value(argc, argv, "--seconds", "10"));
  const int pool = std::atoi(bench::arg_value(argc, argv, "--pool", "4"));

  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::string schema = "provider_bench_" + std::to_string(::getpid());
  pg::PostgresProviderOptions opts;
  opts.pool_max = static_cast<size_t>(pool);
  opts.application_name = "duroxide-provider-bench";
  std::unique_ptr<pg::PostgresProvider> provider;
  bool ready = false;
  pg::PostgresProvider::create_with_schema(&loop, url, schema, opts, [&](Result<std::unique_ptr<pg::PostgresProvider>> r) {
    if (!r) {
      std::fprintf(stderr, "create: %s\n", r.error().to_string().c_str());
      std::exit(1);
    }
    provider = std::move(*r);
    ready = true;
  });
  while (!ready) uv_run(&loop, UV_RUN_ONCE);

  Bench b{&loop, provider.get(), activities, inflight};
  for (int i = 0; i < inflight; ++i) b.start_instance();
  for (int i = 0; i < slots; ++i) {
    b.orchestration_slot();
    b.worker_slot();
  }
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  uint64_t t_start = 0, t_end = 0;
  struct Ctx { Bench* b; uint64_t* t_start; uint64_t* t_end; int seconds; } ctx{&b, &t_start, &t_end, seconds};
  timer.data = &ctx;
  uv_timer_start(&timer, [](uv_timer_t* t) {
    auto* c = static_cast<Ctx*>(t->data);
    if (!c->b->measuring) {
      c->b->measuring = true;
      *c->t_start = uv_hrtime();
      uv_timer_start(t, t->timer_cb, static_cast<uint64_t>(c->seconds) * 1000, 0);
    } else {
      c->b->measuring = false;
      c->b->stopping = true;
      *c->t_end = uv_hrtime();
      uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
    }
  }, 2000, 0);
  // Progress once a second; the slots keep polling (200 ms long polls) until the drain ends.
  uv_timer_t progress;
  uv_timer_init(&loop, &progress);
  progress.data = &b;
  uv_timer_start(&progress, [](uv_timer_t* t) {
    auto* bb = static_cast<Bench*>(t->data);
    std::fprintf(stderr, "\r  completed %llu  turns %llu  activities %llu  in flight %d   ",
                 static_cast<unsigned long long>(bb->completed), static_cast<unsigned long long>(bb->turns),
                 static_cast<unsigned long long>(bb->activity_acks), bb->outstanding);
  }, 1000, 1000);
  uint64_t drain_deadline = 0;
  while (true) {
    uv_run(&loop, UV_RUN_ONCE);
    if (b.stopping) {
      if (!drain_deadline) drain_deadline = uv_hrtime() + 30'000'000'000ull;
      if (b.outstanding == 0 || uv_hrtime() > drain_deadline) break;
    }
  }
  std::fprintf(stderr, "\n");
  uv_close(reinterpret_cast<uv_handle_t*>(&progress), nullptr);
  b.closed = true;
  bool closed = false;
  provider->close([&] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  provider.reset();
  {
    auto raw = std::move(*pg::Pool::create(&loop, pg::PoolOptions{url}));
    bool dropped = false;
    pg::drop_schema_objects(*raw, schema, [&](Result<void>) { dropped = true; });
    while (!dropped) uv_run(&loop, UV_RUN_ONCE);
    bool created = false;
    raw->query("CREATE TABLE IF NOT EXISTS bench_pool_insert (id bigserial PRIMARY KEY, v int NOT NULL)", {},
               [&](Result<pg::QueryResult>) { created = true; });
    while (!created) uv_run(&loop, UV_RUN_ONCE);
    raw->close([] {});
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);

  const double secs = static_cast<double>(t_end - t_start) / 1e9;
  const double tps = static_cast<double>(b.transactions) / secs;
  const int clients = slots * 2;
  bench::PgbenchResult ref = bench::run_pgbench(
      url, "\\set c random(1, 1000)\nINSERT INTO bench_pool_insert (v) VALUES (:c);", clients, seconds);

  std::printf("provider_bench: %d orchestration + %d worker slots, %d instances in flight, %d activities each, "
              "%d s measured, pool %d\n\n", slots, slots, inflight, activities, seconds, pool);
  std::printf("| metric | value |\n|---|---:|\n");
  std::printf("| orchestrations/s | %.1f |\n| turns/s | %.1f |\n| activities/s | %.1f |\n",
              static_cast<double>(b.completed) / secs, static_cast<double>(b.turns) / secs,
              static_cast<double>(b.activity_acks) / secs);
  const bench::LatencyStats ol = bench::summarize(b.orch_latency_us);
  std::printf("| orchestration latency p50 / p99 ms | %.1f / %.1f |\n", ol.p50_ms, ol.p99_ms);
  std::printf("| provider transactions/s | %.0f |\n", tps);
  if (ref.ok)
    std::printf("| pgbench INSERT tps (%d clients) | %.0f |\n| ratio | %.2fx |\n", clients, ref.tps, tps / ref.tps);
  else
    std::printf("| pgbench | %s |\n", ref.error.c_str());
  std::printf("\n| operation | count | p50 ms | p99 ms |\n|---|---:|---:|---:|\n");
  for (auto& [name, st] : b.ops) {
    const bench::LatencyStats l = bench::summarize(st.us);
    std::printf("| %s | %zu | %.2f | %.2f |\n", name.c_str(), l.count, l.p50_ms, l.p99_ms);
  }
  return 0;
}
