// The multi-process load harness (issue 8 §2, §3): a driver in the test process starts fan-out
// instances through its own provider while N fanout_worker child processes run the orchestration
// and worker slots on the same schema; the harness watches progress with SQL counts, can kill and
// restart workers or run any child process, and checks the end state.
#pragma once

#include <uv.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "duroxide/pg/postgres_provider.h"
#include "pool/pool.h"
#include "support/loop_fixture.h"

namespace duroxide::load {

struct LoadOptions {
  std::string tag;          // names the schema and application_name prefix (unique per test)
  int instances = 1000;
  int activities = 3;
  int workers = 4;
  int orch_slots = 2, worker_slots = 2;
  int lock_ms = 2000;       // orchestration and work item lock timeouts of the workers
  std::chrono::seconds deadline{120};  // for every instance to complete and the queues to drain
};

// A child process started with uv_spawn (stdout/stderr inherited), closed when it exits.
struct Child {
  uv_process_t proc{};
  bool running = false;
  bool closed = false;  // the handle is closed: only then may the Child be destroyed
  int64_t exit_status = -1;
  int term_signal = 0;
};

// Snapshot of the schema's tables, refreshed by a 250 ms poll.
struct Counts {
  int64_t completed = 0, orch_queue = -1, worker_queue = -1, locks = -1, sessions = -1;
  bool settled(int64_t want) const {
    return completed == want && orch_queue == 0 && worker_queue == 0 && locks == 0 && sessions == 0;
  }
};

class Harness {
 public:
  Harness(test::LoopFixture& f, LoadOptions o);
  ~Harness();  // kills any child still running, closes everything (also when a REQUIRE failed)

  // Creates the schema through the driver's provider and starts the workers.
  void start_workers();
  // Starts every instance: bounded pipelining, failed starts retried after 100 ms.
  void start_instances();
  // Runs the loop until `done()` or the deadline.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline);
  // Waits until every instance completed and no queue row, lock or session is left.
  bool wait_settled();

  void spawn_worker(int i);
  void kill_worker(int i, int signal);
  // Spawns argv (argv[0] looked up in PATH) as a tracked child.
  std::unique_ptr<Child> spawn(const std::vector<std::string>& argv);

  // SIGTERM to every worker, waits for all exits; returns false if any failed or timed out.
  bool stop_workers(std::string& why);
  // Sum over the workers' reports (turns_completing, errors).
  void read_reports(uint64_t& turns_completing, uint64_t& errors);
  // Reads and checks every history; returns the number of bad ones (messages in `why`).
  int verify_histories(std::string& why);
  // SQL checks of instances/executions: every instance once, one Completed execution each.
  void check_tables();

  const Counts& counts() const { return counts_; }
  uint64_t started() const { return started_; }
  uint64_t start_errors() const { return start_errors_; }
  pg::Pool& admin() { return *admin_; }
  std::string worker_app_prefix() const { return "duroxide-load-" + o_.tag + "-"; }
  std::string schema() const { return schema_; }
  std::function<void()> on_tick;  // called from every 250 ms poll tick (no REQUIRE inside: a libuv callback)

 private:
  void pump();
  void poll();

  test::LoopFixture& f_;
  LoadOptions o_;
  std::string schema_, dir_, worker_exe_;
  std::unique_ptr<pg::PostgresProvider> driver_;
  std::unique_ptr<pg::Pool> admin_;
  std::vector<std::unique_ptr<Child>> workers_;
  std::vector<std::unique_ptr<Child>> others_;
  std::deque<int> pending_;
  int in_flight_ = 0;
  uint64_t started_ = 0, start_errors_ = 0, retry_at_ms_ = 0;
  Counts counts_;
  bool polling_ = false;
  uv_timer_t tick_{};
};

}  // namespace duroxide::load
