// The fan-out stress workload of a Duroxide runtime, driven straight against the provider: shared by
// bench/fanout (one process: client + slots), tests/load/fanout_worker (slots only, one of several
// processes on one schema) and tests/load/soak (client + slots for ten minutes).
//
// What it emulates, call for call (provider-contract §1, §5, §10.1 defaults):
//  * Client (launch): enqueue_for_orchestrator(StartOrchestration) per instance; a closed loop
//    starts the next instance when one completes, until `launching` turns false.
//  * Orchestration slots: fetch_orchestration_item(lock, long poll 30 s, capability filter
//    [0.0.0, 0.1.26]) → turn computed from history + messages as a runtime replays them →
//    ack_orchestration_item. First turn: OrchestrationStarted + N ActivityScheduled and N
//    ActivityExecute items; later turns: one ActivityCompleted per new completion (stale and
//    duplicate completions dropped), and the turn that has seen all N appends
//    OrchestrationCompleted. One turn per fetched batch.
//  * Worker slots: fetch_work_item(lock, long poll 30 s, DefaultOnly) → wait `delay_ms` on a libuv
//    timer → ack_work_item(ActivityCompleted). One activity at a time per slot.
// A failed ack is only counted: the lock expires and the item is fetched again, as in a runtime,
// which is what lets the fault tests check that nothing is lost.
#pragma once

#include <uv.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "duroxide/pg/postgres_provider.h"

namespace duroxide::load {

inline constexpr const char* kOrchName = "FanOutOrchestration";
inline constexpr const char* kOrchVersion = "1.0.0";
inline constexpr const char* kActivityName = "StressActivity";
inline constexpr const char* kDuroxideVersion = "0.1.26";

struct Config {
  std::string name;
  int orch_slots = 2, worker_slots = 2, concurrent = 20, activities = 5, delay_ms = 10;
  size_t payload_bytes = 0;  // activity input and result size; 0: small ("\"x\"" / "\"ok\"")
  bool pgbench_ratio = false;
  std::optional<double> goal_orch_s;
  // Lock timeouts of the fetches (the runtime's defaults); the fault tests shorten them so that a
  // killed process's locks expire within seconds.
  int orch_lock_ms = 5000, work_lock_ms = 30000;
};

double now_s();
int64_t wall_ms();
// A JSON string value of about `bytes` bytes (empty when 0).
std::string payload(size_t bytes, char seed);

struct Run {
  uv_loop_t* loop;
  pg::PostgresProvider* p;
  Config cfg;
  std::string prefix;
  std::string act_input, act_result;

  bool launching = true;   // false once the client stops starting instances
  bool closing = false;    // the provider is being closed: slots stop re-arming
  bool keep_stats = true;  // per-call latencies and completed ids (off for the soak: they grow)
  bool quiet = false;      // no error lines on stderr (the fault tests expect many)
  uint64_t next_seq = 0, launched = 0, completed = 0, errors = 0;
  std::string first_error;  // "op: error" of the first failed call, for reports
  uint64_t turns_completing = 0;  // acks of turns that wrote OrchestrationCompleted, any instance
  int in_flight = 0;              // started (enqueue issued) and not yet completed
  std::map<std::string, uint64_t> start_ns;
  std::vector<double> latency_us;
  std::vector<std::string> completed_ids;
  std::map<std::string, uint64_t> calls;
  uint64_t total_calls = 0;
  std::map<std::string, std::vector<double>> op_us;  // call → callback, per operation (and outcome)

  void took(const std::string& op, uint64_t t0);
  void count(const char* op);
  void error(const char* op, const ProviderError& e);

  void launch();
  void orchestration_slot();
  void worker_slot();

  // Runs fn after `ms` on a one-shot libuv timer; pending timers count as loop handles.
  void after(uint64_t ms, std::move_only_function<void()> fn);

 private:
  Event ev(const std::string& inst, uint64_t id, EventKind kind, std::optional<uint64_t> src = std::nullopt);
  void turn(LockedOrchestration lo);
  void complete_activity(std::string token, WorkItem done_item);
  void retry_later(std::move_only_function<void()> fn) { after(100, std::move(fn)); }
};

// The history a runtime writes for one instance of this orchestration, checked event by event:
// OrchestrationStarted, n ActivityScheduled, n ActivityCompleted each answering a distinct
// scheduled event, OrchestrationCompleted; ids 1..2n+2.
bool history_ok(const std::vector<Event>& h, int n, std::string& why);

// Starts one asynchronous operation and runs the loop until its callback has run.
template <class T, class Start>
Result<T> await_op(uv_loop_t* loop, Start&& start) {
  std::optional<Result<T>> out;
  start([&out](Result<T> r) { out.emplace(std::move(r)); });
  while (!out) uv_run(loop, UV_RUN_ONCE);
  return std::move(*out);
}

}  // namespace duroxide::load
