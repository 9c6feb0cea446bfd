// provider_bench: provider-level benchmarks against a fresh schema of the server in DATABASE_URL.
//
//   provider_bench [--cycle] [--sweep] [--admin] [--all]      (no section flag: --cycle)
//     --cycle  [--slots 2] [--inflight 20] [--activities 5] [--seconds 10] [--pool 4]
//     --sweep  [--sweep-sizes 10,100,1000,10000] [--sweep-reps 20]
//     --admin  [--instances 100000] [--admin-reps 3]
//
// --cycle: the fan-out cycle driven the way a Duroxide runtime drives it, then pgbench's
// single-row INSERT with the same client count on the same server in the same run.
// Orchestration slots loop fetch → ack: a StartOrchestration turn schedules N activities; later
// turns fold whatever completions arrived; the turn that has seen all N completes the instance.
// Worker slots loop fetch → ack with an ActivityCompleted. A closed loop keeps `inflight` instances
// running. Every fetch that returns work and every ack counts as one provider transaction.
//
// --sweep: fetch cost against history size. One running instance per size whose current
// execution holds N events (OrchestrationStarted, then ActivityScheduled / ActivityCompleted
// pairs, written by a first ack and append_with_execution batches of 1,000); one ExternalRaised
// message is fetched (poll_timeout 0) and abandoned (ignore_attempt) repeatedly. Reports
// fetch_orchestration_item and read() time per call and per event, and the ratio of each size's
// median to the previous size's (linear growth = 10.0 per 10x).
//
// --admin: ProviderAdmin calls on N instances (default 100,000) written set-based with
// INSERT ... SELECT generate_series into the provider's tables. The rows are what the provider
// itself writes (event and work-item JSON produced by the wire encoder): 80 % completed instances
// with 4 events, 10 % completed after one continue-as-new (2 executions, 6 events), 10 % running
// with one ActivityExecute in the worker queue. Each read call runs --admin-reps times (median
// reported); the bulk deletions and prunes run once each, in the order printed.
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "duroxide/pg/postgres_provider.h"
#include "duroxide/wire.h"
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

int run_cycle(const std::string& url, int argc, char** argv) {
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

// ============================================================================================
// Shared helpers of the --sweep and --admin sections: run one operation to completion on the loop.
// ============================================================================================
namespace {

template <class T, class Start>
Result<T> await_op(uv_loop_t* loop, Start&& start) {
  std::optional<Result<T>> out;
  start([&out](Result<T> r) { out.emplace(std::move(r)); });
  while (!out) uv_run(loop, UV_RUN_ONCE);
  return std::move(*out);
}

template <class T>
T must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().to_string().c_str());
    std::exit(1);
  }
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

std::unique_ptr<pg::PostgresProvider> open_provider(uv_loop_t* loop, const std::string& url, const std::string& schema,
                                                    size_t pool) {
  pg::PostgresProviderOptions opts;
  opts.pool_max = pool;
  opts.application_name = "duroxide-provider-bench";
  return must(await_op<std::unique_ptr<pg::PostgresProvider>>(loop, [&](auto cb) {
    pg::PostgresProvider::create_with_schema(loop, url, schema, opts, std::move(cb));
  }), "create");
}

void close_and_drop(uv_loop_t* loop, std::unique_ptr<pg::PostgresProvider> p, const std::string& url,
                    const std::string& schema) {
  bool closed = false;
  p->close([&] { closed = true; });
  while (!closed) uv_run(loop, UV_RUN_ONCE);
  p.reset();
  auto raw = std::move(*pg::Pool::create(loop, pg::PoolOptions{url}));
  bool dropped = false;
  pg::drop_schema_objects(*raw, schema, [&](Result<void>) { dropped = true; });
  while (!dropped) uv_run(loop, UV_RUN_ONCE);
  raw->close([] {});
  uv_run(loop, UV_RUN_DEFAULT);
}

double since_ms(uint64_t t0) { return static_cast<double>(uv_hrtime() - t0) / 1e6; }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

Event sweep_event(const std::string& inst, uint64_t id) {
  // 1: OrchestrationStarted; then ActivityScheduled (even ids) / ActivityCompleted (odd ids >= 3)
  // answering the event before it — the shape a runtime writes for sequential activities.
  const std::string payload = "{\"n\":" + std::to_string(id) + ",\"pad\":\"0123456789abcdef0123456789\"}";
  EventKind kind = EventKind::ActivityCompleted{payload};
  std::optional<uint64_t> src;
  if (id == 1)
    kind = EventKind::OrchestrationStarted{"Sweep", "1.0.0", "{}", std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  else if (id % 2 == 0)
    kind = EventKind::ActivityScheduled{"Step", payload, std::nullopt, std::nullopt};
  else
    src = id - 1;
  return Event{id, src, inst, 1, 1700000000000 + id, "0.1.26", std::move(kind)};
}

}  // namespace

int run_sweep(const std::string& url, int argc, char** argv) {
  std::vector<uint64_t> sizes;
  {
    std::stringstream ss(bench::arg_value(argc, argv, "--sweep-sizes", "10,100,1000,10000"));
    for (std::string tok; std::getline(ss, tok, ',');) sizes.push_back(std::stoull(tok));
  }
  const int reps = std::atoi(bench::arg_value(argc, argv, "--sweep-reps", "20"));
  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::string schema = "provider_bench_sweep_" + std::to_string(::getpid());
  auto p = open_provider(&loop, url, schema, 2);

  struct Row { uint64_t n; double fetch_ms, read_ms, build_ms; };
  std::vector<Row> rows;
  for (uint64_t n : sizes) {
    const std::string inst = "sweep-" + std::to_string(n);
    const uint64_t tb = uv_hrtime();
    // Build: the first turn (start → OrchestrationStarted + the first batch), then appends.
    must(await_op<void>(&loop, [&](auto cb) {
      p->enqueue_for_orchestrator(WorkItem::StartOrchestration{inst, "Sweep", "{}", std::string("1.0.0"), std::nullopt, std::nullopt, 1},
                                  std::nullopt, std::move(cb));
    }), "enqueue start");
    auto lo = must(await_op<std::optional<LockedOrchestration>>(&loop, [&](auto cb) {
      p->fetch_orchestration_item(30s, 0ms, std::nullopt, std::move(cb));
    }), "fetch start");
    if (!lo) { std::fprintf(stderr, "sweep: start not fetched\n"); return 1; }
    uint64_t next = 1;
    auto batch = [&] {
      std::vector<Event> v;
      for (; next <= n && v.size() < 1000; ++next) v.push_back(sweep_event(inst, next));
      return v;
    };
    ExecutionMetadata meta;
    meta.orchestration_name = "Sweep";
    meta.orchestration_version = "1.0.0";
    must(await_op<void>(&loop, [&](auto cb) {
      p->ack_orchestration_item(lo->lock_token, 1, batch(), {}, {}, meta, {}, std::move(cb));
    }), "ack first turn");
    while (next <= n)
      must(await_op<void>(&loop, [&](auto cb) { p->append_with_execution(inst, 1, batch(), std::move(cb)); }), "append");
    must(await_op<void>(&loop, [&](auto cb) {
      p->enqueue_for_orchestrator(WorkItem::ExternalRaised{inst, "poke", "{}"}, std::nullopt, std::move(cb));
    }), "enqueue poke");
    const double build_ms = since_ms(tb);
    // Measure: fetch (timed) → abandon (not timed), reps + 1 warm-up.
    std::vector<double> fetch_ms, read_ms;
    for (int r = 0; r <= reps; ++r) {
      const uint64_t t0 = uv_hrtime();
      auto f = must(await_op<std::optional<LockedOrchestration>>(&loop, [&](auto cb) {
        p->fetch_orchestration_item(30s, 0ms, std::nullopt, std::move(cb));
      }), "fetch");
      const double ms = since_ms(t0);
      if (!f || f->item.history.size() != n || f->item.instance != inst) {
        std::fprintf(stderr, "sweep: fetch returned %zu events for %s (want %llu)\n", f ? f->item.history.size() : 0,
                     f ? f->item.instance.c_str() : "nothing", static_cast<unsigned long long>(n));
        return 1;
      }
      if (r) fetch_ms.push_back(ms);
      must(await_op<void>(&loop, [&](auto cb) {
        p->abandon_orchestration_item(f->lock_token, std::nullopt, true, std::move(cb));
      }), "abandon");
    }
    for (int r = 0; r <= reps; ++r) {
      const uint64_t t0 = uv_hrtime();
      auto h = must(await_op<std::vector<Event>>(&loop, [&](auto cb) { p->read(inst, std::move(cb)); }), "read");
      const double ms = since_ms(t0);
      if (h.size() != n) { std::fprintf(stderr, "sweep: read returned %zu events\n", h.size()); return 1; }
      if (r) read_ms.push_back(ms);
    }
    // Drain the instance so the next size's fetch cannot pick it up.
    auto f = must(await_op<std::optional<LockedOrchestration>>(&loop, [&](auto cb) {
      p->fetch_orchestration_item(30s, 0ms, std::nullopt, std::move(cb));
    }), "fetch");
    must(await_op<void>(&loop, [&](auto cb) {
      p->ack_orchestration_item(f->lock_token, 1, {}, {}, {}, ExecutionMetadata{}, {}, std::move(cb));
    }), "ack drain");
    rows.push_back({n, median(fetch_ms), median(read_ms), build_ms});
    std::fprintf(stderr, "  %llu events: fetch %.3f ms, read %.3f ms (built in %.0f ms)\n",
                 static_cast<unsigned long long>(n), rows.back().fetch_ms, rows.back().read_ms, build_ms);
  }
  close_and_drop(&loop, std::move(p), url, schema);
  uv_loop_close(&loop);

  std::printf("provider_bench --sweep: median of %d calls per size, poll_timeout 0, one instance, load average %s\n\n",
              reps, load_average().c_str());
  std::printf("| history events | fetch_orchestration_item ms | µs/event | ×prev (10× events) | read() ms | µs/event | ×prev |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    char fr[32] = "–", rr[32] = "–";
    if (i) {
      std::snprintf(fr, sizeof fr, "%.2f", r.fetch_ms / rows[i - 1].fetch_ms);
      std::snprintf(rr, sizeof rr, "%.2f", r.read_ms / rows[i - 1].read_ms);
    }
    std::printf("| %llu | %.3f | %.2f | %s | %.3f | %.2f | %s |\n", static_cast<unsigned long long>(r.n), r.fetch_ms,
                r.fetch_ms * 1000.0 / static_cast<double>(r.n), fr, r.read_ms,
                r.read_ms * 1000.0 / static_cast<double>(r.n), rr);
  }
  std::printf("\nLinear growth is ×10.00 per row; below that, fixed per-call costs dominate.\n");
  return 0;
}

// ============================================================================================
// --admin
// ============================================================================================
namespace {

// SQL literal of a text (standard_conforming_strings is on: only quotes are doubled).
std::string lit(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

constexpr const char* kIdMarker = "@ID@";

// Event JSON with the instance id replaced by kIdMarker, as an SQL expression over `g` (the
// generate_series value) that yields the final text.
std::string event_sql(const Event& e) {
  std::string json = encode(e);
  return "replace(" + lit(json) + ", '" + kIdMarker + "', 'adm-' || lpad(g::text, 7, '0'))";
}

}  // namespace

int run_admin(const std::string& url, int argc, char** argv) {
  const long n = std::atol(bench::arg_value(argc, argv, "--instances", "100000"));
  const int reps = std::atoi(bench::arg_value(argc, argv, "--admin-reps", "3"));
  uv_loop_t loop;
  uv_loop_init(&loop);
  const std::string schema = "provider_bench_admin_" + std::to_string(::getpid());
  auto p = open_provider(&loop, url, schema, 2);
  auto raw = std::move(*pg::Pool::create(&loop, pg::PoolOptions{url}));
  auto sql = [&](const std::string& text) {
    bool done = false;
    raw->query(text, {}, [&](Result<pg::QueryResult> r) {
      if (!r) {
        std::fprintf(stderr, "populate: %s\n", r.error().to_string().c_str());
        std::exit(1);
      }
      done = true;
    });
    while (!done) uv_run(&loop, UV_RUN_ONCE);
  };

  // Timestamps: instance g was created at base + 10 g ms and completed 50 ms later; everything
  // lies in the past of the provider clock (wall clock).
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t base = now_ms - 10 * n - 3'600'000;
  const std::string S = "\"" + schema + "\"";
  const std::string N = std::to_string(n), B = std::to_string(base);
  const std::string id = "'adm-' || lpad(g::text, 7, '0')";
  const std::string created = "(" + B + " + 10 * g)";
  const std::string inst_id = kIdMarker;
  auto ev = [&](uint64_t eid, uint64_t exec, EventKind k, std::optional<uint64_t> src = std::nullopt) {
    return Event{eid, src, inst_id, exec, static_cast<uint64_t>(base), "0.1.26", std::move(k)};
  };
  const EventKind started = EventKind::OrchestrationStarted{"AdminBench", "1.0.0", "{}", std::nullopt, std::nullopt,
                                                            std::nullopt, std::nullopt};
  // Categories by g % 10: 0 running, 1 continued-as-new then completed, else completed.
  const uint64_t t_pop = uv_hrtime();
  std::vector<std::string> pop;
  pop.push_back("INSERT INTO " + S + ".instances (instance_id, orchestration_name, orchestration_version, current_execution_id, "
         "created_at, updated_at) SELECT " + id + ", 'AdminBench', '1.0.0', CASE WHEN g % 10 = 1 THEN 2 ELSE 1 END, " +
         created + ", " + created + " + 50 FROM generate_series(1, " + N + ") g");
  pop.push_back("INSERT INTO " + S + ".executions (instance_id, execution_id, status, output, started_at, completed_at, "
         "pinned_major, pinned_minor, pinned_patch) SELECT " + id + ", 1, "
         "CASE g % 10 WHEN 0 THEN 'Running' WHEN 1 THEN 'ContinuedAsNew' ELSE 'Completed' END, "
         "CASE g % 10 WHEN 0 THEN NULL WHEN 1 THEN convert_to('{}', 'UTF8') ELSE convert_to('\"ok\"', 'UTF8') END, " +
         created + ", CASE WHEN g % 10 = 0 THEN NULL ELSE " + created + " + CASE WHEN g % 10 = 1 THEN 20 ELSE 50 END END, "
         "0, 1, 26 FROM generate_series(1, " + N + ") g");
  pop.push_back("INSERT INTO " + S + ".executions (instance_id, execution_id, status, output, started_at, completed_at, "
         "pinned_major, pinned_minor, pinned_patch) SELECT " + id + ", 2, 'Completed', convert_to('\"ok\"', 'UTF8'), " +
         created + " + 20, " + created + " + 50, 0, 1, 26 FROM generate_series(1, " + N + ") g WHERE g % 10 = 1");
  struct H { uint64_t exec, eid; std::string type; Event e; const char* where; };
  std::vector<H> hist;
  auto add = [&](const char* where, Event e) {
    hist.push_back({e.execution_id, e.event_id, std::string(event_type_name(e)), e, where});
  };
  // completed (g % 10 >= 2) and running (g % 10 = 0, first two events) and CAN execution 2
  add("g % 10 <> 1", ev(1, 1, started));
  add("g % 10 <> 1", ev(2, 1, EventKind::ActivityScheduled{"Work", "\"x\"", std::nullopt, std::nullopt}));
  add("g % 10 > 1", ev(3, 1, EventKind::ActivityCompleted{"\"done\""}, 2));
  add("g % 10 > 1", ev(4, 1, EventKind::OrchestrationCompleted{"\"ok\""}));
  add("g % 10 = 1", ev(1, 1, started));
  add("g % 10 = 1", ev(2, 1, EventKind::OrchestrationContinuedAsNew{"{}"}));
  add("g % 10 = 1", ev(1, 2, started));
  add("g % 10 = 1", ev(2, 2, EventKind::ActivityScheduled{"Work", "\"x\"", std::nullopt, std::nullopt}));
  add("g % 10 = 1", ev(3, 2, EventKind::ActivityCompleted{"\"done\""}, 2));
  add("g % 10 = 1", ev(4, 2, EventKind::OrchestrationCompleted{"\"ok\""}));
  for (H& h : hist) {
    pop.push_back("INSERT INTO " + S + ".history (instance_id, execution_id, event_id, event_type, event_data, created_at) "
           "SELECT " + id + ", " + std::to_string(h.exec) + ", " + std::to_string(h.eid) + ", " + lit(h.type) + ", " +
           event_sql(h.e) + ", " + created + " FROM generate_series(1, " + N + ") g WHERE " + h.where);
  }
  // One ActivityExecute per running instance, visible and unlocked.
  const WorkItem act = WorkItem::ActivityExecute{kIdMarker, 1, 2, "Work", "\"x\"", std::nullopt, std::nullopt};
  pop.push_back("INSERT INTO " + S + ".worker_queue (work_item, visible_at, created_at, instance_id, execution_id, activity_id) "
         "SELECT replace(" + lit(encode(act)) + ", '" + kIdMarker + "', " + id + "), " + created + ", " + created + ", " +
         id + ", 1, 2 FROM generate_series(1, " + N + ") g WHERE g % 10 = 0");
  for (const char* t : {"instances", "executions", "history", "worker_queue"}) pop.push_back("ANALYZE " + S + "." + t);
  for (const std::string& stmt : pop) sql(stmt);
  const double pop_ms = since_ms(t_pop);
  std::fprintf(stderr, "  populated %ld instances in %.0f ms\n", n, pop_ms);

  struct Row { std::string call, result; double ms; int runs; };
  std::vector<Row> rows;
  auto timed = [&]<class T>(const char* name, int runs, auto start, auto describe) {
    std::vector<double> ms;
    std::string result;
    for (int r = 0; r < runs; ++r) {
      const uint64_t t0 = uv_hrtime();
      T v = must(await_op<T>(&loop, start), name);
      ms.push_back(since_ms(t0));
      result = describe(v);
    }
    rows.push_back({name, result, median(ms), runs});
    std::fprintf(stderr, "  %s: %.1f ms (%s)\n", name, rows.back().ms, result.c_str());
  };
  auto count = [](const std::vector<std::string>& v) { return std::to_string(v.size()) + " ids"; };
  auto del = [](const DeleteInstanceResult& d) {
    return std::to_string(d.instances_deleted) + " instances, " + std::to_string(d.executions_deleted) + " executions, " +
           std::to_string(d.events_deleted) + " events, " + std::to_string(d.queue_messages_deleted) + " queue rows";
  };
  auto prn = [](const PruneResult& d) {
    return std::to_string(d.instances_processed) + " instances, " + std::to_string(d.executions_deleted) +
           " executions, " + std::to_string(d.events_deleted) + " events";
  };
  timed.operator()<std::vector<std::string>>("list_instances", reps, [&](auto cb) { p->list_instances(std::move(cb)); }, count);
  timed.operator()<std::vector<std::string>>("list_instances_by_status(Completed)", reps,
      [&](auto cb) { p->list_instances_by_status("Completed", std::move(cb)); }, count);
  timed.operator()<std::vector<std::string>>("list_instances_by_status(Running)", reps,
      [&](auto cb) { p->list_instances_by_status("Running", std::move(cb)); }, count);
  timed.operator()<SystemMetrics>("get_system_metrics", reps, [&](auto cb) { p->get_system_metrics(std::move(cb)); },
      [](const SystemMetrics& m) {
        return std::to_string(m.total_instances) + " instances, " + std::to_string(m.total_executions) + " executions, " +
               std::to_string(m.total_events) + " events";
      });
  timed.operator()<QueueDepths>("get_queue_depths", reps, [&](auto cb) { p->get_queue_depths(std::move(cb)); },
      [](const QueueDepths& q) {
        return "orchestrator " + std::to_string(q.orchestrator_queue) + ", worker " + std::to_string(q.worker_queue);
      });
  timed.operator()<InstanceInfo>("get_instance_info (one instance)", reps,
      [&](auto cb) {
        char one[32];
        std::snprintf(one, sizeof one, "adm-%07ld", n / 2 + 2);  // a completed instance
        p->get_instance_info(one, std::move(cb));
      },
      [](const InstanceInfo& i) { return i.status; });
  // Bulk prunes: the continued-as-new instances keep only their current execution.
  timed.operator()<PruneResult>("prune_executions_bulk (limit 1000, keep_last 1)", 1,
      [&](auto cb) { p->prune_executions_bulk(InstanceFilter{std::nullopt, std::nullopt, 1000}, PruneOptions{1, std::nullopt}, std::move(cb)); },
      prn);
  timed.operator()<PruneResult>("prune_executions_bulk (all, keep_last 1)", 1,
      [&](auto cb) {
        p->prune_executions_bulk(InstanceFilter{std::nullopt, std::nullopt, static_cast<uint32_t>(n)}, PruneOptions{1, std::nullopt},
                                 std::move(cb));
      },
      prn);
  // Bulk deletes: the default batch of 1000, then a completed_before window, then everything left.
  timed.operator()<DeleteInstanceResult>("delete_instance_bulk (default limit 1000)", 1,
      [&](auto cb) { p->delete_instance_bulk(InstanceFilter{}, std::move(cb)); }, del);
  timed.operator()<DeleteInstanceResult>("delete_instance_bulk (completed_before = first half, limit 10000)", 1,
      [&](auto cb) {
        p->delete_instance_bulk(InstanceFilter{std::nullopt, static_cast<uint64_t>(base + 10 * (n / 2)), 10000}, std::move(cb));
      },
      del);
  timed.operator()<DeleteInstanceResult>("delete_instance_bulk (all remaining terminal)", 1,
      [&](auto cb) { p->delete_instance_bulk(InstanceFilter{std::nullopt, std::nullopt, static_cast<uint32_t>(n)}, std::move(cb)); },
      del);
  timed.operator()<SystemMetrics>("get_system_metrics (after)", 1, [&](auto cb) { p->get_system_metrics(std::move(cb)); },
      [](const SystemMetrics& m) {
        return std::to_string(m.total_instances) + " instances, " + std::to_string(m.running_instances) + " running";
      });

  raw->close([] {});
  uv_run(&loop, UV_RUN_NOWAIT);
  close_and_drop(&loop, std::move(p), url, schema);
  uv_loop_close(&loop);

  std::printf("provider_bench --admin: %ld instances (80%% completed, 10%% completed after continue-as-new, 10%% running "
              "with a worker-queue row), populated set-based in %.0f ms; load average %s\n\n",
              n, pop_ms, load_average().c_str());
  std::printf("| call | ms | runs (median) | result |\n|---|---:|---:|---|\n");
  for (const Row& r : rows) std::printf("| %s | %.1f | %d | %s |\n", r.call.c_str(), r.ms, r.runs, r.result.c_str());
  return 0;
}

int main(int argc, char** argv) {
  const char* url_env = std::getenv("DATABASE_URL");
  if (!url_env) {
    std::fprintf(stderr, "provider_bench: set DATABASE_URL (or run under scripts/with-postgres.sh)\n");
    return 2;
  }
  const std::string url = url_env;
  const bool all = bench::has_flag(argc, argv, "--all");
  const bool sweep = all || bench::has_flag(argc, argv, "--sweep");
  const bool admin = all || bench::has_flag(argc, argv, "--admin");
  const bool cycle = all || bench::has_flag(argc, argv, "--cycle") || (!sweep && !admin);
  int rc = 0;
  if (cycle && (rc = run_cycle(url, argc, argv)) != 0) return rc;
  if (sweep) {
    if (cycle) std::printf("\n");
    if ((rc = run_sweep(url, argc, argv)) != 0) return rc;
  }
  if (admin) {
    if (cycle || sweep) std::printf("\n");
    if ((rc = run_admin(url, argc, argv)) != 0) return rc;
  }
  return 0;
}
