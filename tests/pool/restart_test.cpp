// A full server restart in the middle of a load: the pool must recover on its own.
#include <doctest/doctest.h>

#include <sstream>

#include "support/pool_helpers.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

// Runs `pg_ctl restart` on the throwaway cluster as a real child process, without blocking the loop.
struct Restart {
  uv_process_t proc{};
  bool exited = false;
  int64_t status = -1;
};

bool start_restart(uv_loop_t* loop, Restart& r) {
  const char* datadir = std::getenv("DUROXIDE_PG_DATADIR");
  const char* bindir = std::getenv("DUROXIDE_PG_BINDIR");
  if (!datadir || !bindir) return false;
  std::vector<std::string> argv_s;
  std::istringstream run_as(std::getenv("DUROXIDE_PG_RUN_AS") ? std::getenv("DUROXIDE_PG_RUN_AS") : "");
  for (std::string w; run_as >> w;) argv_s.push_back(w);
  const std::string dd = datadir;
  const std::string log = dd.substr(0, dd.rfind('/')) + "/server.log";
  for (std::string s : {std::string(bindir) + "/pg_ctl", std::string("-D"), dd, std::string("-l"), log,
                        std::string("-m"), std::string("fast"), std::string("-w"), std::string("-t"),
                        std::string("60"), std::string("restart")})
    argv_s.push_back(s);
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  uv_process_options_t opts{};
  opts.file = argv[0];
  opts.args = argv.data();
  opts.exit_cb = [](uv_process_t* p, int64_t status, int) {
    auto* rr = static_cast<Restart*>(p->data);
    rr->exited = true;
    rr->status = status;
    uv_close(reinterpret_cast<uv_handle_t*>(p), nullptr);
  };
  uv_stdio_container_t stdio[3];
  for (auto& s : stdio) s.flags = UV_IGNORE;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  r.proc.data = &r;
  const int rc = uv_spawn(loop, &r.proc, &opts);
  REQUIRE_MESSAGE(rc == 0, uv_strerror(rc));
  return true;
}

}  // namespace

TEST_CASE("server restart mid-load: in-flight queries fail retryable, then the pool recovers") {
  if (!std::getenv("DUROXIDE_PG_DATADIR")) {
    MESSAGE("skipped: the server was not started by scripts/with-postgres.sh");
    return;
  }
  LoopFixture f;
  auto o = pool_options("duroxide-pg-restart");
  o.max_size = 4;
  o.backoff_base = std::chrono::milliseconds(50);
  o.backoff_cap = std::chrono::milliseconds(500);
  o.acquire_timeout = std::chrono::milliseconds(2000);
  auto pool = make_pool(f, o);

  // A closed loop of 8 clients, each re-issuing a short query as soon as the previous one ends.
  int ok = 0, retryable = 0, permanent = 0, outstanding = 0, ok_after_restart = 0;
  bool stop = false;
  Restart restart;
  std::function<void()> issue = [&] {
    ++outstanding;
    pool->query("SELECT pg_sleep(0.002)", {}, [&](Result<pg::QueryResult> r) {
      --outstanding;
      if (r) {
        ++ok;
        if (restart.exited) ++ok_after_restart;
      } else if (r.error().retryable) {
        ++retryable;
      } else {
        ++permanent;
        MESSAGE(r.error().to_string());
      }
      if (!stop) issue();
    });
  };
  for (int i = 0; i < 8; ++i) issue();
  REQUIRE(f.run_until([&] { return ok >= 200; }));
  REQUIRE(start_restart(&f.loop, restart));
  REQUIRE(f.run_until([&] { return restart.exited; }, std::chrono::seconds(90)));
  CHECK(restart.status == 0);
  REQUIRE(f.run_until([&] { return ok_after_restart >= 200; }, std::chrono::seconds(60)));
  stop = true;
  REQUIRE(f.run_until([&] { return outstanding == 0; }));
  CHECK(permanent == 0);
  CHECK(retryable >= 1);
  MESSAGE("ok=" << ok << " retryable=" << retryable);
  close_pool(f, pool);
}
