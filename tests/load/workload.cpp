// The emulated runtime of workload.h: client, orchestration slots and worker slots.
#include "load/workload.h"

#include <algorithm>
#include <chrono>
#include <set>

namespace duroxide::load {

using std::chrono::milliseconds;

double now_s() { return static_cast<double>(uv_hrtime()) / 1e9; }

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string payload(size_t bytes, char seed) {
  if (bytes == 0) return {};
  // A JSON string value (the runtime passes serialized JSON): quotes around plain text.
  std::string s = "\"";
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
  for (size_t i = 0; s.size() + 1 < bytes; ++i) s += alphabet[(i * 7 + static_cast<size_t>(seed)) % (sizeof alphabet - 1)];
  return s + "\"";
}

void Run::took(const std::string& op, uint64_t t0) {
  if (keep_stats) op_us[op].push_back(static_cast<double>(uv_hrtime() - t0) / 1000.0);
}

void Run::count(const char* op) {
  ++calls[op];
  ++total_calls;
}

void Run::error(const char* op, const ProviderError& e) {
  ++errors;
  if (first_error.empty()) first_error = std::string(op) + ": " + e.to_string();
  if (!quiet && errors <= 20) std::fprintf(stderr, "\n%s: %s\n", op, e.to_string().c_str());
}

Event Run::ev(const std::string& inst, uint64_t id, EventKind kind, std::optional<uint64_t> src) {
  return Event{id, src, inst, 1, static_cast<uint64_t>(wall_ms()), kDuroxideVersion, std::move(kind)};
}

// ---- client: closed-loop starts ----
void Run::launch() {
  if (!launching || closing) return;
  std::string inst = prefix + std::to_string(next_seq++);
  start_ns[inst] = uv_hrtime();
  ++in_flight;
  count("enqueue_for_orchestrator");
  const uint64_t t0 = uv_hrtime();
  p->enqueue_for_orchestrator(
      WorkItem::StartOrchestration{inst, kOrchName, "{}", std::nullopt, std::nullopt, std::nullopt, 1}, std::nullopt,
      [this, inst, t0](Result<void> r) {
        took("enqueue_for_orchestrator", t0);
        if (!r) {
          error("enqueue_for_orchestrator", r.error());
          start_ns.erase(inst);
          --in_flight;
          after(100, [this] { launch(); });  // the start failed: not launched; try another later
          return;
        }
        ++launched;
      });
}

// ---- orchestration dispatcher slot ----
void Run::orchestration_slot() {
  if (closing) return;
  count("fetch_orchestration_item");
  const uint64_t t0 = uv_hrtime();
  p->fetch_orchestration_item(milliseconds(cfg.orch_lock_ms), milliseconds(30000),
                              DispatcherCapabilityFilter{{SemverRange{SemVer{0, 0, 0}, SemVer{0, 1, 26}}}},
                              [this, t0](Result<std::optional<LockedOrchestration>> r) {
                                took(r && *r ? "fetch_orchestration_item" : "fetch_orchestration_item (empty/error)", t0);
                                if (!r) {
                                  error("fetch_orchestration_item", r.error());
                                  return retry_later([this] { orchestration_slot(); });
                                }
                                if (!*r) return orchestration_slot();
                                turn(std::move(**r));
                              });
}

void Run::turn(LockedOrchestration lo) {
  const std::string inst = lo.item.instance;
  const uint64_t exec = lo.item.execution_id;
  uint64_t max_id = 0;
  bool started = false, terminal = false;
  std::set<uint64_t> scheduled, done;
  for (const Event& e : lo.item.history) {
    max_id = std::max(max_id, e.event_id);
    if (e.kind.holds<EventKind::OrchestrationStarted>()) started = true;
    if (e.kind.holds<EventKind::ActivityScheduled>()) scheduled.insert(e.event_id);
    if (e.kind.holds<EventKind::ActivityCompleted>() && e.source_event_id) done.insert(*e.source_event_id);
    if (is_terminal(e.kind)) terminal = true;
  }
  std::vector<Event> delta;
  std::vector<WorkItem> worker;
  ExecutionMetadata meta;
  bool completes = false;
  if (lo.item.history_error) {
    error("fetch_orchestration_item", ProviderError{"history", *lo.item.history_error, false, {}});
  } else if (!terminal) {
    for (const WorkItem& m : lo.item.messages) {
      if (m.holds<WorkItem::StartOrchestration>()) {
        if (started) continue;  // a duplicate start of a running instance is ignored
        started = true;
        delta.push_back(ev(inst, ++max_id, EventKind::OrchestrationStarted{kOrchName, kOrchVersion, "{}", std::nullopt,
                                                                           std::nullopt, std::nullopt, std::nullopt}));
        meta.orchestration_name = kOrchName;
        meta.orchestration_version = kOrchVersion;
        meta.pinned_duroxide_version = SemVer{0, 1, 26};
        for (int a = 0; a < cfg.activities; ++a) {
          const uint64_t id = ++max_id;
          const std::string input = cfg.payload_bytes ? act_input : "\"x" + std::to_string(a) + "\"";
          delta.push_back(ev(inst, id, EventKind::ActivityScheduled{kActivityName, input, std::nullopt, std::nullopt}));
          worker.push_back(WorkItem::ActivityExecute{inst, exec, id, kActivityName, input, std::nullopt, std::nullopt});
          scheduled.insert(id);
        }
      } else if (const auto* c = m.get_if<WorkItem::ActivityCompleted>()) {
        if (!started || !scheduled.count(c->id) || done.count(c->id)) continue;  // stale or duplicate
        done.insert(c->id);
        delta.push_back(ev(inst, ++max_id, EventKind::ActivityCompleted{c->result}, c->id));
      }
    }
    if (started && done.size() == static_cast<size_t>(cfg.activities)) {
      const std::string out = "\"done:" + std::to_string(cfg.activities) + "\"";
      delta.push_back(ev(inst, ++max_id, EventKind::OrchestrationCompleted{out}));
      meta.status = "Completed";
      meta.output = out;
      completes = true;
    }
  }
  // (terminal or corrupted: ack with no changes, which drains the batch, as a runtime does)
  count("ack_orchestration_item");
  const uint64_t t0 = uv_hrtime();
  p->ack_orchestration_item(lo.lock_token, exec, std::move(delta), std::move(worker), {}, std::move(meta), {},
                            [this, inst, completes, t0](Result<void> a) {
                              took("ack_orchestration_item", t0);
                              if (!a) {
                                error("ack_orchestration_item", a.error());
                              } else if (completes) {
                                ++turns_completing;
                                auto it = start_ns.find(inst);
                                if (it != start_ns.end()) {
                                  if (keep_stats) {
                                    latency_us.push_back(static_cast<double>(uv_hrtime() - it->second) / 1000.0);
                                    completed_ids.push_back(inst);
                                  }
                                  start_ns.erase(it);
                                  ++completed;
                                  --in_flight;
                                  launch();
                                }
                              }
                              orchestration_slot();
                            });
}

// ---- worker dispatcher slot ----
void Run::worker_slot() {
  if (closing) return;
  count("fetch_work_item");
  const uint64_t t0 = uv_hrtime();
  p->fetch_work_item(milliseconds(cfg.work_lock_ms), milliseconds(30000), std::nullopt, TagFilter::DefaultOnly{},
                     [this, t0](Result<std::optional<LockedWorkItem>> r) {
                       took(r && *r ? "fetch_work_item" : "fetch_work_item (empty/error)", t0);
                       if (!r) {
                         error("fetch_work_item", r.error());
                         return retry_later([this] { worker_slot(); });
                       }
                       if (!*r) return worker_slot();
                       const auto* ae = (*r)->item.get_if<WorkItem::ActivityExecute>();
                       if (!ae) return worker_slot();
                       WorkItem done_item = WorkItem::ActivityCompleted{
                           ae->instance, ae->execution_id, ae->id, cfg.payload_bytes ? act_result : "\"ok\""};
                       std::string token = std::move((*r)->lock_token);
                       if (cfg.delay_ms <= 0) return complete_activity(std::move(token), std::move(done_item));
                       const uint64_t t_act = uv_hrtime();
                       after(static_cast<uint64_t>(cfg.delay_ms), [this, t_act, token = std::move(token),
                                                                   done_item = std::move(done_item)]() mutable {
                         took("(activity delay, libuv timer)", t_act);  // what the bound assumes is exact
                         complete_activity(std::move(token), std::move(done_item));
                       });
                     });
}

void Run::complete_activity(std::string token, WorkItem done_item) {
  // Shutting down: the activity is abandoned (its lock expires), as when a runtime stops.
  if (closing) return;
  count("ack_work_item");
  const uint64_t t0 = uv_hrtime();
  p->ack_work_item(std::move(token), std::move(done_item), [this, t0](Result<void> a) {
    took("ack_work_item", t0);
    if (!a) error("ack_work_item", a.error());
    worker_slot();
  });
}

// ---- timers ----
namespace {
struct Timer {
  uv_timer_t h;
  std::move_only_function<void()> fn;
};
}  // namespace

void Run::after(uint64_t ms, std::move_only_function<void()> fn) {
  auto* t = new Timer{{}, std::move(fn)};
  uv_timer_init(loop, &t->h);
  t->h.data = t;
  uv_update_time(loop);
  uv_timer_start(&t->h, [](uv_timer_t* h) {
    auto* tt = static_cast<Timer*>(h->data);
    auto run_it = std::move(tt->fn);
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* hh) { delete static_cast<Timer*>(hh->data); });
    run_it();
  }, ms, 0);
}

bool history_ok(const std::vector<Event>& h, int n, std::string& why) {
  const size_t want = static_cast<size_t>(2 * n + 2);
  if (h.size() != want) return why = "events " + std::to_string(h.size()) + " != " + std::to_string(want), false;
  std::set<uint64_t> sched, comp;
  for (size_t i = 0; i < h.size(); ++i) {
    const Event& e = h[i];
    if (e.event_id != i + 1) return why = "event ids not 1..", false;
    if (i == 0) {
      if (!e.kind.holds<EventKind::OrchestrationStarted>()) return why = "event 1 not OrchestrationStarted", false;
    } else if (i <= static_cast<size_t>(n)) {
      if (!e.kind.holds<EventKind::ActivityScheduled>()) return why = "scheduled block", false;
      sched.insert(e.event_id);
    } else if (i + 1 < h.size()) {
      if (!e.kind.holds<EventKind::ActivityCompleted>() || !e.source_event_id || !sched.count(*e.source_event_id) ||
          !comp.insert(*e.source_event_id).second)
        return why = "completion " + std::to_string(e.event_id), false;
    } else if (!e.kind.holds<EventKind::OrchestrationCompleted>()) {
      return why = "last event not OrchestrationCompleted", false;
    }
  }
  return true;
}

}  // namespace duroxide::load
