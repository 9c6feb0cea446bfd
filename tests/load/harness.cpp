// Harness of harness.h. Children are real processes (uv_spawn); every wait has a deadline, and the
// destructor SIGKILLs whatever still runs so a failed test never leaves workers behind.
#include "load/harness.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "load/workload.h"
#include "sql/migrate.h"

namespace duroxide::load {

using namespace std::chrono_literals;

namespace {

// Driver starts in flight at once: enough to keep four processes busy from a deep queue without
// holding every start in the pipeline.
constexpr int kMaxStartsInFlight = 200;

std::string instance_id(const std::string& tag, int i) { return "load-" + tag + "-" + std::to_string(i); }

}  // namespace

Harness::Harness(test::LoopFixture& f, LoadOptions o) : f_(f), o_(std::move(o)) {
  schema_ = "load_" + o_.tag + "_" + std::to_string(::getpid());
  const char* exe = std::getenv("FANOUT_WORKER");
  REQUIRE_MESSAGE(exe != nullptr, "FANOUT_WORKER (path of tests/load/fanout_worker) is not set");
  worker_exe_ = exe;
  char tmpl[] = "/tmp/duroxide-load-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  dir_ = tmpl;

  pg::PoolOptions po;
  po.conninfo = test::database_url();
  po.application_name = "duroxide-admin-" + o_.tag;
  po.max_size = 1;
  po.connect_timeout = 5000ms;
  po.acquire_timeout = 10000ms;
  auto pool = pg::Pool::create(&f_.loop, std::move(po));
  REQUIRE(pool);
  admin_ = std::move(*pool);
  uv_timer_init(&f_.loop, &tick_);
  tick_.data = this;
}

Harness::~Harness() {
  // Children first: a worker must never outlive a failed test.
  for (auto* list : {&workers_, &others_})
    for (auto& c : *list)
      if (c && c->running) uv_process_kill(&c->proc, SIGKILL);
  f_.run_until([&] {
    for (auto* list : {&workers_, &others_})
      for (auto& c : *list)
        if (c && !c->closed) return false;
    return true;
  }, 10s);
  uv_timer_stop(&tick_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  if (driver_) {
    bool closed = false;
    driver_->close([&] { closed = true; });
    f_.run_until([&] { return closed; }, 30s);
    driver_.reset();
  }
  if (admin_) {
    bool dropped = false, closed = false;
    pg::drop_schema_objects(*admin_, schema_, [&](Result<void>) { dropped = true; });
    f_.run_until([&] { return dropped; }, 30s);
    admin_->close([&] { closed = true; });
    f_.run_until([&] { return closed; }, 30s);
    admin_.reset();
  }
  for (int i = 0; i < o_.workers; ++i) std::remove((dir_ + "/w" + std::to_string(i)).c_str());
  ::rmdir(dir_.c_str());
}

std::unique_ptr<Child> Harness::spawn(const std::vector<std::string>& argv_s) {
  auto c = std::make_unique<Child>();
  std::vector<std::string> args = argv_s;
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  uv_process_options_t opts{};
  opts.file = argv[0];
  opts.args = argv.data();
  opts.exit_cb = [](uv_process_t* p, int64_t status, int sig) {
    auto* ch = static_cast<Child*>(p->data);
    ch->running = false;
    ch->exit_status = status;
    ch->term_signal = sig;
    uv_close(reinterpret_cast<uv_handle_t*>(p), [](uv_handle_t* h) { static_cast<Child*>(h->data)->closed = true; });
  };
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 1;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  c->proc.data = c.get();
  const int rc = uv_spawn(&f_.loop, &c->proc, &opts);
  if (rc != 0) {  // libuv: a failed spawn's handle must still be closed
    uv_close(reinterpret_cast<uv_handle_t*>(&c->proc), nullptr);
    uv_run(&f_.loop, UV_RUN_NOWAIT);
  }
  REQUIRE_MESSAGE(rc == 0, argv_s[0] << ": " << uv_strerror(rc));
  c->running = true;
  return c;
}

void Harness::spawn_worker(int i) {
  const std::string lock = std::to_string(o_.lock_ms);
  auto c = spawn({worker_exe_, "--schema", schema_, "--orch-slots", std::to_string(o_.orch_slots), "--worker-slots",
                  std::to_string(o_.worker_slots), "--activities", std::to_string(o_.activities), "--delay-ms", "0",
                  "--orch-lock-ms", lock, "--work-lock-ms", lock, "--pool", "4", "--app",
                  worker_app_prefix() + "w" + std::to_string(i), "--report", dir_ + "/w" + std::to_string(i),
                  "--quiet"});
  if (static_cast<size_t>(i) >= workers_.size()) workers_.resize(static_cast<size_t>(i) + 1);
  REQUIRE((!workers_[static_cast<size_t>(i)] || workers_[static_cast<size_t>(i)]->closed));
  workers_[static_cast<size_t>(i)] = std::move(c);
}

void Harness::kill_worker(int i, int signal) {
  Child& c = *workers_.at(static_cast<size_t>(i));
  REQUIRE(c.running);
  uv_process_kill(&c.proc, signal);
  REQUIRE(f_.run_until([&] { return c.closed; }, 10s));
}

void Harness::start_workers() {
  // The driver's provider creates the schema (migrations) before any worker races for it.
  pg::PostgresProviderOptions opts;
  opts.pool_max = 4;
  opts.application_name = worker_app_prefix() + "driver";
  std::optional<Result<std::unique_ptr<pg::PostgresProvider>>> created;
  pg::PostgresProvider::create_with_schema(&f_.loop, test::database_url(), schema_, opts,
                                           [&](auto r) { created.emplace(std::move(r)); });
  REQUIRE(f_.run_until([&] { return created.has_value(); }, 60s));
  REQUIRE_MESSAGE(*created, created->error().to_string());
  driver_ = std::move(**created);
  for (int i = 0; i < o_.workers; ++i) spawn_worker(i);
  uv_timer_start(&tick_, [](uv_timer_t* t) {
    auto* h = static_cast<Harness*>(t->data);
    h->poll();
    h->pump();
    if (h->on_tick) h->on_tick();
  }, 250, 250);
}

void Harness::start_instances() {
  for (int i = 0; i < o_.instances; ++i) pending_.push_back(i);
  pump();
}

void Harness::pump() {
  if (f_.now_ms() < retry_at_ms_) return;
  while (in_flight_ < kMaxStartsInFlight && !pending_.empty()) {
    const int i = pending_.front();
    pending_.pop_front();
    ++in_flight_;
    driver_->enqueue_for_orchestrator(
        WorkItem::StartOrchestration{instance_id(o_.tag, i), kOrchName, "{}", std::nullopt, std::nullopt,
                                     std::nullopt, 1},
        std::nullopt, [this, i](Result<void> r) {
          --in_flight_;
          if (r) {
            ++started_;
          } else {
            // Not known to be committed: start it again (a duplicate start is ignored by the
            // orchestration, as a runtime ignores it).
            ++start_errors_;
            pending_.push_back(i);
            retry_at_ms_ = f_.now_ms() + 100;
          }
          pump();
        });
  }
}

void Harness::poll() {
  if (polling_) return;
  polling_ = true;
  const std::string s = schema_;
  admin_->query("SELECT (SELECT count(*) FROM " + s + ".executions WHERE status = 'Completed'), "
                "(SELECT count(*) FROM " + s + ".orchestrator_queue), (SELECT count(*) FROM " + s + ".worker_queue), "
                "(SELECT count(*) FROM " + s + ".instance_locks), (SELECT count(*) FROM " + s + ".sessions)",
                {}, [this](Result<pg::QueryResult> r) {
                  polling_ = false;
                  if (!r || r->rows() != 1) return;  // e.g. during a server restart: next tick
                  counts_ = Counts{r->get_int64(0, 0), r->get_int64(0, 1), r->get_int64(0, 2), r->get_int64(0, 3),
                                   r->get_int64(0, 4)};
                });
}

bool Harness::run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  return f_.run_until(done, deadline);
}

bool Harness::wait_settled() {
  const uint64_t t0 = f_.now_ms();
  uint64_t last = 0;
  const bool ok = f_.run_until([&] {
    const uint64_t now = f_.now_ms();
    if (now - last >= 10000) {  // progress in the test log, every 10 s
      last = now;
      MESSAGE("t=" << (now - t0) / 1000 << "s started " << started_ << " completed " << counts_.completed
                   << " orch_queue " << counts_.orch_queue << " worker_queue " << counts_.worker_queue << " locks "
                   << counts_.locks);
    }
    return started_ == static_cast<uint64_t>(o_.instances) && counts_.settled(o_.instances);
  }, o_.deadline);
  if (!ok)
    MESSAGE("not settled: started " << started_ << " completed " << counts_.completed << " orch_queue "
                                    << counts_.orch_queue << " worker_queue " << counts_.worker_queue << " locks "
                                    << counts_.locks << " sessions " << counts_.sessions);
  return ok;
}

bool Harness::stop_workers(std::string& why) {
  uv_timer_stop(&tick_);
  for (auto& c : workers_)
    if (c && c->running) uv_process_kill(&c->proc, SIGTERM);
  const bool exited = f_.run_until([&] {
    for (auto& c : workers_)
      if (c && !c->closed) return false;
    return true;
  }, 30s);
  if (!exited) return why = "a worker did not exit within 30 s of SIGTERM", false;
  for (size_t i = 0; i < workers_.size(); ++i)
    if (workers_[i]->exit_status != 0 || workers_[i]->term_signal != 0)
      return why = "worker " + std::to_string(i) + " exited with status " + std::to_string(workers_[i]->exit_status) +
                   " signal " + std::to_string(workers_[i]->term_signal),
             false;
  return true;
}

void Harness::read_reports(uint64_t& turns_completing, uint64_t& errors) {
  turns_completing = errors = 0;
  for (int i = 0; i < o_.workers; ++i) {
    std::ifstream in(dir_ + "/w" + std::to_string(i));
    std::string line;
    REQUIRE_MESSAGE(std::getline(in, line), "no report from worker " << i);
    unsigned long long t = 0, e = 0;
    REQUIRE(std::sscanf(line.c_str(), "turns_completing=%llu errors=%llu", &t, &e) == 2);
    turns_completing += t;
    errors += e;
  }
}

int Harness::verify_histories(std::string& why) {
  int next = 0, in_flight = 0, bad = 0, done = 0;
  std::function<void()> issue = [&] {
    while (in_flight < 64 && next < o_.instances) {
      const int i = next++;
      ++in_flight;
      driver_->read(instance_id(o_.tag, i), [&, i](Result<std::vector<Event>> h) {
        --in_flight;
        ++done;
        std::string w;
        if (!h) w = h.error().to_string();
        else if (!history_ok(*h, o_.activities, w)) w = "history: " + w;
        if (!w.empty() && ++bad <= 5) why += instance_id(o_.tag, i) + ": " + w + "\n";
        issue();
      });
    }
  };
  issue();
  REQUIRE(f_.run_until([&] { return done == o_.instances; }, 120s));
  return bad;
}

void Harness::check_tables() {
  std::optional<Result<pg::QueryResult>> r;
  const std::string s = schema_;
  admin_->query("SELECT (SELECT count(*) FROM " + s + ".instances), (SELECT count(*) FROM " + s + ".executions), "
                "(SELECT count(*) FROM " + s + ".executions WHERE status = 'Completed' AND execution_id = 1), "
                "(SELECT count(*) FROM " + s + ".history WHERE event_type = 'OrchestrationCompleted'), "
                "(SELECT count(*) FROM " + s + ".history)",
                {}, [&](Result<pg::QueryResult> q) { r.emplace(std::move(q)); });
  REQUIRE(f_.run_until([&] { return r.has_value(); }, 30s));
  REQUIRE_MESSAGE(*r, r->error().to_string());
  const int64_t n = o_.instances;
  CHECK((*r)->get_int64(0, 0) == n);
  CHECK((*r)->get_int64(0, 1) == n);
  CHECK((*r)->get_int64(0, 2) == n);
  CHECK((*r)->get_int64(0, 3) == n);
  CHECK((*r)->get_int64(0, 4) == n * (2 * o_.activities + 2));
}

}  // namespace duroxide::load
