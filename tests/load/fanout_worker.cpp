// fanout_worker: one "runtime process" of the multi-process load tests — orchestration and worker
// slots of the fan-out workload (workload.h) on its own PostgresProvider, no client. It runs until
// SIGTERM/SIGINT, then closes the provider, drains its loop and writes a one-line report.
//
//   fanout_worker --schema S [--orch-slots 2] [--worker-slots 2] [--activities 3] [--delay-ms 0]
//                 [--orch-lock-ms 5000] [--work-lock-ms 30000] [--pool 4] [--app NAME]
//                 [--report PATH] [--quiet]
//   (DATABASE_URL from the environment; report: "turns_completing=N errors=N calls=N")
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "load/workload.h"

using namespace duroxide;

namespace {

const char* arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const char* url = std::getenv("DATABASE_URL");
  const std::string schema = arg(argc, argv, "--schema", "");
  if (!url || schema.empty()) {
    std::fprintf(stderr, "fanout_worker: needs DATABASE_URL and --schema\n");
    return 2;
  }
  load::Config cfg;
  cfg.orch_slots = std::atoi(arg(argc, argv, "--orch-slots", "2"));
  cfg.worker_slots = std::atoi(arg(argc, argv, "--worker-slots", "2"));
  cfg.activities = std::atoi(arg(argc, argv, "--activities", "3"));
  cfg.delay_ms = std::atoi(arg(argc, argv, "--delay-ms", "0"));
  cfg.orch_lock_ms = std::atoi(arg(argc, argv, "--orch-lock-ms", "5000"));
  cfg.work_lock_ms = std::atoi(arg(argc, argv, "--work-lock-ms", "30000"));

  uv_loop_t loop;
  uv_loop_init(&loop);
  pg::PostgresProviderOptions opts;
  opts.pool_max = static_cast<size_t>(std::atoi(arg(argc, argv, "--pool", "4")));
  opts.application_name = arg(argc, argv, "--app", "duroxide-load-worker");
  auto created = load::await_op<std::unique_ptr<pg::PostgresProvider>>(&loop, [&](auto cb) {
    pg::PostgresProvider::create_with_schema(&loop, url, schema, opts, std::move(cb));
  });
  if (!created) {
    std::fprintf(stderr, "fanout_worker: create: %s\n", created.error().to_string().c_str());
    return 1;
  }
  std::unique_ptr<pg::PostgresProvider> provider = std::move(*created);
  load::Run run{&loop, provider.get(), cfg, ""};
  run.launching = false;  // no client here: the test's driver starts the instances
  run.quiet = flag(argc, argv, "--quiet");
  for (int i = 0; i < cfg.orch_slots; ++i) run.orchestration_slot();
  for (int i = 0; i < cfg.worker_slots; ++i) run.worker_slot();

  // SIGTERM/SIGINT: stop re-arming the slots and close the provider (ends the long polls).
  struct Stop {
    load::Run* run;
    pg::PostgresProvider* p;
    bool closed = false;
  } stop{&run, provider.get()};
  uv_signal_t sigterm, sigint;
  for (uv_signal_t* s : {&sigterm, &sigint}) {
    uv_signal_init(&loop, s);
    s->data = &stop;
  }
  auto on_signal = [](uv_signal_t* s, int) {
    auto* st = static_cast<Stop*>(s->data);
    if (st->run->closing) return;
    st->run->closing = true;
    st->p->close([st] { st->closed = true; });
  };
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_start(&sigint, on_signal, SIGINT);
  while (!stop.closed) uv_run(&loop, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
  // Activity timers still pending fire once more and see `closing`; then the loop is empty.
  uv_run(&loop, UV_RUN_DEFAULT);
  provider.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  const int rc = uv_loop_close(&loop);

  const std::string line = "turns_completing=" + std::to_string(run.turns_completing) +
                           " errors=" + std::to_string(run.errors) + " calls=" + std::to_string(run.total_calls);
  if (const char* report = arg(argc, argv, "--report", nullptr)) {
    if (FILE* f = std::fopen(report, "w")) {
      std::fprintf(f, "%s\n", line.c_str());
      std::fclose(f);
    }
  }
  std::fprintf(stderr, "fanout_worker %s: %s%s%s\n", opts.application_name.c_str(), line.c_str(),
               run.first_error.empty() ? "" : "; first error: ", run.first_error.c_str());
  return rc == 0 ? 0 : 3;
}
