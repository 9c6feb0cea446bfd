// Helpers for tests that drive a real Pool against the throwaway PostgreSQL.
#pragma once

#include <memory>
#include <string>

#include "pool/pool.h"
#include "support/loop_fixture.h"

namespace duroxide::test {

inline pg::PoolOptions pool_options(std::string app = "duroxide-pg-test") {
  pg::PoolOptions o;
  o.conninfo = database_url();
  o.application_name = std::move(app);
  o.max_size = 4;
  o.connect_timeout = std::chrono::milliseconds(5000);
  o.acquire_timeout = std::chrono::milliseconds(10000);
  return o;
}

inline std::unique_ptr<pg::Pool> make_pool(LoopFixture& f, pg::PoolOptions o) {
  auto p = pg::Pool::create(&f.loop, std::move(o));
  REQUIRE(p);
  return std::move(*p);
}

inline void close_pool(LoopFixture& f, std::unique_ptr<pg::Pool>& p) {
  bool done = false;
  p->close([&] { done = true; });
  REQUIRE(f.run_until([&] { return done; }));
  p.reset();
}

// Runs one query to completion and returns its result.
inline Result<pg::QueryResult> run(LoopFixture& f, pg::Pool& p, std::string sql,
                                   pg::Params params = {}) {
  std::optional<Result<pg::QueryResult>> out;
  p.query(std::move(sql), std::move(params), [&](Result<pg::QueryResult> r) { out = std::move(r); });
  REQUIRE(f.run_until([&] { return out.has_value(); }));
  return std::move(*out);
}

}  // namespace duroxide::test
